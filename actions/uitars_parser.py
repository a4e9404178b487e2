"""Reader of UI-TARS output: `Thought: …` then `Action: click(start_box='(x,y)')`.

Points may be written `(x,y)`, `[x1,y1,x2,y2]` (a box: its centre is used), `<point>x y</point>` or
`<|box_start|>(x,y)<|box_end|>`. Calls are tokenised by hand (never evaluated); only UI-TARS's own
action names are recognised, so prose such as "click (the button)" is not mistaken for a call.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from actions.arguments import arguments_to_action
from actions.errors import ParseError
from actions.keys import split_chord
from actions.parsed import Parsed, clean_thought, collapse_repeats
from actions.qwen_parser import MAX_BLOCKS, split_reasoning

SCROLL_NOTCHES = 5  # UI-TARS gives a direction only; one scroll is this many wheel notches
WAIT_SECONDS = 5  # UI-TARS's wait() means "sleep 5 s and look again"

# The last `Action:` label at a line start, found as the first match in the reversed text (one
# scan, however many labels). Horizontal space only: `\s*` next to a MULTILINE `^` re-scans every
# following newline, which made 100 KB of newlines take minutes.
_LAST_ACTION_LABEL_REVERSED = re.compile(r"[:：][^\S\r\n]*noitca[^\S\r\n]*(?=\n|\Z)", re.IGNORECASE)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_KWARG_START = re.compile(r"\s*(?:,\s*)?(\)|[A-Za-z_][A-Za-z0-9_]*\s*=\s*)")
_BARE_VALUE = re.compile(r"[^,)]*")
_SPACE_RUN = re.compile(r"\s*+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


def _midpoint(a: float, b: float) -> float:
    """Centre of [a, b], as an int when it is whole."""
    middle = (a + b) / 2
    return int(middle) if middle == int(middle) else middle


def _point(value: str, name: str) -> tuple[float, float]:
    """(x, y) from a point or the centre of a box, in whatever notation UI-TARS used."""
    numbers = [float(n) if "." in n else int(n) for n in _NUMBER.findall(value[:200])]
    if len(numbers) == 2:
        return (numbers[0], numbers[1])
    if len(numbers) == 4:
        x1, y1, x2, y2 = numbers
        return (_midpoint(x1, x2), _midpoint(y1, y2))
    raise ParseError(f"{name} must be a point (x,y) or a box (x1,y1,x2,y2), got {value[:60]!r}")


def _first(kwargs: dict[str, str], *names: str) -> str | None:
    """The value of the first parameter present among `names`."""
    return next((kwargs[n] for n in names if n in kwargs), None)


def _required_point(kwargs: dict[str, str], call: str, *names: str) -> tuple[float, float]:
    """A point parameter that the call cannot do without."""
    value = _first(kwargs, *names)
    if value is None:
        raise ParseError(f"{call}() needs {names[0]}='(x,y)'")
    return _point(value, names[0])


def _pointer(action: str) -> Callable[[dict[str, str], str], list[dict[str, Any]]]:
    """Builder for a one-point action such as a click."""
    def build(kwargs: dict[str, str], call: str) -> list[dict[str, Any]]:
        point = _required_point(kwargs, call, "start_box", "point", "start_point", "box")
        return [{"action": action, "coordinate": point}]
    return build


def _drag(kwargs: dict[str, str], call: str) -> list[dict[str, Any]]:
    """drag(start_box, end_box) → left_click_drag from start to end."""
    start = _required_point(kwargs, call, "start_box", "start_point", "point")
    end = _required_point(kwargs, call, "end_box", "end_point")
    return [{"action": "left_click_drag", "start_coordinate": start, "coordinate": end}]


def _hotkey(kwargs: dict[str, str], call: str) -> list[dict[str, Any]]:
    """hotkey(key='ctrl c') → key ['ctrl', 'c'] (space- or plus-separated)."""
    combo = _first(kwargs, "key", "hotkey", "keys")
    if not combo or not combo.strip():
        raise ParseError(f"{call}() needs key='…', e.g. hotkey(key='ctrl c')")
    keys = [part for word in combo.split() for part in split_chord(word)]
    return [{"action": "key", "keys": keys}]


def _type(kwargs: dict[str, str], call: str) -> list[dict[str, Any]]:
    """type(content='…') → type; a trailing newline (UI-TARS's "submit") is typed as Enter."""
    text = _first(kwargs, "content", "text")
    if text is None:
        raise ParseError(f"{call}() needs content='…'")
    return [{"action": "type", "text": text}]


def _scroll(kwargs: dict[str, str], call: str) -> list[dict[str, Any]]:
    """scroll(start_box, direction) → scroll/hscroll of SCROLL_NOTCHES at that point."""
    direction = (_first(kwargs, "direction") or "down").strip().lower()
    signs = {"up": ("scroll", 1), "down": ("scroll", -1), "left": ("hscroll", -1), "right": ("hscroll", 1)}
    if direction not in signs:
        raise ParseError(f"scroll direction must be up, down, left or right, got {direction!r}")
    action, sign = signs[direction]
    result: dict[str, Any] = {"action": action, "pixels": sign * SCROLL_NOTCHES}
    where = _first(kwargs, "start_box", "point", "start_point")
    if where is not None:
        result["coordinate"] = _point(where, "start_box")
    return [result]


def _finished(kwargs: dict[str, str], call: str) -> list[dict[str, Any]]:
    """finished(content) → answer (when there is content) then terminate success."""
    content = (_first(kwargs, "content", "text") or "").strip()
    done = {"action": "terminate", "status": "success"}
    return [{"action": "answer", "text": content}, done] if content else [done]


_BUILDERS: dict[str, Callable[[dict[str, str], str], list[dict[str, Any]]]] = {
    "click": _pointer("left_click"), "left_single": _pointer("left_click"),
    "left_double": _pointer("double_click"), "double_click": _pointer("double_click"),
    "right_single": _pointer("right_click"), "right_click": _pointer("right_click"),
    "middle_click": _pointer("middle_click"), "triple_click": _pointer("triple_click"),
    "hover": _pointer("mouse_move"), "mouse_move": _pointer("mouse_move"),
    "drag": _drag, "select": _drag,
    "hotkey": _hotkey, "press": _hotkey,
    "type": _type, "scroll": _scroll,
    "wait": lambda kwargs, call: [{"action": "wait", "time": WAIT_SECONDS}],
    "finished": _finished,
    "call_user": lambda kwargs, call: [{"action": "terminate", "status": "failure"}],
}
_CALL_START = re.compile(r"\b(" + "|".join(sorted(_BUILDERS, key=len, reverse=True)) + r")\s*\(")


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """A '…' or "…" string starting at pos, with backslash escapes; returns (value, end)."""
    quote = text[pos]
    parts: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            parts.append(_ESCAPES.get(text[pos + 1], "\\" + text[pos + 1]))
            pos += 2
            continue
        if char == quote:
            return "".join(parts), pos + 1
        parts.append(char)
        pos += 1
    raise ParseError("a quoted argument is never closed")


def _read_kwargs(text: str, pos: int, call: str) -> tuple[dict[str, str] | None, int]:
    """`name='value', …)` from just after the '(' to just after the ')'; None if not a call at all."""
    kwargs: dict[str, str] = {}
    while True:
        match = _KWARG_START.match(text, pos)
        if not match and not kwargs:
            return None, pos  # prose such as "click (the button)"
        if not match:
            raise ParseError(f"cannot read the arguments of {call}(…) at {text[pos:pos + 30]!r}")
        if match.group(1) == ")":
            return kwargs, match.end()
        name = match.group(1).split("=")[0].strip()
        pos = match.end()
        if pos < len(text) and text[pos] in "'\"":
            kwargs[name], pos = _read_quoted(text, pos)
        else:
            bare = _BARE_VALUE.match(text, pos)
            kwargs[name], pos = bare.group(0).strip(), bare.end()


def _calls(section: str) -> list[tuple[str, dict[str, str]]]:
    """Every recognised `name(k='v', …)` in the action section, in order."""
    found = []
    pos = 0
    while len(found) <= MAX_BLOCKS:
        match = _CALL_START.search(section, pos)
        if not match:
            break
        kwargs, pos = _read_kwargs(section, match.end(), match.group(1))
        if kwargs is not None:
            found.append((match.group(1), kwargs))
    return found


def _last_action_label(text: str) -> tuple[int, int] | None:
    """(start, end) of the last line-starting `Action:` label (start at the line's start), or None."""
    found = _LAST_ACTION_LABEL_REVERSED.search(text[::-1])
    if found is None:
        return None
    return len(text) - found.end(), len(text) - found.start()


def _skip_space(text: str, pos: int) -> int:
    """Index of the first non-whitespace character at or after pos."""
    return _SPACE_RUN.match(text, pos).end()


def looks_like_uitars(text: str) -> bool:
    """True for text with UI-TARS point markup or an `Action: name(` line."""
    if any(marker in text for marker in ("<point>", "<|box_start|>", "start_box=")):
        return True
    label = _last_action_label(text)
    return label is not None and _CALL_START.match(text, _skip_space(text, label[1])) is not None


def parse_uitars(text: str) -> Parsed:
    """Parse one UI-TARS message into thought and actions; ParseError when there is no valid call."""
    reasoning, visible = split_reasoning(text)
    label = _last_action_label(visible)
    split_at = label[0] if label else None
    section = visible[label[1] :] if label else visible
    calls = _calls(section)
    if not calls:
        raise ParseError("no action found; answer with Thought: … then Action: click(start_box='(x,y)')")
    if split_at is None:
        split_at = _CALL_START.search(visible).start()
    actions = [
        arguments_to_action(arguments)
        for name, kwargs in calls
        for arguments in _BUILDERS[name](kwargs, name)
    ]
    notes: list[str] = []
    return Parsed(
        thought=clean_thought(visible[:split_at]), actions=collapse_repeats(actions, notes),
        format="uitars", reasoning=reasoning, notes=notes,
    )
