"""Draw a step's action onto its screenshot: one module for both the TUI and the HTML report.

Executed actions carry pointer-space pixels (logical screen units plus the monitor offset); they map
back to the screenshot with the run's geometry: shot_x = (x - offset_x) * screenshot_width /
logical_width. Steps without executed actions fall back to the parsed actions in the model space the
step records (coordinates/image_size; the 0–1000 grid for older traces).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from PIL import Image, ImageDraw, ImageFont

from actions.coords import coordinate_system
from actions.errors import CoordinateError
from agent.trace.damage import screenshot_file
from agent.trace.records import GeometryRecord, StepRecord
from agent.trace.summary import describe_action

Point = tuple[float, float]
MODEL_GRID = 1000.0
MARK_COLOUR = (255, 40, 40)
OUTLINE_COLOUR = (255, 255, 255)
LABEL_BACKGROUND = (20, 20, 20)
LABEL_TEXT = (255, 230, 80)
MAX_SCREENSHOT_PIXELS = 8192 * 8192  # larger files are not screenshots of a run: not decoded


@dataclass
class Mark:
    """One thing to draw: a point marker, a drag arrow, a scroll arrow or a text label."""

    kind: Literal["point", "drag", "scroll", "label"]
    points: list[Point] = field(default_factory=list)
    label: str = ""


def executed_to_shot(xy: Any, geometry: GeometryRecord | None, size: tuple[int, int]) -> Point | None:
    """Pointer-space pixels → screenshot pixels of an image of `size`; None for a malformed point."""
    if not _is_point(xy):
        return None
    x, y = float(xy[0]), float(xy[1])
    if geometry is None or min(geometry.logical_width, geometry.screenshot_width,
                               geometry.logical_height, geometry.screenshot_height) <= 0:
        return x, y  # no (usable) geometry recorded: assume the screenshot is the pointer space
    shot_x = (x - geometry.offset_x) * geometry.screenshot_width / geometry.logical_width
    shot_y = (y - geometry.offset_y) * geometry.screenshot_height / geometry.logical_height
    # The stored PNG may differ from the captured size (e.g. a thumbnail): rescale to it.
    return shot_x * size[0] / geometry.screenshot_width, shot_y * size[1] / geometry.screenshot_height


def grid_to_shot(xy: Any, size: tuple[int, int], space: tuple[float, float] = (MODEL_GRID, MODEL_GRID)) -> Point | None:
    """Model space (the 0–1000 grid by default) → screenshot pixels; None for a malformed point."""
    if not _is_point(xy):
        return None
    return float(xy[0]) * size[0] / space[0], float(xy[1]) * size[1] / space[1]


def model_space(step: StepRecord) -> tuple[float, float]:
    """(width, height) of the space the step's parsed actions are in, as its trace records it;
    steps recorded before the field existed (or damaged ones) mean the 0–1000 grid."""
    try:
        system = coordinate_system(step.coordinates, tuple(step.image_size) if step.image_size else None)
    except (CoordinateError, TypeError, ValueError):
        return MODEL_GRID, MODEL_GRID
    return system.width, system.height


def _is_point(xy: Any) -> bool:
    return (
        isinstance(xy, (list, tuple)) and len(xy) == 2
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in xy)
    )


def plan_marks(
    step: StepRecord, geometry: GeometryRecord | None, size: tuple[int, int], pointer: Point | None = None
) -> tuple[list[Mark], Point | None]:
    """Marks for a step's actions in screenshot pixels, and the pointer position after them."""
    to_shot = _point_mapper(bool(step.executed), geometry, size, model_space(step))
    marks: list[Mark] = []
    for action in step.executed or step.actions:
        name = action.get("action")
        target = to_shot(action.get("coordinate"))
        if name == "left_click_drag":
            start = to_shot(action.get("start_coordinate")) or pointer
            if target and start:
                marks.append(Mark("drag", [start, target], "drag"))
            elif target:
                marks.append(Mark("point", [target], "drag end"))
        elif name in ("scroll", "hscroll"):
            where = target or pointer or (size[0] / 2, size[1] / 2)
            marks.append(Mark("scroll", [where, _scroll_end(action, where, size)], describe_action(_no_coord(action))))
        elif target:
            marks.append(Mark("point", [target], str(name)))
        else:
            marks.append(Mark("label", [pointer] if pointer else [], describe_action(action)))
        pointer = target or pointer
    return marks, pointer


def _point_mapper(executed: bool, geometry: GeometryRecord | None, size: tuple[int, int],
                  space: tuple[float, float] = (MODEL_GRID, MODEL_GRID)) -> Callable[[Any], Point | None]:
    # Executed actions hold pointer-space pixels; parsed ones the model's space (the step records which).
    if executed:
        return lambda xy: executed_to_shot(xy, geometry, size)
    return lambda xy: grid_to_shot(xy, size, space)


def _no_coord(action: dict[str, Any]) -> dict[str, Any]:
    # The label of a scroll names its amount; the arrow already shows where.
    return {k: v for k, v in action.items() if k != "coordinate"}


