"""`agent task from-run`: a successful run's executed actions become the reference of its task file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from actions import ScreenGeometry, parse, to_screen
from agent.errors import ExportError
from agent.export import task_from_run
from agent.tasks import parse_task_text
from agent.tasks.validate import reference_problems
from agent.trace import RunMeta, RunResult, StepError, StepRecord, TraceWriter, new_run_id, now_iso
from tests.helpers import REPO

EXECUTED = [  # screen pixels on 1280x800, as the loop records them
    [{"action": "left_click", "coordinate": [370, 179]}],
    [],  # a reply that did not parse: nothing happened
    [{"action": "type", "text": "hello\nworld"}, {"action": "key", "keys": ["ctrl", "s"]}],
    [{"action": "left_click_drag", "start_coordinate": [628, 405], "coordinate": [673, 405]}],
    [{"action": "scroll", "pixels": -5, "coordinate": [640, 400]}, {"action": "double_click", "coordinate": [1279, 799]}],
    [{"action": "terminate", "status": "success"}],
]
GEOMETRY = {"screenshot_width": 1280, "screenshot_height": 800, "logical_width": 1280, "logical_height": 800}


def recorded(tmp_path: Path, task_file: Path | None, task_id: str = "open_settings", status: str = "success",
             executed=EXECUTED) -> Path:
    meta = RunMeta(run_id=new_run_id(task_id), task_id=task_id, instruction="x", policy="http",
                   task_file=str(task_file) if task_file else None, geometry=GEOMETRY, max_steps=20,
                   started_at=now_iso())
    trace = TraceWriter(tmp_path / "runs", meta)
    for index, actions in enumerate(executed):
        trace.screenshot_path(index).write_bytes(b"")
        trace.step(StepRecord(step=index, started_at=now_iso(), ended_at=now_iso(), screenshot=f"step_{index:04d}.png",
                              model_output="…", thought="I look at the menu." if index == 0 else None,
                              executed=actions,
                              error=None if actions else StepError(kind="parse", message="no <tool_call> found")))
    trace.finish(RunResult(status=status, steps=len(executed), duration_s=1, ended_at=now_iso()))
    return trace.dir


def own_copy(tmp_path: Path, name: str = "open_settings") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text((REPO / "tasks" / f"{name}.yaml").read_text())
    return path


def test_the_reference_replays_the_runs_pixels_and_the_rest_of_the_file_is_kept(tmp_path):
    task_file = own_copy(tmp_path)
    text, notes = task_from_run(recorded(tmp_path, task_file), tmp_path / "new.yaml")
    original = task_file.read_text()
    assert text.split("reference:")[0] == original.split("reference:")[0]  # comments and layout kept
    task = parse_task_text(text, "new.yaml", tmp_path)
    assert len(task.reference) == 5 and reference_problems(task) == []  # the step that did nothing is left out
    assert task.reference[0].startswith("Thought: I look at the menu.\n<tool_call>")
    geometry = ScreenGeometry(**GEOMETRY)
    replayed = [[to_screen(a, geometry).model_dump(mode="json") for a in parse(step, "qwen").actions]
                for step in task.reference]
    expected = [actions for actions in EXECUTED if actions]
    for got, want in zip(replayed, expected):
        for g, w in zip(got, want):
            for field in ("coordinate", "start_coordinate"):
                if field in w:
                    assert max(abs(a - b) for a, b in zip(g[field], w[field])) <= 1  # within the grid's resolution
            assert {k: v for k, v in g.items() if "coordinate" not in k} == {k: v for k, v in w.items()
                                                                              if "coordinate" not in k}
    assert notes == []


def test_a_longer_reference_raises_max_steps_and_says_so(tmp_path):
    task_file = own_copy(tmp_path)
    many = [[{"action": "left_click", "coordinate": [10, 10]}]] * 9 + [[{"action": "terminate", "status": "success"}]]
    text, notes = task_from_run(recorded(tmp_path, task_file, executed=many), tmp_path / "new.yaml")
    assert parse_task_text(text, "n", tmp_path).max_steps == 10
    assert any("max_steps raised from 8 to 10" in note for note in notes)


@pytest.mark.parametrize("case,words", [
    ("failure", "the run ended 'failure'; only a successful run"),
    ("no_task_file", "the task file the run names (none) does not exist here"),
    ("other_task", "the run is of task 'save_note'"),
    ("fixtures", "the new task would not validate"),
    ("damaged", "the run folder is damaged"),
    ("nothing_done", "no step of the run acted"),
])
def test_runs_that_cannot_become_a_task_are_named(tmp_path, case, words):
    task_file = own_copy(tmp_path)
    out = tmp_path / "new.yaml"
    if case == "failure":
        run = recorded(tmp_path, task_file, status="failure")
    elif case == "no_task_file":
        run = recorded(tmp_path, None)
    elif case == "other_task":
        run = recorded(tmp_path, task_file, task_id="save_note")
    elif case == "fixtures":  # a task with fixtures, written away from them
        run = recorded(tmp_path, REPO / "tasks/image_browse.yaml", task_id="image_browse")
    elif case == "nothing_done":
        run = recorded(tmp_path, task_file, executed=[[]])
    else:
        run = recorded(tmp_path, task_file)
        (run / "step_0002.png").unlink()
    with pytest.raises(ExportError, match=words.replace("(", r"\(").replace(")", r"\)")):
        task_from_run(run, out)


def test_the_command_writes_the_file_once_and_never_over_another(tmp_path):
    def agent(*args):
        return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})

    run = recorded(tmp_path, own_copy(tmp_path))
    out = tmp_path / "from_run.yaml"
    done = agent("task", "from-run", str(run), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert f"agent validate {out}" in done.stdout
    assert agent("validate", str(out)).returncode == 0
    again = agent("task", "from-run", str(run), "-o", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    failed = recorded(tmp_path, own_copy(tmp_path), status="max_steps")
    refused = agent("task", "from-run", str(failed), "-o", str(tmp_path / "other.yaml"))
    assert refused.returncode == 2 and "ended 'max_steps'" in refused.stderr
    assert not (tmp_path / "other.yaml").exists()
