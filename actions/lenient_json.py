"""A forgiving JSON reader for model output; it builds data and never evaluates anything.

Beyond strict JSON it accepts what language models write by mistake: single or curly quotes,
fullwidth punctuation outside strings (｛｝［］：，), trailing commas, bare identifier keys,
Python literals (True/False/None), raw newlines inside strings and doubled braces (`{{ … }}` from
format-string templates). Nesting is bounded so hostile input cannot exhaust the stack.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40

# Closing quote for each opening quote a model may use.
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\uff02": "\uff02", "\uff07": "\uff07"}
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_EXTRA_ASCII = {"\u3000": " ", "\u3001": ",", "\u3002": "."}

# Long runs are consumed by the regex engine, never char by char in Python, and without
# backtracking (possessive `++` / `*+`), so every read is linear in the text it covers.
_SPACE = re.compile(r"\s*+")
_WORD = re.compile(r"[A-Za-z0-9_]*+")
_NUMBER_CHARS = re.compile(r"[-+.0-9eE\uff0b\uff0d\uff0e\uff10-\uff19\uff25\uff45]*+")
_STRING_BODY = {  # opener -> body up to (not including) its closer; a lone final '\' included
    opener: re.compile(rf"(?:[^{re.escape(closer)}\\]++|\\.?)*+", re.DOTALL) for opener, closer in _QUOTES.items()
}
_STRING_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


class JSONSyntaxError(ValueError):
    """Text that is not even lenient JSON; the message gives the position."""


def _ascii_fold(char: str) -> str:
    """Fullwidth ASCII variants (U+FF01–FF5E) and CJK space/comma to ASCII; others unchanged."""
    if "\uff01" <= char <= "\uff5e":
        return chr(ord(char) - 0xFEE0)
    return _EXTRA_ASCII.get(char, char)


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
        self.pos = _SPACE.match(self.text, self.pos).end()

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
        """Read `{key: value, …}` with an optional trailing comma.

        An object opened with a doubled brace (`{{`, from a format-string template) closes with a
        doubled one when there is one; braces inside strings are never touched.
        """
        doubled = self._pair_at(self.pos, "{")
        self.pos += 2 if doubled else 1
        result: dict[str, Any] = {}
        while True:
            char = self.peek()
            if char == "}":
                self.pos += 2 if doubled and self._pair_at(self.pos, "}") else 1
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

    def _pair_at(self, pos: int, brace: str) -> bool:
        """True when the characters at pos and pos + 1 are both `brace` (fullwidth or not)."""
        pair = self.text[pos : pos + 2]
        return len(pair) == 2 and _ascii_fold(pair[0]) == brace == _ascii_fold(pair[1])

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
        body = _STRING_BODY[opener].match(self.text, self.pos + 1)
        if self.text[body.end() : body.end() + 1] != closer:
            self.pos = body.end()
            raise self.fail(f"closing quote {closer!r}")
        self.pos = body.end() + 1
        return _decode_body(body.group(0), closer)

    def number(self) -> int | float:
        """Read a number; JSON syntax plus a leading '+' or a bare leading/trailing '.'."""
        start = self.pos
        self.pos = _NUMBER_CHARS.match(self.text, start).end()
        if self.pos - start > MAX_NUMBER_CHARS:
            self.pos = start
            raise self.fail(f"a number of at most {MAX_NUMBER_CHARS} characters")
        token = "".join(_ascii_fold(c) for c in self.text[start : self.pos])
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
        self.pos = _WORD.match(self.text, start).end()
        return self.text[start : self.pos]


def _decode_body(body: str, closer: str) -> str:
    """A string body with its escapes decoded; JSON's own decoder does it whenever it can (C speed)."""
    if "\\" not in body:
        return body
    if closer == '"' or '"' not in body:
        # The body holds its closer only escaped, so `\<closer>` is always an escape of it.
        as_json = body if closer == '"' else body.replace("\\" + closer, closer)
        try:
            return json.loads('"' + as_json + '"', strict=False)
        except ValueError:
            pass  # an escape JSON lacks (\', \q, a short \u): the lenient decoder below
    return _STRING_ESCAPE.sub(_decode_escape, body)


def _decode_escape(match: re.Match[str]) -> str:
    """One backslash escape of a string body: JSON escapes, \\uXXXX, else the character itself."""
    code = match.group(1)
    if len(code) == 5:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, code)


def read_value(text: str, start: int = 0) -> tuple[Any, int]:
    """Read one lenient-JSON value at `start`; returns (value, index just past it)."""
    reader = _Reader(text)
    reader.pos = start
    value = reader.value()
    return value, reader.pos


def loads(text: str) -> Any:
    """Parse text that should hold exactly one value: strict JSON first, then the lenient reader."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    value, end = read_value(text)
    if text[end:].strip():
        raise JSONSyntaxError(f"unexpected text after the JSON value at character {end}")
    return value
