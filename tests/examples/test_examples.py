"""The two programs at the public API (examples/generate.py, examples/run_task.py) run as a person runs them."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import REPO

EXAMPLES = ["generate.py", "run_task.py"]


def _run(*args: str, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_stay_short(name):
    lines = (REPO / "examples" / name).read_text(encoding="utf-8").splitlines()
    assert len(lines) < 40, f"examples/{name} has {len(lines)} lines: an example at the API stays under 40"


def test_generate_replies_on_a_tiny_checkpoint(tiny_checkpoint):
    done = _run("examples/generate.py", str(tiny_checkpoint("merge2")), timeout=300)
    assert done.returncode == 0, done.stderr
    text, counters = done.stdout.rstrip("\n").rsplit("\n", 1)
    assert "prompt_tokens" in counters and "images_encoded" in counters, done.stdout


def test_generate_without_a_checkpoint_prints_its_usage():
    done = _run("examples/generate.py", timeout=60)
    assert done.returncode == 1 and "examples/generate.py CHECKPOINT [IMAGE]" in done.stderr


@pytest.mark.desktop
def test_run_task_plays_the_reference_solution(tmp_path):
    runs = tmp_path / "runs"
    done = _run("examples/run_task.py", "tasks/open_settings.yaml", str(runs), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "status: success" in done.stdout
    run_folder = done.stdout.split("run folder:", 1)[1].strip()
    assert run_folder.startswith(str(runs)), done.stdout
    assert (REPO / run_folder / "result.json").is_file(), done.stdout
