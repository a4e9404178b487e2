"""Traces: the run folder shared by the loop (writer), the viewer and replay (reader).

runs/<run-id>/meta.json      RunMeta, written at start
runs/<run-id>/steps.jsonl    one StepRecord per line, appended, flushed and fsynced as each step ends
runs/<run-id>/step_NNNN.png  the screenshot each step saw
runs/<run-id>/result.json    RunResult, written last and atomically (tmp file + rename)

The reader never raises on damage: a missing result (crashed or still running), a truncated last
line, a missing screenshot or unknown fields are reported in `LoadedRun.problems`.
"""
from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.trace.damage import checked_geometry, clip, is_file, screenshot_file, writer_identity, writer_state

Status = Literal["success", "failure", "max_steps", "aborted", "error"]


def now_iso() -> str:
    """Current UTC time as ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _Record(BaseModel):
    # Reading tolerates fields from newer writers; the viewer lists them as unknown.
    model_config = ConfigDict(extra="allow")

    def unknown_fields(self) -> list[str]:
        """Names present in the file that this version does not know."""
        return sorted((self.model_extra or {}).keys())


class GeometryRecord(_Record):
    """Where the screenshot sits on the pointer's screen."""

    screenshot_width: int = Field(description="Captured image width in pixels.")
    screenshot_height: int = Field(description="Captured image height in pixels.")
    logical_width: int = Field(description="Monitor width in pointer (logical) units.")
    logical_height: int = Field(description="Monitor height in pointer (logical) units.")
    offset_x: int = Field(0, description="Monitor left edge in the pointer space (may be negative).")
    offset_y: int = Field(0, description="Monitor top edge in the pointer space (may be negative).")


class RunMeta(_Record):
    """meta.json: what ran, where and when."""

    run_id: str = Field(description="Folder name of the run.")
    task_id: str = Field(description="The task's id.")
    task_file: str | None = Field(None, description="Resolved path of the task YAML the run was started from.")
    task_sha256: str | None = Field(None, description="SHA-256 of the task file's bytes, to tell edited tasks apart.")
    instruction: str = Field(description="The instruction given to the policy.")
    policy: str = Field(description="Policy name: local, scripted, replay, …")
    model: str | None = Field(None, description="Checkpoint id or folder for model policies.")
    policy_settings: dict[str, Any] = Field(default_factory=dict, description="Every setting that changes the policy's behaviour (never secrets).")
    geometry: GeometryRecord | None = Field(None, description="Screen geometry of the run.")
    live: bool = Field(False, description="True when the run drove the person's own display.")
    max_steps: int = Field(description="Step limit in force.")
    versions: dict[str, str] = Field(default_factory=dict, description="Package versions.")
    started_at: str = Field(description="ISO time the run started.")
    writer_pid: int | None = Field(None, description="Process id of the writer, to tell a killed run from a running one.")
    writer_host: str | None = Field(None, description="Host name of the writer (its pid means something only there).")
    writer_started: int | None = Field(None, description="The writer process's start time (clock ticks since boot).")


class StepError(_Record):
    """A parse or execution failure at one step."""

    kind: Literal["parse", "exec", "policy"] = Field(description="Which stage failed.")
    message: str = Field(description="Text shown to the model on the next step.")


class StepRecord(_Record):
    """One line of steps.jsonl."""

    step: int = Field(description="0-based step index.")
    started_at: str = Field(description="ISO time the step began.")
    ended_at: str = Field(description="ISO time the step ended.")
    screenshot: str | None = Field(None, description="File name of the screenshot in the run folder.")
    model_output: str = Field("", description="Raw text the policy produced.")
    thought: str | None = Field(None, description="Free text before the action(s).")
    notes: list[str] = Field(default_factory=list, description="What the parser repaired or dropped.")
    actions: list[dict[str, Any]] = Field(default_factory=list, description="Parsed actions, model coordinates.")
    executed: list[dict[str, Any]] = Field(default_factory=list, description="Executed actions, screen pixels.")
    error: StepError | None = Field(None, description="Parse/exec error, if any.")
    timings_ms: dict[str, float] = Field(default_factory=dict, description="capture, model, execute, settle ms.")
    counters: dict[str, int | float] = Field(
        default_factory=dict, description="Model counters: ints for what they count (tokens, images), floats for ms."
    )
    output_format: str | None = Field(None, description="Parser the reply was read with (qwen | uitars | auto); absent: auto.")
    coordinates: str | None = Field(None, description="Model coordinate space (grid1000 | grid999 | pixels); absent: grid1000.")
    image_size: list[int] | None = Field(None, description="[w, h] of the resized screenshot the model saw (for pixels).")


class CheckOutcome(_Record):
    """One success check's verdict."""

    name: str = Field(description="Short description of the check.")
    passed: bool = Field(description="Whether it held.")
    detail: str = Field("", description="What was seen.")


class RunResult(_Record):
    """result.json: the verdict, written last."""

    status: Status = Field(description="success | failure | max_steps | aborted | error.")
    checks: list[CheckOutcome] = Field(default_factory=list, description="Each check's outcome.")
    steps: int = Field(description="Number of steps recorded.")
    duration_s: float = Field(description="Wall time of the run.")
    ended_at: str = Field(description="ISO time the run ended.")
    message: str = Field("", description="Why the run ended (error text, answer, abort reason).")


def new_run_id(task_id: str) -> str:
    """Sortable, unique folder name: UTC time, task id, random suffix."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{task_id}-{secrets.token_hex(2)}"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class TraceWriter:
    """Appends a run to its folder; every finished step survives a SIGKILL."""

    def __init__(self, runs_dir: Path, meta: RunMeta, reserved: bool = False):
        """reserved: the (empty) run folder was already created for this run id."""
        self.dir = Path(runs_dir) / meta.run_id
        self.dir.mkdir(parents=True, exist_ok=reserved)
        if meta.writer_pid is None:
            meta = meta.model_copy(update=writer_identity())
        write_json_atomic(self.dir / "meta.json", meta.model_dump(mode="json"))
        self._steps = open(self.dir / "steps.jsonl", "a", encoding="utf-8")
        self.count = 0

    def screenshot_path(self, step: int) -> Path:
        """Where step N's screenshot goes."""
        return self.dir / f"step_{step:04d}.png"

    def step(self, record: StepRecord) -> None:
        """Append one step and force it to disk."""
        self._steps.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
        self._steps.flush()
        os.fsync(self._steps.fileno())
        self.count += 1

    def finish(self, result: RunResult) -> None:
        """Write result.json atomically and close the step log."""
        self._steps.close()
        write_json_atomic(self.dir / "result.json", result.model_dump(mode="json"))


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
