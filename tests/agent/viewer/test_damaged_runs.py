"""Damaged and hostile run folders: the reader, the viewer and the report show what is readable,
mark the rest, never read a file outside the run folder, and stay responsive on huge outputs."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from agent.report.run_report import render_report, write_report
from agent.trace import read_run
from agent.trace.damage import screenshot_file, writer_identity, writer_state
from agent.trace.drawing import load_annotated
from agent.trace.reader import step_problems
from agent.trace.summary import run_summary, step_summary
from agent.viewer.follow import RunFollower
from agent.viewer.run_screen import RunScreen
from agent.viewer.runs_screen import load_summaries
from agent.viewer.step_detail import PAGE_CHARS, run_header, step_detail
from tests.agent.trace.recorded_runs import success_run, written_by_dead_process
from tests.agent.viewer.pilot_helpers import plain, step_rows, wait_until

HUGE_OUTPUT_CHARS = 20_000_000


def _edit_meta(run_dir: Path, **changes) -> None:
    meta = json.loads((run_dir / "meta.json").read_text())
    meta.update(changes)
    (run_dir / "meta.json").write_text(json.dumps(meta))


def _edit_step(run_dir: Path, index: int, **changes) -> None:
    lines = (run_dir / "steps.jsonl").read_text().splitlines()
    record = json.loads(lines[index])
    record.update(changes)
    lines[index] = json.dumps(record)
    (run_dir / "steps.jsonl").write_text("\n".join(lines) + "\n")


def steps_as_a_folder(run_dir: Path) -> None:
    (run_dir / "steps.jsonl").unlink()
    (run_dir / "steps.jsonl").mkdir()


def zero_screen_width(run_dir: Path) -> None:
    meta = json.loads((run_dir / "meta.json").read_text())
    meta["geometry"]["logical_width"] = 0
    meta["geometry"]["screenshot_width"] = 0
    (run_dir / "meta.json").write_text(json.dumps(meta))


def meta_as_a_folder(run_dir: Path) -> None:
    (run_dir / "meta.json").unlink()
    (run_dir / "meta.json").mkdir()


def garbage_result(run_dir: Path) -> None:
    (run_dir / "result.json").write_bytes(b"\xff\xfe{not json")


def infinite_duration(run_dir: Path) -> None:
    result = json.loads((run_dir / "result.json").read_text())
    (run_dir / "result.json").write_text(json.dumps(result).replace('"duration_s": 6.5', '"duration_s": Infinity'))


def mixed_timezones(run_dir: Path) -> None:
    (run_dir / "result.json").unlink()
    _edit_meta(run_dir, started_at="2026-11-01T10:00:00")  # naive, the steps' times are UTC


DAMAGE = {
    "steps.jsonl is a folder": (steps_as_a_folder, "steps.jsonl is unreadable"),
    "zero screen width": (zero_screen_width, "screen geometry is damaged"),
    "meta.json is a folder": (meta_as_a_folder, "meta.json is unreadable"),
    "garbage result.json": (garbage_result, "result.json is unreadable"),
    "infinite duration": (infinite_duration, None),
    "naive and aware times": (mixed_timezones, None),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_run_is_read_listed_and_reported_with_the_damage_marked(tmp_path, damage):
    runs_dir = tmp_path / "runs"
    good = success_run(runs_dir)
    bad = shutil.copytree(good, runs_dir / "20261102-000000-damaged-dddd")
    spoil, problem = DAMAGE[damage]
    spoil(bad)

    run = read_run(bad)
    if problem:
        assert any(problem in p for p in run.problems), run.problems
    # One damaged run does not take the runs list down with it.
    assert [s.path for s in load_summaries(runs_dir)] == [bad, good]
    html = render_report(run)
    if problem:
        assert problem in html
    for index, step in enumerate(run.steps):
        plain(step_detail(step, run.problems))
        load_annotated(bad, run.steps, index, run.meta.geometry if run.meta else None, for_terminal=True)
    plain(run_header(run))


def test_a_zero_width_geometry_is_dropped_and_the_action_still_drawn(tmp_path):
    run_dir = success_run(tmp_path / "runs")
    zero_screen_width(run_dir)
    run = read_run(run_dir)
    assert run.meta is not None and run.meta.geometry is None and run.meta.task_id == "open_settings"
    image = load_annotated(run_dir, run.steps, 0, run.meta.geometry)
    assert image is not None and image.size == (320, 200)
    follower = RunFollower(run_dir)
    follower.poll()
    assert follower.run.meta.geometry is None and any("geometry" in p for p in follower.run.problems)


@pytest.fixture
def secret(tmp_path) -> Path:
    """A picture outside every run folder that a hostile trace points at."""
    path = tmp_path / "private" / "secret.png"
    path.parent.mkdir()
    Image.new("RGB", (64, 64), (255, 0, 255)).save(path)
    return path


def _outside_names(run_dir: Path, secret: Path) -> dict[str, str]:
    (run_dir / "link.png").symlink_to(secret)
    return {
        "absolute path": str(secret),
        "dot-dot path": os.path.relpath(secret, run_dir),
        "symlink leading out": "link.png",
    }


def test_screenshots_are_read_only_from_inside_the_run_folder(tmp_path, secret):
    run_dir = success_run(tmp_path / "runs")
    for how, name in _outside_names(run_dir, secret).items():
        _edit_step(run_dir, 0, screenshot=name)
        run = read_run(run_dir)
        assert screenshot_file(run_dir, name) is None, how
        assert any("outside the run folder" in p for p in run.problems), how
        assert load_annotated(run_dir, run.steps, 0, run.meta.geometry) is None, how
        html = write_report(run_dir, tmp_path / "report.html").read_text()
        assert "points outside the run folder" in html, how
        assert html.count("data:image/png;base64,") == 2, how  # steps 1 and 2 only
    assert screenshot_file(run_dir, "step_0001.png") == (run_dir / "step_0001.png").resolve()


@pytest.mark.anyio
async def test_a_screenshot_name_too_long_for_the_os_is_reported_not_raised(tmp_path):
    from agent.viewer.app import ViewerApp

    run_dir = success_run(tmp_path / "runs")
    _edit_step(run_dir, 0, screenshot="s" * 5000 + ".png")
    run = read_run(run_dir)
    assert any("is missing" in p and len(p) < 400 for p in run.problems)
    assert "missing or unreadable" in render_report(run)
    app = ViewerApp(run_dir, renderer="halfblock", poll_interval=0.05)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: step_rows(pilot.app) == 3, "3 steps listed")
        await pilot.pause(0.2)
        assert isinstance(pilot.app.screen, RunScreen)


def test_line_separators_inside_a_model_output_do_not_split_its_record(tmp_path):
    run_dir = success_run(tmp_path / "runs")
    output = "one\u2028two\x85three\x1cfour\rfive"
    _edit_step(run_dir, 0, model_output=output)
    lines = (run_dir / "steps.jsonl").read_text().split("\n")
    record = json.loads(lines[0])
    lines[0] = json.dumps(record, ensure_ascii=False)  # as the writer stores it: characters kept raw
    (run_dir / "steps.jsonl").write_text("\n".join(lines))
    run = read_run(run_dir)
    assert [s.step for s in run.steps] == [0, 1, 2] and run.problems == []
    assert run.steps[0].model_output == output
    follower = RunFollower(run_dir)
    follower.poll()
    assert [s.model_output for s in follower.run.steps][0] == output


def test_counters_that_count_things_stay_integers(tmp_path):
    run = read_run(success_run(tmp_path / "runs"))
    counters = run.steps[0].counters
    assert counters["prompt_tokens"] == 1000 and type(counters["prompt_tokens"]) is int
    assert '"prompt_tokens": 1000,' in (run.path / "steps.jsonl").read_text()


def test_a_killed_run_is_told_from_a_running_one(tmp_path):
    run_dir = success_run(tmp_path / "runs")
    (run_dir / "result.json").unlink()
    running = read_run(run_dir)  # written by this very process, which is alive
    assert running.meta.writer_pid == os.getpid() and running.writer == "alive"
    assert run_summary(running).status_label == "running"
    header = plain(run_header(running))
    assert "running" in header and "crashed" not in header and "no result.json" not in header

    written_by_dead_process(run_dir)
    killed = read_run(run_dir)
    assert killed.writer == "gone" and run_summary(killed).status_label == "killed"
    assert "killed" in plain(run_header(killed))

    _edit_meta(run_dir, writer_host="some-other-machine")
    assert read_run(run_dir).writer == "unknown"
    assert run_summary(read_run(run_dir)).status_label == "running?"


def test_a_reused_pid_does_not_make_a_dead_writer_look_alive():
    identity = writer_identity()

    class Meta:
        writer_pid = identity["writer_pid"]
        writer_host = identity["writer_host"]
        writer_started = (identity["writer_started"] or 0) + 12345  # another process, same pid

    assert writer_state(Meta) == "gone"


def _huge_output_run(runs_dir: Path) -> Path:
    run_dir = success_run(runs_dir)
    output = "Thought: " + "all work and no play " * (HUGE_OUTPUT_CHARS // 21)
    _edit_step(run_dir, 0, model_output=output, actions=[{"action": "type", "text": "x" * 100_000}] * 50)
    return run_dir


def test_a_huge_model_output_is_cut_in_the_table_and_report_and_paged_in_the_detail(tmp_path):
    run = read_run(_huge_output_run(tmp_path / "runs"))
    step = run.steps[0]
    assert len(step_summary(step)) < 300
    first = plain(step_detail(step, run.problems))
    assert "page 1 of" in first and len(first) < 3 * PAGE_CHARS
    last = plain(step_detail(step, run.problems, page=10**9))  # clamped to the last page
    assert f"page {-(-len(step.model_output) // PAGE_CHARS)} of" in last
    html = render_report(run)
    assert len(html) < 2_000_000 and "more characters not shown" in html


@pytest.mark.anyio
async def test_the_viewer_stays_responsive_and_pages_a_huge_output(tmp_path):
    from agent.viewer.app import ViewerApp

    run_dir = _huge_output_run(tmp_path / "runs")
    app = ViewerApp(run_dir, renderer="halfblock", poll_interval=0.05)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: step_rows(pilot.app) == 3, "3 steps listed")
        detail = lambda: plain(pilot.app.screen.query_one("#step-detail").content)  # noqa: E731
        await wait_until(pilot, lambda: "page 1 of" in detail(), "the first page of the output")
        await pilot.press("right_square_bracket")
        assert "page 2 of" in detail()
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert "page 1 of" in detail()
        await pilot.press("j")  # another step: its short output, no pages
        await wait_until(pilot, lambda: "page" not in detail() and "model output" in detail(), "step 1")
        assert isinstance(pilot.app.screen, RunScreen)


# Fuzz: random damage to each file of a run; reading, listing, reporting and drawing never raise.
FILES = ["meta.json", "steps.jsonl", "result.json"]
JSON_NOISE = ['{"', "}", "[", "]", ",", ":", "null", "0", "-1", "1e308", "Infinity", "NaN", '"x"', "\n", "a" * 5000,
              "\xff", "\x00", '"geometry"', '"screenshot"', '"../x.png"', '"/etc/passwd"', '"steps"', '"actions"']
edits = st.lists(
    st.tuples(st.sampled_from(FILES), st.integers(min_value=0, max_value=4000),
              st.integers(min_value=0, max_value=20), st.sampled_from(JSON_NOISE)),
    min_size=1, max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits)
def test_randomly_damaged_runs_never_crash_the_reader_or_the_report(tmp_path, edits):
    runs_dir = tmp_path / f"fuzz-{os.urandom(4).hex()}"
    run_dir = success_run(runs_dir)
    for name, at, cut, noise in edits:
        data = (run_dir / name).read_bytes()
        at = at % (len(data) + 1)
        (run_dir / name).write_bytes(data[:at] + noise.encode("utf-8", "surrogatepass") + data[at + cut:])
    run = read_run(run_dir)
    run_summary(run)
    render_report(run)
    plain(run_header(run))
    geometry = run.meta.geometry if run.meta else None
    for index, step in enumerate(run.steps):
        plain(step_detail(step, run.problems))
        step_problems(step, run_dir)
        load_annotated(run_dir, run.steps, index, geometry, for_terminal=True)
    shutil.rmtree(runs_dir)


@pytest.mark.anyio
async def test_the_runs_list_shows_every_damaged_run_and_opens_each(tmp_path):
    from agent.viewer.app import ViewerApp
    from agent.viewer.nav_table import NavTable
    from agent.viewer.runs_screen import RunsScreen

    runs_dir = tmp_path / "runs"
    good = success_run(runs_dir)
    for number, (spoil, _) in enumerate(DAMAGE.values()):
        spoil(shutil.copytree(good, runs_dir / f"20261102-0000{number:02d}-damaged-{number:04d}"))
    app = ViewerApp(runs_dir, renderer="halfblock", poll_interval=0.05)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), "the runs list")
        table = pilot.app.screen.query_one("#runs-table", NavTable)
        await wait_until(pilot, lambda: table.row_count == len(DAMAGE) + 1, "every run listed")
        for row in range(len(DAMAGE) + 1):
            table.move_cursor(row=row)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunScreen), f"run {row} opened")
            await wait_until(pilot, lambda: step_rows(pilot.app) >= 0, f"run {row} composed")
            await pilot.pause(0.1)
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), "back to the list")
