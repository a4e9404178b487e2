"""The run screen: the step table, and the highlighted step's screenshot and details."""
from __future__ import annotations

import tempfile
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from agent.trace import LoadedRun, StepRecord, read_run
from agent.trace.damage import clip, is_file, screenshot_file
from agent.trace.drawing import load_annotated
from agent.trace.summary import model_ms, step_status, step_summary
from agent.viewer.follow import RunFollower
from agent.viewer.nav_table import NavTable
from agent.viewer.opener import open_in_viewer
from agent.viewer.screenshot import Renderer, ScreenshotPanel
from agent.viewer.step_detail import page_count, run_header, run_problems, step_detail


class RunScreen(Screen):
    """One run: steps on the left, the highlighted step on the right; follows the run if asked."""

    BINDINGS = [
        Binding("e", "next_error", "Next error"),
        Binding("o", "open_screenshot", "Open image"),
        Binding("right_square_bracket", "output_page(1)", "Next output page", show=False),
        Binding("left_square_bracket", "output_page(-1)", "Previous output page", show=False),
        Binding("escape", "app.back", "Back"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, run_dir: Path, *, follow: bool = False, renderer: Renderer = "halfblock", poll_interval: float = 0.5):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.follower = RunFollower(self.run_dir) if follow else None
        self.run = self.follower.run if self.follower else LoadedRun(path=self.run_dir)
        self.renderer = renderer
        self.poll_interval = poll_interval
        self._timer = None
        self._poll_worker = None
        self._shown: tuple[int, int] | None = None  # (step index, output page) in the detail pane

    def compose(self) -> ComposeResult:
        """Header, run info (checks, damage), the step table and the detail pane."""
        yield Static("", id="run-header")
        yield Static("", id="run-info")
        with Horizontal(id="run-body"):
            yield NavTable(id="steps-table")
            with Vertical(id="detail"):
                yield ScreenshotPanel(self.renderer, id="shot")
                with VerticalScroll(id="detail-scroll"):
                    yield Static("", id="step-detail")
        yield Footer()

    def on_mount(self) -> None:
        """Set up the step table, then read the run (once, or repeatedly when following)."""
        table = self.query_one(NavTable)
        table.add_column("step", key="step")
        table.add_column("action", key="action")
        table.add_column("status", key="status")
        table.add_column("model ms", key="model")
        table.focus()
        if self.follower:
            self._tick()
            self._timer = self.set_interval(self.poll_interval, self._tick)
        else:
            self.load()

    @property
    def following(self) -> bool:
        """True while the run is being followed and has not ended."""
        return self.follower is not None and not self.follower.finished

    @work(thread=True, exclusive=True, group="load-run")
    def load(self) -> None:
        """Read the whole run in a worker thread."""
        run = read_run(self.run_dir)
        self.app.call_from_thread(self._show_loaded, run)

    def _show_loaded(self, run: LoadedRun) -> None:
        self.run = run
        self._add_steps(run.steps)
        self._refresh_run_info()

    def _tick(self) -> None:
        # One poll at a time: two threads reading the same offset would duplicate steps.
        if self._poll_worker is None or self._poll_worker.is_finished:
            self._poll_worker = self.poll()

    @work(thread=True, group="follow")
    def poll(self) -> None:
        """Read what was appended since the last poll (worker thread)."""
        if self.follower is None or self.follower.finished:
            return
        update = self.follower.poll()
        self.app.call_from_thread(self._apply_update, update.new_steps, update.finished)

    def _apply_update(self, new_steps: list[StepRecord], finished: bool) -> None:
        table = self.query_one(NavTable)
        at_end = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        self._add_steps(new_steps)
        if new_steps and at_end:  # tail the run unless the person moved up to read
            table.move_cursor(row=table.row_count - 1)
        self._refresh_run_info()
        if finished:
            if self._timer is not None:
                self._timer.stop()
            self.notify(f"Run ended: {self.run.status}", title=self.run_dir.name)

    def _add_steps(self, steps: list[StepRecord]) -> None:
        table = self.query_one(NavTable)
        for step in steps:
            index = table.row_count
            status = step_status(step)
            table.add_row(
                Text(str(step.step), justify="right"),
                step_summary(step),
                Text(status, style="red" if step.error else "green"),
                Text(f"{model_ms(step):.0f}" if model_ms(step) is not None else "-", justify="right"),
                key=str(index),
            )
        if steps and table.row_count == len(steps):
            self.show_step(0)

    def _refresh_run_info(self) -> None:
        header = run_header(self.run)
        if self.following:
            header.append("   ● following", style="bold cyan")
        self.query_one("#run-header", Static).update(header)
        self.query_one("#run-info", Static).update(run_problems(self.run))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the step under the cursor."""
        if event.row_key is not None and event.row_key.value is not None:
            self.show_step(int(event.row_key.value))

    def show_step(self, index: int) -> None:
        """Fill the detail pane for step `index` and render its screenshot in a worker."""
        if not 0 <= index < len(self.run.steps):
            return
        step = self.run.steps[index]
        self._shown = (index, 0)
        self.query_one("#step-detail", Static).update(step_detail(step, self.run.problems))
        self.render_screenshot(index)

    def action_output_page(self, delta: int) -> None:
        """Show the next (1) or previous (-1) page of a long model output."""
        if self._shown is None:
            return
        index, page = self._shown
        step = self.run.steps[index]
        page = min(max(page + delta, 0), page_count(step.model_output) - 1)
        if (index, page) != self._shown:
            self._shown = (index, page)
            self.query_one("#step-detail", Static).update(step_detail(step, self.run.problems, page))
            self.query_one("#detail-scroll").scroll_home(animate=False)

    @work(thread=True, exclusive=True, group="screenshot")
    def render_screenshot(self, index: int) -> None:
        """Load and annotate the screenshot off the UI thread; drop it if another step was chosen."""
        step = self.run.steps[index]
        geometry = self.run.meta.geometry if self.run.meta else None
        image = load_annotated(self.run_dir, self.run.steps, index, geometry, for_terminal=True)
        message = "" if image else _missing_message(self.run_dir, step)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_screenshot, index, image, message)

    def _show_screenshot(self, index: int, image, message: str) -> None:
        if index == self.current_index():  # a slower, older render must not replace a newer one
            self.query_one(ScreenshotPanel).show(index, image, message)

    def current_index(self) -> int | None:
        """Index (into the run's steps) of the highlighted row."""
        table = self.query_one(NavTable)
        return table.cursor_row if table.row_count else None

    def action_next_error(self) -> None:
        """Move to the next step with an error, wrapping around at the end."""
        steps = self.run.steps[: self.query_one(NavTable).row_count]  # only steps already listed
        start = self.current_index() or 0
        order = list(range(start + 1, len(steps))) + list(range(0, start + 1))
        for index in order:
            if steps[index].error:
                self.query_one(NavTable).move_cursor(row=index)
                return
        self.notify("No step has an error.")

    def action_open_screenshot(self) -> None:
        """Open the highlighted step's screenshot, action drawn, in the system image viewer."""
        index = self.current_index()
        if index is None:
            self.notify("No step to open.", severity="warning")
            return
        geometry = self.run.meta.geometry if self.run.meta else None
        image = load_annotated(self.run_dir, self.run.steps, index, geometry)
        if image is None:
            self.notify(_missing_message(self.run_dir, self.run.steps[index]), severity="warning")
            return
        target = Path(tempfile.gettempdir()) / "agent-view" / f"{self.run_dir.name}-step_{index:04d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
        error = open_in_viewer(target)
        if error:
            self.notify(error, severity="warning", title="Open image")
        else:
            self.notify(f"Opened {target.name}")


def _missing_message(run_dir: Path, step: StepRecord) -> str:
    if not step.screenshot:
        return "⚠ this step recorded no screenshot"
    if screenshot_file(run_dir, step.screenshot) is None:
        return "⚠ the screenshot path points outside the run folder; not shown"
    if not is_file(run_dir / step.screenshot):
        return f"⚠ screenshot {clip(step.screenshot)} is missing"
    return f"⚠ screenshot {clip(step.screenshot)} is unreadable (or too large to show)"
