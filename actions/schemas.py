"""Pydantic models of the Qwen3-VL `computer_use` action space, one per `action` value.

`Action` is a discriminated union on `action`; `model_dump(mode="json")` is exactly the tool's
`arguments` object (optional fields that are unset are left out). Coordinates are in whatever space
the caller works in: model grid after parsing, integer pointer pixels after `to_screen`.
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_serializer,
)

from actions.keys import canonical_key, split_chord

Number = Union[int, float]
Coordinate = tuple[Number, Number]
MAX_WAIT_S = 60.0

_NUMBER_RE = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")


def _to_number(value: Any, what: str) -> Number:
    """A finite int/float from a number or a numeric string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER_RE.fullmatch(text) or len(text) > 40:
            raise ValueError(f"{what} must be a number, got {value!r}")
        value = float(text) if any(c in text for c in ".eE") else int(text)
    if not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return value


def coerce_coordinate(value: Any) -> Coordinate:
    """[x, y] from a pair, a one-element nesting ([[x, y]]), a {"x","y"} dict or a 'x, y' string."""
    if isinstance(value, str):
        numbers = _NUMBER_RE.findall(value)
        if len(numbers) != 2:
            raise ValueError(f"coordinate must be [x, y], got {value!r}")
        value = numbers
    if isinstance(value, dict) and set(value) == {"x", "y"}:
        value = [value["x"], value["y"]]
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], (list, tuple)):
        value = value[0]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"coordinate must be [x, y], got {value!r}")
    return (_to_number(value[0], "x"), _to_number(value[1], "y"))


class _ActionBase(BaseModel):
    """Common configuration: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _drop_unset_optionals(self, handler: Any) -> dict[str, Any]:
        # The tool's arguments carry only the fields the action uses (no nulls), `action` first.
        data = handler(self)
        ordered = {"action": data.pop("action")}
        ordered.update((k, v) for k, v in data.items() if v is not None)
        return ordered


class _PointerAction(_ActionBase):
    """An action aimed at one point."""

    coordinate: Coordinate = Field(description="(x, y) target: model grid or screen pixels.")

    @field_validator("coordinate", mode="before")
    @classmethod
    def _coerce(cls, value: Any) -> Coordinate:
        return coerce_coordinate(value)


class Key(_ActionBase):
    """Press the keys in order, release them in reverse (a chord such as ctrl+s)."""

    action: Literal["key"] = Field(description="Action name.")
    keys: list[str] = Field(min_length=1, description="Canonical key names, pressed in order.")

    @field_validator("keys", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"keys must be a list of key names, got {value!r}")
        names: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"key {item!r} is not a string")
            names.extend(split_chord(item) if len(item.strip()) > 1 else [item])
        return [canonical_key(name) for name in names]


class Type(_ActionBase):
    """Type a string (any Unicode)."""

    action: Literal["type"] = Field(description="Action name.")
    text: str = Field(min_length=1, description="Text to type.")


class MouseMove(_PointerAction):
    """Move the pointer."""

    action: Literal["mouse_move"] = Field(description="Action name.")


class LeftClick(_PointerAction):
    """Left click at a point."""

    action: Literal["left_click"] = Field(description="Action name.")


class RightClick(_PointerAction):
    """Right click at a point."""

    action: Literal["right_click"] = Field(description="Action name.")


class MiddleClick(_PointerAction):
    """Middle click at a point."""

    action: Literal["middle_click"] = Field(description="Action name.")


class DoubleClick(_PointerAction):
    """Double left click at a point."""

    action: Literal["double_click"] = Field(description="Action name.")


class TripleClick(_PointerAction):
    """Triple left click at a point (selects a line or paragraph)."""

    action: Literal["triple_click"] = Field(description="Action name.")


class LeftClickDrag(_PointerAction):
    """Press the left button, move to `coordinate`, release."""

    action: Literal["left_click_drag"] = Field(description="Action name.")
    start_coordinate: Coordinate | None = Field(
        None, description="Where the drag starts (UI-TARS); absent: from the current pointer position."
    )

    @field_validator("start_coordinate", mode="before")
    @classmethod
    def _coerce_start(cls, value: Any) -> Coordinate | None:
        return None if value is None else coerce_coordinate(value)


class _ScrollBase(_ActionBase):
    """A wheel scroll, optionally after moving the pointer to a point."""

    pixels: Number = Field(description="Wheel amount in notches; sign gives the direction.")
    coordinate: Coordinate | None = Field(None, description="Pointer position for the scroll, if any.")

    @field_validator("pixels", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Number:
        return _to_number(value, "pixels")

    @field_validator("coordinate", mode="before")
    @classmethod
    def _coerce(cls, value: Any) -> Coordinate | None:
        return None if value is None else coerce_coordinate(value)


class Scroll(_ScrollBase):
    """Vertical scroll: positive up, negative down."""

    action: Literal["scroll"] = Field(description="Action name.")


class HScroll(_ScrollBase):
    """Horizontal scroll: positive right, negative left."""

    action: Literal["hscroll"] = Field(description="Action name.")


class Wait(_ActionBase):
    """Do nothing for a while so the screen can change."""

    action: Literal["wait"] = Field(description="Action name.")
    time: Number = Field(description=f"Seconds to wait, 0 to {MAX_WAIT_S:g}.")

    @field_validator("time", mode="before")
    @classmethod
    def _in_range(cls, value: Any) -> Number:
        seconds = _to_number(value, "time")
        if not 0 <= seconds <= MAX_WAIT_S:
            raise ValueError(f"time must be between 0 and {MAX_WAIT_S:g} seconds, got {seconds!r}")
        return seconds


class Terminate(_ActionBase):
    """End the task and say whether it succeeded."""

    action: Literal["terminate"] = Field(description="Action name.")
    status: Literal["success", "failure"] = Field(description="success or failure.")

    @field_validator("status", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class Answer(_ActionBase):
    """Give the answer to a question and end the task."""

    action: Literal["answer"] = Field(description="Action name.")
    text: str = Field(description="The answer.")


Action = Annotated[
    Union[
        Key, Type, MouseMove, LeftClick, LeftClickDrag, RightClick, MiddleClick, DoubleClick,
        TripleClick, Scroll, HScroll, Wait, Terminate, Answer,
    ],
    Field(discriminator="action"),
]

ACTION_ADAPTER: TypeAdapter[Any] = TypeAdapter(Action)
ACTION_NAMES = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
    "double_click", "triple_click", "scroll", "hscroll", "wait", "terminate", "answer",
)
POINTER_ACTIONS = (MouseMove, LeftClick, LeftClickDrag, RightClick, MiddleClick, DoubleClick, TripleClick)


def action_from_dict(arguments: dict[str, Any]) -> Any:
    """Validate a computer_use `arguments` dict into its Action (pydantic ValidationError on failure)."""
    return ACTION_ADAPTER.validate_python(arguments)

ACTION_MODELS: dict[str, type[BaseModel]] = {
    "key": Key, "type": Type, "mouse_move": MouseMove, "left_click": LeftClick,
    "left_click_drag": LeftClickDrag, "right_click": RightClick, "middle_click": MiddleClick,
    "double_click": DoubleClick, "triple_click": TripleClick, "scroll": Scroll, "hscroll": HScroll,
    "wait": Wait, "terminate": Terminate, "answer": Answer,
}
