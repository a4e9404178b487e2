"""`agent replay RUN_DIR`: play a recorded run's model outputs again in a fresh sandbox.

A task file the recording points at outside the person's own files is shown with the shell commands it
would run, and needs their yes (or --yes) first.
"""
from __future__ import annotations

from pathlib import Path

from agent.commands.run import ask, drive, stderr_echo
from agent.errors import RunSetupError
from agent.run import Echo, check_runs_dir, task_fingerprint
from agent.settings import PolicySettings, RunSettings
from agent.tasks import Task, load_task
from agent.trace import read_run


def replay_command(run_dir: Path, task: Path | None, runs_dir: Path, yes: bool = False) -> int:
    """`agent replay`: find the task file, warn when it differs from the recorded one, ask, then `drive`."""
    task_file, consent_needed = replay_task_file(run_dir, task)
    warn_if_other_task(run_dir, task_file, stderr_echo)
    loaded = load_task(task_file)
    check_runs_dir(runs_dir, create=False)
    if consent_needed:
        confirm_replay_commands(task_file, loaded, yes)
    return drive(loaded, task_file, PolicySettings(name="replay", recording=run_dir), RunSettings(), runs_dir)


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


def confirm_replay_commands(task_file: Path, task: Task, yes: bool) -> None:
    """Show the shell commands a recording's task file would run; go on only with consent (or --yes)."""
    commands = [f"  setup: {c}" for c in getattr(task.sandbox, "setup", [])]
    commands += [f"  app:   {a}" for a in getattr(task.sandbox, "apps", [])]
    commands += [f"  check: {getattr(item, 'command')}" for item in (task.checks.items if task.checks else []) if hasattr(item, "command")]
    listing = "\n".join(commands) or "  (none)"
    stderr_echo(f"The recording names the task file {task_file}, which is not one of your files here.\n"
                f"Replaying it runs these commands on this machine:\n{listing}")
    ask("Run them?", f"{task_file} comes from the recording and runs the commands above; "
        "pass --yes to accept them, or --task FILE to replay on your own copy of the task", yes)


def warn_if_other_task(run_dir: Path, task_file: Path, echo: Echo) -> None:
    """Say so when the recording was made on another task, or on another version of this one."""
    meta = read_run(run_dir).meta
    if meta is None:
        return
    task = load_task(task_file)
    _, sha = task_fingerprint(task_file)
    if meta.task_id != task.id:
        echo(f"warning: the recording is of task {meta.task_id!r}, but it is replayed on task {task.id!r}")
    elif meta.task_sha256 and sha and meta.task_sha256 != sha:
        echo(f"warning: {task_file} changed since the recording was made (sha256 differs)")
