"""A bench folder in the viewer (scoreboard → run screen) and in `agent report` (one page + a page per run)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent.bench.results import BenchRecord, BenchWriter, RunEntry, entry_from_run
from agent.trace import GeometryRecord, RunMeta, RunResult, StepRecord, TraceWriter
from agent.viewer.app import ViewerApp
from agent.viewer.bench_screen import BenchScreen, BenchTable
from tests.helpers import REPO

GEOMETRY = GeometryRecord(screenshot_width=64, screenshot_height=40, logical_width=64, logical_height=40)
OUTPUT = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


def recorded_run(runs_dir: Path, task: str, repeat: int, status: str, steps: int) -> Path:
    meta = RunMeta(run_id=f"20261101-10000{repeat}-{task}", task_id=task, instruction="<b>do</b> it",
                   policy="scripted", geometry=GEOMETRY, max_steps=10, started_at="2026-11-01T10:00:00.000+00:00")
    writer = TraceWriter(runs_dir, meta)
    for index in range(steps):
        Image.new("RGB", (64, 40), (90, 90, 90)).save(writer.screenshot_path(index))
        writer.step(StepRecord(step=index, started_at="t", ended_at="t", screenshot=writer.screenshot_path(index).name,
                               model_output=OUTPUT, counters={"prompt_tokens": 100, "cached_tokens": 75}))
    writer.finish(RunResult(status=status, steps=steps, duration_s=1.5 * steps, ended_at="2026-11-01T10:01:00.000+00:00"))
    return writer.dir


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    out = tmp_path / "bench"
    plan = [("open_settings", 1, "success", 3), ("open_settings", 2, "failure", 5), ("save_note", 1, "success", 2),
            ("save_note", 2, "success", 4)]
    runs = [entry_from_run(task, f"tasks/{task}.yaml", repeat, recorded_run(out / "runs", task, repeat, status, steps), out)
            for task, repeat, status, steps in plan]
    runs.append(RunEntry(task_id="broken", task_file="tasks/broken.yaml", repeat=1, status="error",
                         message="could not start: <script>"))
    planned = [[e.task_id, e.repeat] for e in runs] + [["broken", 2]]  # broken #2 has not run yet
    record = BenchRecord(bench_id="bench", suite={"name": "core"}, policy={"name": "scripted"}, repeats=2,
                         planned=planned, runs=runs, complete=False)
    BenchWriter(out, record).save()
    return out


def test_entries_carry_token_totals_and_the_cached_ratio(bench_dir):
    from agent.bench.results import read_bench

    first = read_bench(bench_dir).runs[0]
    assert first.prompt_tokens == 300 and first.cached_tokens == 225 and first.cached_ratio == 0.75


def grid(table) -> list[list[str]]:
    """The table as plain text, row by row."""
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def tasks(table) -> list[str]:
    return [str(cell) for cell in table.get_column("task")]


def labels(table) -> list[str]:
    return [str(column.label) for column in table.ordered_columns]


def loaded(app) -> bool:
    return isinstance(app.screen, BenchScreen) and app.screen.query_one(BenchTable).row_count == 3


async def until(pilot, condition) -> None:
    for _ in range(250):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the viewer did not get there")


@pytest.mark.anyio
async def test_a_bench_opens_as_a_task_by_repeat_grid_with_rates_flakiness_and_medians(bench_dir):
    app = ViewerApp(bench_dir, renderer="halfblock", poll_interval=0.05)
    async with app.run_test(size=(140, 44)) as pilot:
        await until(pilot, lambda: loaded(app))
        table = app.screen.query_one(BenchTable)
        assert labels(table) == ["task ▲", "#1", "#2", "pass", "flaky", "median steps", "median s"]
        assert grid(table) == [
            ["broken", "!", "·", "0/1 0%", "", "0", "0.0"],
            ["open_settings", "✓", "✗", "1/2 50%", "flaky", "4", "6.0"],
            ["save_note", "✓", "✓", "2/2 100%", "", "3", "4.5"],
        ]
        assert table.get_cell("open_settings", "r2").style == "bold red"
        assert table.get_cell("open_settings", "r1").style == "bold green"
        legend = str(app.screen.query_one("#bench-legend").render())
        assert "✓ success" in legend and "· not run yet" in legend

        await pilot.press("p")  # worst pass rate first
        assert tasks(table) == ["broken", "open_settings", "save_note"] and labels(table)[3] == "pass ▲"
        await pilot.press("p")  # again: reversed
        assert tasks(table) == ["save_note", "open_settings", "broken"] and labels(table)[3] == "pass ▼"
        await pilot.press("f")  # most flaky first, ties by task id
        assert tasks(table) == ["open_settings", "broken", "save_note"] and labels(table)[4] == "flaky ▼"
        x = sum(column.get_render_width(table) for column in table.ordered_columns[:5]) + 2
        await pilot.click(BenchTable, offset=(x, 0))  # the "median steps" header: most steps first
        assert tasks(table) == ["open_settings", "save_note", "broken"] and labels(table)[5] == "median steps ▼"
        await pilot.press("t")
        assert tasks(table) == ["broken", "open_settings", "save_note"]


@pytest.mark.anyio
async def test_a_cell_opens_its_run_and_a_row_opens_its_first_run(bench_dir):
    app = ViewerApp(bench_dir, renderer="halfblock", poll_interval=0.05)
    async with app.run_test(size=(140, 44)) as pilot:
        await until(pilot, lambda: loaded(app))
        screen, table = app.screen, app.screen.query_one(BenchTable)
        detail = screen.query_one("#bench-cell")
        assert table.cursor_coordinate == (0, 0)
        await pilot.press("enter", "l", "enter", "l", "enter")  # broken: no run folder, #1 could not start, #2 not run
        assert app.screen is screen and str(detail.render()) == "broken #2: not run yet"
        await pilot.press("j", "enter")  # open_settings #2
        await until(pilot, lambda: type(app.screen).__name__ == "RunScreen")
        assert app.screen.run_dir == bench_dir / "runs" / "20261101-100002-open_settings"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert screen.cursor_keys() == ("open_settings", "r2")
        assert str(detail.render()).startswith("open_settings #2: failure, 5 steps, 7.5 s")
        await pilot.press("h", "h", "j")
        assert screen.cursor_keys() == ("save_note", "task")
        await pilot.press("enter")  # the row's first run: save_note #1
        await until(pilot, lambda: type(app.screen).__name__ == "RunScreen")
        assert app.screen.run_dir == bench_dir / "runs" / "20261101-100001-save_note"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def html_rows(html: str) -> list[list[str]]:
    """Every table row of a page as the text of its cells."""
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)]


def test_report_of_a_bench_writes_the_task_by_repeat_grid_and_a_page_per_run(bench_dir, tmp_path):
    target = tmp_path / "out" / "bench.html"
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "report", str(bench_dir), "-o", str(target)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    html = target.read_text()
    assert "core" in html and "pass@1" in html and "&lt;script&gt;" in html and "<script>" not in html
    rows = html_rows(html)
    grid_at = rows.index(["task", "#1", "#2", "pass", "flaky", "median steps", "median s"])
    assert rows[grid_at + 1:grid_at + 4] == [
        ["open_settings", "✓", "✗", "1/2 50%", "flaky", "4", "6.0"],
        ["save_note", "✓", "✓", "2/2 100%", "", "3", "4.5"],
        ["broken", "!", "·", "0/1 0%", "", "0", "0.0"],
    ]
    assert ('<td class="cell failure" title="open_settings #2: failure, 5 steps, 7.5 s">'
            '<a href="bench_runs/open_settings-2.html">✗</a>') in html
    assert '<td class="cell not_run" title="broken #2: not run yet">·</td>' in html
    assert '<a href="bench_runs/save_note-1.html">save_note</a>' in html  # a task links to its first run
    failed = [row for row in rows if row[:3] in (["open_settings", "2", "failure"], ["broken", "1", "error"])]
    assert len(failed) == 2 and failed[1][-1] == "could not start: &lt;script&gt;"
    pages = sorted((tmp_path / "out" / "bench_runs").glob("*.html"))
    assert [p.name for p in pages] == ["open_settings-1.html", "open_settings-2.html",
                                       "save_note-1.html", "save_note-2.html"]
    assert all(f'href="bench_runs/{p.name}"' in html for p in pages)
