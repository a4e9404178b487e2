"""One run from the command line: task → desktop → policy → loop → checks → result.json."""
from __future__ import annotations

import contextlib
import os
import platform
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from agent.policies.base import Policy, PolicyUnavailable
from agent.trace import GeometryRecord, RunMeta, RunResult, StepRecord, TraceWriter, new_run_id, now_iso, read_run

Echo = Callable[[str], None]


@dataclass
class RunOptions:
    """Everything `agent run` / `agent replay` can be told."""

    task_file: Path
    policy: str = "local"
    model: str = "Qwen/Qwen3-VL-2B-Instruct"
    device: str = "auto"
    dtype: str = "auto"
    max_pixels: int = 1280 * 800
    history_images: int = 3
    max_new_tokens: int = 512
    recording: Path | None = None
    runs_dir: Path = Path("runs")
    max_steps: int | None = None
    live: bool = False
    yes: bool = False
    tui: bool = False


class RunSetupError(RuntimeError):
    """Something the person must fix before a run can start; the message says what."""


def task_file_of_run(run_dir: Path) -> Path:
    """The task file a recorded run was started from (for `agent replay`)."""
    run = read_run(run_dir)
    if run.meta is None or not run.meta.task_file:
        raise SystemExit(f"error: {run_dir}: meta.json is missing or names no task_file; cannot replay")
    return Path(run.meta.task_file)


def build_policy(options: RunOptions, task) -> Policy:
    """The policy the options name; PolicyUnavailable with alternatives when it cannot start."""
    from agent.policies.replay import ReplayPolicy
    from agent.policies.scripted import ScriptedPolicy

    if options.policy == "scripted":
        if not task.reference:
            raise PolicyUnavailable(f"{options.task_file}: the task has no reference solution for --policy scripted")
        return ScriptedPolicy(task.reference)
    if options.policy == "replay":
        if options.recording is None:
            raise PolicyUnavailable("--policy replay needs --recording RUN_DIR (a folder under runs/)")
        return ReplayPolicy(options.recording)
    if options.policy == "local":
        from agent.policies.local import LocalPolicy

        return LocalPolicy(model=options.model, device=options.device, dtype=options.dtype,
                           max_pixels=options.max_pixels, history_images=options.history_images,
                           max_new_tokens=options.max_new_tokens)
    raise PolicyUnavailable(f"unknown policy {options.policy!r}; choose local, scripted or replay")


@contextlib.contextmanager
def open_desktop(task, options: RunOptions, echo: Echo) -> Iterator[tuple[dict[str, str], Path]]:
    """A sandbox for the task, or the person's own display with --live; yields (env, workdir)."""
    if options.live:
        from agent.display import DisplayError, live_display_env

        try:
            env = live_display_env()
        except DisplayError as exc:
            raise RunSetupError(str(exc)) from exc
        workdir = Path.cwd()
        echo(f"live desktop {env['DISPLAY']}: FAILSAFE on (move the mouse to a corner to stop)")
        yield env, workdir
        return
    from agent.display import DisplayError
    from agent.sandbox import Sandbox, SandboxError

    echo(f"starting sandbox ({task.sandbox.width}x{task.sandbox.height}) …")
    box = Sandbox(task.sandbox)
    try:
        box.start()  # tears down whatever it started if it fails
    except (SandboxError, DisplayError) as exc:
        raise RunSetupError(f"{options.task_file}: the sandbox did not start: {exc}") from exc
    try:
        echo(f"sandbox ready on {box.display}")
        yield box.env, box.workdir
    finally:
        box.close()


