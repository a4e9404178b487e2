"""What a trace reader must not trust: screenshot paths, screen sizes, and whether the writer lives.

A run folder may come from someone else or from a run that was killed. The reader (agent.trace)
uses these helpers to keep every read inside the run folder, to drop a geometry that would divide
by zero, and to tell a run that is still being written from one whose writer died.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

WriterState = Literal["alive", "gone", "unknown"]
MAX_SHOWN_CHARS = 200


def clip(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """Text for a problem line: at most `limit` characters (a damaged file may hold megabytes)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def screenshot_file(run_dir: Path, name: str | None) -> Path | None:
    """The screenshot's path when `name` names a file inside run_dir; None for anything else.

    Absolute paths, `..` and symlinks that lead out of the run folder are refused, so a report or
    the viewer never embeds or shows a file from elsewhere on the machine.
    """
    if not name or "\x00" in name:
        return None
    root = Path(run_dir)
    try:
        resolved = (root / name).resolve()
        inside = resolved.is_relative_to(root.resolve()) and resolved != root.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name too long for the OS
        return None
    return resolved if inside else None


def is_file(path: Path) -> bool:
    """Path.is_file that answers False instead of raising (a name too long, a bad byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def checked_geometry(meta: Any, problems: list[str]) -> Any:
    """meta with a geometry that has a zero or negative size removed (and reported), else as is."""
    geometry = getattr(meta, "geometry", None)
    if geometry is None:
        return meta
    sizes = {name: getattr(geometry, name) for name in
             ("screenshot_width", "screenshot_height", "logical_width", "logical_height")}
    bad = {name: value for name, value in sizes.items() if value <= 0}
    if bad:
        shown = ", ".join(f"{name} {value}" for name, value in bad.items())
        problems.append(f"meta.json: screen geometry is damaged ({shown}); actions are drawn without it")
        meta.geometry = None
    return meta


def _process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc), None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) is in parentheses and may hold spaces.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def writer_identity() -> dict[str, Any]:
    """The RunMeta fields that identify this process as the run's writer."""
    pid = os.getpid()
    return {"writer_pid": pid, "writer_host": socket.gethostname(), "writer_started": _process_start_ticks(pid)}


def writer_state(meta: Any) -> WriterState:
    """Whether the process that writes this run still exists (checked only on the writer's host)."""
    pid = getattr(meta, "writer_pid", None)
    if not isinstance(pid, int) or pid <= 0 or getattr(meta, "writer_host", None) != socket.gethostname():
        return "unknown"
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass  # it exists, owned by someone else
    except (OverflowError, OSError):
        return "unknown"  # not a pid this system can have
    started = getattr(meta, "writer_started", None)
    if started is not None and _process_start_ticks(pid) not in (None, started):
        return "gone"  # the pid was reused by a newer process
    return "alive"
