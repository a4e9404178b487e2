"""Recorded runs for the viewer tests, written with the real TraceWriter.

Times are fixed so that tables and snapshots do not depend on when the tests run. Screenshots are
320×200 synthetic images of a 160×100 logical screen at offset (100, 50): a HiDPI ratio of 2 and a
monitor offset, so every drawing goes through the full mapping.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw

from agent.trace import CheckOutcome, GeometryRecord, RunMeta, RunResult, StepError, StepRecord, TraceWriter

GEOMETRY = GeometryRecord(
    screenshot_width=320, screenshot_height=200, logical_width=160, logical_height=100, offset_x=100, offset_y=50
)
SUCCESS_ID = "20261101-100000-open_settings-aaaa"
FAILURE_ID = "20261101-110000-calc_sum-bbbb"
CRASHED_ID = "20261101-120000-edit_file-cccc"
TRICKY_OUTPUT = 'Thought: the <b>Edit</b> menu & then "Preferences" [bold]x[/bold]\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 300]}}\n</tool_call>'


def screenshot(shade: int) -> Image.Image:
    """A small desktop-like picture: a grey background, a title bar and a dark window."""
    image = Image.new("RGB", (320, 200), (shade, shade, shade))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 319, 14), fill=(40, 60, 120))
    draw.rectangle((60, 40, 260, 170), fill=(30, 30, 30))
    return image


def meta(run_id: str, task: str, hour: int, policy: str = "scripted", model: str | None = None) -> RunMeta:
    """RunMeta with a fixed start time."""
    return RunMeta(
        run_id=run_id, task_id=task, instruction=f"Do the {task} task.", policy=policy, model=model,
        geometry=GEOMETRY, max_steps=10, started_at=f"2026-11-01T{hour:02d}:00:00.000+00:00",
    )


def step(writer: TraceWriter, index: int, hour: int, output: str, actions=(), executed=(), error=None, **extra) -> StepRecord:
    """Save a screenshot and append one step that started `index` seconds after the hour."""
    screenshot(90 + 40 * index).save(writer.screenshot_path(index))
    record = StepRecord(
        step=index, started_at=f"2026-11-01T{hour:02d}:00:{index * 2:02d}.000+00:00",
        ended_at=f"2026-11-01T{hour:02d}:00:{index * 2 + 1:02d}.500+00:00",
        screenshot=writer.screenshot_path(index).name, model_output=output,
        actions=list(actions), executed=list(executed), error=error,
        timings_ms={"capture": 12.0, "model": 800.0 + index, "execute": 30.0},
        counters={"prompt_tokens": 1000 + index, "cached_tokens": 900, "generated_tokens": 25}, **extra,
    )
    writer.step(record)
    return record


def success_run(runs_dir: Path) -> Path:
    """Three clean steps: a click, typing, terminate success; two passing checks."""
    writer = TraceWriter(runs_dir, meta(SUCCESS_ID, "open_settings", 10, policy="local", model="Qwen/Qwen3-VL-2B-Instruct"))
    step(writer, 0, 10, TRICKY_OUTPUT, [{"action": "left_click", "coordinate": [500, 300]}],
         [{"action": "left_click", "coordinate": [180, 80]}])
    step(writer, 1, 10, "type", [{"action": "type", "text": "hello <world> & co"}],
         [{"action": "type", "text": "hello <world> & co"}])
    step(writer, 2, 10, "done", [{"action": "terminate", "status": "success"}], [{"action": "terminate", "status": "success"}])
    writer.finish(RunResult(
        status="success", steps=3, duration_s=6.5, ended_at="2026-11-01T10:00:06.500+00:00",
        checks=[CheckOutcome(name="window title is 'Mousepad Preferences'", passed=True, detail="found <Mousepad Preferences>")],
    ))
    return writer.dir


def failure_run(runs_dir: Path) -> Path:
    """A click, a parse error, a drag, then terminate failure; a failing check."""
    writer = TraceWriter(runs_dir, meta(FAILURE_ID, "calc_sum", 11))
    step(writer, 0, 11, "click", [{"action": "left_click", "coordinate": [250, 250]}],
         [{"action": "left_click", "coordinate": [140, 75]}])
    step(writer, 1, 11, "I would click the <button> now", error=StepError(kind="parse", message="no <tool_call> found"))
    step(writer, 2, 11, "drag", [{"action": "left_click_drag", "coordinate": [750, 750]}],
         [{"action": "left_click_drag", "coordinate": [220, 125]}])
    step(writer, 3, 11, "give up", [{"action": "terminate", "status": "failure"}], [{"action": "terminate", "status": "failure"}])
    writer.finish(RunResult(
        status="failure", steps=4, duration_s=120.0, ended_at="2026-11-01T11:02:00.000+00:00",
        checks=[CheckOutcome(name="display shows 42", passed=False, detail="display shows 41")],
        message="the model gave up",
    ))
    return writer.dir


def unchecked_run(runs_dir: Path, status: str = "done", hour: int = 13) -> Path:
    """A run of a task without checks (an instruction): one click, then terminate; status done or gave_up."""
    run_id = f"20261101-{hour:02d}0000-look-around-{status[:4]}"
    writer = TraceWriter(runs_dir, meta(run_id, "look-around", hour, policy="http", model="served"))
    step(writer, 0, hour, "click", [{"action": "left_click", "coordinate": [500, 300]}],
         [{"action": "left_click", "coordinate": [180, 80]}])
    final = "success" if status == "done" else "failure"
    step(writer, 1, hour, "end", [{"action": "terminate", "status": final}], [{"action": "terminate", "status": final}])
    writer.finish(RunResult(status=status, steps=2, duration_s=4.0, ended_at=f"2026-11-01T{hour:02d}:00:04.000+00:00",
                            message=f"model terminated: {final}"))
    return writer.dir


def crashed_run(runs_dir: Path) -> Path:
    """Two steps (one screenshot deleted, one unknown field), a truncated last line, no result.json."""
    writer = TraceWriter(runs_dir, meta(CRASHED_ID, "edit_file", 12))
    step(writer, 0, 12, "click", [{"action": "left_click", "coordinate": [100, 100]}],
         [{"action": "left_click", "coordinate": [116, 60]}], gpu_temp_c=71)
    step(writer, 1, 12, "keys", [{"action": "key", "keys": ["ctrl", "s"]}], [{"action": "key", "keys": ["ctrl", "s"]}])
    writer.screenshot_path(1).unlink()
    half = json.dumps({"step": 2, "started_at": "2026-11-01T12:00:04.000+00:00", "model_output": "partial"})[:40]
    with open(writer.dir / "steps.jsonl", "a", encoding="utf-8") as f:
        f.write(half)
    written_by_dead_process(writer.dir)
    return writer.dir


def written_by_dead_process(run_dir: Path) -> None:
    """Make meta.json name a writer process that has exited, as a killed run's does."""
    child = subprocess.Popen(["true"])
    child.wait()
    meta_path = run_dir / "meta.json"
    data = json.loads(meta_path.read_text())
    data["writer_pid"] = child.pid
    meta_path.write_text(json.dumps(data))


def all_runs(runs_dir: Path) -> dict[str, Path]:
    """The three recorded runs, by kind."""
    return {"success": success_run(runs_dir), "failure": failure_run(runs_dir), "crashed": crashed_run(runs_dir)}