def _scroll_end(action: dict[str, Any], start: Point, size: tuple[int, int]) -> Point:
    # Positive pixels scroll up (or left for hscroll): the arrow points that way.
    amount = action.get("pixels")
    sign = -1.0 if isinstance(amount, (int, float)) and amount > 0 else 1.0
    length = sign * min(size) / 10
    if action.get("action") == "hscroll":
        return start[0] + length, start[1]
    return start[0], start[1] + length


def pointer_before(steps: list[StepRecord], index: int, geometry: GeometryRecord | None, size: tuple[int, int]) -> Point | None:
    """Where the pointer was when step `index` began (last coordinate of earlier steps)."""
    pointer: Point | None = None
    for step in steps[:index]:
        _, pointer = plan_marks(step, geometry, size, pointer)
    return pointer


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError):  # Pillow built without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def default_scale(size: tuple[int, int]) -> float:
    """Line/marker scale for an image viewed at about its own size: 1920×1080 → 3."""
    return max(1.0, min(size) / 360)


def terminal_scale(size: tuple[int, int]) -> float:
    """Bolder marks for a terminal, where a screenshot shrinks to ~100 columns."""
    return max(default_scale(size), size[0] / 200)


def draw_marks(image: Image.Image, marks: list[Mark], scale: float | None = None) -> Image.Image:
    """A copy of `image` with the marks drawn; `scale` multiplies line widths and sizes."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    scale = scale or default_scale(out.size)
    font = _font(int(11 * scale))
    for mark in marks:
        if mark.kind == "point":
            _draw_marker(draw, mark.points[0], scale)
        elif mark.kind == "drag":
            _draw_arrow(draw, mark.points[0], mark.points[1], scale)
            _draw_marker(draw, mark.points[1], scale)
        elif mark.kind == "scroll":
            _draw_arrow(draw, mark.points[0], mark.points[1], scale)
        anchor = mark.points[0] if mark.kind == "scroll" else (mark.points[-1] if mark.points else None)
        _draw_label(draw, mark.label, anchor, font, scale, out.size)
    return out


def _draw_marker(draw: ImageDraw.ImageDraw, at: Point, scale: float) -> None:
    x, y = at
    radius = 7 * scale
    for colour, width in ((OUTLINE_COLOUR, int(4 * scale)), (MARK_COLOUR, int(2 * scale))):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=colour, width=width)
        draw.line((x - 2 * radius, y, x - radius / 2, y), fill=colour, width=width)
        draw.line((x + radius / 2, y, x + 2 * radius, y), fill=colour, width=width)
        draw.line((x, y - 2 * radius, x, y - radius / 2), fill=colour, width=width)
        draw.line((x, y + radius / 2, x, y + 2 * radius), fill=colour, width=width)


def _draw_arrow(draw: ImageDraw.ImageDraw, start: Point, end: Point, scale: float) -> None:
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    head = 12 * scale
    left = (end[0] - head * math.cos(angle - 0.45), end[1] - head * math.sin(angle - 0.45))
    right = (end[0] - head * math.cos(angle + 0.45), end[1] - head * math.sin(angle + 0.45))
    draw.line((start, end), fill=MARK_COLOUR, width=int(3 * scale))
    draw.polygon((end, left, right), fill=MARK_COLOUR)
    draw.ellipse((start[0] - 3 * scale, start[1] - 3 * scale, start[0] + 3 * scale, start[1] + 3 * scale), fill=MARK_COLOUR)


def _draw_label(draw, text: str, anchor: Point | None, font, scale: float, size: tuple[int, int]) -> None:
    if not text:
        return
    pad = 3 * scale
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    if anchor is None:
        x, y = 4 * scale, 4 * scale
    else:  # below-right of the point, kept inside the image
        x = min(max(anchor[0] + 10 * scale, 0), size[0] - width)
        y = min(max(anchor[1] + 10 * scale, 0), size[1] - height)
    draw.rectangle((x, y, x + width, y + height), fill=LABEL_BACKGROUND)
    draw.text((x + pad - left, y + pad - top), text, fill=LABEL_TEXT, font=font)


def annotate_step(
    image: Image.Image, step: StepRecord, geometry: GeometryRecord | None, pointer: Point | None = None,
    scale: float | None = None,
) -> Image.Image:
    """The screenshot with the step's action drawn on it."""
    marks, _ = plan_marks(step, geometry, image.size, pointer)
    return draw_marks(image, marks, scale)


def load_annotated(
    run_dir: Path, steps: list[StepRecord], index: int, geometry: GeometryRecord | None, for_terminal: bool = False
) -> Image.Image | None:
    """Step `index`'s screenshot with its action drawn; None when it is missing or unreadable."""
    step = steps[index]
    path = screenshot_file(run_dir, step.screenshot)  # never a file outside the run folder
    if path is None:
        return None
    try:
        with Image.open(path) as raw:
            if raw.width * raw.height > MAX_SCREENSHOT_PIXELS:
                return None
            image = raw.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # PIL reports some broken PNGs as SyntaxError
    scale = terminal_scale(image.size) if for_terminal else None
    return annotate_step(image, step, geometry, pointer_before(steps, index, geometry, image.size), scale)
