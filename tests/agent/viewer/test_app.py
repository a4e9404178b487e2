"""The viewer driven with Textual's Pilot on the recorded runs."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app as cli
from agent.errors import NotARunError
from agent.viewer.app import ViewerApp, resolve_target
from agent.viewer.halfblock import HalfBlockImage
from agent.viewer.nav_table import NavTable
from agent.viewer.runs_screen import RunsScreen
from tests.agent.viewer.pilot_helpers import plain, step_rows, table_column, wait_until

SIZE = (140, 44)
pytestmark = pytest.mark.anyio


def viewer(path: Path, follow: bool = False) -> ViewerApp:
    return ViewerApp(path, follow=follow, renderer="halfblock", poll_interval=0.05)


def steps_table(app) -> NavTable:
    return app.screen.query_one("#steps-table", NavTable)


async def open_runs_list(pilot) -> NavTable:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), "the runs list")
    table = pilot.app.screen.query_one("#runs-table", NavTable)
    await wait_until(pilot, lambda: table.row_count == 3, "three runs listed")
    return table


async def open_run_screen(pilot, rows: int) -> NavTable:
    await wait_until(pilot, lambda: step_rows(pilot.app) == rows, f"{rows} steps listed")
    return steps_table(pilot.app)


async def test_runs_list_is_newest_first_and_sortable(runs):
    app = viewer(runs["success"].parent)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs_list(pilot)
        assert table_column(table, "task") == ["edit_file", "calc_sum", "open_settings"]
        assert table_column(table, "status") == ["killed ⚠", "failure", "success"]
        assert table_column(table, "steps") == ["2", "4", "3"]
        assert table_column(table, "duration") == ["3.5s", "2m00s", "6.5s"]

        await pilot.press("s")  # next column after start (UTC): task, A→Z
        assert table_column(table, "task") == ["calc_sum", "edit_file", "open_settings"]
        await pilot.press("r")
        assert table_column(table, "task") == ["open_settings", "edit_file", "calc_sum"]

        # Clicking the "steps" header sorts by steps, most first.
        x = sum(column.get_render_width(table) for column in list(table.columns.values())[:3]) + 2
        await pilot.click("#runs-table", offset=(x, 0))
        assert table_column(table, "steps") == ["4", "3", "2"]
        assert "▼" in str(table.columns["steps"].label)


async def test_enter_opens_a_run_and_escape_goes_back(runs):
    app = viewer(runs["success"].parent)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs_list(pilot)
        await pilot.press("j")  # calc_sum (failure)
        assert table.cursor_row == 1
        await pilot.press("enter")
        steps = await open_run_screen(pilot, 4)
        assert app.screen.run_dir == runs["failure"]
        header = plain(app.screen.query_one("#run-header").content)
        assert "calc_sum" in header and "failure" in header
        assert "display shows 42" in plain(app.screen.query_one("#run-info").content)

        await pilot.press("G")
        assert steps.cursor_row == 3
        await pilot.press("g", "down", "j")
        assert steps.cursor_row == 2
        await pilot.press("k", "up")
        assert steps.cursor_row == 0

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen), "back on the runs list")
        assert app.screen.query_one("#runs-table", NavTable).cursor_row == 1


async def test_e_jumps_to_error_steps_and_detail_shows_them(runs):
    app = viewer(runs["failure"])
    async with app.run_test(size=SIZE) as pilot:
        steps = await open_run_screen(pilot, 4)
        assert table_column(steps, "status") == ["ok", "parse error", "ok", "ok"]
        await pilot.press("e")
        assert steps.cursor_row == 1
        await pilot.pause()
        detail = plain(app.screen.query_one("#step-detail").content)
        assert "error (parse)" in detail and "no <tool_call> found" in detail
        assert "I would click the <button> now" in detail
        await pilot.press("G", "e")  # wraps around to the only error
        assert steps.cursor_row == 1


async def test_e_without_errors_says_so(runs):
    app = viewer(runs["success"])
    async with app.run_test(size=SIZE) as pilot:
        steps = await open_run_screen(pilot, 3)
        await pilot.press("e")
        assert steps.cursor_row == 0
        assert any("No step has an error" in n.message for n in app._notifications)


async def test_detail_pane_shows_output_actions_timings_and_the_marked_screenshot(runs):
    app = viewer(runs["success"])
    async with app.run_test(size=SIZE) as pilot:
        await open_run_screen(pilot, 3)
        image = app.screen.query_one(HalfBlockImage)
        await wait_until(pilot, lambda: image.image is not None, "the screenshot")
        r, g, b = image.image.getpixel((160 - 7 * 1, 60))[:3]  # on the marker ring around the click
        assert r > 200 and g < 90
        detail = plain(app.screen.query_one("#step-detail").content)
        assert "[bold]x[/bold]" in detail  # model text shown as written, not as markup
        assert '"coordinate": [500, 300]' in detail and '"coordinate": [180, 80]' in detail
        assert "model 800 ms" in detail and "prompt_tokens 1000" in detail
        await pilot.press("j")
        await pilot.pause()
        assert "hello <world> & co" in plain(app.screen.query_one("#step-detail").content)


async def test_crashed_run_shows_what_it_can_and_marks_damage(runs):
    app = viewer(runs["crashed"])
    async with app.run_test(size=SIZE) as pilot:
        await open_run_screen(pilot, 2)
        header = plain(app.screen.query_one("#run-header").content)
        assert "no result.json" in header
        info = plain(app.screen.query_one("#run-info").content)
        assert "truncated" in info and "step_0001.png is missing" in info and "gpu_temp_c" in info
        assert "unknown fields" in plain(app.screen.query_one("#step-detail").content)
        await pilot.press("j")
        message = app.screen.query_one("#shot-message")
        await wait_until(pilot, lambda: "missing" in str(message.content), "the missing-screenshot note")
        assert not app.screen.query_one(HalfBlockImage).display
        await pilot.press("escape")  # opened directly: back goes to the list of its folder
        table = await open_runs_list(pilot)
        assert table.row_count == 3


async def test_o_without_an_image_viewer_notifies(runs, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    app = viewer(runs["success"])
    async with app.run_test(size=SIZE) as pilot:
        await open_run_screen(pilot, 3)
        await pilot.press("o")
        assert any("No image viewer" in n.message for n in app._notifications)


async def test_o_hands_the_marked_screenshot_to_xdg_open(runs, monkeypatch, tmp_path):
    bin_dir, record = tmp_path / "bin", tmp_path / "opened.txt"
    bin_dir.mkdir()
    fake = bin_dir / "xdg-open"
    fake.write_text(f'#!/bin/sh\necho "$1" > {record}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    app = viewer(runs["success"])
    async with app.run_test(size=SIZE) as pilot:
        await open_run_screen(pilot, 3)
        await pilot.press("o")
        await wait_until(pilot, lambda: record.exists() and record.read_text().strip(), "xdg-open to run")
    opened = Path(record.read_text().strip())
    assert opened.name.endswith("step_0000.png") and opened.exists()


async def test_follow_mode_picks_up_appended_steps_and_the_end(tmp_path):
    from agent.trace import RunResult, TraceWriter
    from tests.agent.trace.recorded_runs import meta, step

    writer = TraceWriter(tmp_path, meta("20261101-130000-live-ffff", "live", 13))
    step(writer, 0, 13, "first")
    app = viewer(writer.dir, follow=True)
    async with app.run_test(size=SIZE) as pilot:
        steps = await open_run_screen(pilot, 1)
        header = app.screen.query_one("#run-header")
        assert "following" in plain(header.content)

        step(writer, 1, 13, "second")
        step(writer, 2, 13, "third", error=None)
        await wait_until(pilot, lambda: steps.row_count == 3, "appended steps")
        assert steps.cursor_row == 2  # the cursor tails the run
        await wait_until(pilot, lambda: "third" in plain(app.screen.query_one("#step-detail").content), "detail of the new step")

        writer.finish(RunResult(status="success", steps=3, duration_s=5.0, ended_at="2026-11-01T13:00:05+00:00"))
        await wait_until(pilot, lambda: any("Run ended: success" in n.message for n in app._notifications), "the end notice")
        assert "success" in plain(header.content) and "following" not in plain(header.content)


def test_targets_and_errors(runs, tmp_path):
    assert resolve_target(runs["success"].parent, follow=True) == runs["crashed"]  # the newest run
    assert resolve_target(runs["success"].parent, follow=False) == runs["success"].parent
    with pytest.raises(NotARunError, match="does not exist"):
        resolve_target(tmp_path / "nope", follow=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotARunError, match="no run folder to follow"):
        resolve_target(tmp_path / "empty", follow=True)
    result = CliRunner().invoke(cli, ["view", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


async def test_a_corrupt_screenshot_is_a_note_not_a_crash(runs):
    (runs["success"] / "step_0001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    app = viewer(runs["success"])
    async with app.run_test(size=SIZE) as pilot:
        await open_run_screen(pilot, 3)
        await pilot.press("j")
        message = app.screen.query_one("#shot-message")
        await wait_until(pilot, lambda: "unreadable" in str(message.content), "the unreadable-screenshot note")
        await pilot.press("j")
        image = app.screen.query_one(HalfBlockImage)
        await wait_until(pilot, lambda: image.display and image.image is not None, "the next screenshot")


async def test_runs_without_checks_show_done_and_gave_up_not_as_failures(tmp_path):
    from rich.text import Text

    from tests.agent.trace.recorded_runs import unchecked_run

    unchecked_run(tmp_path / "runs", "done", hour=13)
    unchecked_run(tmp_path / "runs", "gave_up", hour=14)
    app = viewer(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), "the runs list")
        table = pilot.app.screen.query_one("#runs-table", NavTable)
        await wait_until(pilot, lambda: table.row_count == 2, "two runs listed")
        assert table_column(table, "status") == ["gave_up", "done"]
        cells = [table.get_row_at(row)[2] for row in range(2)]
        assert all(isinstance(cell, Text) and "red" not in str(cell.style) for cell in cells)
