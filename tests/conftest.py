"""Fixtures every test folder shares: tiny random checkpoints (built once per session) and the rule that
skips desktop tests, naming what is missing, on machines without the sandbox's programs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DESKTOP_TOOLS = ("Xvfb", "xauth", "openbox", "xdotool", "tint2", "hsetroot", "mousepad", "galculator", "xclip")


def missing_desktop_tools() -> list[str]:
    """Desktop programs the sandbox tests need that are not on PATH."""
    return [tool for tool in DESKTOP_TOOLS if shutil.which(tool) is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip @pytest.mark.desktop tests, naming what is missing, on machines without the tools."""
    missing = missing_desktop_tools()
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"desktop test needs {', '.join(missing)} (./install.sh installs them)")
    for item in items:
        if item.get_closest_marker("desktop"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """tiny_checkpoint(preset, **overrides) -> folder of a random checkpoint, cached per arguments."""
    from model.testing.tiny import write_tiny_checkpoint

    built: dict[tuple, Path] = {}

    def build(preset: str = "merge2", **options) -> Path:
        key = (preset, tuple(sorted((k, repr(v)) for k, v in options.items())))
        if key not in built:
            folder = tmp_path_factory.mktemp(f"tiny_{preset}")
            built[key] = write_tiny_checkpoint(folder, preset, **options)
        return built[key]

    return build


def load_cpu_float32(folder: Path):
    """Our LoadedModel of a checkpoint folder on the CPU in float32 (torch loads only when a test needs it)."""
    from model import from_pretrained

    return from_pretrained(str(folder), device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def merge2_loaded(tiny_checkpoint):
    """The "merge2" tiny checkpoint loaded by us (float32, CPU): model, tokenizer, processor, defaults."""
    return load_cpu_float32(tiny_checkpoint("merge2"))


@pytest.fixture(scope="session")
def merge2_model(merge2_loaded):
    """The Qwen3VL module of merge2_loaded."""
    return merge2_loaded.model


@pytest.fixture(scope="session")
def session_checkpoint(tiny_checkpoint) -> Path:
    """The merge-2 checkpoint (seed 3) the multi-turn Session tests compare against transformers."""
    return tiny_checkpoint("merge2", seed=3)


@pytest.fixture(scope="session")
def ours(session_checkpoint):
    """Our model on session_checkpoint, CPU, float32 (a LoadedModel)."""
    return load_cpu_float32(session_checkpoint)


@pytest.fixture(scope="session")
def reference(session_checkpoint):
    """transformers' Qwen3VLForConditionalGeneration on session_checkpoint."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    return Qwen3VLForConditionalGeneration.from_pretrained(session_checkpoint, dtype=torch.float32).eval()


@pytest.fixture(scope="session")
def serve_checkpoint(tiny_checkpoint) -> Path:
    """The merge-2 checkpoint (seed 5) `agent serve`'s tests serve (pixel budget up to 256x256)."""
    return tiny_checkpoint("merge2", seed=5)


@pytest.fixture(scope="session")
def loaded(serve_checkpoint):
    """Our model on serve_checkpoint, CPU, float32 (a LoadedModel)."""
    return load_cpu_float32(serve_checkpoint)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (Textual pilots, the openai client) run on asyncio through anyio's pytest plugin."""
    return "asyncio"


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    """Recorded runs (success, failure, crashed, …) in tmp_path/runs, for the viewer, report and trace tests."""
    from tests.agent.trace.recorded_runs import all_runs

    return all_runs(tmp_path / "runs")
