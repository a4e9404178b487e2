"""Runs as supervised fine-tuning data: one JSONL record per step, screenshots as image files.

DATASET/data.jsonl, one line per step that got a reply:

    {"messages": [{"role": "system", ...}, {"role": "user", "content": "Open …<image>"},
                  {"role": "assistant", ...}, …, {"role": "assistant", "content": <the step's reply>}],
     "images": ["images/<run-id>/step_0003.png", …],   # one per <image>, in order
     "tools": "[{\"type\": \"function\", …}]",            # JSON text of the tools the system turn held
     "run_id", "task_id", "step", "run_status", "profile", "coordinates", "image_size",
     "outcome": {"ok", "error_kind", "error", "actions"}}

The conversation is the one the step's model saw (agent.export.conversation); the last assistant turn is
the target. This is the OpenAI-messages shape with `<image>` tags and an `images` column that ms-swift
reads as is (its standard and agent formats: `tools` as JSON text) and LLaMA-Factory reads through the
DATASET/dataset_info.json written beside it (sharegpt formatting with OpenAI tags). Each screenshot is
written once, resized to the pixel budget the model saw, so the reply's coordinates (the 0–1000 grid,
or pixels of that very image) hold for the file as it is.

Everything is checked before anything is written, and the folder is built under a temporary name and
renamed at the end: an export that fails leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from agent.errors import ExportError
from agent.export.conversation import IMAGE_TAG, RunPrompt, StepConversation, run_prompt, step_conversations
from agent.export.runs import intact_run, runs_of
from agent.policies.http import resize_screenshot
from agent.trace import LoadedRun, StepRecord

DATA_FILE = "data.jsonl"
INFO_FILE = "dataset_info.json"
DATASET_NAME = "agent_traces"


@dataclass(frozen=True)
class ExportOptions:
    """What to keep and how to name the images."""

    only_success: bool = False
    """Keep only runs whose checks passed (status success)."""
    drop_failed_steps: bool = False
    """Leave out steps whose reply could not be parsed or carried out (they stay in later steps' history)."""
    absolute_paths: bool = False
    """Name images by absolute path instead of relative to the dataset folder."""


@dataclass
class ExportSummary:
    """What an export wrote and what it left out."""

    out: Path
    runs: int = 0
    records: int = 0
    images: int = 0
    runs_skipped: list[str] = field(default_factory=list)
    steps_dropped: int = 0

    def lines(self) -> list[str]:
        """The summary printed after an export."""
        lines = [f"{self.records} records from {self.runs} runs, {self.images} images → {self.out / DATA_FILE}"]
        if self.runs_skipped:
            lines.append(f"left out {len(self.runs_skipped)} runs that did not succeed (--only-success)")
        if self.steps_dropped:
            lines.append(f"left out {self.steps_dropped} failed steps (--drop-failed-steps)")
        return lines


def export_dataset(paths: list[Path], out: Path, options: ExportOptions = ExportOptions()) -> ExportSummary:
    """Write the runs under `paths` (run, bench or runs folders) as DATASET `out`; ExportError before
    writing anything when a run is damaged or `out` cannot be created."""
    runs = [intact_run(path) for path in runs_of(paths)]
    if not runs:
        raise ExportError(f"no runs found under {', '.join(map(str, paths))}")
    out = Path(out)
    _check_out(out)
    building = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    building.mkdir()
    try:
        summary = _write(runs, building, out, options)
        (building / INFO_FILE).write_text(json.dumps(llama_factory_info(), indent=2) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty (checked): make way for the finished folder
        os.replace(building, out)
        return summary
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"-o {out}: already exists and is not an empty folder; give a new folder name")
    parent = out.absolute().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"-o {out}: cannot create it: {parent} is not a writable folder")


