"""Reading a run folder as far as it can be read.

The reader never raises on damage: a missing result (crashed or still running), a truncated last
line, a missing screenshot or unknown fields are reported in `LoadedRun.problems`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agent.trace.damage import checked_geometry, clip, is_file, screenshot_file, writer_state
from agent.trace.records import RunMeta, RunResult, StepRecord, _Record


class LoadedRun(BaseModel):
    """A run folder as far as it could be read, with what was wrong with it."""

    path: Path
    meta: RunMeta | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    result: RunResult | None = None
    problems: list[str] = Field(default_factory=list)

    @property
    def status(self) -> str:
        """Final status, or 'incomplete' while result.json is absent."""
        return self.result.status if self.result else "incomplete"

    @property
    def writer(self) -> str:
        """Without result.json: 'alive' (still running), 'gone' (killed) or 'unknown' (another host,
        an old trace); 'done' once the result is there."""
        return "done" if self.result else writer_state(self.meta)


def _read_model(path: Path, cls: type[_Record], problems: list[str]) -> Any:
    if not path.exists():
        problems.append(f"{path.name} is missing")
        return None
    try:
        record = cls.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError, OSError) as exc:
        problems.append(f"{path.name} is unreadable: {clip(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}")
        return None
    if record.unknown_fields():
        problems.append(f"{path.name} has unknown fields: {', '.join(record.unknown_fields())}")
    return record


def read_steps(path: Path, problems: list[str]) -> list[StepRecord]:
    """Parse steps.jsonl line by line, keeping every readable step."""
    steps: list[StepRecord] = []
    if not path.exists():
        problems.append("steps.jsonl is missing")
        return steps
    try:
        # Split on "\n" only: the writer keeps non-ASCII as is, and str.splitlines() would also cut
        # at U+2028, U+0085 or \x1c inside a model output, breaking a whole record.
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    except OSError as exc:  # a folder, no permission, an I/O error
        problems.append(f"steps.jsonl is unreadable: {exc.strerror or exc}")
        return steps
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = StepRecord.model_validate_json(line)
        except (ValidationError, ValueError) as exc:
            where = "last line (truncated?)" if number == len(lines) else f"line {number}"
            problems.append(f"steps.jsonl {where} is unreadable: {clip(str(exc).splitlines()[0])}")
            continue
        problems.extend(step_problems(record, path.parent))
        steps.append(record)
    return steps


def step_problems(record: StepRecord, run_dir: Path) -> list[str]:
    """What is wrong with one readable step: unknown fields, a screenshot missing or outside the run."""
    problems = []
    if record.unknown_fields():
        problems.append(f"step {record.step} has unknown fields: {clip(', '.join(record.unknown_fields()))}")
    if record.screenshot and screenshot_file(run_dir, record.screenshot) is None:
        problems.append(f"step {record.step}: screenshot {clip(record.screenshot)!r} is outside the run folder; not shown")
    elif record.screenshot and not is_file(run_dir / record.screenshot):
        problems.append(f"step {record.step}: screenshot {clip(record.screenshot)} is missing")
    return problems


def read_run(run_dir: Path) -> LoadedRun:
    """Load whatever a run folder holds; never raises for damaged content."""
    run_dir = Path(run_dir)
    problems: list[str] = []
    meta = checked_geometry(_read_model(run_dir / "meta.json", RunMeta, problems), problems)
    steps = read_steps(run_dir / "steps.jsonl", problems)
    result = None
    if (run_dir / "result.json").exists():
        result = _read_model(run_dir / "result.json", RunResult, problems)
    else:
        problems.append("result.json is missing: the run is still going or was killed")
    return LoadedRun(path=run_dir, meta=meta, steps=steps, result=result, problems=problems)


def is_run_dir(path: Path) -> bool:
    """A folder that looks like a run (has meta.json or steps.jsonl)."""
    return (path / "meta.json").exists() or (path / "steps.jsonl").exists()


def list_runs(runs_dir: Path) -> list[Path]:
    """Run folders below runs_dir, newest first by name (names start with a UTC timestamp)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    return sorted((p for p in runs_dir.iterdir() if p.is_dir() and is_run_dir(p)), reverse=True)
