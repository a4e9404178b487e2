"""docs/commands.md documents every command and every flag that `--help` shows (once the README's Commands section)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from agent.cli import app

COMMANDS_DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def _commands_section() -> str:
    return COMMANDS_DOC.read_text(encoding="utf-8")  # the whole page is the Commands section


def _sections() -> dict[str, str]:
    """`### \\`agent bench compare A B\\` — …` → the words before the first argument: "bench compare"."""
    found = {}
    for chunk in re.split(r"\n### ", _commands_section())[1:]:
        title = chunk[1:chunk.index("`", 1)]
        words = [w for w in title.split()[1:] if re.fullmatch(r"[a-z][a-z-]*", w)]
        found[" ".join(words)] = chunk
    return found


def _leaf_commands(group, prefix=()):
    for name, command in getattr(group, "commands", {}).items():
        path = (*prefix, name)
        if hasattr(command, "commands"):
            yield from _leaf_commands(command, path)
        else:
            yield path, command


def _documented_name(path: tuple[str, ...]) -> str:
    return "bench" if path == ("bench", "run") else " ".join(path)  # `agent bench SUITE` is `bench run`


LEAVES = list(_leaf_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("path,command", LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_every_flag_of_every_command_is_in_its_readme_section(path, command):
    sections = _sections()
    name = _documented_name(path)
    assert name in sections, f"docs/commands.md has no `### \\`agent {name} …\\`` section"
    options = [opt for param in command.params if param.param_type_name == "option"
               for opt in (*param.opts, *param.secondary_opts) if opt != "--help"]
    missing = [opt for opt in options if f"`{opt}`" not in sections[name]]
    assert not missing, f"agent {name}: flags missing from its section in docs/commands.md: {missing}"
