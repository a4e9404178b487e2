"""A forgiving JSON reader for model output; it builds data and never evaluates anything.

Beyond strict JSON it accepts what language models write by mistake: single or curly quotes,
fullwidth punctuation outside strings (｛｝［］：，), trailing commas, bare identifier keys,
Python literals (True/False/None), raw newlines inside strings and doubled braces (`{{ … }}` from
format-string templates). Nesting is bounded so hostile input cannot exhaust the stack.
"""
from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40

# Closing quote for each opening quote a model may use.
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\uff02": "\uff02", "\uff07": "\uff07"}
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_EXTRA_ASCII = {"\u3000": " ", "\u3001": ",", "\u3002": "."}


class JSONSyntaxError(ValueError):
    """Text that is not even lenient JSON; the message gives the position."""


def _ascii_fold(char: str) -> str:
    """Fullwidth ASCII variants (U+FF01–FF5E) and CJK space/comma to ASCII; others unchanged."""
    if "\uff01" <= char <= "\uff5e":
        return chr(ord(char) - 0xFEE0)
    return _EXTRA_ASCII.get(char, char)


def _is_word_char(char: str) -> bool:
    """ASCII letter, digit or underscore."""
    return char.isascii() and (char.isalnum() or char == "_")


class _Reader:
    """Recursive-descent reader over one string."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> JSONSyntaxError:
        """An error naming what was expected and where."""
        found = self.text[self.pos : self.pos + 12] or "end of text"
        return JSONSyntaxError(f"expected {what} at character {self.pos}, found {found!r}")

    def peek(self) -> str:
        """The next non-space character, ASCII-folded ('' at the end)."""
        self.skip_space()
        return _ascii_fold(self.text[self.pos]) if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        """Advance over whitespace, including the ideographic space."""
        while self.pos < len(self.text) and (self.text[self.pos].isspace()):
            self.pos += 1

    def value(self, depth: int = 0) -> Any:
        """Read one value starting at the current position."""
        if depth > MAX_DEPTH:
            raise self.fail(f"at most {MAX_DEPTH} levels of nesting")
        char = self.peek()
        if char == "{":
            return self.object(depth)
        if char == "[":
            return self.array(depth)
        if self.text[self.pos : self.pos + 1] in _QUOTES:
            return self.string()
        if char and (char in "-+." or char.isascii() and char.isdigit()):
            return self.number()
        word = self.identifier()
        if word in _LITERALS:
            return _LITERALS[word]
        raise self.fail("a JSON value")

    def object(self, depth: int) -> dict[str, Any]:
        """Read `{key: value, …}` with an optional trailing comma."""
        self.pos += 1
        result: dict[str, Any] = {}
        while True:
            char = self.peek()
            if char == "}":
                self.pos += 1
                return result
            if self.text[self.pos : self.pos + 1] in _QUOTES:
                key = self.string()
            else:
                key = self.identifier()
                if not key:
                    raise self.fail("an object key")
            if self.peek() != ":":
                raise self.fail("':'")
            self.pos += 1
            result[key] = self.value(depth + 1)
            if not self.separator("}"):
                raise self.fail("',' or '}'")

    def array(self, depth: int) -> list[Any]:
        """Read `[value, …]` with an optional trailing comma."""
        self.pos += 1
        result: list[Any] = []
        while True:
            if self.peek() == "]":
                self.pos += 1
                return result
            result.append(self.value(depth + 1))
            if not self.separator("]"):
                raise self.fail("',' or ']'")

    def separator(self, closer: str) -> bool:
        """Consume a ',' (True) or leave the closer for the caller (True); False for anything else."""
        char = self.peek()
        if char == ",":
            self.pos += 1
            return True
        return char == closer

    def string(self) -> str:
        """Read a quoted string, decoding JSON escapes; unknown escapes keep their character."""
        opener = self.text[self.pos]
        closer = _QUOTES[opener]
        self.pos += 1
        parts: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == closer:
                self.pos += 1
                return "".join(parts)
            if char == "\\" and self.pos + 1 < len(self.text):
                parts.append(self.escape())
                continue
            parts.append(char)
            self.pos += 1
        raise self.fail(f"closing quote {closer!r}")

    def escape(self) -> str:
        """Decode the escape at the current backslash and advance past it."""
        code = self.text[self.pos + 1]
        if code == "u":
            digits = self.text[self.pos + 2 : self.pos + 6]
            if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                self.pos += 6
                return chr(int(digits, 16))
        self.pos += 2
        return _ESCAPES.get(code, code)

    def number(self) -> int | float:
        """Read a number; JSON syntax plus a leading '+' or a bare leading/trailing '.'."""
        start = self.pos
        while self.pos < len(self.text) and _ascii_fold(self.text[self.pos]) in "+-.0123456789eE":
            self.pos += 1
        token = "".join(_ascii_fold(c) for c in self.text[start : self.pos])
        if len(token) > MAX_NUMBER_CHARS:
            self.pos = start
            raise self.fail(f"a number of at most {MAX_NUMBER_CHARS} characters")
        try:
            number = float(token) if any(c in token for c in ".eE") else int(token)
        except ValueError:
            self.pos = start
            raise self.fail("a number") from None
        if isinstance(number, float) and not math.isfinite(number):
            self.pos = start
            raise self.fail("a finite number")
        return number

    def identifier(self) -> str:
        """Read a bare word (letters, digits, '_'); '' when there is none."""
        self.skip_space()
        start = self.pos
        while self.pos < len(self.text) and _is_word_char(self.text[self.pos]):
            self.pos += 1
        return self.text[start : self.pos]


def read_value(text: str, start: int = 0) -> tuple[Any, int]:
    """Read one lenient-JSON value at `start`; returns (value, index just past it)."""
    reader = _Reader(text)
    reader.pos = start
    value = reader.value()
    return value, reader.pos


def undouble_braces(text: str) -> str:
    """Turn `{{`/`}}` outside strings into single braces (templates that escaped every brace)."""
    out: list[str] = []
    closer = ""
    i = 0
    while i < len(text):
        char = text[i]
        if closer:
            if char == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            if char == closer:
                closer = ""
        elif char in _QUOTES:
            closer = _QUOTES[char]
        elif _ascii_fold(char) in "{}" and i + 1 < len(text) and _ascii_fold(text[i + 1]) == _ascii_fold(char):
            out.append(char)
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def loads(text: str) -> Any:
    """Parse text that should hold exactly one value: strict JSON first, then the lenient reader."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    candidates = [text]
    if "{{" in text or "｛｛" in text:
        candidates.insert(0, undouble_braces(text))
    error: JSONSyntaxError | None = None
    for candidate in candidates:
        try:
            value, end = read_value(candidate)
        except JSONSyntaxError as exc:
            error = error or exc
            continue
        if candidate[end:].strip():
            error = error or JSONSyntaxError(f"unexpected text after the JSON value at character {end}")
            continue
        return value
    assert error is not None
    raise error
