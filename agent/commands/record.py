"""`agent record TASK_OR_INSTRUCTION`: record a person doing the task, write the reference, replay it.

The talking part: what to record (a task file, or an instruction with `--app` programs), where the task
file goes, the lines that tell the person how to stop, and the replay with the scripted policy that says
whether the recorded solution passes the checks. Exit status: 0 the replay passed (or, for a task
without checks, ended done), 1 it did not, 2 the recording could not start, 130 cancelled (Ctrl-C, or
the window closed) with nothing written.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from agent.commands.run import exit_code, stderr_echo
from agent.desktop import sandbox_for
from agent.errors import InstructionError, RecordError
from agent.policies.scripted import ScriptedPolicy
from agent.record import Recording, host_display_env, normalize_chord, save_demonstration
from agent.run import check_runs_dir, reserve_run_dir, run_task
from agent.settings import RunSettings
from agent.tasks import Task, instruction_or_file, instruction_task, load_task


def record_command(target: str, apps: list[str], out: Path | None, runs_dir: Path, stop_key: str,
                   replay: bool = True, button: bool = True) -> int:
    """Check everything, record until the person stops, save, then replay."""
    try:
        stop = normalize_chord(stop_key)
    except ValueError as exc:
        raise RecordError(f"--stop-key: {exc}") from None
    task, source_text, out = what_to_record(target, apps, out)
    host_env = host_display_env()
    check_runs_dir(runs_dir, create=False)
    run_dir = Path(runs_dir) / reserve_run_dir(runs_dir, f"{task.id}-record")
    started = datetime.now(timezone.utc)
    try:
        stderr_echo(f"starting the task's desktop in a window on {host_env['DISPLAY']} …")
        with Recording(task, host_env, stop, button=button) as recording:
            stderr_echo(f"recording {task.id}: do the task in the window “{recording.title}”; when it is done, press "
                        f"{'+'.join(stop)} in it" + (", click Stop recording" if button else "")
                        + (", or press Enter here" if sys.stdin.isatty() else ""))
            reason = recording.wait(enter=sys.stdin.isatty())
            if reason == "lost":
                stderr_echo("cancelled: the recording's window was closed; nothing was written")
                return 130
            demo = recording.finish()
            for note in demo.notes:
                stderr_echo(f"note: {note}")
            saved = save_demonstration(demo, task, source_text, out, recording.sandbox, run_dir, started, stop)
    except KeyboardInterrupt:
        stderr_echo("cancelled: nothing was written")
        return 130
    finally:
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # only while empty: a recording that was not saved
    stderr_echo(f"recorded {len(saved.reference) - 1} actions → reference of {out}; run folder {saved.run_dir}; "
                f"checks on the recording: {saved.status}")
    return replay_recording(out, runs_dir) if replay else (0 if saved.status in ("success", "done") else 1)


def what_to_record(target: str, apps: list[str], out: Path | None) -> tuple[Task, str | None, Path]:
    """(task, its file's text or None for an instruction, the task file to write)."""
    kind, path = instruction_or_file(target)
    if kind == "file":
        if apps:
            raise InstructionError(f"--app is for an instruction; the task file {path} names its own apps")
        task = load_task(path)
        source = path.read_text(encoding="utf-8")
        out = Path(out) if out is not None else path
        if out.exists() and out.resolve() != path.resolve():
            raise RecordError(f"-o {out}: already exists; give a new file name (only the task file itself is "
                              "updated in place)")
    else:
        task = instruction_task(target, apps)
        source = None
        out = Path(out) if out is not None else Path(f"{task.id}.yaml")
        if out.exists():
            raise RecordError(f"-o {out}: already exists; give a new file name for the recorded task")
    if not out.absolute().parent.is_dir():
        raise RecordError(f"-o {out}: its folder {out.absolute().parent} does not exist")
    return task, source, out


def replay_recording(task_file: Path, runs_dir: Path) -> int:
    """Play the new reference with the scripted policy in a fresh sandbox and say whether the checks pass."""
    task = load_task(task_file)
    stderr_echo(f"replaying the recording: agent run {task_file} --policy scripted …")
    result = run_task(task, ScriptedPolicy(task.reference), sandbox_for(task), RunSettings(), runs_dir=runs_dir,
                      abort=threading.Event(), echo=stderr_echo, task_file=task_file)
    verdicts = {"success": "the recorded solution passes the checks",
                "done": f"the task has no checks yet: fill in `checks:` in {task_file}"}
    stderr_echo(f"replay: {result.status}: {verdicts.get(result.status, 'the recorded solution does not pass')}")
    return exit_code(result)
