"""`agent parse` end to end: stdin in, one line of JSON out, exit 0 or 1, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent.commands.parse import run_parse
from tests.helpers import REPO

CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 250]}}\n</tool_call>'


def agent_parse(stdin: bytes, *args: str) -> tuple[dict, int, str]:
    done = subprocess.run([sys.executable, "-m", "agent.cli", "parse", *args], input=stdin,
                          capture_output=True, cwd=REPO, timeout=120)
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1, done.stdout
    assert b"Traceback" not in done.stderr
    return json.loads(lines[0]), done.returncode, done.stderr.decode()


def test_parse_with_screen_end_to_end():
    result, code, _ = agent_parse(("Thought: open it\n" + CLICK).encode(), "--screen", "1280x800")
    assert code == 0
    assert result["ok"] is True
    assert result["thought"] == "open it"
    assert result["actions"] == [{"action": "left_click", "coordinate": [500, 250]}]
    assert result["screen_actions"] == [{"action": "left_click", "coordinate": [640, 200]}]


def test_parse_without_screen_has_no_screen_actions():
    result, code, _ = agent_parse(b"Action: hotkey(key='ctrl s')", "--format", "uitars")
    assert code == 0
    assert result["actions"] == [{"action": "key", "keys": ["ctrl", "s"]}]
    assert "screen_actions" not in result


@pytest.mark.parametrize(
    "stdin, args, message",
    [
        (b"I would click the button.", (), "no tool call"),
        (b"", (), "no tool call"),
        (b"\xff\xfe<tool_call>{\xc3", (), "not valid JSON"),
        (CLICK.replace("500, 250", "1500, 250").encode(), ("--screen", "1280x800"), "x=1500 is outside"),
    ],
)
def test_failures_are_json_with_exit_status_1(stdin, args, message):
    result, code, stderr = agent_parse(stdin, *args)
    assert code == 1
    assert result["ok"] is False
    assert message in result["error"]


@pytest.mark.parametrize("screen", ["wide", "0x800", "1280x"])
def test_a_bad_screen_flag_is_the_callers_error_with_exit_status_2(screen):
    result, code, _ = agent_parse(CLICK.encode(), "--screen", screen)
    assert code == 2
    assert result["ok"] is False and "--screen must be WIDTHxHEIGHT" in result["error"] and repr(screen) in result["error"]


def test_run_parse_never_raises_even_on_internal_errors(monkeypatch):
    import agent.commands.parse as cli

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "parse", broken)
    output, code = run_parse(CLICK, "auto", None)
    assert code == 1
    assert json.loads(output) == {"ok": False, "error": "internal error: RuntimeError: boom"}


def test_run_parse_output_is_one_ascii_line():
    output, code = run_parse('<tool_call>{"name": "computer_use", "arguments": {"action": "type", "text": "é\\n世"}}</tool_call>', "auto", None)
    assert code == 0 and output.isascii() and "\n" not in output
    assert json.loads(output)["actions"] == [{"action": "type", "text": "é\n世"}]
