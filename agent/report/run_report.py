"""`agent report`: one self-contained HTML file of a run, to attach to a bug report.

Screenshots are embedded as base64 PNG with the action drawn (the same drawing as the TUI); wide
screenshots are shrunk to REPORT_IMAGE_WIDTH so a 50-step run stays a file one can mail.
"""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment
from PIL import Image

from agent.errors import NotARunError, ReportOutputError
from agent.report.page import PAGE
from agent.trace import LoadedRun, StepRecord, is_run_dir, read_run
from agent.trace.damage import clip, screenshot_file
from agent.trace.drawing import load_annotated
from agent.trace.summary import format_duration, format_start, is_damage, run_duration, step_status, step_summary

REPORT_IMAGE_WIDTH = 1280
REPORT_TEXT_CHARS = 100_000  # per text field; a runaway model output is cut, the rest is in steps.jsonl
MAX_REPORT_PROBLEMS = 50


@dataclass
class StepView:
    """What the template needs for one step."""

    step: StepRecord
    summary: str
    status: str
    actions: str
    executed: str
    image: str | None  # base64 PNG, or None when the screenshot is missing
    missing: str
    output: str  # the model output, cut at REPORT_TEXT_CHARS
    thought: str


def cut(text: str | None, limit: int = REPORT_TEXT_CHARS) -> str:
    """Text for the page, cut at `limit` with a note saying how much was left out."""
    text = text or ""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… {len(text) - limit:,} more characters not shown (the full text is in steps.jsonl)"


def png_base64(image: Image.Image, max_width: int = REPORT_IMAGE_WIDTH) -> str:
    """The image as base64 PNG text, shrunk to max_width if wider."""
    if image.width > max_width:
        height = round(image.height * max_width / image.width)
        image = image.resize((max_width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _actions_text(actions: list[dict]) -> str:
    return cut("\n".join(json.dumps(a, ensure_ascii=False) for a in actions[:100]) or "(none)")


def step_views(run: LoadedRun) -> list[StepView]:
    """Each step with its annotated screenshot encoded."""
    geometry = run.meta.geometry if run.meta else None
    views = []
    for index, step in enumerate(run.steps):
        image = load_annotated(run.path, run.steps, index, geometry)
        if step.screenshot is None:
            missing = "This step recorded no screenshot."
        elif screenshot_file(run.path, step.screenshot) is None:
            missing = f"Screenshot path {clip(step.screenshot)!r} points outside the run folder; not included."
        else:
            missing = f"Screenshot {clip(step.screenshot)} is missing or unreadable."
        views.append(StepView(
            step=step, summary=step_summary(step), status=step_status(step),
            actions=_actions_text(step.actions), executed=_actions_text(step.executed),
            image=png_base64(image) if image is not None else None, missing=missing,
            output=cut(step.model_output), thought=cut(step.thought),
        ))
    return views


def render_report(run: LoadedRun) -> str:
    """The report page of a loaded run, as HTML text (every value escaped)."""
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    environment.filters["cut"] = lambda text: cut(str(text), 10_000)
    status = run.status
    return environment.from_string(PAGE).render(
        run=run.path,
        meta=run.meta,
        result=run.result,
        task=run.meta.task_id if run.meta else run.path.name,
        status=status,
        status_label=_incomplete_label(run.writer) if status == "incomplete" else status,
        started=format_start(run.meta.started_at) if run.meta else "?",
        duration=format_duration(run_duration(run)),
        problems=_problems(run),
        steps=step_views(run),
    )


def _incomplete_label(writer: str) -> str:
    return {"alive": "running (no result.json yet)", "gone": "killed (no result.json)"}.get(
        writer, "running or killed (no result.json)")


def _problems(run: LoadedRun) -> list[str]:
    damage = [p for p in run.problems if is_damage(p)]
    if len(damage) > MAX_REPORT_PROBLEMS:
        damage = damage[:MAX_REPORT_PROBLEMS] + [f"… and {len(damage) - MAX_REPORT_PROBLEMS} more problems"]
    return damage


def report_target(run_dir: Path, output: Path | None) -> Path:
    """Where the report goes: RUN_DIR/report.html, the file given, or RUN_ID.html in a folder given."""
    if output is None:
        return run_dir / "report.html"
    output = Path(output)
    return output / f"{run_dir.name}.html" if output.is_dir() else output


def write_report(run_dir: Path, output: Path | None = None) -> Path:
    """Write the HTML report of run_dir to output (default RUN_DIR/report.html); return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise NotARunError(f"{run_dir} is not a folder" + (" (it does not exist)" if not run_dir.exists() else ""))
    if not is_run_dir(run_dir):
        raise NotARunError(f"{run_dir} is not a run folder: it has neither meta.json nor steps.jsonl")
    target = report_target(run_dir, output)
    page = render_report(read_run(run_dir))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), target.parent)
        raise ReportOutputError(f"cannot write the report to {target}: {blocker} is a file, not a folder") from None
    except OSError as exc:
        raise ReportOutputError(f"cannot write the report to {target}: {exc.strerror or exc}") from None
    return target
