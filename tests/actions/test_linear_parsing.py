"""Parsing is linear: 1 MB of adversarial text costs about what 1 MB of plain prose costs.

Each shape targets a way a parser can go quadratic (a regex that re-scans the rest of the text from
every line, a loop that re-reads the same unclosed value from every tag, char-by-char Python over
long runs). Times are compared as a ratio against plain text of the same size through the same entry
point, in the same process, never against a wall-clock threshold; a quadratic path at 1 MB is
thousands of times slower, far beyond MAX_RATIO.
"""
from __future__ import annotations

import time
from typing import Callable

import pytest

from actions import ParseError, parse
from actions.qwen_parser import parse_qwen
from actions.uitars_parser import looks_like_uitars, parse_uitars

SIZE = 1_000_000
MAX_RATIO = 100.0  # linear shapes measure 1–40× on a loaded 2-core VM; a quadratic one thousands of times
CALL = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 300]}}\n</tool_call>'


def _repeat(unit: str, size: int = SIZE) -> str:
    return (unit * (size // len(unit) + 1))[:size]


SHAPES: dict[str, str] = {
    "newlines": "\n" * SIZE,
    "spaces": " " * SIZE,
    "crlf": _repeat("\r\n"),
    "repeated Action labels": _repeat("Action:\n"),
    "Action labels with space runs": _repeat("Action:" + " " * 60 + "\n"),
    "repeated Thought labels": _repeat("Thought: "),
    "unclosed tool_call tags": _repeat("<tool_call>"),
    "unclosed tags with braces": _repeat("<tool_call>{"),
    "tags each opening a string": _repeat('<tool_call>{"x'),
    "closing tags": _repeat("</tool_call>"),
    "unclosed think": "<think>" + "x" * SIZE,
    "calls then a think close": _repeat("<tool_call>{}") + "</think>",
    "nested braces": "{" * SIZE,
    "nested brackets": "[" * SIZE,
    "nested objects": _repeat('{"a":'),
    "doubled braces in a tag": "<tool_call>" + "{{" * (SIZE // 2),
    "unclosed string": '<tool_call>{"action": "type", "text": "' + "a" * SIZE,
    "single-quoted escapes": "<tool_call>{'action': 'type', 'text': '" + "\\n" * (SIZE // 2) + "'}",
    "fences with braces": _repeat("```{"),
    "unclosed call parens": _repeat("click("),
    "unclosed UI-TARS quote": "Action: type(content='" + "a" * SIZE,
    "UI-TARS point lists": "Action: click(start_box='" + "1," * (SIZE // 2) + "')",
    "valid call then 30,000 newlines": CALL + "\n" * 30_000,
    "valid call then 1 MB of newlines": CALL + "\n" * SIZE,
}
PLAIN = _repeat("The quick brown fox jumps over the lazy dog while the screen stays the same. ")

ENTRY_POINTS: dict[str, Callable[[str], object]] = {
    "auto": parse,
    "qwen": parse_qwen,
    "uitars": parse_uitars,
    "auto-detection": looks_like_uitars,
}


def _seconds(function: Callable[[str], object], text: str, repeats: int) -> float:
    """Best of `repeats` wall times of one call (a ParseError is an answer, not a failure)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            function(text)
        except ParseError:
            pass
        best = min(best, time.perf_counter() - start)
    return best


@pytest.fixture(scope="module")
def plain_seconds() -> dict[str, float]:
    """Each entry point's time on plain prose of SIZE characters."""
    return {name: _seconds(function, PLAIN, repeats=5) for name, function in ENTRY_POINTS.items()}


@pytest.mark.timeout(600)  # a hang guard only: a quadratic path would otherwise run for hours
@pytest.mark.parametrize("shape", SHAPES)
def test_adversarial_text_parses_in_linear_time(shape, plain_seconds):
    text = SHAPES[shape]
    for name, function in ENTRY_POINTS.items():
        ratio = _seconds(function, text, repeats=1) / plain_seconds[name]
        if ratio > MAX_RATIO:  # a busy machine: measure both again before calling it a failure
            ratio = _seconds(function, text, repeats=3) / _seconds(function, PLAIN, repeats=3)
        assert ratio < MAX_RATIO, f"{shape!r} through {name}: {ratio:.1f}× the time of plain text"


@pytest.mark.parametrize("shape", ["valid call then 30,000 newlines", "valid call then 1 MB of newlines"])
@pytest.mark.parametrize("format", ["auto", "qwen"])
def test_a_valid_call_before_runaway_newlines_is_still_read(shape, format):
    parsed = parse(SHAPES[shape], format)
    assert [a.model_dump(mode="json") for a in parsed.actions] == [
        {"action": "left_click", "coordinate": [500, 300]}
    ]
