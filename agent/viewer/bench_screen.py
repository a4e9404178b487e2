"""The bench scoreboard: one row per task, one coloured cell per repeat, pass rate, flakiness, medians.

Sortable by task, pass rate, flakiness and the medians (keys or header clicks); enter on a repeat's cell
opens that run in the run screen, enter on any other cell of the row opens the task's first run.
"""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from agent.bench.results import BenchRecord, read_bench
from agent.bench.scoreboard import (
    SORTS,
    TaskRow,
    cell_detail,
    legend,
    number_text,
    pass_text,
    sorted_rows,
    symbol,
    task_rows,
)
from agent.bench.summary import summary_lines
from agent.errors import BenchError
from agent.viewer.nav_table import NavTable

STATUS_STYLES = {"success": "bold green", "failure": "bold red", "max_steps": "bold magenta", "error": "bold red",
                 "aborted": "yellow", "done": "bold cyan", "gave_up": "cyan"}
# column key → header, for the columns after the repeats (each sorts by the SORTS entry of its key)
TAIL_COLUMNS = {"pass": "pass", "flaky": "flaky", "steps": "median steps", "seconds": "median s"}


def repeat_key(repeat: int) -> str:
    return f"r{repeat}"


def row_cells(row: TaskRow, repeats: list[int]) -> list[object]:
    """The table cells of one task: id, a symbol per repeat, pass, flaky, median steps and seconds."""
    cells: list[object] = [row.task_id]
    for repeat in repeats:
        entry = row.cells.get(repeat)
        style = STATUS_STYLES.get(entry.status, "") if entry is not None else "dim"
        cells.append(Text(symbol(entry), style=style, justify="center"))
    rate_style = "" if row.rate is None else "green" if row.rate == 1 else "red" if row.rate == 0 else "yellow"
    cells += [Text(pass_text(row), style=rate_style, justify="right"),
              Text("flaky" if row.flakiness else "", style="yellow"),
              Text(number_text(row.median_steps), justify="right"),
              Text(number_text(row.median_seconds, 1), justify="right")]
    return cells


class BenchTable(NavTable):
    """The scoreboard: a cell cursor; enter opens the run under it."""

    BINDINGS = [
        Binding("left,h", "cursor_left", "Left", show=False),
        Binding("right,l", "cursor_right", "Right", show=False),
        Binding("enter", "select_cursor", "Open run"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cursor_type = "cell"


class BenchScreen(Screen):
    """A bench folder: the summary above, the task × repeat scoreboard below."""

    BINDINGS = [
        Binding("escape", "app.back", "Back", show=False),
        Binding("t", "sort('task')", "By task"),
        Binding("p", "sort('pass')", "By pass rate"),
        Binding("f", "sort('flaky')", "By flakiness"),
        Binding("s", "cycle_sort", "Next sort"),
        Binding("r", "reverse_sort", "Reverse"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, bench_dir: Path):
        super().__init__()
        self.bench_dir = Path(bench_dir)
        self.rows: list[TaskRow] = []
        self.repeats: list[int] = []
        self.sort_column, self.sort_reverse = "task", False

    def compose(self) -> ComposeResult:
        yield Static(f"bench {self.bench_dir}", id="bench-title")
        yield Static("", id="bench-summary")
        yield BenchTable(id="bench-table")
        yield Static(legend(), id="bench-legend")
        yield Static("", id="bench-cell")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="load-bench")
    def reload(self) -> None:
        """Read bench.json in a worker, then fill the table."""
        try:
            record = read_bench(self.bench_dir)
        except BenchError as exc:
            self.app.call_from_thread(self._show_error, str(exc))
            return
        self.app.call_from_thread(self._show, record)

    def _show_error(self, message: str) -> None:
        self.query_one("#bench-summary", Static).update(Text(message, style="red"))

    def _show(self, record: BenchRecord) -> None:
        self.rows, self.repeats = task_rows(record)
        head = (f"suite {record.suite.get('name')} · policy {record.policy.get('name')}"
                + (f" · model {record.policy.get('model')}" if record.policy.get("name") == "local" else "")
                + (f" · shard {record.shard}" if record.shard else "")
                + ("" if record.complete else " · incomplete"))
        lines = summary_lines(record.summary)
        self.query_one("#bench-summary", Static).update("\n".join([head, *lines[:4]]))
        self._fill()

    def _fill(self) -> None:
        """Rebuild the grid in the current order; the cursor stays on its task and column."""
        table = self.query_one(BenchTable)
        keep = self.cursor_keys()
        table.clear(columns=True)
        headers = {"task": "task", **{repeat_key(r): f"#{r}" for r in self.repeats}, **TAIL_COLUMNS}
        for key, header in headers.items():
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
            table.add_column(header + arrow, key=key)
        for row in sorted_rows(self.rows, self.sort_column, self.sort_reverse):
            table.add_row(*row_cells(row, self.repeats), key=row.task_id)
        if keep is not None and keep[0] in table.rows and keep[1] in table.columns:
            table.move_cursor(row=table.get_row_index(keep[0]), column=table.get_column_index(keep[1]))
        self._describe_cursor()

    def cursor_keys(self) -> tuple[str, str] | None:
        """(task id, column key) under the cursor."""
        table = self.query_one(BenchTable)
        if table.row_count == 0 or not table.columns:
            return None
        row_key, column_key = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value, column_key.value

    def cursor_target(self) -> tuple[TaskRow, int | None] | None:
        """The task under the cursor and the repeat of its cell (None off the repeat columns)."""
        keys = self.cursor_keys()
        row = next((r for r in self.rows if keys and r.task_id == keys[0]), None)
        if row is None:
            return None
        repeat = next((r for r in self.repeats if repeat_key(r) == keys[1]), None)
        return row, repeat

    def _describe_cursor(self) -> None:
        target = self.cursor_target()
        text = "" if target is None else (cell_detail(*target) if target[1] is not None else
                                          f"{target[0].task_id}: enter opens its first run")
        self.query_one("#bench-cell", Static).update(text)

    def sort_by(self, column: str) -> None:
        """Sort by a column; the same column again reverses the order."""
        if column not in SORTS:
            return
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, SORTS[column][1]
        self._fill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        self._describe_cursor()

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_sort(self, column: str) -> None:
        self.sort_by(column)

    def action_cycle_sort(self) -> None:
        keys = list(SORTS)
        self.sort_by(keys[(keys.index(self.sort_column) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._fill()

    def action_open_run(self) -> None:
        """Open the run of the cell under the cursor (the task's first run off the repeat columns)."""
        target = self.cursor_target()
        if target is None:
            return
        row, repeat = target
        entry = row.first_run() if repeat is None else row.cells.get(repeat)
        if entry is None:
            what = f"{row.task_id} #{repeat} has not run yet" if repeat else f"{row.task_id} has no run folder yet"
            self.notify(what, severity="warning")
        elif entry.run_dir is None:
            self.notify(f"{row.task_id} #{entry.repeat} has no run folder: {entry.message}", severity="warning")
        else:
            self.app.open_run(self.bench_dir / entry.run_dir)
