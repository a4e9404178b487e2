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

from PIL import Image

from agent.trace import LoadedRun, StepRecord, is_run_dir, read_run
from agent.viewer.drawing import load_annotated
from agent.viewer.errors import NotARunError
from agent.viewer.summary import format_duration, format_start, is_damage, run_duration, step_status, step_summary

REPORT_IMAGE_WIDTH = 1280


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


def png_base64(image: Image.Image, max_width: int = REPORT_IMAGE_WIDTH) -> str:
    """The image as base64 PNG text, shrunk to max_width if wider."""
    if image.width > max_width:
        height = round(image.height * max_width / image.width)
        image = image.resize((max_width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _actions_text(actions: list[dict]) -> str:
    return "\n".join(json.dumps(a, ensure_ascii=False) for a in actions) or "(none)"


def step_views(run: LoadedRun) -> list[StepView]:
    """Each step with its annotated screenshot encoded."""
    geometry = run.meta.geometry if run.meta else None
    views = []
    for index, step in enumerate(run.steps):
        image = load_annotated(run.path, run.steps, index, geometry)
        if step.screenshot is None:
            missing = "This step recorded no screenshot."
        else:
            missing = f"Screenshot {step.screenshot} is missing or unreadable."
        views.append(StepView(
            step=step, summary=step_summary(step), status=step_status(step),
            actions=_actions_text(step.actions), executed=_actions_text(step.executed),
            image=png_base64(image) if image is not None else None, missing=missing,
        ))
    return views


def render_report(run: LoadedRun) -> str:
    """The report page of a loaded run, as HTML text (every value escaped)."""
    from jinja2 import Environment

    from agent.viewer.report_page import PAGE

    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    status = run.status
    return environment.from_string(PAGE).render(
        run=run.path,
        meta=run.meta,
        result=run.result,
        task=run.meta.task_id if run.meta else run.path.name,
        status=status,
        status_label="running or crashed (no result.json)" if status == "incomplete" else status,
        started=format_start(run.meta.started_at) if run.meta else "?",
        duration=format_duration(run_duration(run)),
        problems=[p for p in run.problems if is_damage(p)],
        steps=step_views(run),
    )


def write_report(run_dir: Path, output: Path | None = None) -> Path:
    """Write the HTML report of run_dir to output (default RUN_DIR/report.html); return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise NotARunError(f"{run_dir} is not a folder")
    if not is_run_dir(run_dir):
        raise NotARunError(f"{run_dir} is not a run folder: it has neither meta.json nor steps.jsonl")
    target = Path(output) if output is not None else run_dir / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(read_run(run_dir)), encoding="utf-8")
    return target
