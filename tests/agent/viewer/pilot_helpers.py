"""Small helpers for driving the viewer with Textual's Pilot."""
from __future__ import annotations

from typing import Callable

from rich.console import Console


async def wait_until(pilot, condition: Callable[[], bool], what: str, polls: int = 250) -> None:
    """Let the app run until condition() holds; fail naming `what` if it never does."""
    for _ in range(polls):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def plain(renderable) -> str:
    """A widget's Rich content as plain text."""
    console = Console(width=200, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def table_column(table, column: str) -> list[str]:
    """The plain text of one column of a DataTable, top to bottom."""
    return [str(value) for value in table.get_column(column)]


def step_rows(app) -> int:
    """Rows in the run screen's step table; -1 while that screen is not composed yet."""
    from textual.css.query import NoMatches

    try:
        return app.screen.query_one("#steps-table").row_count
    except NoMatches:
        return -1
