"""A successful run as a task: its task file, whose reference becomes what the run did on the screen.

Each step's executed actions (screen pixels, as the trace recorded them) are mapped back onto the
0–1000 grid through the run's screen geometry and written as canonical Qwen3-VL tool calls, with the
step's thought; so a run of any model, profile or coordinate space — or a person's recording — becomes a
reference that `--policy scripted` plays. Steps that did nothing (a reply that could not be parsed) are
left out. Everything else of the task file is kept byte for byte (agent.tasks.replace_fields).
"""
from __future__ import annotations

from pathlib import Path

from actions import ScreenGeometry
from agent.errors import ExportError, TaskError
from agent.export.runs import intact_run
from agent.run import task_fingerprint
from agent.tasks import load_task, parse_task_text, replace_fields
from agent.tasks.files import fixture_problems
from agent.tasks.reference import reference_step
from agent.tasks.validate import reference_problems
from agent.trace import LoadedRun

USABLE_STATUSES = ("success", "done")  # the checks passed, or a task without checks that the model finished


def reference_of(run: LoadedRun) -> list[str]:
    """The run's executed actions, one reference step per step that acted, on the 0–1000 grid."""
    if run.meta is None or run.meta.geometry is None:
        raise ExportError(f"{run.path}: meta.json records no screen geometry, so its pixels cannot be mapped "
                          "back to the model's grid")
    geometry = ScreenGeometry(**run.meta.geometry.model_dump(include=set(ScreenGeometry.model_fields)))
    steps = []
    for step in sorted(run.steps, key=lambda s: s.step):
        if not step.executed:
            continue
        try:
            steps.append(reference_step(step.executed, geometry, step.thought))
        except ValueError as exc:  # a damaged executed action (pydantic's ValidationError is a ValueError)
            raise ExportError(f"{run.path}: step {step.step}: an executed action is unreadable ({exc})") from None
    return steps


def task_from_run(run_dir: Path, out: Path) -> tuple[str, list[str]]:
    """(the new task file's text, notes for the person); ExportError when the run cannot become a task."""
    run = intact_run(run_dir)
    if run.result.status not in USABLE_STATUSES:
        raise ExportError(f"{run_dir}: the run ended {run.result.status!r}; only a successful run (success, or done "
                          "for a task without checks) becomes a task")
    task_file = Path(run.meta.task_file) if run.meta.task_file else None
    if task_file is None or not task_file.is_file():
        raise ExportError(f"{run_dir}: the task file the run names ({run.meta.task_file or 'none'}) does not exist "
                          "here; the new task is built from it")
    notes = []
    try:
        task = load_task(task_file)
        text = task_file.read_text(encoding="utf-8")
    except (TaskError, OSError) as exc:
        raise ExportError(f"{run_dir}: its task file cannot be read: {exc}") from None
    if task.id != run.meta.task_id:
        raise ExportError(f"{run_dir}: the run is of task {run.meta.task_id!r} but {task_file} is task {task.id!r}")
    if run.meta.task_sha256 and task_fingerprint(task_file)[1] != run.meta.task_sha256:
        notes.append(f"note: {task_file} changed since the run; the new task keeps its current content")
    reference = reference_of(run)
    if not reference:
        raise ExportError(f"{run_dir}: no step of the run acted, so there is no reference to write")
    fields: dict = {"reference": reference}
    if len(reference) > task.max_steps:
        fields["max_steps"] = len(reference)
        notes.append(f"note: max_steps raised from {task.max_steps} to {len(reference)} to fit the reference")
    new_text = replace_fields(text, fields, str(out))
    new_task = parse_task_text(new_text, str(out), Path(out).absolute().parent)
    problems = reference_problems(new_task) + fixture_problems(new_task.sandbox)
    if problems:
        raise ExportError(f"-o {out}: the new task would not validate: " + "; ".join(problems[:3])
                          + " (write it into the folder of the original task, beside its fixtures)")
    if new_task.checks is None:
        notes.append("note: the task has no checks (checks: none); add them so a run can succeed (docs/tasks.md)")
    return new_text, notes
