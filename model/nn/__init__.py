"""The Qwen3-VL network: vision tower, text decoder, attention, rotary positions and the KV cache."""
