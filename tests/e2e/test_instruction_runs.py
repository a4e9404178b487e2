"""From an idea to a task, end to end: a plain instruction runs as an ad-hoc task whose run folder
repeats it, ends done or gave_up (never success), and a model's successful run becomes a task that
validates and passes with the scripted policy."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from agent.desktop import sandbox_for
from agent.policies.scripted import ScriptedPolicy
from agent.run import run_task
from agent.tasks import instruction_task, load_task
from agent.trace import list_runs, read_run
from tests.helpers import REPO

pytestmark = pytest.mark.desktop


def agent(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})


def only_run(folder):
    found = list_runs(folder)
    assert len(found) == 1, found
    return read_run(found[0])


def call(arguments: str) -> str:
    return f'<tool_call>\n{{"name": "computer_use", "arguments": {arguments}}}\n</tool_call>'


def test_an_instruction_runs_as_an_ad_hoc_task_and_its_folder_repeats_it(tmp_path):
    # A model stands in as the replay of a run that opened Mousepad's preferences.
    assert agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--runs-dir", str(tmp_path / "a")
                 ).returncode == 0
    model = str(only_run(tmp_path / "a").path)
    done = agent("run", "Open the preferences window of Mousepad", "--app", "mousepad", "--policy", "replay",
                 "--recording", model, "--runs-dir", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    assert "the task has no checks: no checks: the model said it finished (not a checked success)" in done.stderr
    run = only_run(tmp_path / "b")
    assert run.result.status == "done" and run.result.checks == [] and not run.problems
    task_file = run.path / "task.yaml"
    assert run.meta.task_file == str(task_file.resolve()) and run.meta.task_sha256
    task = load_task(task_file)
    assert task.instruction == "Open the preferences window of Mousepad" and task.checks is None
    assert task.sandbox.apps == ["mousepad"]
    again = agent("run", str(task_file), "--policy", "replay", "--recording", model, "--runs-dir", str(tmp_path / "c"))
    assert again.returncode == 0, again.stderr
    assert only_run(tmp_path / "c").result.status == "done"


@pytest.mark.parametrize("reply,status,exit_message", [
    (call('{"action": "terminate", "status": "success"}'), "done", "model terminated: success"),
    (call('{"action": "terminate", "status": "failure"}'), "gave_up", "model terminated: failure"),
    (call('{"action": "answer", "text": "42"}'), "done", "model answered: 42"),
    (call('{"action": "wait", "time": 0.1}'), "max_steps", "step limit 1 reached"),
])
def test_a_task_without_checks_ends_done_or_gave_up_never_success(tmp_path, reply, status, exit_message):
    task = instruction_task("Look at the empty desktop", []).model_copy(update={"max_steps": 1})
    result = run_task(task, ScriptedPolicy([reply]), sandbox_for(task), runs_dir=tmp_path, abort=threading.Event())
    assert result.status == status and result.checks == [] and result.message == exit_message


def test_a_models_successful_run_becomes_a_task_that_validates_and_passes(tmp_path):
    task_file = tmp_path / "open_settings.yaml"
    task_file.write_text((REPO / "tasks/open_settings.yaml").read_text())
    assert agent("run", str(task_file), "--policy", "scripted", "--runs-dir", str(tmp_path / "a")).returncode == 0
    run = only_run(tmp_path / "a")
    out = tmp_path / "from_run.yaml"
    made = agent("task", "from-run", str(run.path), "-o", str(out))
    assert made.returncode == 0, made.stderr
    assert agent("validate", str(out)).returncode == 0
    replayed = agent("run", str(out), "--policy", "scripted", "--runs-dir", str(tmp_path / "b"))
    assert replayed.returncode == 0, replayed.stderr
    again = only_run(tmp_path / "b")
    assert again.result.status == "success"
    # the new reference drives the pointer to the very pixels the run did (grid values may differ where two
    # grid values fall on one pixel: 1000 grid steps over 800 rows)
    assert [s.executed for s in again.steps] == [s.executed for s in run.steps]


def test_an_instruction_on_the_persons_own_display(tmp_path):
    from agent.desktop import Sandbox

    assert agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--runs-dir", str(tmp_path / "a")
                 ).returncode == 0
    model = str(only_run(tmp_path / "a").path)
    task = load_task(REPO / "tasks/open_settings.yaml")
    with Sandbox(task.sandbox) as desktop:  # stands in for the person's desktop, Mousepad already open
        env = {"WAYLAND_DISPLAY": "", "XDG_SESSION_TYPE": "x11", "DISPLAY": desktop.display,
               "XAUTHORITY": desktop.env["XAUTHORITY"]}
        done = subprocess.run([sys.executable, "-m", "agent.cli", "run", "Open the preferences of Mousepad", "--live",
                               "--yes", "--policy", "replay", "--recording", model, "--runs-dir", str(tmp_path / "b")],
                              cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
        assert "Mousepad Preferences" in desktop.window_titles()
    run = only_run(tmp_path / "b")
    assert run.meta.live and run.result.status == "done" and (run.path / "task.yaml").is_file()
