"""Tiny random checkpoints and tokenizers for tests and benchmarks (no downloads)."""
