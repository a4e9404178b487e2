"""`agent run TASK`: read the task and the settings, build the policy and the desktop, then `run_task`.

TASK is a task file, or a plain instruction: then the task is ad hoc (agent/tasks/adhoc.py), its desktop
has the `--app` programs (none: an empty one), it has no checks, and the run folder keeps it as task.yaml.

Everything here is talking to the person (progress lines, confirmations, exit codes, signals); the run
itself is `agent.run.run_task`. Exit status: 0 the checks passed, 1 any other verdict, 130 Ctrl-C before
the run started; a UserError (the run could not start) reaches agent/cli.py, which exits 2.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import typer

from agent.desktop import Desktop, LiveDesktop, sandbox_for
from agent.errors import InstructionError, RunSetupError
from agent.policies import Policy, build
from agent.run import Echo, Heartbeat, check_runs_dir, run_task
from agent.settings import PolicySettings, RunSettings
from agent.tasks import Task, instruction_or_file, instruction_task, load_task, task_yaml
from agent.trace import RunResult
from agent.viewer.app import run_with_viewer

HANGUP_GRACE_S = 5.0


def run_command(task_or_instruction: str, policy: PolicySettings, settings: RunSettings, runs_dir: Path,
                yes: bool = False, tui: bool = False, apps: list[str] | None = None) -> int:
    """`agent run`: the task (a file, or an instruction), a confirmation for --live, then `drive`."""
    task, task_file, task_text = task_of(task_or_instruction, apps or [], settings.live)
    check_runs_dir(runs_dir, create=False)
    if settings.live:
        ask("--live will move your mouse and type on this display. Continue?",
            "--live drives your real mouse and keyboard; pass --yes to confirm non-interactively", yes)
    return drive(task, task_file, policy, settings, runs_dir, tui, task_text=task_text)


def task_of(argument: str, apps: list[str], live: bool) -> tuple[Task, Path | None, str | None]:
    """(task, its file, the text to keep in the run folder): a task file as it is, or an instruction as
    an ad-hoc task (no file; its text goes to RUN_DIR/task.yaml)."""
    kind, path = instruction_or_file(argument)
    if kind == "file":
        if apps:
            raise InstructionError(f"--app is for an instruction; the task file {path} names its own apps "
                                   "(sandbox.apps)")
        return load_task(path), path, None
    if apps and live:
        raise InstructionError("--app starts programs in a sandbox; with --live the agent uses your own desktop "
                               "as it is (start the programs yourself)")
    task = instruction_task(argument, apps)
    header = ("An ad-hoc task, written by `agent run INSTRUCTION`: repeat it with `agent run THIS_FILE`.\n"
              "It has no checks; see docs/tasks.md to add them.")
    return task, None, task_yaml(task, header=header)


def drive(task: Task, task_file: Path | None, policy_settings: PolicySettings, settings: RunSettings,
          runs_dir: Path, tui: bool = False, task_text: str | None = None) -> int:
    """Build the policy and the desktop, run, and turn the verdict into an exit status."""
    policy = build_policy(policy_settings, task, stderr_echo)
    desktop = LiveDesktop() if settings.live else sandbox_for(task)
    try:
        if tui:
            return with_viewer(task, policy, desktop, settings, runs_dir, task_file, task_text)
        stderr_echo("starting the desktop …" if not settings.live else "checking the live desktop …")
        with abort_on_signals():
            result = run_task(task, Heartbeat(policy, stderr_echo), desktop, settings, runs_dir=runs_dir,
                              abort=threading.Event(), echo=stderr_echo, task_file=task_file, task_text=task_text)
            return exit_code(result)
    except KeyboardInterrupt:
        stderr_echo("aborted before the run started")
        return 130
    finally:
        policy.close()


def build_policy(settings: PolicySettings, task: Task, echo: Echo) -> Policy:
    """The policy, with a line before and after loading a local model (which takes a while)."""
    if settings.name == "local":
        echo(f"loading model {settings.model} (device {settings.device}, dtype {settings.dtype}) …")
    began = time.monotonic()
    policy = build(settings, task)
    if settings.name == "local":
        echo(f"model ready in {time.monotonic() - began:.1f}s")
    return policy


def stderr_echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ask(question: str, refusal: str, yes: bool) -> None:
    """Proceed when --yes was given or the person answers yes; else RunSetupError(refusal)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise RunSetupError(refusal)
    if not typer.confirm(question, default=False):
        raise RunSetupError("cancelled")


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


def with_viewer(task: Task, policy: Policy, desktop: Desktop, settings: RunSettings, runs_dir: Path,
                task_file: Path | None, task_text: str | None = None) -> int:
    """--tui: the viewer in the main thread, the run in a worker; SIGTERM/SIGHUP stop the run like Ctrl-C."""
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
            result = run_task(task, policy, desktop, settings, runs_dir=runs_dir, abort=abort,
                              echo=lambda line: None, task_file=task_file, on_run_dir=on_dir, task_text=task_text)
            holder["code"] = exit_code(result)
            return holder["code"]
        finally:
            finished.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return run_with_viewer(start)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_after_hangup(finished: threading.Event, holder: dict) -> None:
    """The terminal is gone (SIGHUP): once the run has ended, leave even if the viewer cannot close.

    Textual blocks for ever writing its closing sequences to a terminal that no longer exists, so
    without this a closed terminal window would leave the process behind after its run ended.
    """
    finished.wait()
    time.sleep(HANGUP_GRACE_S)  # a viewer that can still close normally has done so by now
    os._exit(holder["code"])


def exit_code(result: RunResult) -> int:
    """0 when the checks passed (or, for a task without checks, the model said it finished: `done`),
    1 for any other verdict."""
    return 0 if result.status in ("success", "done") else 1
