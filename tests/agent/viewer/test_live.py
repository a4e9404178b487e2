"""`agent run --tui`: the run happens in a worker while the viewer follows its folder."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.trace import RunResult, TraceWriter
from agent.viewer.app import QUIT_CONFIRM_S, LiveRunApp, after_words, run_with_viewer
from agent.viewer.run_screen import RunScreen
from tests.agent.trace.recorded_runs import meta, step
from tests.agent.viewer.pilot_helpers import plain, step_rows, wait_until

pytestmark = pytest.mark.anyio


def stepping_run(runs_dir: Path, steps: int = 2, code: int = 3):
    """A fake loop: writes `steps` steps, then waits for the abort and records it."""

    def start(abort: threading.Event, on_run_dir) -> int:
        writer = TraceWriter(runs_dir, meta("20261101-140000-live-abcd", "live", 14))
        on_run_dir(writer.dir)
        for index in range(steps):
            step(writer, index, 14, f"step {index}")
        abort.wait(30)  # the test presses q long before this
        writer.finish(RunResult(status="aborted", steps=steps, duration_s=1.0, ended_at="2026-11-01T14:00:09+00:00",
                                message="aborted by the person"))
        return code

    return start


async def test_live_run_is_followed_and_q_stops_it(tmp_path: Path):
    app = LiveRunApp(stepping_run(tmp_path), poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: step_rows(app) == 2, "both steps")
        assert not app.abort.is_set()
        await pilot.press("q")  # the first q only asks
        assert not app.abort.is_set()
        assert any("Press q again" in n.message for n in app._notifications)
        await pilot.press("q")
        assert app.abort.is_set() and app.stopped_by_person
        await wait_until(pilot, lambda: app.run_done.is_set(), "the run to stop")
        await pilot.pause(0.1)
    assert app.exit_code == 3 and app.return_value == 3
    assert (tmp_path / "20261101-140000-live-abcd" / "result.json").exists()
    words = after_words(app)
    assert "aborted after 2 steps (you pressed q)" in words and "agent view" in words


async def test_a_single_q_long_ago_does_not_count_as_confirmation(tmp_path: Path):
    app = LiveRunApp(stepping_run(tmp_path), poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: step_rows(app) == 2, "both steps")
        await pilot.press("q")
        app._quit_asked_at -= QUIT_CONFIRM_S + 1  # as if the person pressed q a while ago
        await pilot.press("q")
        assert not app.abort.is_set()
        await pilot.press("q")
        assert app.abort.is_set()
        await wait_until(pilot, lambda: app.run_done.is_set(), "the run to stop")


async def test_a_healthy_live_run_reads_running_not_crashed(tmp_path: Path):
    app = LiveRunApp(stepping_run(tmp_path), poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: step_rows(app) == 2, "both steps")
        header = plain(app.screen.query_one("#run-header").content)
        info = plain(app.screen.query_one("#run-info").content)
        assert "status running" in header and "crashed" not in header and "no result.json" not in header
        assert "result.json is missing" not in info
        app.abort.set()
        await wait_until(pilot, lambda: app.run_done.is_set(), "the run to stop")


async def test_a_crashing_run_is_reported_and_kept_for_the_caller(tmp_path: Path):
    def start(abort, on_run_dir) -> int:
        writer = TraceWriter(tmp_path, meta("20261101-150000-live-dcba", "live", 15))
        on_run_dir(writer.dir)
        step(writer, 0, 15, "only")
        raise RuntimeError("sandbox died")

    app = LiveRunApp(start, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.run_done.is_set(), "the run to fail")
        await wait_until(pilot, lambda: any("sandbox died" in n.message for n in app._notifications), "the failure notice")
        assert isinstance(app.screen, RunScreen)  # the partial run stays on screen
        await pilot.press("q")
    assert isinstance(app.error, RuntimeError) and app.exit_code == 1


def test_run_with_viewer_returns_the_exit_code_after_quitting(tmp_path: Path):
    async def quit_when_shown(pilot) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: step_rows(app) == 1, "the step")
        await pilot.press("q", "q")

    assert run_with_viewer(stepping_run(tmp_path, steps=1, code=5), auto_pilot=quit_when_shown) == 5


def test_run_with_viewer_reraises_what_the_run_raised(tmp_path: Path):
    def start(abort, on_run_dir) -> int:
        raise ValueError("bad task file")

    async def quit_at_once(pilot) -> None:
        await wait_until(pilot, lambda: pilot.app.run_done.is_set(), "the run to fail")
        await pilot.press("q")

    with pytest.raises(ValueError, match="bad task file"):
        run_with_viewer(start, auto_pilot=quit_at_once)


async def test_a_run_that_could_not_start_says_why_not_an_exit_code(tmp_path: Path):
    from agent.errors import RunSetupError

    def start(abort, on_run_dir) -> int:
        raise RunSetupError("task.yaml: the desktop did not start: app 'nope' could not be started")

    app = LiveRunApp(start, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.run_done.is_set(), "the run to fail")
        waiting = app.screen.query_one("#waiting")
        await wait_until(pilot, lambda: "could not start: task.yaml: the desktop" in str(waiting.content), "the reason")
        assert "exit code" not in str(waiting.content)
        notices = [n.message for n in app._notifications]
        assert any(m.startswith("The run failed: task.yaml: the desktop") for m in notices), notices
        await pilot.press("q")
    assert after_words(app) == "the run ended before writing a trace"


async def test_a_run_that_ends_before_its_folder_exists_says_so(tmp_path: Path):
    app = LiveRunApp(lambda abort, on_run_dir: 2, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.run_done.is_set(), "the run to end")
        waiting = app.screen.query_one("#waiting")
        await wait_until(pilot, lambda: "exit code 2" in str(waiting.content), "the explanation")
        await pilot.press("q")
    assert app.return_value == 2
