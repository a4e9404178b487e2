"""`parse(text, format)`: the one entry point from model text to actions."""
from __future__ import annotations

from actions.errors import ParseError
from actions.parsed import Parsed
from actions.qwen_parser import parse_qwen, split_reasoning
from actions.uitars_parser import looks_like_uitars, parse_uitars

FORMATS = ("auto", "qwen", "uitars")
MAX_TEXT_CHARS = 100_000  # far beyond any real reply; bounds the work on runaway output
_QWEN_MARKERS = ("tool_call", '"action"', "'action'", '"arguments"', "“action”")


def _looks_like_qwen(text: str) -> bool:
    """True when the text carries Qwen tool-call markup or JSON argument keys."""
    return any(marker in text for marker in _QWEN_MARKERS)


def parse(text: str, format: str = "auto") -> Parsed:
    """Thought and actions from one model message, or ParseError with a message for the model.

    `auto` reads Qwen tool calls unless the text has UI-TARS markup and no Qwen markup, and falls
    back to the other reader when the first finds nothing valid. Text beyond MAX_TEXT_CHARS
    (runaway generation) is ignored and noted.
    """
    if not isinstance(text, str):
        raise ParseError(f"model output must be text, got {type(text).__name__}")
    if len(text) <= MAX_TEXT_CHARS:
        return _parse(text, format)
    parsed = _parse(text[:MAX_TEXT_CHARS], format)
    parsed.notes.append(f"ignored {len(text) - MAX_TEXT_CHARS} characters beyond the first {MAX_TEXT_CHARS}")
    return parsed


def _parse(text: str, format: str) -> Parsed:
    """Dispatch on the format name (see parse)."""
    if format == "qwen":
        return parse_qwen(text)
    if format == "uitars":
        return parse_uitars(text)
    if format != "auto":
        raise ParseError(f"unknown format {format!r}; use one of: {', '.join(FORMATS)}")
    try:
        _, visible = split_reasoning(text)
    except ParseError:
        return parse_qwen(text)  # raises the unclosed-<think> error
    if looks_like_uitars(visible) and not _looks_like_qwen(visible):
        first, second = parse_uitars, parse_qwen
    else:
        first, second = parse_qwen, parse_uitars
    try:
        return first(text)
    except ParseError as error:
        # Text can carry the other style's markers by accident (a typed '{"action"…}' in UI-TARS
        # content); when the other reader finds a valid action, that reading wins.
        if second is parse_uitars and not looks_like_uitars(visible):
            raise
        try:
            return second(text)
        except ParseError:
            raise error from None
