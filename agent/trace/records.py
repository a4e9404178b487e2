"""The records of a trace: what meta.json, steps.jsonl and result.json hold, as Pydantic models.

runs/<run-id>/meta.json      RunMeta, written at start
runs/<run-id>/steps.jsonl    one StepRecord per line, appended, flushed and fsynced as each step ends
runs/<run-id>/step_NNNN.png  the screenshot each step saw
runs/<run-id>/result.json    RunResult, written last and atomically (tmp file + rename)

The writer is agent/trace/writer.py, the reader agent/trace/reader.py.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["success", "failure", "max_steps", "aborted", "error", "done", "gave_up"]
# A task without checks (an ad-hoc instruction) ends on the model's own word, never a checked success:
# `done` (it said it finished: terminate success or an answer) or `gave_up` (it terminated with failure).
UNCHECKED_STATUSES = ("done", "gave_up")
STATUS_MEANINGS = {
    "success": "the checks passed", "failure": "the checks failed", "max_steps": "step limit reached",
    "aborted": "stopped by the person", "error": "the run failed",
    "done": "no checks: the model said it finished", "gave_up": "no checks: the model gave up",
}


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

    status: Status = Field(description="success | failure | max_steps | aborted | error | done | gave_up.")
    checks: list[CheckOutcome] = Field(default_factory=list, description="Each check's outcome.")
    steps: int = Field(description="Number of steps recorded.")
    duration_s: float = Field(description="Wall time of the run.")
    ended_at: str = Field(description="ISO time the run ended.")
    message: str = Field("", description="Why the run ended (error text, answer, abort reason).")


def new_run_id(task_id: str) -> str:
    """Sortable, unique folder name: UTC time, task id, random suffix."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{task_id}-{secrets.token_hex(2)}"
