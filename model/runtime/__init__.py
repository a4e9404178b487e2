"""Running a loaded model: multi-turn Sessions with KV reuse, the decode loop, sampling and streaming."""
