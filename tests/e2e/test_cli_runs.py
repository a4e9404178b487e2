"""`agent run` end to end, as a person runs it: a real sandbox, real Mousepad, the scripted policy."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.trace import list_runs, read_run

REPO = Path(__file__).resolve().parents[2]
TASKS = sorted((REPO / "tasks").glob("*.yaml"))
NEEDS_DESKTOP = pytest.mark.skipif(
    not all(shutil.which(b) for b in ("Xvfb", "openbox", "xdotool", "mousepad")),
    reason="needs Xvfb, openbox, xdotool and mousepad (./install.sh installs them)",
)


def agent(*args: str, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a child process, the way the console script does."""
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def only_run(runs: Path):
    found = list_runs(runs)
    assert len(found) == 1, f"expected one run in {runs}, found {found}"
    return read_run(found[0])


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_open_settings_succeeds_and_the_preferences_window_is_really_open(tmp_path):
    proc = agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path)
    assert run.result.status == "success" and run.problems == []
    window_checks = [c for c in run.result.checks if "window" in c.name.lower()]
    assert window_checks and all(c.passed for c in window_checks)
    assert "Mousepad Preferences" in " ".join(c.detail for c in window_checks)
    assert run.meta.geometry.screenshot_width > 0 and len(run.steps) == run.result.steps >= 2
    assert all((run.path / s.screenshot).exists() for s in run.steps)


@pytest.mark.desktop
@NEEDS_DESKTOP
@pytest.mark.parametrize("task", [t for t in TASKS if t.name != "open_settings.yaml"], ids=lambda p: p.stem)
def test_every_shipped_task_succeeds_with_its_reference_solution(task, tmp_path):
    proc = agent("run", str(task.relative_to(REPO)), "--policy", "scripted", "--runs-dir", str(tmp_path))
    run = only_run(tmp_path)
    assert proc.returncode == 0, f"{task.name}: {run.result and run.result.model_dump()}\n{proc.stderr[-3000:]}"
    assert run.result.status == "success"


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_a_wrong_solution_fails_its_checks(tmp_path):
    task = yaml.safe_load((REPO / "tasks/open_settings.yaml").read_text())
    # Open the File menu instead of Edit → Preferences, then claim success.
    task["reference"] = [
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["Escape"]}}\n</tool_call>',
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>',
    ]
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(task))
    proc = agent("run", str(wrong), "--policy", "scripted", "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 1, proc.stderr
    run = only_run(tmp_path / "runs")
    assert run.result.status == "failure"
    assert not all(c.passed for c in run.result.checks)


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_replay_repeats_a_recorded_run_in_a_fresh_sandbox(tmp_path):
    assert agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--runs-dir", str(tmp_path / "a")).returncode == 0
    recorded = only_run(tmp_path / "a")
    proc = agent("replay", str(recorded.path), "--runs-dir", str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr
    replayed = only_run(tmp_path / "b")
    assert replayed.meta.policy == "replay" and replayed.result.status == "success"
    assert [s.model_output for s in replayed.steps] == [s.model_output for s in recorded.steps]


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_sigint_ends_the_run_aborted_with_a_complete_trace(tmp_path):
    task = yaml.safe_load((REPO / "tasks/open_settings.yaml").read_text())
    wait = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}\n</tool_call>'
    task["reference"], task["max_steps"] = [wait] * 60, 60
    slow = tmp_path / "slow.yaml"
    slow.write_text(yaml.safe_dump(task))
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", str(slow), "--policy", "scripted",
                             "--runs-dir", str(runs)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait until two steps are done
        if line.startswith("step   1"):
            break
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    run = only_run(runs)
    assert run.result.status == "aborted" and run.result.steps == len(run.steps) >= 2
    assert [s.step for s in run.steps] == list(range(len(run.steps)))


def test_a_typo_in_a_task_file_is_rejected_with_its_field_path(tmp_path):
    task = yaml.safe_load((REPO / "tasks/open_settings.yaml").read_text())
    task["sandbox"]["wait_windowz"] = task["sandbox"].pop("wait_windows", [])
    bad = tmp_path / "typo.yaml"
    bad.write_text(yaml.safe_dump(task))
    for command in (["validate", str(bad)], ["run", str(bad), "--policy", "scripted"]):
        proc = agent(*command)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "typo.yaml" in out and "sandbox.wait_windowz" in out, out
        assert "Traceback" not in out


def test_validate_accepts_every_shipped_task():
    proc = agent("validate", "tasks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(TASKS) >= 5 and all(t.name in proc.stdout for t in TASKS)


def test_an_unavailable_model_names_the_alternatives(tmp_path):
    proc = agent("run", "tasks/open_settings.yaml", "--model", str(tmp_path / "no-such-model"),
                 "--runs-dir", str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "--policy scripted" in out and "Traceback" not in out
    assert list_runs(tmp_path) == []


def test_replay_without_a_recording_is_a_clear_error(tmp_path):
    proc = agent("run", "tasks/open_settings.yaml", "--policy", "replay", "--runs-dir", str(tmp_path))
    assert proc.returncode == 2 and "--recording" in proc.stderr


LIGHT_COMMANDS = {
    "help": ["--help"],
    "validate": ["validate", "tasks/open_settings.yaml"],
    "parse": ["parse"],
}


@pytest.mark.parametrize("name", LIGHT_COMMANDS)
def test_light_commands_import_neither_torch_nor_transformers(name):
    probe = (
        "import sys, io\n"
        "sys.stdin = io.TextIOWrapper(io.BytesIO(b'<tool_call>{\"name\": \"computer_use\", \"arguments\": {\"action\": \"wait\", \"time\": 1}}</tool_call>'))\n"
        "from agent.cli import app\n"
        f"try:\n    app({LIGHT_COMMANDS[name]!r})\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('torch', 'transformers', 'textual') if m in sys.modules]\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "HEAVY [] CODE 0" in proc.stdout, proc.stdout + proc.stderr
