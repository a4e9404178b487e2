"""`agent parse`: model text on stdin → one line of JSON; never a traceback."""
from __future__ import annotations

import json
import re
import sys
from typing import Any, BinaryIO

import typer

from actions.coords import ScreenGeometry, to_screen
from actions.errors import CoordinateError, ParseError
from actions.parsing import MAX_TEXT_CHARS, parse

_SCREEN = re.compile(r"\s*([0-9]{1,6})\s*[xX×*]\s*([0-9]{1,6})\s*")


def parse_screen(value: str) -> ScreenGeometry:
    """'1280x800' → a flat geometry of that size; ValueError naming the value otherwise."""
    match = _SCREEN.fullmatch(value)
    if not match or 0 in (int(match.group(1)), int(match.group(2))):
        raise ValueError(f"--screen must be WIDTHxHEIGHT with positive integers, e.g. 1280x800; got {value!r}")
    return ScreenGeometry.flat(int(match.group(1)), int(match.group(2)))


def _result(text: str, fmt: str, geometry: ScreenGeometry | None) -> dict[str, Any]:
    """The success object; raises ParseError/CoordinateError/ValueError for the error object."""
    parsed = parse(text, fmt)
    result: dict[str, Any] = {
        "ok": True,
        "format": parsed.format,
        "thought": parsed.thought,
        "actions": [a.model_dump(mode="json") for a in parsed.actions],
    }
    if geometry is not None:
        result["screen_actions"] = [to_screen(a, geometry).model_dump(mode="json") for a in parsed.actions]
    if parsed.notes:
        result["notes"] = parsed.notes
    return result


def run_parse(text: str, fmt: str, screen: str | None) -> tuple[str, int]:
    """(one-line JSON, exit code): 0 with the actions, 1 with {"ok": false, "error": …}.

    A bad --screen is the caller's mistake, not the model's: the same error object with exit 2.
    """
    try:
        geometry = parse_screen(screen) if screen is not None else None
    except ValueError as exc:
        return json.dumps({"ok": False, "error": str(exc)}), 2
    try:
        return json.dumps(_result(text, fmt, geometry)), 0
    except (ParseError, CoordinateError, ValueError) as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - the command promises JSON, never a traceback
        error = f"internal error: {type(exc).__name__}: {exc}"
    return json.dumps({"ok": False, "error": error}), 1


def parse_command(fmt: str, screen: str | None, stdin: BinaryIO | None = None) -> int:
    """Read model text from stdin, print the JSON line, return its exit code (0, 1, or 2 for a bad --screen)."""
    output, code = run_parse(read_model_text(stdin or sys.stdin.buffer), fmt, screen)
    typer.echo(output)
    return code


def read_model_text(stream: BinaryIO) -> str:
    """A bounded prefix of the stream as text; the rest is drained so the writer is not cut off.

    Model text may hold invalid bytes, and runaway output may never end: parse ignores text past
    MAX_TEXT_CHARS anyway.
    """
    data = stream.read(4 * MAX_TEXT_CHARS + 4)
    while stream.read(1 << 20):
        pass
    return data.decode("utf-8", "replace")
