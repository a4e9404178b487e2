"""`agent run` end to end, as a person runs it: a real sandbox, real Mousepad, the scripted policy."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.errors import RunSetupError
from agent.trace import list_runs, read_run
from tests.helpers import REPO
from tests.terminal import sigint_as_in_a_terminal

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


# Every shipped task's reference solution is proven in tests/agent/bench/test_bench_runs.py
# (test_core_suite_with_the_scripted_policy_passes_every_task: the core suite at --parallel 2).


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
                             "--runs-dir", str(runs)], cwd=REPO, stderr=subprocess.PIPE, text=True,
                             preexec_fn=sigint_as_in_a_terminal)
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
    assert "loading model" in out  # the person is told what is happening before the wait
    assert list_runs(tmp_path) == []


def test_replay_without_a_recording_is_a_clear_error(tmp_path):
    proc = agent("run", "tasks/open_settings.yaml", "--policy", "replay", "--runs-dir", str(tmp_path))
    assert proc.returncode == 2 and "--recording" in proc.stderr


def test_replay_of_a_folder_of_runs_asks_for_one_run_folder(tmp_path):
    (tmp_path / "20261129-000000-x-abcd").mkdir()
    proc = agent("replay", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{tmp_path} is not a run folder" in proc.stderr and "--task" not in proc.stderr


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


# -- user errors: one paragraph, exit 2, no traceback, nothing started ----------------------------

BAD_FLAGS = {
    "max-steps -1": (["--max-steps", "-1"], "--max-steps"),
    "max-steps 0": (["--max-steps", "0"], "--max-steps"),
    "max-pixels 0": (["--max-pixels", "0"], "--max-pixels"),
    "history-images 0": (["--history-images", "0"], "--history-images"),
    "unknown policy": (["--policy", "nosuch"], "known policies"),
}


@pytest.mark.parametrize("name", BAD_FLAGS)
def test_a_bad_flag_is_a_clear_error_before_any_desktop_starts(name, tmp_path):
    flags, named = BAD_FLAGS[name]
    proc = agent("run", "tasks/open_settings.yaml", "--policy", "scripted", *flags, "--runs-dir", str(tmp_path / "runs"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and named in out and "Traceback" not in out, out
    assert "starting the desktop" not in out and list_runs(tmp_path / "runs") == []


def test_runs_dir_that_is_a_file_is_refused_before_the_sandbox_starts(tmp_path):
    a_file = tmp_path / "runs"
    a_file.write_text("not a folder")
    proc = agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--runs-dir", str(a_file))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "is a file" in out and str(a_file) in out and "Traceback" not in out
    assert "starting the desktop" not in out


def test_a_run_id_collision_is_a_clear_error(tmp_path, monkeypatch):
    from agent import run as run_module
    from agent.run import reserve_run_dir

    monkeypatch.setattr(run_module, "new_run_id", lambda task_id: f"fixed-{task_id}")
    (tmp_path / "fixed-open_settings").mkdir()
    with pytest.raises(RunSetupError, match="already exists"):
        reserve_run_dir(tmp_path, "open_settings")


def test_help_shows_no_bool_placeholders_for_flags():
    proc = agent("run", "--help", env={"COLUMNS": "200"})
    rows = {line.split()[1]: line for line in proc.stdout.splitlines() if line.startswith("│ --")}
    for flag in ("--live", "--yes", "--tui"):
        assert "<bool>" not in rows[flag], rows[flag]


# -- replay: consent before a recording's task file runs anything ---------------------------------

def recording_elsewhere(tmp_path: Path, marker: Path) -> Path:
    """A recorded run whose meta.json names a task file outside the repository, with a setup command."""
    task = yaml.safe_load((REPO / "tasks/open_settings.yaml").read_text())
    task["sandbox"]["setup"] = [f"touch {marker}"]
    foreign = tmp_path / "foreign" / "task.yaml"
    foreign.parent.mkdir()
    foreign.write_text(yaml.safe_dump(task))
    run = tmp_path / "received" / "run-1"
    run.mkdir(parents=True)
    meta = {"run_id": "run-1", "task_id": "open_settings", "task_file": str(foreign), "instruction": "x",
            "policy": "scripted", "max_steps": 8, "started_at": "2026-01-01T00:00:00+00:00"}
    (run / "meta.json").write_text(json.dumps(meta))
    steps = [{"step": i, "started_at": "t", "ended_at": "t", "model_output": text}
             for i, text in enumerate(task["reference"])]
    (run / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    return run


def test_replay_of_a_received_recording_asks_before_running_its_commands(tmp_path):
    marker = tmp_path / "setup-ran"
    run = recording_elsewhere(tmp_path, marker)
    proc = agent("replay", str(run), "--runs-dir", str(tmp_path / "runs"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and f"touch {marker}" in out and "--yes" in out and "Traceback" not in out
    assert not marker.exists() and list_runs(tmp_path / "runs") == []


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_replay_on_your_own_task_file_records_what_it_replayed(tmp_path):
    marker = tmp_path / "setup-ran"
    run = recording_elsewhere(tmp_path, marker)
    proc = agent("replay", str(run), "--task", "tasks/open_settings.yaml", "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    replayed = only_run(tmp_path / "runs")
    assert replayed.meta.policy_settings["recording"] == str(run.resolve())
    assert replayed.meta.policy_settings["recording_run_id"] == "run-1"
    assert replayed.meta.task_file == str((REPO / "tasks/open_settings.yaml").resolve())
    assert replayed.meta.task_sha256 and len(replayed.meta.task_sha256) == 64


def test_replaying_a_recording_of_another_task_warns(tmp_path):
    from agent.commands.replay import warn_if_other_task

    run = recording_elsewhere(tmp_path, tmp_path / "marker")
    lines: list[str] = []
    warn_if_other_task(run, REPO / "tasks/save_note.yaml", lines.append)
    assert len(lines) == 1 and "open_settings" in lines[0] and "save_note" in lines[0]
    lines.clear()
    warn_if_other_task(run, REPO / "tasks/open_settings.yaml", lines.append)
    assert lines == []  # same task, and the recording carries no hash to compare


# -- abort handling and timings ------------------------------------------------------------------

@pytest.mark.desktop
@NEEDS_DESKTOP
def test_sigterm_during_the_checks_still_writes_an_aborted_result(tmp_path):
    task = yaml.safe_load((REPO / "tasks/open_settings.yaml").read_text())
    task["reference"] = [task["reference"][-1]]  # terminate at once, then a slow check
    task["checks"] = {"items": [{"command": "sleep 30", "timeout": 60}]}
    slow = tmp_path / "slow_check.yaml"
    slow.write_text(yaml.safe_dump(task))
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", str(slow), "--policy", "scripted",
                             "--runs-dir", str(runs)], cwd=REPO, stderr=subprocess.PIPE, text=True,
                             preexec_fn=sigint_as_in_a_terminal)
    for line in proc.stderr:
        if line.startswith("step   0"):
            break
    import time

    time.sleep(1.0)  # inside the check now
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    run = only_run(runs)
    assert run.result.status == "aborted" and "checks" in run.result.message


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_duration_agrees_with_start_and_end_times(tmp_path):
    from datetime import datetime

    assert agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--runs-dir", str(tmp_path)).returncode == 0
    run = only_run(tmp_path)
    started = datetime.fromisoformat(run.meta.started_at)
    ended = datetime.fromisoformat(run.result.ended_at)
    assert abs((ended - started).total_seconds() - run.result.duration_s) < 0.01


def test_a_task_file_beside_a_received_recording_needs_consent_even_under_the_current_folder(tmp_path, monkeypatch):
    from agent.commands.replay import replay_task_file

    run = recording_elsewhere(tmp_path, tmp_path / "marker")
    beside = run.parent / "task.yaml"
    beside.write_text((REPO / "tasks/open_settings.yaml").read_text())
    meta = json.loads((run / "meta.json").read_text())
    (run / "meta.json").write_text(json.dumps({**meta, "task_file": str(beside)}))
    assert replay_task_file(run, None)[1] is True  # outside the current folder: consent
    monkeypatch.chdir(tmp_path)  # now the received folder lies under the current folder
    assert replay_task_file(run, None) == (beside.resolve(), True)
    assert replay_task_file(run, Path("mine.yaml")) == (Path("mine.yaml"), False)


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_closing_the_terminal_of_a_tui_run_ends_the_process(tmp_path):
    """A hangup (terminal window closed) aborts the run and the process leaves, though Textual cannot."""
    import pty
    import time

    task = yaml.safe_load((REPO / "tasks/open_settings.yaml").read_text())
    wait = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}\n</tool_call>'
    task["reference"], task["max_steps"] = [wait] * 60, 60
    slow = tmp_path / "slow.yaml"
    slow.write_text(yaml.safe_dump(task))
    runs = tmp_path / "runs"
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", str(slow), "--policy", "scripted",
                             "--runs-dir", str(runs), "--tui"], cwd=REPO, stdin=slave, stdout=slave,
                            stderr=slave, env={**os.environ, "TERM": "xterm-256color"}, start_new_session=True)
    os.close(slave)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(runs.glob("*/step_0001.png")):
            time.sleep(0.2)
        os.close(master)  # the terminal is gone, and the kernel sends SIGHUP then SIGCONT
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.05)
        proc.send_signal(signal.SIGCONT)  # Textual restarts its output on SIGCONT and then blocks
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    run = only_run(runs)
    assert run.result.status == "aborted" and run.result.steps >= 2


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_a_run_that_cannot_start_leaves_no_runs_folder_behind(tmp_path):
    task = yaml.safe_load((REPO / "tasks/open_settings.yaml").read_text())
    task["sandbox"] = {"apps": [], "wait_windows": ["^never$"], "timeout": 2}
    never = tmp_path / "never.yaml"
    never.write_text(yaml.safe_dump(task))
    runs = tmp_path / "new" / "runs"
    proc = agent("run", str(never), "--policy", "scripted", "--runs-dir", str(runs))
    assert proc.returncode == 2 and "'^never$'" in proc.stderr and "Traceback" not in proc.stderr
    assert not runs.exists()
    runs.mkdir(parents=True)  # a runs folder that was there before stays, empty
    assert agent("run", str(never), "--policy", "scripted", "--runs-dir", str(runs)).returncode == 2
    assert runs.is_dir() and list(runs.iterdir()) == []
