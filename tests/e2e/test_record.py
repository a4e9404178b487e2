"""`agent record` end to end, as a person uses it: the task's desktop appears in a window on their display
(here a stand-in Xvfb), xdotool plays the person — clicking, dragging and typing into that window —, the
stop key ends it, the reference goes into the task file, and the replay with the scripted policy passes
the checks, for three shipped tasks; an instruction becomes a new task with a checks skeleton; a
recording's run folder becomes a task with `agent task from-run`."""
from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from actions import ScreenGeometry, parse, to_screen
from agent.desktop import Sandbox
from agent.tasks import load_task
from agent.trace import list_runs, read_run
from tests.agent.record.person import Person
from tests.helpers import REPO

pytestmark = [
    pytest.mark.desktop,
    pytest.mark.skipif(shutil.which("Xephyr") is None, reason="needs Xephyr (./install.sh installs xserver-xephyr)"),
]
SCREEN = ScreenGeometry.flat(1280, 800)


@pytest.fixture
def host():
    """The person's display: a bare desktop with room for the recording's 1280x800 window."""
    with Sandbox(width=1700, height=1000) as display:
        yield display


def agent(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


class RecordCommand:
    """`agent record …` in a child process on the host display; its stderr lines arrive in a queue."""

    def __init__(self, host: Sandbox, *args: str):
        env = {**os.environ, "DISPLAY": host.env["DISPLAY"], "XAUTHORITY": host.env["XAUTHORITY"]}
        self.proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "record", *args], cwd=REPO, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stderr], daemon=True).start()

    def wait_for(self, start: str, timeout: float = 180) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no line starting {start!r}; saw: {self.seen}") from None
            self.seen.append(line)
            if line.startswith(start):
                return line

    def finish(self, timeout: float = 400) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code, "".join(self.seen)


def person_at_the_window(host: Sandbox, task_id: str) -> Person:
    """xdotool on the host display, aimed at the recording's window (moved to the top left corner)."""
    finder = Person(host.env)
    window = finder.xdotool("search", "--onlyvisible", "--name", f"^agent record: {task_id} ").split()[0]
    finder.xdotool("windowmove", "--sync", window, "0", "0")
    person = Person(host.env, window=window, pause_s=2.0)
    person.focus()
    return person


def own_copy(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text((REPO / "tasks" / f"{name}.yaml").read_text())
    return path


@pytest.mark.parametrize("name", ["open_settings", "dialog_volume_scale", "save_note"])
def test_a_demonstration_of_a_shipped_task_replays_to_success(tmp_path, host, name):
    task_file = own_copy(tmp_path, name)
    original = load_task(task_file)
    command = RecordCommand(host, str(task_file), "--runs-dir", str(tmp_path / "runs"), "--no-button")
    command.wait_for("recording ")
    person = person_at_the_window(host, original.id)
    for step in original.reference:  # the person does what the shipped solution does
        for action in parse(step, "qwen").actions:
            person.perform(to_screen(action, SCREEN).model_dump(mode="json"))
    person.xdotool("key", "Pause")
    code, stderr = command.finish()
    assert code == 0, stderr
    assert "checks on the recording: success" in stderr and "replay: success" in stderr
    recorded = load_task(task_file)
    assert recorded.model_dump(exclude={"reference"}) == original.model_dump(exclude={"reference"})
    kinds = [a.action for step in recorded.reference for a in parse(step, "qwen").actions]
    assert kinds == [a.action for step in original.reference for a in parse(step, "qwen").actions]
    assert agent("validate", str(task_file)).returncode == 0
    runs = [read_run(path) for path in list_runs(tmp_path / "runs")]
    assert sorted(run.meta.policy for run in runs) == ["record", "scripted"]
    assert all(run.result.status == "success" and not run.problems for run in runs)
    demonstration = next(run for run in runs if run.meta.policy == "record")
    assert all((demonstration.path / step.screenshot).is_file() for step in demonstration.steps)


def test_an_instruction_becomes_a_new_task_with_a_checks_skeleton(tmp_path, host):
    out = tmp_path / "hello.yaml"
    command = RecordCommand(host, "Type hello into the editor", "--app", "mousepad", "-o", str(out),
                            "--runs-dir", str(tmp_path / "runs"))
    command.wait_for("recording ")
    stop_button = Person(host.env).xdotool("search", "--sync", "--onlyvisible", "--name", "^agent record$").split()[0]
    Person(host.env).xdotool("windowmove", stop_button, "1400", "0")
    person = person_at_the_window(host, "type-hello-into-the-editor")
    person.perform({"action": "left_click", "coordinate": [640, 400]})
    person.perform({"action": "type", "text": "hello"})
    Person(host.env).xdotool("windowactivate", "--sync", stop_button, "key", "Return")  # the Stop button
    code, stderr = command.finish()
    assert code == 0, stderr
    assert "checks on the recording: done" in stderr and "replay: done: the task has no checks yet" in stderr
    text = out.read_text()
    assert "checks: none" in text and '#    - title: "^\\\\*Untitled\\\\ 1\\\\ \\\\-\\\\ Mousepad$"' in text
    task = load_task(out)
    assert task.checks is None and task.sandbox.apps == ["mousepad"]
    assert [a.action for step in task.reference for a in parse(step, "qwen").actions] == [
        "left_click", "type", "terminate"]
    assert yaml.safe_load(text)["instruction"] == "Type hello into the editor"
    # the recording's run folder is a successful run of the new task: it becomes a task itself
    recording = next(p for p in list_runs(tmp_path / "runs") if read_run(p).meta.policy == "record")
    made = agent("task", "from-run", str(recording), "-o", str(tmp_path / "again.yaml"))
    assert made.returncode == 0, made.stderr
    assert load_task(tmp_path / "again.yaml").reference == task.reference
    # … and training data: one record per step, the conversation as the local policy would prompt
    exported = agent("export", str(recording), "-o", str(tmp_path / "dataset"))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("3 records from 1 runs, 3 images")
