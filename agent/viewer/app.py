"""`agent view`: the Textual trace viewer, and `agent run --tui`, which shows a run while it happens."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from agent.bench.results import is_bench_dir
from agent.errors import NotARunError, RunSetupError
from agent.trace import is_run_dir, list_runs, read_run
from agent.viewer.bench_screen import BenchScreen
from agent.viewer.run_screen import RunScreen
from agent.viewer.runs_screen import RunsScreen
from agent.viewer.screenshot import Renderer, prepare_renderer

StartRun = Callable[[threading.Event, Callable[[Path], None]], int]
QUIT_CONFIRM_S = 5.0  # a second q within this many seconds stops a running run


class ViewerApp(App):
    """Browse a runs folder, or open (and optionally follow) one run."""

    CSS_PATH = "viewer.tcss"
    TITLE = "agent view"
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, path: Path | None, *, follow: bool = False, renderer: Renderer = "halfblock", poll_interval: float = 0.5):
        super().__init__()
        self.path = Path(path) if path is not None else None
        self.follow = follow
        self.renderer = renderer
        self.poll_interval = poll_interval

    def on_mount(self) -> None:
        """Start on the run when given one, else on the runs list."""
        if self.path is None:
            return
        if is_run_dir(self.path):
            self.open_run(self.path, follow=self.follow)
        elif is_bench_dir(self.path):  # a bench folder opens on its scoreboard
            self.push_screen(BenchScreen(self.path))
        else:
            self.push_screen(RunsScreen(self.path))

    def open_run(self, run_dir: Path, follow: bool = False) -> None:
        """Show one run on top of the current screen."""
        self.push_screen(RunScreen(run_dir, follow=follow, renderer=self.renderer, poll_interval=self.poll_interval))

    def action_back(self) -> None:
        """Go back a screen; a run opened directly goes back to the list of its parent folder."""
        if len(self.screen_stack) > 2:  # the default screen, then ours: something lies underneath
            self.pop_screen()
        elif isinstance(self.screen, RunScreen):
            self.leave_base_run(self.screen.run_dir)

    def leave_base_run(self, run_dir: Path) -> None:
        """Replace a directly opened run by the list of its folder."""
        self.switch_screen(RunsScreen(run_dir.parent))


def resolve_target(path: Path, follow: bool) -> Path:
    """The folder to open: a run, a runs folder, or (with follow) the newest run in a runs folder."""
    path = Path(path)
    if not path.exists():
        raise NotARunError(
            f"{path} does not exist. Runs are written by `agent run` (e.g. `agent run "
            "tasks/open_settings.yaml --policy scripted` writes runs/<run-id>/); "
            "give `agent view` a runs folder or one run folder, or its --runs-dir"
        )
    if is_run_dir(path):
        return path
    if not path.is_dir():
        raise NotARunError(f"{path} is not a folder of runs nor a run folder (no meta.json or steps.jsonl)")
    if follow:
        runs = list_runs(path)
        if not runs:
            raise NotARunError(f"--follow: {path} holds no run folder to follow")
        return runs[0]
    return path


class WaitingScreen(Screen):
    """Shown by the live viewer until the run folder exists."""

    BINDINGS = [Binding("q", "app.quit", "Quit")]

    def compose(self):
        """A single line of text and the footer."""
        yield Static("Starting the run…", id="waiting")
        yield Footer()


class LiveRunApp(ViewerApp):
    """Runs `start` in a worker thread and follows the run folder it reports."""

    def __init__(self, start: StartRun, *, renderer: Renderer = "halfblock", poll_interval: float = 0.5):
        super().__init__(None, follow=True, renderer=renderer, poll_interval=poll_interval)
        self.start = start
        self.abort = threading.Event()
        self.exit_code: int | None = None
        self.error: BaseException | None = None
        self.run_started = threading.Event()  # set when the worker begins
        self.run_done = threading.Event()  # set when `start` has returned or raised
        self.run_dir: Path | None = None  # the run's folder, once `start` has reported it
        self.stopped_by_person = False
        self._quit_asked_at: float | None = None

    def on_mount(self) -> None:
        """Show the waiting screen and start the run."""
        self.push_screen(WaitingScreen())
        self.drive_run()

    def _on_run_dir(self, path: Path) -> None:
        # Called by `start` from the worker thread.
        self.run_dir = Path(path)
        screen = RunScreen(path, follow=True, renderer=self.renderer, poll_interval=self.poll_interval)
        self._call_ui(self.switch_screen, screen)

    def _call_ui(self, callback, *args) -> None:
        # The app may already be closing (ctrl+c): the run must not die because the UI is gone.
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:
            pass

    def drive_run(self) -> None:
        """Run the loop in a thread worker; remember its exit code or exception."""

        def body() -> None:
            """The worker: the whole run, however it ends."""
            self.run_started.set()
            try:
                self.exit_code = self.start(self.abort, self._on_run_dir)
            except BaseException as exc:  # re-raised by run_with_viewer after the app closes
                self.error = exc
                self.exit_code = 1
            finally:
                self.run_done.set()
                self._call_ui(self._run_finished)

        self.run_worker(body, thread=True, exit_on_error=False, group="run", name="agent run")

    def _run_finished(self) -> None:
        if isinstance(self.screen, WaitingScreen):  # it ended before creating its folder
            why = f"it could not start: {self.error}" if self.error is not None else f"exit code {self.exit_code}"
            self.screen.query_one("#waiting", Static).update(
                f"The run ended before writing a trace ({why}). Press q to quit."
            )
        if self.error is not None:
            self.notify(f"The run failed: {_describe_error(self.error)}", severity="error", timeout=30)
        if self.abort.is_set():
            self.exit(self.exit_code)

    async def action_quit(self) -> None:
        """While the run goes on, ask first; a second q stops it, and the app closes when it has."""
        if self.run_done.is_set():
            self.exit(self.exit_code)
            return
        if self.abort.is_set():
            self.notify("Already stopping: the app closes when the current step ends.")
            return
        now = time.monotonic()
        if self._quit_asked_at is None or now - self._quit_asked_at > QUIT_CONFIRM_S:
            self._quit_asked_at = now
            self.notify(f"The run is still going. Press q again within {QUIT_CONFIRM_S:g} s to stop it "
                        "(every finished step stays in its trace).", severity="warning", timeout=QUIT_CONFIRM_S)
            return
        self.stopped_by_person = True
        self.abort.set()
        self.notify("Stopping the run… (the app closes when the current step ends)")

    def leave_base_run(self, run_dir: Path) -> None:
        """Show the list of the run's folder above the live run, which keeps following underneath."""
        self.push_screen(RunsScreen(run_dir.parent))


