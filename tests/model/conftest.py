"""Shared fixtures for the model tests: tiny random checkpoints built once per session."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """tiny_checkpoint(preset, **overrides) -> folder of a random checkpoint, cached per arguments."""
    from model.tiny import write_tiny_checkpoint

    built: dict[tuple, Path] = {}

    def build(preset: str = "merge2", **options) -> Path:
        key = (preset, tuple(sorted((k, repr(v)) for k, v in options.items())))
        if key not in built:
            folder = tmp_path_factory.mktemp(f"tiny_{preset}")
            built[key] = write_tiny_checkpoint(folder, preset, **options)
        return built[key]

    return build


@pytest.fixture(scope="session")
def merge2_loaded(tiny_checkpoint):
    """The "merge2" tiny checkpoint loaded by us (float32, CPU): model, tokenizer, processor, defaults."""
    from model.loader import from_pretrained

    return from_pretrained(tiny_checkpoint("merge2"), device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def merge2_model(merge2_loaded):
    """The Qwen3VL module of merge2_loaded."""
    return merge2_loaded.model