@contextlib.contextmanager
def abort_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so teardown and result.json still happen."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _versions() -> dict[str, str]:
    from importlib import metadata

    found = {"python": platform.python_version()}
    for name in ("qwen-desktop-agent", "torch", "transformers"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def _status(outcome, checks_passed: bool) -> str:
    if outcome.reason in ("aborted", "error"):
        return outcome.reason
    if outcome.reason == "max_steps":
        return "max_steps"
    return "success" if checks_passed else "failure"


def _step_line(record: StepRecord) -> str:
    """One progress line per step: what was done (screen pixels) and any error."""
    from agent.viewer.summary import step_summary  # plain text helpers, no Textual import

    error = f"  ✗ {record.error.kind}: {record.error.message}" if record.error else ""
    return f"step {record.step:>3}  {step_summary(record)}  (model {record.timings_ms.get('model', 0):.0f} ms){error}"


def execute_run(options: RunOptions, task, policy: Policy, abort: threading.Event,
                echo: Echo, on_run_dir: Callable[[Path], None] | None = None) -> RunResult:
    """Open the desktop, run the loop, check, and write result.json; returns the result."""
    from actions.pyautogui_executor import PyAutoGUIExecutor
    from agent.checks import run_checks
    from agent.loop import LoopConfig, LoopOutcome, run_loop
    from agent.screen import CaptureError, Screen

    started = time.monotonic()
    max_steps = options.max_steps or task.max_steps
    with open_desktop(task, options, echo) as (env, workdir):
        os.environ.update({k: env[k] for k in ("DISPLAY", "XAUTHORITY") if k in env})
        try:
            screen = Screen(env["DISPLAY"])
            _, geometry = screen.capture()
        except CaptureError as exc:
            raise RunSetupError(str(exc)) from exc
        meta = RunMeta(
            run_id=new_run_id(task.id), task_id=task.id, task_file=str(options.task_file),
            instruction=task.instruction, policy=policy.name,
            model=options.model if options.policy == "local" else None,
            geometry=GeometryRecord(**geometry.model_dump()), live=options.live,
            max_steps=max_steps, versions=_versions(), started_at=now_iso(),
        )
        trace = TraceWriter(options.runs_dir, meta)
        echo(f"run {meta.run_id}: {task.instruction}")
        if on_run_dir:
            on_run_dir(trace.dir)
        try:
            executor = PyAutoGUIExecutor(display=env["DISPLAY"], failsafe=options.live)
            config = LoopConfig(max_steps=max_steps, settle_s=task.settle_s, failsafe=options.live)
            outcome = run_loop(policy, screen, executor, trace, task.instruction, config, abort,
                               on_step=lambda r: echo(_step_line(r)))
        except Exception as exc:  # a crash still gets a result.json that says why
            outcome = LoopOutcome("error", trace.count, f"{type(exc).__name__}: {exc}")
        passed, checks = run_checks(task.checks, env, workdir)
        result = RunResult(status=_status(outcome, passed), checks=checks, steps=trace.count,
                           duration_s=round(time.monotonic() - started, 2), ended_at=now_iso(),
                           message=outcome.message)
        trace.finish(result)
        screen.close()
    for check in checks:
        echo(f"check {'✓' if check.passed else '✗'} {check.name}: {check.detail}")
    echo(f"{result.status}: {result.steps} steps in {result.duration_s:.1f}s ({result.message}) → {trace.dir}")
    return result


def _load(options: RunOptions):
    from agent.tasks import TaskError, load_task

    try:
        return load_task(options.task_file)
    except TaskError as exc:
        raise RunSetupError(str(exc)) from exc


def _confirm_live(options: RunOptions) -> None:
    if not options.live or options.yes:
        return
    if not sys.stdin.isatty():
        raise RunSetupError("--live drives your real mouse and keyboard; pass --yes to confirm non-interactively")
    import typer

    if not typer.confirm("--live will move your mouse and type on this display. Continue?", default=False):
        raise RunSetupError("live run cancelled")


def run_from_cli(options: RunOptions) -> int:
    """`agent run`: exit 0 on success, 1 on any other verdict, 2 when the run could not start."""
    echo: Echo = lambda line: print(line, file=sys.stderr, flush=True)
    try:
        task = _load(options)
        _confirm_live(options)
        policy = build_policy(options, task)
    except (RunSetupError, PolicyUnavailable) as exc:
        echo(f"error: {exc}")
        return 2
    try:
        if options.tui:
            from agent.viewer.app import run_with_viewer

            quiet: Echo = lambda line: None
            return run_with_viewer(
                lambda abort, on_dir: _exit_code(execute_run(options, task, policy, abort, quiet, on_dir)))
        with abort_on_signals():
            return _exit_code(execute_run(options, task, policy, threading.Event(), echo))
    except RunSetupError as exc:
        echo(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        echo("aborted before the run started")
        return 130
    finally:
        policy.close()


def _exit_code(result: RunResult) -> int:
    return 0 if result.status == "success" else 1
