"""Every `--help` page reads cleanly: flags carry no `<bool>` placeholder, and none ends in a traceback."""
from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from agent.cli import app


def _command_paths(group, prefix=()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in getattr(group, "commands", {}).items():
        paths += _command_paths(command, (*prefix, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "agent")
def test_help_shows_flags_without_a_value_placeholder(path):
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "--help" in result.output
