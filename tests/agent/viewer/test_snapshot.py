"""Snapshot of the run screen (pytest-textual-snapshot); update with --snapshot-update after a review.

Deterministic by construction: fixed terminal size, fixed times in the recorded runs, the half-block
renderer (no terminal graphics), and the run folder names (not the temporary path) on screen.
"""
from __future__ import annotations

from agent.viewer.app import ViewerApp
from agent.viewer.screenshot import ScreenshotPanel
from tests.agent.viewer.pilot_helpers import wait_until


def test_run_screen_snapshot(runs, snap_compare):
    app = ViewerApp(runs["failure"], renderer="halfblock")

    async def show_drag_step(pilot) -> None:
        table = pilot.app.screen.query_one("#steps-table")
        await wait_until(pilot, lambda: table.row_count == 4, "the steps")
        await pilot.press("j", "j")  # the drag step: arrow from the earlier click
        panel = pilot.app.screen.query_one(ScreenshotPanel)
        await wait_until(pilot, lambda: panel.shown_step == 2, "the drag screenshot")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(130, 40), run_before=show_drag_step)
