"""`agent run` and `agent replay` from the command line: load, confirm, build, then `run_task`.

Everything here is about talking to the person (messages, confirmations, exit codes, signals); the
run itself is `agent.run.run_task`.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from agent.policies.base import PolicyUnavailable
from agent.policies.registry import PolicySettings, build
from agent.run import Echo, Heartbeat, RunSetupError, check_runs_dir, run_task
from agent.settings import RunSettings, SettingsError
from agent.trace.records import RunResult, read_run


@dataclass
class CliRun:
    """What `agent run` / `agent replay` were asked to do."""

    task_file: Path
    policy: PolicySettings
    settings: RunSettings
    runs_dir: Path = Path("runs")
    yes: bool = False
    tui: bool = False
    consent_needed: bool = False  # replay: the task file came from the recording, not from the person


def stderr_echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


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


def _load(task_file: Path):
    from agent.tasks.schema import TaskError, load_task

    try:
        return load_task(task_file)
    except TaskError as exc:
        raise RunSetupError(str(exc)) from exc


def _ask(question: str, refusal: str, yes: bool) -> None:
    """Proceed when --yes was given or the person answers yes; else RunSetupError(refusal)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise RunSetupError(refusal)
    import typer

    if not typer.confirm(question, default=False):
        raise RunSetupError("cancelled")


def _confirm_live(run: CliRun) -> None:
    if run.settings.live:
        _ask("--live will move your mouse and type on this display. Continue?",
             "--live drives your real mouse and keyboard; pass --yes to confirm non-interactively", run.yes)


def _build_policy(run: CliRun, task, echo: Echo):
    if run.policy.name == "local":
        echo(f"loading model {run.policy.model} (device {run.policy.device}, dtype {run.policy.dtype}) …")
    began = time.monotonic()
    policy = build(run.policy, task)
    if run.policy.name == "local":
        echo(f"model ready in {time.monotonic() - began:.1f}s")
    return policy


def _desktop(run: CliRun, task):
    from agent.desktop.base import LiveDesktop, sandbox_for

    return LiveDesktop() if run.settings.live else sandbox_for(task)


