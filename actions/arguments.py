"""From a decoded `arguments` object to a validated Action, with messages a model can act on.

Both parsers end here. Tolerated: action-name aliases (`click`, `hotkey`…), nulls and empty values
in fields the action does not use. Everything else that is wrong becomes a ParseError naming the
action and the field.
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from actions.errors import ParseError
from actions.schemas import ACTION_MODELS, ACTION_NAMES, action_from_dict

_ACTION_ALIASES = {
    "click": "left_click", "leftclick": "left_click", "left_single": "left_click", "tap": "left_click",
    "rightclick": "right_click", "right_single": "right_click",
    "middleclick": "middle_click",
    "doubleclick": "double_click", "left_double": "double_click", "double_left_click": "double_click",
    "tripleclick": "triple_click",
    "move": "mouse_move", "mousemove": "mouse_move", "hover": "mouse_move", "move_to": "mouse_move",
    "drag": "left_click_drag", "left_drag": "left_click_drag",
    "press": "key", "hotkey": "key", "key_press": "key", "keypress": "key",
    "type_text": "type", "typing": "type", "input": "type", "write": "type",
    "vscroll": "scroll", "horizontal_scroll": "hscroll",
    "sleep": "wait", "done": "terminate", "finish": "terminate",
}


def canonical_action_name(name: Any) -> str:
    """The schema's action name for a name or alias; ParseError listing the valid names."""
    if isinstance(name, str):
        folded = name.strip().lower().replace("-", "_").replace(" ", "_")
        if folded in ACTION_NAMES:
            return folded
        if folded in _ACTION_ALIASES:
            return _ACTION_ALIASES[folded]
    raise ParseError(f"unknown action {name!r}; use one of: {', '.join(ACTION_NAMES)}")


def _without_noise(action: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Drop nulls everywhere, and empty strings/lists in fields this action does not have."""
    fields = ACTION_MODELS[action].model_fields
    return {
        key: value
        for key, value in arguments.items()
        if value is not None and (key in fields or value not in ("", [], {}))
    }


def _describe(error: dict[str, Any], action: str) -> str:
    """One pydantic error as a short phrase naming the field."""
    field = ".".join(str(part) for part in error["loc"][1:]) or "arguments"
    kind = error["type"]
    if kind == "missing":
        return f"'{field}' is required"
    if kind == "extra_forbidden":
        return f"'{field}' is not a parameter of {action}"
    if kind == "literal_error":
        return f"'{field}' must be {error['ctx']['expected']}, got {error['input']!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"'{field}': {message}"


def arguments_to_action(arguments: Any) -> Any:
    """Validate one computer_use `arguments` object; ParseError with a readable reason otherwise."""
    if not isinstance(arguments, dict):
        raise ParseError(f"'arguments' must be a JSON object, got {type(arguments).__name__}")
    if "action" not in arguments:
        raise ParseError("'arguments' has no 'action' field")
    action = canonical_action_name(arguments["action"])
    cleaned = _without_noise(action, {**arguments, "action": action})
    try:
        return action_from_dict(cleaned)
    except ValidationError as exc:
        reasons = "; ".join(_describe(e, action) for e in exc.errors()[:3])
        raise ParseError(f"invalid {action} call: {reasons}") from None
