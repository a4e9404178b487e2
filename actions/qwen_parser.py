"""Reader of Qwen3-VL output: `<tool_call>{"name": "computer_use", "arguments": {…}}</tool_call>`.

Order of work: set the `<think>` block aside (calls inside it are never read), find the call blocks
(a missing `</tool_call>` ends at the next call or the end of text; without tags, fenced or bare JSON
objects that look like calls), decode each leniently, validate, collapse degenerate repetition.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice
from typing import Any

from actions.arguments import arguments_to_action
from actions.errors import ParseError
from actions.lenient_json import JSONSyntaxError, loads, read_value
from actions.parsed import Parsed, clean_thought, collapse_repeats
from actions.render import TOOL_NAME
from actions.schemas import ACTION_NAMES

MAX_BLOCKS = 64
MAX_BARE_CANDIDATES = 32

_OPEN = re.compile(r"[<＜]\s*tool_call\s*[>＞]", re.IGNORECASE)
_CLOSE = re.compile(r"[<＜]\s*/\s*tool_call\s*[>＞]", re.IGNORECASE)
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_BEFORE_JSON = re.compile(r"[`\sjson]*+\{")
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
NO_CALL_MESSAGE = (
    'no tool call found; answer with <tool_call>{"name": "computer_use", "arguments": '
    '{"action": ...}}</tool_call>'
)


@dataclass
class _Block:
    """One stretch of text that should hold a call."""

    start: int
    body: str
    closed: bool


class _Finder:
    """`pattern.search(text, pos)` for increasing `pos`, re-scanning only when the last hit is passed.

    Loops that search the same text again and again from later positions stay linear: a search that
    found nothing (or a hit still ahead) answers every later position without scanning again.
    """

    def __init__(self, pattern: re.Pattern[str], text: str):
        self.pattern, self.text = pattern, text
        self._searched_from: int | None = None
        self._hit: re.Match[str] | None = None

    def search(self, pos: int) -> re.Match[str] | None:
        """First match starting at or after pos (the patterns here have no look-behind)."""
        cached = self._searched_from is not None and self._searched_from <= pos
        if not (cached and (self._hit is None or self._hit.start() >= pos)):
            self._searched_from, self._hit = pos, self.pattern.search(self.text, pos)
        return self._hit


def _outside_calls(text: str, pattern: re.Pattern[str]) -> re.Match[str] | None:
    """First match of pattern that is not inside the JSON of a `<tool_call>` (e.g. typed text)."""
    hits, calls = _Finder(pattern, text), _Finder(_OPEN, text)
    pos = 0
    for _ in range(MAX_BLOCKS + 1):
        hit = hits.search(pos)
        call = calls.search(pos)
        if hit is None or call is None or hit.start() < call.start():
            return hit
        pos = max(_json_end(text, call.end(), len(text)) or call.end(), pos + 1)
    return None


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(reasoning, visible text); reasoning ends at the first `</think>` outside a call's JSON."""
    close = _outside_calls(text, _THINK_CLOSE)
    if close:
        reasoning = _THINK_OPEN.sub("", text[: close.start()]).strip()
        return reasoning or None, text[close.end() :]
    if _outside_calls(text, _THINK_OPEN):
        raise ParseError("the <think> block was never closed with </think>, so no action was given")
    return None, text


def _json_end(text: str, start: int, limit: int) -> int | None:
    """End of the JSON value that starts at the first '{' after `start`, or None.

    Read string-aware, so a `</tool_call>` typed inside a "text" argument does not end the block.
    """
    before = _BEFORE_JSON.match(text, start, limit)  # only fences/space may precede the '{'
    if before is None:
        return None
    brace = before.end() - 1
    try:
        return read_value(text, brace)[1]
    except JSONSyntaxError:
        return None


def _tagged_blocks(text: str) -> list[_Block]:
    """Bodies of `<tool_call>` tags; an unclosed one runs to the next tag or the end."""
    blocks: list[_Block] = []
    opens, closes = _Finder(_OPEN, text), _Finder(_CLOSE, text)
    match = opens.search(0)
    while match and len(blocks) < MAX_BLOCKS:
        body_start = match.end()
        value_end = _json_end(text, body_start, len(text)) or body_start
        close = closes.search(value_end)
        following = opens.search(value_end)
        if close and (following is None or close.start() < following.start()):
            blocks.append(_Block(match.start(), text[body_start : close.start()], True))
            match = opens.search(close.end())
        else:
            end = following.start() if following else len(text)
            blocks.append(_Block(match.start(), text[body_start:end], False))
            match = following
    return blocks


