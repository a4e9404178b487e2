"""Fixtures for `agent serve` tests: a tiny random checkpoint, loaded once, served on 127.0.0.1."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """A merge-2 random checkpoint with the tiny Qwen tokenizer (pixel budget up to 256x256)."""
    from model.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("serve_ckpt"), preset="merge2", seed=5)


@pytest.fixture(scope="session")
def loaded(tiny_folder):
    """Our model on CPU in float32 (a LoadedModel)."""
    from model.loader import from_pretrained

    return from_pretrained(str(tiny_folder), dtype="float32", device="cpu")


@pytest.fixture(scope="module")
def served(loaded):
    """One server for a test module: (base URL, server)."""
    from serve_helpers import running_server

    with running_server(loaded) as pair:
        yield pair
