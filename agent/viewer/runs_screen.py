"""The runs list: one row per run folder, newest first, sortable by any column."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from agent.trace import list_runs, read_run
from agent.trace.summary import RunSummary, format_duration, format_start, run_summary
from agent.viewer.nav_table import NavTable

# column key → (header, sort key, newest/largest first by default)
COLUMNS: dict[str, tuple[str, Callable[[RunSummary], Any], bool]] = {
    "task": ("task", lambda r: r.task.lower(), False),
    "model": ("model / policy", lambda r: r.model.lower(), False),
    "status": ("status", lambda r: r.status, False),
    "steps": ("steps", lambda r: r.steps, True),
    "duration": ("duration", lambda r: r.duration_s if r.duration_s is not None else -1.0, True),
    "start": ("start (UTC)", lambda r: (r.started_at, r.path.name), True),
}
STATUS_STYLES = {"success": "green", "incomplete": "yellow", "done": "cyan", "gave_up": "cyan"}


def load_summaries(runs_dir: Path) -> list[RunSummary]:
    """Read every run folder below runs_dir (blocking: call from a worker)."""
    return [run_summary(read_run(path)) for path in list_runs(runs_dir)]


class RunsTable(NavTable):
    """The runs table: enter opens the highlighted run (shown in the footer)."""

    BINDINGS = [Binding("enter", "select_cursor", "Open run")]


class RunsScreen(Screen):
    """Lists the runs of a folder; enter opens one."""

    BINDINGS = [
        Binding("escape", "app.back", "Back", show=False),
        Binding("s", "cycle_sort", "Sort"),
        Binding("r", "reverse_sort", "Reverse"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, runs_dir: Path):
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.summaries: list[RunSummary] = []
        self.sort_column = "start"
        self.sort_reverse = True

    def compose(self) -> ComposeResult:
        """Title line, the table and the footer."""
        yield Static(f"runs in {self.runs_dir}", id="runs-title")
        yield RunsTable(id="runs-table")
        yield Static("", id="runs-empty")
        yield Footer()

    def on_mount(self) -> None:
        """Start reading the runs (the table is filled when they arrive)."""
        self.query_one("#runs-empty").display = False
        self.reload()

    def on_screen_resume(self) -> None:
        """Re-read on return from a run: it may have finished meanwhile."""
        if self.summaries:
            self.reload()

    @work(thread=True, exclusive=True, group="load-runs")
    def reload(self) -> None:
        """Read the runs in a worker thread, then fill the table."""
        summaries = load_summaries(self.runs_dir)
        self.app.call_from_thread(self._show, summaries)

    def _show(self, summaries: list[RunSummary]) -> None:
        self.summaries = summaries
        empty = self.query_one("#runs-empty", Static)
        empty.update(f"No runs in {self.runs_dir} (a run folder holds meta.json and steps.jsonl).")
        empty.display = not summaries
        self._fill()

    def _fill(self) -> None:
        # Columns are rebuilt with the rows so the sort arrow lives in a header label DataTable owns.
        table = self.query_one(NavTable)
        keep = self.highlighted_path()
        table.clear(columns=True)
        for key, (header, _, _) in COLUMNS.items():
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
            table.add_column(header + arrow, key=key)
        sort_key = COLUMNS[self.sort_column][1]
        for summary in sorted(self.summaries, key=sort_key, reverse=self.sort_reverse):
            table.add_row(*self._cells(summary), key=str(summary.path))
        if keep is not None and str(keep) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep)))

    def _cells(self, summary: RunSummary) -> list[Any]:
        killed = summary.status == "incomplete" and summary.writer == "gone"
        status = Text(summary.status_label, style="red" if killed else STATUS_STYLES.get(summary.status, "red"))
        return [
            summary.task, summary.model, status, Text(str(summary.steps), justify="right"),
            Text(format_duration(summary.duration_s), justify="right"), format_start(summary.started_at),
        ]

    def highlighted_path(self) -> Path | None:
        """The run under the cursor, if any."""
        table = self.query_one(NavTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return Path(row_key.value) if row_key.value else None

    def sort_by(self, column: str) -> None:
        """Sort by a column; choosing the current column again flips the order."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, COLUMNS[column][2]
        self._fill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it."""
        self.sort_by(str(event.column_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on a row opens it."""
        event.stop()
        self.action_open_run()

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        keys = list(COLUMNS)
        self.sort_by(keys[(keys.index(self.sort_column) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        """Flip the sort order."""
        self.sort_reverse = not self.sort_reverse
        self._fill()

    def action_open_run(self) -> None:
        """Open the highlighted run."""
        path = self.highlighted_path()
        if path is not None:
            self.app.open_run(path)
