"""The text half of the run screen's detail pane: what the model said and what came of it."""
from __future__ import annotations

import json
from typing import Any, Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from agent.trace import LoadedRun, StepRecord
from agent.viewer.summary import format_duration, is_damage

_HEADING = "bold underline"


def _section(title: str, body: Text | str, style: str = "") -> list[RenderableType]:
    # Text objects are never parsed as markup, so model text like "[/b]" shows as written.
    text = body if isinstance(body, Text) else Text(body, style=style)
    return [Text(title, style=_HEADING), text, Text("")]


def _pairs(values: dict[str, float], unit: str = "") -> str:
    if not values:
        return "(none recorded)"
    return "  ".join(f"{key} {value:g}{unit}" for key, value in values.items())


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def step_detail(step: StepRecord, problems: Sequence[str] = ()) -> Group:
    """Raw output, thought, parsed and executed actions, error, timings and counters of a step."""
    parts: list[RenderableType] = [
        Text(f"step {step.step}   {step.started_at} → {step.ended_at}", style="bold"),
        Text(""),
    ]
    if step.error:
        parts += _section(f"error ({step.error.kind})", step.error.message, style="bold red")
    own_problems = [p for p in problems if p.startswith(f"step {step.step}:") or p.startswith(f"step {step.step} ")]
    if own_problems:
        parts += _section("damage", "\n".join(own_problems), style="yellow")
    parts += _section("model output", step.model_output or "(empty)")
    if step.thought:
        parts += _section("thought", step.thought, style="italic")
    parts += _section("parsed action (0–1000 grid)", "\n".join(_json(a) for a in step.actions) or "(none)")
    parts += _section("executed (screen pixels)", "\n".join(_json(a) for a in step.executed) or "(none)")
    parts += _section("timings", _pairs(step.timings_ms, " ms"))
    parts += _section("counters", _pairs(step.counters))
    if step.unknown_fields():
        extra = {name: (step.model_extra or {})[name] for name in step.unknown_fields()}
        parts += _section("unknown fields", _json(extra), style="yellow")
    return Group(*parts)


def run_header(run: LoadedRun) -> Text:
    """One line naming the run, its task, policy and status."""
    meta = run.meta
    text = Text()
    text.append(run.path.name, style="bold")
    if meta:
        text.append(f"   task {meta.task_id}   policy {meta.policy}")
        if meta.model:
            text.append(f" ({meta.model})")
    status = run.status if run.result else "running / crashed (no result.json)"
    text.append("   status ")
    text.append(status, style=_status_style(run.status))
    if run.result:
        text.append(f"   {run.result.steps} steps in {format_duration(run.result.duration_s)}")
    return text


def _status_style(status: str) -> str:
    return {"success": "bold green", "incomplete": "bold yellow"}.get(status, "bold red")


def run_problems(run: LoadedRun) -> Text:
    """The run's instruction, result message and checks, then the damage found while reading it."""
    text = Text()
    if run.meta:
        text.append("instruction: ", style="bold")
        text.append(run.meta.instruction + "\n")
    if run.result:
        if run.result.message:
            text.append("message: ", style="bold")
            text.append(run.result.message + "\n")
        for check in run.result.checks:
            mark, style = ("✔", "green") if check.passed else ("✘", "red")
            text.append(f"{mark} ", style=style)
            text.append(f"{check.name}" + (f" — {check.detail}" if check.detail else "") + "\n")
    for problem in run.problems:
        style = "bold red" if is_damage(problem) else "yellow"
        text.append("⚠ " + problem + "\n", style=style)
    text.rstrip()
    return text