def _write(runs: list[LoadedRun], building: Path, out: Path, options: ExportOptions) -> ExportSummary:
    summary = ExportSummary(out)
    with open(building / DATA_FILE, "w", encoding="utf-8") as data:
        for run in runs:
            if options.only_success and run.result.status != "success":
                summary.runs_skipped.append(run.path.name)
                continue
            summary.runs += 1
            prompt = run_prompt(run.meta)
            written: dict[int, tuple[str, list[int]]] = {}  # step → (image path, [w, h])
            for conversation in step_conversations(prompt, run.meta.instruction, run.steps):
                if options.drop_failed_steps and conversation.step.error is not None:
                    summary.steps_dropped += 1
                    continue
                images = [_image(run, prompt, step, building, out, written, options) for step in conversation.image_steps]
                size = _image(run, prompt, conversation.step.step, building, out, written, options, size=True)
                record = _record(run, prompt, conversation, images, size)
                data.write(json.dumps(record, ensure_ascii=False) + "\n")
                summary.records += 1
            summary.images += len(written)
    return summary


def _record(run: LoadedRun, prompt: RunPrompt, conversation: StepConversation, images: list[str],
            image_size: list[int]) -> dict[str, Any]:
    step = conversation.step
    tags = sum(message["content"].count(IMAGE_TAG) for message in conversation.messages)
    if tags != len(images):
        raise ExportError(f"{run.path}: step {step.step}: the text holds {IMAGE_TAG!r} itself ({tags} tags for "
                          f"{len(images)} screenshots), which training tools would read as a screenshot")
    record: dict[str, Any] = {"messages": conversation.messages, "images": images}
    if prompt.tools:
        record["tools"] = json.dumps(prompt.tools, ensure_ascii=False)
    error = step.error
    record.update(run_id=run.meta.run_id, task_id=run.meta.task_id, step=step.step, run_status=run.result.status,
                  profile=prompt.profile, coordinates=prompt.coordinates,
                  image_size=image_size,
                  outcome={"ok": error is None, "error_kind": error.kind if error else None,
                           "error": error.message if error else None,
                           "actions": json.dumps(step.actions, ensure_ascii=False)})
    return record


def _image(run: LoadedRun, prompt: RunPrompt, step_number: int, building: Path, out: Path,
           written: dict[int, tuple[str, list[int]]], options: ExportOptions, size: bool = False) -> Any:
    """The path (or with size=True, the [w, h]) of step `step_number`'s screenshot as the model saw it,
    written on first use."""
    if step_number not in written:
        step = next(s for s in run.steps if s.step == step_number)
        relative = Path("images") / run.meta.run_id / f"step_{step_number:04d}.png"
        (building / relative).parent.mkdir(parents=True, exist_ok=True)
        view = _model_view(run, prompt, step)
        view.save(building / relative, compress_level=1)
        name = str((out / relative).absolute()) if options.absolute_paths else str(relative)
        written[step_number] = (name, list(view.size))
    return written[step_number][1 if size else 0]


def _model_view(run: LoadedRun, prompt: RunPrompt, step: StepRecord) -> Image.Image:
    """The step's screenshot resized to what its model saw (the recorded size, else the policy's resize)."""
    path = run.path / (step.screenshot or "")
    try:
        with Image.open(path) as shot:
            shot.load()
            resized = resize_screenshot(shot, prompt.factor, prompt.min_pixels, prompt.max_pixels)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ExportError(f"{run.path}: step {step.step}: screenshot {step.screenshot} is unreadable ({exc})") from None
    size = tuple(step.image_size) if step.image_size and len(step.image_size) == 2 else None
    if size and size != resized.size and min(size) > 0:
        resized = resized.resize(size, resample=Image.Resampling.BICUBIC)
    return resized


def llama_factory_info() -> dict[str, Any]:
    """LLaMA-Factory's description of data.jsonl (sharegpt formatting, OpenAI role tags, images, tools)."""
    return {DATASET_NAME: {
        "file_name": DATA_FILE, "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images", "tools": "tools"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                 "system_tag": "system"},
    }}
