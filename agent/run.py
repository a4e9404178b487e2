"""One run as a library call: task + policy + desktop + settings → run folder and RunResult.

The CLI (`agent run`, `agent replay`), `agent bench` and the tests all call `run_task`. It touches no
process-global state: the display and its environment come from the desktop object and are handed to
the screen capture, the executor and the checks explicitly, so runs in several threads each drive
their own desktop.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import threading
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

from actions.x11.pyautogui_executor import PyAutoGUIExecutor
from agent.desktop import Desktop, Screen, start_desktop
from agent.errors import RunSetupError
from agent.loop import LoopConfig, LoopOutcome, run_loop
from agent.policies import Policy, describe
from agent.settings import RunSettings
from agent.tasks import Task, run_checks, write_text_atomic
from agent.trace import GeometryRecord, RunMeta, RunResult, StepRecord, TraceWriter, new_run_id
from agent.trace.records import STATUS_MEANINGS, UNCHECKED_STATUSES
from agent.trace.summary import step_summary

Echo = Callable[[str], None]
TASK_FILE_NAME = "task.yaml"  # the task of a run that had no file of its own, in its run folder

# pyautogui keeps one X connection in module globals; executors swap theirs in per action, so
# building an executor and executing an action take turns across threads (settle waits do not).
_EXECUTOR_LOCK = threading.Lock()



def check_runs_dir(runs_dir: Path, create: bool = True) -> None:
    """Create runs_dir if needed; RunSetupError when it is a file or cannot be created.

    create=False only checks (a run that then fails to start leaves no empty runs folder behind).
    """
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunSetupError(f"--runs-dir {runs_dir} is a file, not a folder: pass a folder for the run folders")
    if not create:
        existing = next(p for p in (runs_dir.absolute(), *runs_dir.absolute().parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise RunSetupError(f"--runs-dir {runs_dir}: cannot create the folder: {existing} is not a writable folder")
        return
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunSetupError(f"--runs-dir {runs_dir}: cannot create the folder: {exc.strerror or exc}") from exc


def reserve_run_dir(runs_dir: Path, task_id: str, attempts: int = 5) -> str:
    """Create an empty, new run folder and return its id; RunSetupError if every id is taken."""
    check_runs_dir(runs_dir)
    for _ in range(attempts):
        run_id = new_run_id(task_id)
        try:
            (Path(runs_dir) / run_id).mkdir()
            return run_id
        except FileExistsError:
            continue
    raise RunSetupError(f"{runs_dir}/{run_id}: a run folder with this id already exists "
                        f"({attempts} tries); remove it or pass another --runs-dir")


def task_fingerprint(task_file: Path | None) -> tuple[str | None, str | None]:
    """(resolved path, sha256 of the bytes) of a task file; (None, None) without one."""
    if task_file is None:
        return None, None
    path = Path(task_file).resolve()
    try:
        return str(path), hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return str(path), None


def versions() -> dict[str, str]:
    """Python and package versions, for meta.json and bench.json."""
    found = {"python": platform.python_version()}
    for name in ("qwen-desktop-agent", "torch", "transformers"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def _status(outcome: LoopOutcome, checked: bool, checks_passed: bool) -> str:
    """The run's verdict; a task without checks ends `done` or `gave_up`, never `success`."""
    if outcome.reason in ("aborted", "error", "max_steps"):
        return outcome.reason
    if not checked:
        finished = outcome.reason == "answer" or outcome.terminate_status == "success"
        return "done" if finished else "gave_up"
    return "success" if checks_passed else "failure"


def step_line(record: StepRecord) -> str:
    """One progress line per step: what was done (screen pixels) and any error."""
    error = f"  ✗ {record.error.kind}: {record.error.message}" if record.error else ""
    return f"step {record.step:>3}  {step_summary(record)}  (model {record.timings_ms.get('model', 0):.0f} ms){error}"


class Heartbeat:
    """Wraps a policy: while one step's call is slow, say every `every_s` seconds that it is still working."""

    def __init__(self, policy: Policy, echo: Echo, every_s: float = 10.0):
        self.policy, self.echo, self.every_s = policy, echo, every_s
        self.name = policy.name

    def start(self, instruction: str) -> None:
        self.policy.start(instruction)

    def next(self, observation, history):
        done = threading.Event()

        def beat() -> None:
            waited = 0.0
            while not done.wait(self.every_s):
                waited += self.every_s
                self.echo(f"step {observation.step:>3}  waiting for the {self.name} policy ({waited:.0f}s) …")

        thread = threading.Thread(target=beat, daemon=True, name="heartbeat")
        thread.start()
        try:
            return self.policy.next(observation, history)
        finally:
            done.set()
            thread.join()

    def describe(self) -> dict:
        return describe(self.policy)

    def close(self) -> None:
        self.policy.close()


class _SerialExecutor:
    """An executor whose actions take turns with every other executor in this process."""

    def __init__(self, display: str, xauthority: str | None, failsafe: bool):
        with _EXECUTOR_LOCK:
            self._inner = PyAutoGUIExecutor(display=display, xauthority=xauthority, failsafe=failsafe)

    def execute(self, action) -> None:
        with _EXECUTOR_LOCK:
            self._inner.execute(action)

    def close(self) -> None:
        with _EXECUTOR_LOCK:
            self._inner.close()


