"""Bad input to `agent run INSTRUCTION` and `agent record`: one `error:` paragraph naming the problem,
exit status 2, and nothing written (no runs folder, no task file) — before any desktop starts."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

SHIPPED = (REPO / "tasks/save_note.yaml").read_text()


def agent(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


@pytest.mark.parametrize("args,words", [
    (["run", ""], "the instruction is empty"),
    (["run", "   "], "the instruction is empty"),
    (["run", "x " * 2500], "at most 4,000"),
    (["run", "Open it", "--app", "no-such-program-24"], "--app 'no-such-program-24': no program"),
    (["run", "Open it", "--app", "mousepad 'unclosed"], "cannot read it as a shell command"),
    (["run", "tasks/open_settings.yaml", "--app", "mousepad"], "--app is for an instruction"),
    (["run", "Open it", "--app", "mousepad", "--live", "--yes"], "--app starts programs in a sandbox"),
    (["run", "tasks/nosuch.yaml"], "tasks/nosuch.yaml: cannot read"),
    (["record", ""], "the instruction is empty"),
    (["record", "x " * 2500], "at most 4,000"),
    (["record", "Open it", "--app", "no-such-program-24"], "no program 'no-such-program-24'"),
    (["record", "tasks/open_settings.yaml", "--stop-key", "ctrl"], "--stop-key"),
    (["record", "tasks/open_settings.yaml", "-o", "tasks/save_note.yaml"], "already exists"),
    (["record", "tasks/open_settings.yaml"], "DISPLAY is not set"),
])
def test_bad_input_is_one_message_exit_2_and_nothing_written(tmp_path, args, words):
    runs = tmp_path / "runs"
    done = agent(*args, "--runs-dir", str(runs), env={"DISPLAY": ""})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("error:") == 1
    assert not runs.exists()
    assert (REPO / "tasks/save_note.yaml").read_text() == SHIPPED
    assert not list(REPO.glob("open-it*.yaml")) and not list(REPO.glob("x-x-x*.yaml"))


def test_a_recorder_whose_display_does_not_answer_says_so(tmp_path):
    done = agent("record", "Open it", "--runs-dir", str(tmp_path / "runs"), env={"DISPLAY": ":97"})
    assert done.returncode == 2 and "cannot connect to X display :97" in done.stderr
    assert not (tmp_path / "runs").exists()
