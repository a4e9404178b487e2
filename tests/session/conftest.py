"""Fixtures for session tests: one tiny random checkpoint, loaded by us and by transformers (float32)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """A merge-2 random checkpoint with the tiny Qwen tokenizer."""
    from model.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("session_ckpt"), preset="merge2", seed=3)


@pytest.fixture(scope="session")
def ours(tiny_folder):
    """Our Qwen3VL on CPU in float32."""
    from model.loader import from_pretrained

    return from_pretrained(str(tiny_folder), dtype="float32", device="cpu")


@pytest.fixture(scope="session")
def reference(tiny_folder):
    """transformers' Qwen3VLForConditionalGeneration on the same checkpoint."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    return Qwen3VLForConditionalGeneration.from_pretrained(tiny_folder, dtype=torch.float32).eval()
