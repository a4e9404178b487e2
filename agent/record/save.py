"""A demonstration saved: the reference solution into the task file, and a run folder like any run's.

Each recorded action becomes one step: the screenshot before it, the action in screen pixels (what was
executed) and on the 0–1000 grid (what a model would have written, agent.tasks.reference), and a last
step that terminates with success on the screen at the end. The task's checks run on the recording's
own desktop and give the run its status (`done` for a task without checks). The task file gets the
reference (an existing file keeps everything else byte for byte; a task made from an instruction gets a
`checks:` skeleton to fill, with the windows that opened during the recording as suggestions). The
new task file is checked before it is written, and written whole or not at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from actions import action_from_dict, from_screen
from agent.desktop import Sandbox
from agent.errors import RecordError
from agent.record.recording import Demonstration
from agent.run import task_fingerprint, versions
from agent.tasks import (
    Task,
    parse_task_text,
    replace_fields,
    run_checks,
    task_yaml,
    write_text_atomic,
)
from agent.tasks.files import fixture_problems
from agent.tasks.reference import reference_step
from agent.tasks.validate import reference_problems
from agent.trace import GeometryRecord, RunMeta, RunResult, StepRecord, TraceWriter

TERMINATE = {"action": "terminate", "status": "success"}


@dataclass
class SavedRecording:
    """Where a demonstration went and what it amounts to."""

    run_dir: Path
    task_file: Path
    reference: list[str]
    status: str
    checks: list[Any]


def demonstration_steps(demo: Demonstration, started: datetime) -> tuple[list[StepRecord], list[bytes]]:
    """The steps of the recording's run and the PNG bytes of each step's screenshot."""
    entries = [(r.action, r.frame or demo.final, r.notes) for r in demo.actions]
    entries.append((action_from_dict(TERMINATE), demo.final, []))
    steps, pictures = [], []
    clock = started.timestamp() - min(frame.taken for _, frame, _ in entries)  # monotonic → wall clock
    for index, (action, frame, notes) in enumerate(entries):
        moment = datetime.fromtimestamp(clock + frame.taken, timezone.utc).isoformat(timespec="milliseconds")
        steps.append(StepRecord(
            step=index, started_at=moment, ended_at=moment, screenshot=f"step_{index:04d}.png",
            model_output=reference_step([action], demo.geometry), notes=notes,
            actions=[from_screen(action, demo.geometry).model_dump(mode="json")],
            executed=[action.model_dump(mode="json")], output_format="qwen", coordinates="grid1000",
        ))
        pictures.append(frame.encode())
    return steps, pictures


def checks_skeleton(demo: Demonstration) -> str:
    """`checks: none` with commented-out checks to fill in: the windows that opened while recording."""
    opened = [title for title in demo.titles_after if title not in demo.titles_before]
    lines = ["# What success looks like: replace `none` by checks (docs/tasks.md lists every kind). Until then",
             "# the task has no checks, and a run ends done or gave_up, never success.",
             "checks: none", "#  mode: all", "#  items:"]
    lines += [f"#    - title: \"^{_yaml_escape(re.escape(title))}$\"     # opened during the recording"
              for title in opened[:5]]
    lines += ['#    - path: "{home}/Documents/note.txt"', '#      contains: "…"',
              '#    - command: "xclip -selection clipboard -o"', '#      equals: "…"']
    return "\n".join(lines) + "\n"


def _yaml_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def new_task_text(task: Task, source_text: str | None, reference: list[str], demo: Demonstration) -> str:
    """The task file with the reference: the source file's text with two fields replaced, or (for an
    instruction) a whole new file with a checks skeleton."""
    max_steps = max(task.max_steps, len(reference))
    if source_text is not None:
        fields: dict[str, Any] = {"reference": reference}
        if max_steps != task.max_steps:
            fields["max_steps"] = max_steps
        return replace_fields(source_text, fields, "the task file")
    full = task.model_copy(update={"reference": reference, "max_steps": max_steps})
    header = (f"Recorded with `agent record`: {task.instruction[:100]}\n"
              "Fill in the checks below, then replay it: agent run THIS_FILE --policy scripted")
    return task_yaml(full, header=header, checks_block=checks_skeleton(demo))


def save_demonstration(demo: Demonstration, task: Task, source_text: str | None, out: Path, sandbox: Sandbox,
                       run_dir: Path, started: datetime, stop_key: list[str]) -> SavedRecording:
    """Run the checks on the recording's desktop, write the task file `out`, then the run folder
    `run_dir` (reserved, empty). RecordError, before anything is written, when the new task would not
    validate."""
    steps, pictures = demonstration_steps(demo, started)
    reference = [step.model_output for step in steps]
    text = new_task_text(task, source_text, reference, demo)
    new_task = parse_task_text(text, str(out), out.absolute().parent)
    problems = reference_problems(new_task) + fixture_problems(new_task.sandbox)
    if problems:
        raise RecordError(f"{out}: the recorded task would not validate: {'; '.join(problems[:3])}")
    passed, checks = False, []
    if new_task.checked:
        passed, checks = run_checks(new_task.checks, sandbox.env, sandbox.workdir)
    status = ("success" if passed else "failure") if new_task.checked else "done"
    write_text_atomic(out, text)
    resolved, sha = task_fingerprint(out)
    meta = RunMeta(run_id=run_dir.name, task_id=new_task.id, task_file=resolved, task_sha256=sha,
                   instruction=new_task.instruction, policy="record",
                   policy_settings={"policy": "record", "stop_key": "+".join(stop_key), "server": "Xephyr"},
                   geometry=GeometryRecord(**demo.geometry.model_dump()), max_steps=new_task.max_steps,
                   versions=versions(), started_at=started.isoformat(timespec="milliseconds"))
    trace = TraceWriter(run_dir.parent, meta, reserved=True)
    for step, picture in zip(steps, pictures):
        trace.screenshot_path(step.step).write_bytes(picture)
        trace.step(step)
    ended = datetime.now(timezone.utc)
    trace.finish(RunResult(status=status, checks=checks, steps=len(steps), ended_at=ended.isoformat(timespec="milliseconds"),
                           duration_s=round((ended - started) / timedelta(seconds=1), 3),
                           message=f"recorded {len(steps) - 1} actions"))
    return SavedRecording(trace.dir, out, reference, status, checks)
