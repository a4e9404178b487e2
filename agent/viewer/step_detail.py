"""The text half of the run screen's detail pane: what the model said and what came of it."""
from __future__ import annotations

import json
from typing import Any, Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from agent.trace import LoadedRun, StepRecord
from agent.trace.summary import format_duration, incomplete_label, is_damage

_HEADING = "bold underline"
PAGE_CHARS = 20_000  # model output shown per page; longer texts are paged with [ and ]
MAX_FIELD_CHARS = 20_000  # any other text field of a step is cut here
MAX_PROBLEMS_SHOWN = 20


def page_count(text: str) -> int:
    """Pages of PAGE_CHARS the text needs (at least one)."""
    return max(1, -(-len(text) // PAGE_CHARS))


def _cut(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… {len(text) - limit:,} more characters not shown"


def _section(title: str, body: Text | str, style: str = "") -> list[RenderableType]:
    # Text objects are never parsed as markup, so model text like "[/b]" shows as written.
    text = body if isinstance(body, Text) else Text(_cut(body), style=style)
    return [Text(title, style=_HEADING), text, Text("")]


def _pairs(values: dict[str, float], unit: str = "") -> str:
    if not values:
        return "(none recorded)"
    return "  ".join(f"{key} {value:g}{unit}" for key, value in values.items())


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _output_section(output: str, page: int) -> list[RenderableType]:
    """The model output, one page of it when it is long (a runaway reply can be megabytes)."""
    pages = page_count(output)
    if pages == 1:
        return _section("model output", output or "(empty)")
    page = min(max(page, 0), pages - 1)
    title = f"model output (page {page + 1} of {pages}, {len(output):,} characters; ] next page, [ previous)"
    return _section(title, Text(output[page * PAGE_CHARS : (page + 1) * PAGE_CHARS]))


def step_detail(step: StepRecord, problems: Sequence[str] = (), page: int = 0) -> Group:
    """Raw output (page `page` of it), thought, actions, error, timings and counters of a step."""
    parts: list[RenderableType] = [
        Text(f"step {step.step}   {step.started_at} → {step.ended_at}", style="bold"),
        Text(""),
    ]
    if step.error:
        parts += _section(f"error ({step.error.kind})", step.error.message, style="bold red")
    own_problems = [p for p in problems if p.startswith(f"step {step.step}:") or p.startswith(f"step {step.step} ")]
    if own_problems:
        parts += _section("damage", "\n".join(own_problems), style="yellow")
    parts += _output_section(step.model_output, page)
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
    status = run.status if run.result else _incomplete_status(run.writer)
    text.append("   status ")
    text.append(status, style=_status_style(run.status, run.writer))
    if run.result:
        text.append(f"   {run.result.steps} steps in {format_duration(run.result.duration_s)}")
    return text


def _incomplete_status(writer: str) -> str:
    """What a run without result.json is doing, as far as this machine can tell."""
    detail = {"alive": "", "gone": " (its process is gone; no result.json)"}.get(writer, " (no result.json yet)")
    return incomplete_label(writer) + detail


def _status_style(status: str, writer: str = "done") -> str:
    if status == "incomplete" and writer == "gone":
        return "bold red"
    return {"success": "bold green", "incomplete": "bold yellow", "done": "bold cyan",
            "gave_up": "bold cyan"}.get(status, "bold red")


def run_problems(run: LoadedRun) -> Text:
    """The run's instruction, result message and checks, then the damage found while reading it."""
    text = Text()
    if run.meta:
        text.append("instruction: ", style="bold")
        text.append(_cut(run.meta.instruction, 2000) + "\n")
    if run.result:
        if run.result.message:
            text.append("message: ", style="bold")
            text.append(_cut(run.result.message, 2000) + "\n")
        for check in run.result.checks:
            mark, style = ("✔", "green") if check.passed else ("✘", "red")
            text.append(f"{mark} ", style=style)
            text.append(_cut(f"{check.name}" + (f" — {check.detail}" if check.detail else ""), 2000) + "\n")
    shown = [p for p in run.problems if is_damage(p) or run.writer != "alive"]  # a going run lacks its result
    for problem in shown[:MAX_PROBLEMS_SHOWN]:
        style = "bold red" if is_damage(problem) else "yellow"
        text.append("⚠ " + problem + "\n", style=style)
    if len(shown) > MAX_PROBLEMS_SHOWN:
        text.append(f"⚠ … and {len(shown) - MAX_PROBLEMS_SHOWN} more problems\n", style="bold red")
    text.rstrip()
    return text
