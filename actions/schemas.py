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
    ValidationError,
    field_validator,
    model_serializer,
)

from actions.errors import ExecutionError
from actions.keys import canonical_key, split_chord

Number = Union[int, float]
Coordinate = tuple[Number, Number]

# Every action is bounded so that one model output cannot hang a run or flood a desktop; each limit
# is far beyond what a real step needs, and its message tells the model how to stay within it.
MAX_WAIT_S = 60.0
MAX_COORDINATE = 100_000  # |x|, |y| in any space (grid, image pixels, pointer pixels)
MAX_KEYS = 8  # keys held together in one `key` action
MAX_TYPE_CHARS = 2000  # characters in one `type` action (~20 s of typing)
MAX_ANSWER_CHARS = 10_000
MAX_SCROLL = 100  # wheel notches in one scroll/hscroll

_NUMBER_RE = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")


def _shown(value: Any) -> str:
    """repr of a value for an error message, clipped so a huge input stays a short message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_number(value: Any, what: str) -> Number:
    """A finite int/float from a number or a numeric string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, got {_shown(value)}")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40 or not _NUMBER_RE.fullmatch(text):
            raise ValueError(f"{what} must be a number, got {_shown(value)}")
        value = float(text) if any(c in text for c in ".eE") else int(text)
    if not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {_shown(value)}")
    return value


def _bounded(value: Any, what: str, low: float, high: float, hint: str = "") -> Number:
    """A number from `value` (see _to_number) within [low, high]; ValueError saying the range."""
    number = _to_number(value, what)
    if not low <= number <= high:
        raise ValueError(f"{what} must be between {low:g} and {high:g}{hint}, got {_shown(number)}")
    return number


def coerce_coordinate(value: Any) -> Coordinate:
    """[x, y] from a pair, a one-element nesting ([[x, y]]), a {"x","y"} dict or a 'x, y' string."""
    if isinstance(value, str):
        numbers = _NUMBER_RE.findall(value)
        if len(numbers) != 2:
            raise ValueError(f"coordinate must be [x, y], got {_shown(value)}")
        value = numbers
    if isinstance(value, dict) and set(value) == {"x", "y"}:
        value = [value["x"], value["y"]]
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], (list, tuple)):
        value = value[0]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"coordinate must be [x, y], got {_shown(value)}")
    return tuple(_bounded(v, axis, -MAX_COORDINATE, MAX_COORDINATE) for v, axis in zip(value, "xy"))


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
            raise ValueError(f"keys must be a list of key names, got {_shown(value)}")
        names: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"key {_shown(item)} is not a string")
            names.extend(split_chord(item[:200]) if len(item.strip()) > 1 else [item])
            if len(names) > MAX_KEYS:
                raise ValueError(
                    f"at most {MAX_KEYS} keys are held together in one key action; "
                    "press a sequence of keys as several key actions"
                )
        return [canonical_key(name[:40]) for name in names]


class Type(_ActionBase):
    """Type a string (any Unicode)."""

    action: Literal["type"] = Field(description="Action name.")
    text: str = Field(min_length=1, description=f"Text to type, at most {MAX_TYPE_CHARS} characters.")

    @field_validator("text")
    @classmethod
    def _not_too_long(cls, value: str) -> str:
        if len(value) > MAX_TYPE_CHARS:
            raise ValueError(
                f"text is {len(value)} characters; type at most {MAX_TYPE_CHARS} per action "
                "and split longer text over several type actions"
            )
        return value


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

    pixels: Number = Field(
        description=f"Wheel amount in notches, at most {MAX_SCROLL} either way; sign gives the direction."
    )
    coordinate: Coordinate | None = Field(None, description="Pointer position for the scroll, if any.")

    @field_validator("pixels", mode="before")
    @classmethod
    def _in_range(cls, value: Any) -> Number:
        return _bounded(value, "pixels", -MAX_SCROLL, MAX_SCROLL, " wheel notches (scroll again to go further)")

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
        return _bounded(value, "time", 0, MAX_WAIT_S, " seconds (wait again to wait longer)")


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
    text: str = Field(max_length=MAX_ANSWER_CHARS, description=f"The answer, at most {MAX_ANSWER_CHARS} characters.")


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


def recheck(action: Any) -> None:
    """An executor's own guard, right before acting: the action must pass its schema again.

    Actions normally arrive validated, but an executor is a seam anyone can call (with a dict, an
    action built by `model_construct`, …); nothing unbounded may reach the desktop that way.
    """
    data = action.model_dump(mode="json") if isinstance(action, BaseModel) else action
    try:
        action_from_dict(data)
    except ValidationError as exc:
        reason = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()[:3])
        raise ExecutionError(f"refusing to perform {_shown(data)}: {reason}") from None
    except (TypeError, ValueError) as exc:
        raise ExecutionError(f"refusing to perform {_shown(data)}: {exc}") from None

ACTION_MODELS: dict[str, type[BaseModel]] = {
    "key": Key, "type": Type, "mouse_move": MouseMove, "left_click": LeftClick,
    "left_click_drag": LeftClickDrag, "right_click": RightClick, "middle_click": MiddleClick,
    "double_click": DoubleClick, "triple_click": TripleClick, "scroll": Scroll, "hscroll": HScroll,
    "wait": Wait, "terminate": Terminate, "answer": Answer,
}