def run_from_cli(run: CliRun) -> int:
    """`agent run`: exit 0 on success, 1 on any other verdict, 2 when the run could not start."""
    echo: Echo = stderr_echo
    try:
        task = _load(run.task_file)
        check_runs_dir(run.runs_dir, create=False)
        if run.consent_needed:
            confirm_replay_commands(run, task)
        _confirm_live(run)
        policy = _build_policy(run, task, echo)
    except (RunSetupError, PolicyUnavailable, SettingsError) as exc:
        echo(f"error: {exc}")
        return 2
    try:
        if run.tui:
            return _with_viewer(run, task, policy)
        echo("starting the desktop …" if not run.settings.live else "checking the live desktop …")
        with abort_on_signals():
            result = run_task(task, Heartbeat(policy, echo), _desktop(run, task), run.settings,
                              runs_dir=run.runs_dir, abort=threading.Event(), echo=echo, task_file=run.task_file)
            return _exit_code(result)
    except RunSetupError as exc:
        echo(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        echo("aborted before the run started")
        return 130
    finally:
        policy.close()


def _with_viewer(run: CliRun, task, policy) -> int:
    """--tui: the viewer in the main thread, the run in a worker; SIGTERM/SIGHUP stop the run like Ctrl-C."""
    from agent.viewer.app import run_with_viewer

    requested, finished, holder = threading.Event(), threading.Event(), {"code": 1}

    def stop(signum, frame) -> None:
        if signum == signal.SIGHUP and not requested.is_set():
            threading.Thread(target=_exit_after_hangup, args=(finished, holder), daemon=True).start()
        requested.set()
        if "abort" in holder:
            holder["abort"].set()  # the run stops at its next step; the viewer then closes itself

    def start(abort: threading.Event, on_dir: Callable[[Path], None]) -> int:
        holder["abort"] = abort
        if requested.is_set():
            abort.set()
        try:
            result = run_task(task, policy, _desktop(run, task), run.settings, runs_dir=run.runs_dir,
                              abort=abort, echo=lambda line: None, task_file=run.task_file, on_run_dir=on_dir)
            holder["code"] = _exit_code(result)
            return holder["code"]
        finally:
            finished.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return run_with_viewer(start)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


HANGUP_GRACE_S = 5.0


def _exit_after_hangup(finished: threading.Event, holder: dict) -> None:
    """The terminal is gone (SIGHUP): once the run has ended, leave even if the viewer cannot close.

    Textual blocks for ever writing its closing sequences to a terminal that no longer exists, so
    without this a closed terminal window would leave the process behind after its run ended.
    """
    finished.wait()
    time.sleep(HANGUP_GRACE_S)  # a viewer that can still close normally has done so by now
    os._exit(holder["code"])


def _exit_code(result: RunResult) -> int:
    return 0 if result.status == "success" else 1


# -- agent replay ---------------------------------------------------------------------------------

def replay_task_file(run_dir: Path, task: Path | None) -> tuple[Path, bool]:
    """(task file to replay on, whether the person must consent to its commands).

    The person's own file (--task, or the recorded path when it lies under the current folder and
    outside the folder that holds the recording) needs no consent; a path the recording points at
    anywhere else — inside or beside a received run folder, or outside the current folder — does.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunSetupError(f"{run_dir}: no such run folder")
    if task is not None:
        return Path(task), False
    if not (run_dir / "meta.json").exists() and not (run_dir / "steps.jsonl").exists():
        raise RunSetupError(f"{run_dir} is not a run folder (no meta.json or steps.jsonl); give one run folder, "
                            "e.g. runs/<run-id> (`agent view runs/` lists them)")
    meta = read_run(run_dir).meta
    if meta is None or not meta.task_file:
        raise RunSetupError(f"{run_dir}: meta.json is missing or names no task_file; pass --task FILE to replay it")
    recorded = Path(meta.task_file).resolve()
    if not recorded.is_file():
        raise RunSetupError(f"{run_dir}: the recorded task file {meta.task_file} does not exist here; "
                            "pass --task FILE (your copy of the task)")
    own = recorded.is_relative_to(Path.cwd().resolve()) and not recorded.is_relative_to(run_dir.resolve().parent)
    return recorded, not own


def confirm_replay_commands(run: CliRun, task) -> None:
    """Show the shell commands a recording's task file would run; go on only with consent (or --yes)."""
    commands = [f"  setup: {c}" for c in getattr(task.sandbox, "setup", [])]
    commands += [f"  app:   {a}" for a in getattr(task.sandbox, "apps", [])]
    commands += [f"  check: {getattr(item, 'command')}" for item in task.checks.items if hasattr(item, "command")]
    listing = "\n".join(commands) or "  (none)"
    stderr_echo(f"The recording names the task file {run.task_file}, which is not one of your files here.\n"
                f"Replaying it runs these commands on this machine:\n{listing}")
    _ask("Run them?", f"{run.task_file} comes from the recording and runs the commands above; "
         "pass --yes to accept them, or --task FILE to replay on your own copy of the task", run.yes)


def warn_if_other_task(run_dir: Path, task_file: Path, echo: Echo) -> None:
    """Say so when the recording was made on another task, or on another version of this one."""
    from agent.run import task_fingerprint

    meta = read_run(run_dir).meta
    if meta is None:
        return
    task = _load(task_file)
    _, sha = task_fingerprint(task_file)
    if meta.task_id != task.id:
        echo(f"warning: the recording is of task {meta.task_id!r}, but it is replayed on task {task.id!r}")
    elif meta.task_sha256 and sha and meta.task_sha256 != sha:
        echo(f"warning: {task_file} changed since the recording was made (sha256 differs)")