def run_task(task: Task, policy: Policy, desktop: Desktop, settings: RunSettings = RunSettings(), *,
             runs_dir: Path = Path("runs"), abort: threading.Event | None = None, echo: Echo = lambda line: None,
             task_file: Path | None = None, on_run_dir: Callable[[Path], None] | None = None,
             task_text: str | None = None) -> RunResult:
    """Start the desktop, run the loop, check, write result.json, tear down; returns the result.

    `abort` set stops the run at its next step; `echo` gets the progress lines; `on_run_dir` is told the
    run folder as soon as it exists. `task_text`: the task as a file's text, for a task that has no file
    of its own (an instruction): written to RUN_DIR/task.yaml, which meta.json then names. RunSetupError when the run cannot start (runs folder, desktop,
    capture); nothing is left behind then.
    """
    abort = abort or threading.Event()
    runs_dir_is_new = not Path(runs_dir).exists()
    run_id = reserve_run_dir(runs_dir, task.id)
    reserved = Path(runs_dir) / run_id
    try:
        start_desktop(desktop, str(task_file or task.id))
    except BaseException:  # a DesktopError is a RunSetupError
        _unreserve(reserved, runs_dir_is_new)
        raise
    try:
        return _run_on(task, policy, desktop, settings, reserved, abort, echo, task_file, on_run_dir, task_text)
    finally:
        desktop.close()
        _unreserve(reserved, runs_dir_is_new)  # removes only what the run never wrote into


def _unreserve(reserved: Path, runs_dir_is_new: bool) -> None:
    """Remove the empty run folder of a run that never started, and the runs folder made for it."""
    with contextlib.suppress(OSError):
        reserved.rmdir()
        if runs_dir_is_new:
            reserved.parent.rmdir()


def _run_on(task, policy, desktop, settings, run_dir, abort, echo, task_file, on_run_dir, task_text) -> RunResult:
    """The run proper, on a started desktop: meta.json, the loop, the checks, result.json."""
    env = desktop.env
    if settings.live:
        echo(f"live desktop {desktop.display}: FAILSAFE on (move the mouse to a corner to stop)")
    else:
        echo(f"sandbox ready on {desktop.display}")
    screen = Screen(env["DISPLAY"], xauthority=env.get("XAUTHORITY"))
    _, geometry = screen.capture()  # a CaptureError here is a RunSetupError: the run never started
    started = datetime.now(timezone.utc)
    if task_text is not None:
        task_file = run_dir / TASK_FILE_NAME
        write_text_atomic(task_file, task_text)
    resolved, sha = task_fingerprint(task_file)
    described = describe(policy)
    max_steps = settings.max_steps or task.max_steps
    meta = RunMeta(
        run_id=run_dir.name, task_id=task.id, task_file=resolved, task_sha256=sha,
        instruction=task.instruction, policy=policy.name, model=described.get("model"),
        policy_settings=described, geometry=GeometryRecord(**geometry.model_dump()), live=settings.live,
        max_steps=max_steps, versions=versions(), started_at=_iso(started),
    )
    trace = TraceWriter(run_dir.parent, meta, reserved=True)
    echo(f"run {meta.run_id}: {task.instruction}")
    if on_run_dir:
        on_run_dir(trace.dir)
    checks, passed = [], False
    try:
        executor = _SerialExecutor(env["DISPLAY"], env.get("XAUTHORITY"), failsafe=settings.live)
        config = LoopConfig(max_steps=max_steps, settle_s=task.settle_s if settings.settle_s is None
                            else settings.settle_s, failsafe=settings.live)
        outcome = run_loop(policy, screen, executor, trace, task.instruction, config, abort,
                           on_step=lambda record: echo(step_line(record)))
        executor.close()
    except KeyboardInterrupt as exc:
        outcome = LoopOutcome("aborted", trace.count, str(exc) or "interrupted (Ctrl-C)")
    except Exception as exc:  # a crash still gets a result.json that says why
        outcome = LoopOutcome("error", trace.count, f"{type(exc).__name__}: {exc}")
    try:
        if outcome.reason != "aborted" and task.checked:
            passed, checks = run_checks(task.checks, env, desktop.workdir, answer=outcome.answer)
    except KeyboardInterrupt as exc:  # the checks are under the same abort handling as the loop
        outcome = LoopOutcome("aborted", trace.count, f"interrupted during the checks: {exc or 'Ctrl-C'}")
    finally:
        screen.close()
    ended = datetime.now(timezone.utc)
    result = RunResult(status=_status(outcome, task.checked, passed), checks=checks, steps=trace.count,
                       duration_s=round((ended - started).total_seconds(), 3), ended_at=_iso(ended),
                       message=outcome.message)
    trace.finish(result)
    for check in checks:
        echo(f"check {'✓' if check.passed else '✗'} {check.name}: {check.detail}")
    if result.status in UNCHECKED_STATUSES:
        echo(f"the task has no checks: {STATUS_MEANINGS[result.status]} (not a checked success)")
    echo(f"{result.status}: {result.steps} steps in {result.duration_s:.1f}s ({result.message}) → {trace.dir}")
    return result


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
