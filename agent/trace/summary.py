"""Short human texts for runs and steps, shared by the TUI tables and the HTML report."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.trace.reader import LoadedRun
from agent.trace.records import StepRecord

POINTER_ACTIONS = {
    "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
    "double_click", "triple_click",
}


def parse_time(text: str | None) -> datetime | None:
    """ISO time from a trace record, or None when absent or malformed."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def format_start(text: str | None) -> str:
    """Start time as 'YYYY-MM-DD HH:MM:SS' in UTC (the trace's own clock), '?' if unknown."""
    moment = parse_time(text)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def format_duration(seconds: float | None) -> str:
    """Seconds as '4.2s', '3m05s' or '1h02m'; '-' when unknown, '?' when not a real duration."""
    if seconds is None:
        return "-"
    if not math.isfinite(seconds) or not 0 <= seconds < 10**9:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _point(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"({_number(value[0])}, {_number(value[1])})"
    return "(?)"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else _clip(str(value), 12)


def _clip(text: str, limit: int = 40) -> str:
    text = text.replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_action(action: dict[str, Any]) -> str:
    """One-line summary of a computer_use argument dict, e.g. "left_click (500, 300)"."""
    name = str(action.get("action", "?"))
    name = _clip(name, 24)
    if name in POINTER_ACTIONS:
        return f"{name} {_point(action.get('coordinate'))}"
    if name == "type":
        return f"type {_clip(repr(str(action.get('text', ''))[:60]))}"
    if name == "key":
        keys = action.get("keys") or []
        return _clip("key " + "+".join(str(k) for k in keys[:10]) if isinstance(keys, list) else f"key {keys}", 60)
    if name in ("scroll", "hscroll"):
        where = f" at {_point(action['coordinate'])}" if "coordinate" in action else ""
        return f"{name} {_number(action.get('pixels', '?'))}{where}"
    if name == "wait":
        return f"wait {_number(action.get('time', '?'))}s"
    if name == "terminate":
        return f"terminate {action.get('status', '?')}"
    if name == "answer":
        return f"answer {_clip(repr(str(action.get('text', ''))[:60]))}"
    return name


def step_actions(step: StepRecord) -> list[dict[str, Any]]:
    """The actions to show for a step: executed (screen pixels) when recorded, else parsed."""
    return step.executed or step.actions


MAX_SUMMARY_ACTIONS = 4


def step_summary(step: StepRecord) -> str:
    """What the step did, in one line; the error kind when nothing was parsed."""
    actions = step_actions(step)
    if actions:
        shown = "; ".join(describe_action(a) if isinstance(a, dict) else "?" for a in actions[:MAX_SUMMARY_ACTIONS])
        more = len(actions) - MAX_SUMMARY_ACTIONS
        return shown + (f"; … {more} more" if more > 0 else "")
    if step.error:
        return f"({step.error.kind} error)"
    return "(no action)"


def step_status(step: StepRecord) -> str:
    """'ok' or '<kind> error'."""
    return f"{step.error.kind} error" if step.error else "ok"


def model_ms(step: StepRecord) -> float | None:
    """Model latency of the step in ms, if recorded."""
    value = step.timings_ms.get("model")
    return float(value) if value is not None else None


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs list."""

    path: Path
    task: str
    model: str
    status: str
    steps: int
    duration_s: float | None
    started_at: str
    damaged: bool
    writer: str = "done"  # LoadedRun.writer: done, alive, gone or unknown

    @property
    def status_label(self) -> str:
        """Status with a damage mark; without result.json: running, killed, or running? (unknown)."""
        label = incomplete_label(self.writer) if self.status == "incomplete" else self.status
        return label + (" ⚠" if self.damaged else "")


def incomplete_label(writer: str) -> str:
    """Short status of a run without result.json, from whether its writer process still exists."""
    return {"alive": "running", "gone": "killed"}.get(writer, "running?")


def run_duration(run: LoadedRun) -> float | None:
    """The result's duration, else the time from the start to the last finished step."""
    if run.result:
        return run.result.duration_s
    start = parse_time(run.meta.started_at) if run.meta else None
    end = parse_time(run.steps[-1].ended_at) if run.steps else None
    try:
        return (end - start).total_seconds() if start and end else None
    except TypeError:  # one time has a timezone, the other not (a hand-edited trace)
        return None


def is_damage(problem: str) -> bool:
    """Problems other than the absent result.json (which only means 'not finished')."""
    return not problem.startswith("result.json is missing")


def run_summary(run: LoadedRun) -> RunSummary:
    """Reduce a loaded run to the runs-list row."""
    meta = run.meta
    model = "-"
    if meta:
        model = f"{meta.policy}:{Path(meta.model).name}" if meta.model else meta.policy
    return RunSummary(
        path=run.path,
        task=meta.task_id if meta else run.path.name,
        model=model,
        status=run.status,
        steps=len(run.steps),
        duration_s=run_duration(run),
        started_at=meta.started_at if meta else "",
        damaged=any(is_damage(p) for p in run.problems),
        writer=run.writer,
    )
