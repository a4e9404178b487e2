"""`agent validate` for task files: the schema, the reference solution and the fixtures of each file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from actions import CoordinateError, ParseError, ScreenGeometry, parse, to_screen
from agent.errors import TaskError
from agent.tasks.files import fixture_problems
from agent.tasks.load import load_task
from agent.tasks.schema import TASK_SUFFIXES, Task


def reference_problems(task: Task) -> list[str]:
    """Why the reference solution is unusable: a step that does not parse, a point off the
    0-1000 grid, or no final terminate."""
    geometry = ScreenGeometry.flat(task.sandbox.width, task.sandbox.height)
    problems: list[str] = []
    last: list[str] = []
    for index, text in enumerate(task.reference):
        try:
            actions = parse(text, "qwen").actions  # as --policy scripted reads it
            for action in actions:
                to_screen(action, geometry)  # raises when a coordinate is off the grid
        except (ParseError, CoordinateError) as exc:
            problems.append(f"reference[{index}]: {exc}")
            continue
        last = [action.action for action in actions]
    if task.reference and not problems and not {"terminate", "answer"} & set(last):
        problems.append(f"reference[{len(task.reference) - 1}]: the last step must be a terminate or answer action")
    return problems


@dataclass
class ValidationReport:
    """The outcome of `agent validate`: one entry per task file."""

    results: list[tuple[Path, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file validated."""
        return bool(self.results) and all(error is None for _, error in self.results)

    def report_lines(self) -> list[str]:
        """`ok PATH` or `error PATH: reason` for each file."""
        return [f"ok {path}" if error is None else f"error {error}" for path, error in self.results]


def _task_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TASK_SUFFIXES)
    return [path]


def validate_paths(paths: list[Path]) -> ValidationReport:
    """Validate task files and folders of them (walked for *.yaml / *.yml)."""
    report = ValidationReport()
    for given in paths:
        given = Path(given)
        if not given.exists():
            report.results.append((given, f"{given}: no such file or folder"))
            continue
        files = _task_files(given)
        if not files:
            report.results.append((given, f"{given}: no *.yaml or *.yml task files in this folder"))
        for path in files:
            report.results.append((path, _validate_one(path)))
    return report


UNCHECKABLE = "could not be checked (a bug in agent validate; please report it)"


def _validate_one(path: Path) -> str | None:
    try:
        task = load_task(path)
    except TaskError as exc:
        return str(exc)
    except Exception as exc:  # one file must never stop the others from being checked
        return f"{path}: {UNCHECKABLE}: {type(exc).__name__}: {str(exc)[:200]}"
    problems = reference_problems(task) + fixture_problems(task.sandbox)
    return f"{path}: " + "; ".join(problems) if problems else None