def _looks_like_call(value: Any) -> bool:
    """A dict with a call's shape: name+arguments, or an `action` naming a known action."""
    if not isinstance(value, dict):
        return False
    if "name" in value and any(key in value for key in _ARGUMENT_KEYS):
        return True
    return isinstance(value.get("action"), str)


def _bare_blocks(text: str) -> list[_Block]:
    """Fenced or bare JSON objects shaped like calls, for output without `<tool_call>` tags."""
    fenced = (_Block(m.start(), m.group(1), True) for m in _FENCE.finditer(text) if "{" in m.group(1))
    blocks = list(islice(fenced, MAX_BLOCKS))
    if blocks:
        return blocks
    start = text.find("{")
    tries = 0
    while start != -1 and tries < MAX_BARE_CANDIDATES and len(blocks) < MAX_BLOCKS:
        tries += 1
        try:
            value, end = read_value(text, start)
        except JSONSyntaxError:
            start = text.find("{", start + 1)
            continue
        if _looks_like_call(value):
            blocks.append(_Block(start, text[start:end], True))
        start = text.find("{", end)
    return blocks


def _decode_block(body: str) -> list[Any]:
    """The JSON values in one block: usually one object, sometimes several back to back."""
    body = body.strip()
    if not body:
        raise ParseError("empty <tool_call> block")
    candidates = [body]
    fenced = _FENCE.match(body) if body.startswith("```") else None
    if fenced and "{" in fenced.group(1):
        candidates.append(fenced.group(1).strip())
    error: JSONSyntaxError | None = None
    for candidate in candidates:
        try:
            return [loads(candidate)]
        except JSONSyntaxError as exc:
            error = error or exc
    # Several objects back to back, or text around one: read each value string-aware.
    values: list[Any] = []
    start = body.find("{")
    while start != -1 and len(values) < MAX_BLOCKS:
        try:
            value, end = read_value(body, start)
        except JSONSyntaxError:
            break
        values.append(value)
        start = body.find("{", end)
    if not values:
        raise ParseError(f"the tool call is not valid JSON: {error}")
    return values


def _call_arguments(call: Any) -> Any:
    """The `arguments` object of one decoded call (itself decoded when given as a JSON string)."""
    if not isinstance(call, dict):
        raise ParseError(f"a tool call must be a JSON object, got {type(call).__name__}")
    key = next((k for k in _ARGUMENT_KEYS if k in call), None)
    if key is None:
        if "action" in call:
            return call  # the arguments object written on its own
        raise ParseError('a tool call needs "name": "computer_use" and "arguments"')
    name = call.get("name", TOOL_NAME)
    arguments = call[key]
    if isinstance(arguments, str):
        try:
            arguments = loads(arguments)
        except JSONSyntaxError as exc:
            raise ParseError(f"'arguments' is a string that is not valid JSON: {exc}") from None
    if name != TOOL_NAME:
        if isinstance(name, str) and name in ACTION_NAMES and isinstance(arguments, dict):
            return {"action": name, **arguments}
        raise ParseError(f"unknown tool {name!r}; the only tool is {TOOL_NAME}")
    return arguments


def parse_qwen(text: str) -> Parsed:
    """Parse one Qwen-style message into thought and actions; ParseError when there is no valid call."""
    reasoning, visible = split_reasoning(text)
    blocks = _tagged_blocks(visible) or _bare_blocks(visible)
    if not blocks:
        hint = " after </think>" if reasoning else ""
        raise ParseError(NO_CALL_MESSAGE.replace("found;", f"found{hint};", 1))
    notes: list[str] = []
    actions: list[Any] = []
    for index, block in enumerate(blocks):
        try:
            actions.extend(arguments_to_action(_call_arguments(v)) for v in _decode_block(block.body))
        except ParseError:
            # A cut-off last call after good ones is the tail of runaway output: drop it.
            if index == len(blocks) - 1 and not block.closed and actions:
                notes.append("dropped an unfinished call at the end of the message")
                continue
            raise
    thought = clean_thought(visible[: blocks[0].start])
    return Parsed(
        thought=thought, actions=collapse_repeats(actions, notes), format="qwen",
        reasoning=reasoning, notes=notes,
    )
