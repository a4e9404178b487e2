"""Model coordinates → pointer pixels, as one pure function.

Chain: model space (a 0–N grid, or pixels of the resized image the model saw) → screenshot pixels →
logical pointer units (the HiDPI ratio between capture and pointer space) → + the monitor's offset
in the pointer space (negative for a monitor left of or above the primary).
Ranges are checked, never clamped: a point outside the model's space is an error.
"""
from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from actions.errors import CoordinateError


class ScreenGeometry(BaseModel):
    """Where the screenshot sits on the pointer's screen (same fields as the trace's GeometryRecord)."""

    model_config = ConfigDict(frozen=True)

    screenshot_width: int = Field(gt=0, description="Captured image width in pixels.")
    screenshot_height: int = Field(gt=0, description="Captured image height in pixels.")
    logical_width: int = Field(gt=0, description="Monitor width in pointer (logical) units.")
    logical_height: int = Field(gt=0, description="Monitor height in pointer (logical) units.")
    offset_x: int = Field(0, description="Monitor left edge in the pointer space (may be negative).")
    offset_y: int = Field(0, description="Monitor top edge in the pointer space (may be negative).")

    @classmethod
    def flat(cls, width: int, height: int) -> "ScreenGeometry":
        """A single monitor whose capture and pointer spaces are both width × height at (0, 0)."""
        return cls(screenshot_width=width, screenshot_height=height, logical_width=width, logical_height=height)


class CoordinateSystem(BaseModel):
    """The space the model's numbers live in: x in [0, width], y in [0, height]."""

    model_config = ConfigDict(frozen=True)

    width: float = Field(gt=0, description="Model-space width: the grid size, or the resized image width.")
    height: float = Field(gt=0, description="Model-space height: the grid size, or the resized image height.")
    name: str = Field(description="Human-readable name used in error messages.")

    @classmethod
    def grid(cls, size: int = 1000) -> "CoordinateSystem":
        """A normalised 0–size grid over the screenshot (Qwen3-VL: 1000; some prompts 999)."""
        return cls(width=size, height=size, name=f"0–{size} grid")

    @classmethod
    def pixels(cls, width: int, height: int) -> "CoordinateSystem":
        """Absolute pixels of the resized screenshot the model saw (Qwen2.5-VL, UI-TARS-1.5)."""
        return cls(width=width, height=height, name=f"{width}×{height} image")


GRID_1000 = CoordinateSystem.grid(1000)
GRID_999 = CoordinateSystem.grid(999)
COORDINATE_NAMES = ("grid1000", "grid999", "pixels")


def coordinate_system(name: str | None, image_size: tuple[int, int] | None = None) -> CoordinateSystem:
    """The model space a reply (or a trace step) names: grid1000 (also for None: old traces), grid999,
    or pixels of the resized screenshot, which needs its (w, h)."""
    if name in (None, "grid1000"):
        return GRID_1000
    if name == "grid999":
        return GRID_999
    if name == "pixels":
        if not image_size or len(image_size) != 2 or min(image_size) < 1:
            raise CoordinateError(f"coordinates 'pixels' need the resized image size (w, h), got {image_size!r}")
        return CoordinateSystem.pixels(int(image_size[0]), int(image_size[1]))
    raise CoordinateError(f"unknown coordinate system {name!r}; use one of: {', '.join(COORDINATE_NAMES)}")


def _axis(value: float, span: float, logical: int, offset: int, axis: str, system: CoordinateSystem) -> int:
    """One axis: model value → pointer pixel; the far edge of the range is the last pixel."""
    if not (isinstance(value, (int, float)) and math.isfinite(value)) or not 0 <= value <= span:
        raise CoordinateError(f"{axis}={value!r} is outside the {system.name} (0 to {span:g})")
    # value/span is a fraction of the screenshot, and the screenshot covers the monitor's logical
    # extent, so screenshot pixels × (logical / screenshot) cancels to this; multiplying first keeps
    # whole results exact (700·1000/1000 = 700, not 699.999…). floor picks the containing pixel.
    pixel = min(math.floor(value * logical / span), logical - 1)
    return pixel + offset


def _away_from_corner(x: int, y: int, geometry: ScreenGeometry) -> tuple[int, int]:
    """Move a monitor-corner target one pixel inward so pyautogui's FAILSAFE does not fire."""
    left, top = geometry.offset_x, geometry.offset_y
    right, bottom = left + geometry.logical_width - 1, top + geometry.logical_height - 1
    if x in (left, right) and y in (top, bottom):
        x = left + 1 if x == left else right - 1
        y = top + 1 if y == top else bottom - 1
    return x, y


def map_point(
    point: tuple[float, float], geometry: ScreenGeometry, system: CoordinateSystem = GRID_1000,
    failsafe: bool = False,
) -> tuple[int, int]:
    """One model-space (x, y) → integer pointer-space (x, y); CoordinateError when out of range."""
    x = _axis(point[0], system.width, geometry.logical_width, geometry.offset_x, "x", system)
    y = _axis(point[1], system.height, geometry.logical_height, geometry.offset_y, "y", system)
    return _away_from_corner(x, y, geometry) if failsafe else (x, y)


def to_screen(
    action: Any, geometry: ScreenGeometry, system: CoordinateSystem = GRID_1000, failsafe: bool = False
) -> Any:
    """The same action with its coordinates in integer pointer pixels; others are returned unchanged."""
    updates = {
        field: map_point(getattr(action, field), geometry, system, failsafe)
        for field in ("coordinate", "start_coordinate")
        if getattr(action, field, None) is not None
    }
    return action.model_copy(update=updates) if updates else action


def _axis_back(pixel: int, span: float, logical: int, offset: int) -> int:
    """One axis: pointer pixel → the whole model value that `_axis` maps back onto the same pixel, when
    one exists (else the nearest: a grid coarser than the screen cannot name every pixel)."""
    inside = min(max(pixel - offset, 0), logical - 1)
    low, high = inside * span / logical, (inside + 1) * span / logical  # _axis maps [low, high) to `inside`
    first = math.ceil(low)
    return first if first < high else min(round((low + high) / 2), math.floor(span))


def from_screen_point(
    point: tuple[int, int], geometry: ScreenGeometry, system: CoordinateSystem = GRID_1000,
) -> tuple[int, int]:
    """Pointer pixel → whole model-space (x, y), the inverse of `map_point`: mapping them back lands on
    the same pixel, or within the grid's resolution where it is coarser than the screen (1 pixel for a
    0–1000 grid up to 2000 pixels wide). Points off the monitor are clamped onto its edge."""
    return (_axis_back(point[0], system.width, geometry.logical_width, geometry.offset_x),
            _axis_back(point[1], system.height, geometry.logical_height, geometry.offset_y))


def from_screen(action: Any, geometry: ScreenGeometry, system: CoordinateSystem = GRID_1000) -> Any:
    """The same action with its pointer pixels in model space (the inverse of `to_screen`)."""
    updates = {
        field: from_screen_point(getattr(action, field), geometry, system)
        for field in ("coordinate", "start_coordinate")
        if getattr(action, field, None) is not None
    }
    return action.model_copy(update=updates) if updates else action
