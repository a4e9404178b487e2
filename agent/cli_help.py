"""`--help` pages without value placeholders after flags (typer prints `--live <bool>`, `--help <bool>`)."""
from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


def _plain_flags(params: list[Any]) -> list[Any]:
    """Give every on/off flag (including --help) an empty metavar, so help shows no `<bool>`."""
    for param in params:  # typer vendors its own click: recognise options by their attributes
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class PlainFlagsGroup(TyperGroup):
    """A command group whose commands (and nested groups) list their flags without `<bool>`."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command.get_params(ctx))
        return command
