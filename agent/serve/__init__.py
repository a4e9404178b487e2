"""`agent serve`: our engine behind an OpenAI-compatible /v1/chat/completions, KV cache kept across requests."""