def run_with_viewer(start: StartRun, *, auto_pilot=None) -> int:
    """`agent run --tui`: run `start(abort_event, on_run_dir)` in a worker while the viewer follows it.

    Returns the run's exit code (re-raises what `start` raised). `auto_pilot` (a Textual autopilot
    coroutine) runs the app headless: tests and scripted demos drive it that way.
    """
    if auto_pilot is None:
        app = LiveRunApp(start, renderer=prepare_renderer("auto"))
        app.run()
    else:
        app = LiveRunApp(start, renderer="halfblock")
        app.run(headless=True, size=(120, 40), auto_pilot=auto_pilot)
    app.abort.set()  # however the app ended, the run must stop
    if app.run_started.is_set():
        app.run_done.wait()
    print(after_words(app), file=sys.stderr, flush=True)
    if app.error is not None:
        raise app.error
    return app.exit_code if app.exit_code is not None else 1


def _describe_error(error: BaseException) -> str:
    """A setup error is the person's to fix: its message; anything else also names its type."""
    if isinstance(error, RunSetupError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def after_words(app: LiveRunApp) -> str:
    """What happened, printed once the screen is back: how the run ended and where its trace is."""
    if app.run_dir is None and app.error is not None:
        return "the run ended before writing a trace"  # the caller says why (the error it re-raises)
    if app.run_dir is None:
        return f"the run ended before writing a trace (exit code {app.exit_code})"
    run = read_run(app.run_dir)
    status = run.status if run.result else "ended without result.json"
    why = "you pressed q" if app.stopped_by_person else (run.result.message if run.result else "")
    return (f"run {app.run_dir.name}: {status} after {len(run.steps)} steps" + (f" ({why})" if why else "")
            + f"\ntrace: {app.run_dir}   browse it: agent view {app.run_dir}")
