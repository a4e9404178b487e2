"""Processes of a sandbox: tie children to our life, find and kill every one that carries its marker.

Every child gets PR_SET_PDEATHSIG and the sandbox's marker (AGENT_SANDBOX_ID) in its environment; a
watchdog process (`python -I agent/desktop/reaper.py --watchdog MARKER WORKDIR`) holds the read end of a
pipe and, when the owner dies without saying "done", kills every marked process (those that left
their process group, or changed user and so lost PDEATHSIG, included) and removes the workdir.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

MARKER_VAR = "AGENT_SANDBOX_ID"
_PR_SET_PDEATHSIG = 1
_GRACE_S = 3.0


def _pdeathsig_preexec(sig: int) -> Callable[[], None]:
    """preexec_fn: ask the kernel to send `sig` to the child when the parent thread dies."""
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: no dlopen in the child
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def marked_pids(marker: str) -> list[int]:
    """Pids of live processes whose environment carries this sandbox's marker."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue  # gone, or not ours
        if needle in environ.split(b"\0"):
            found.append(int(entry))
    return found


def kill_marked(marker: str, grace_s: float = _GRACE_S) -> None:
    """SIGTERM every marked process, then SIGKILL whatever is left after the grace period."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 1.0)):
        pids = marked_pids(marker)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait_s
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"  # zombies are dead
    except OSError:
        return False


def _watchdog_main(marker: str, workdir: str | None) -> None:
    """Wait for stdin to close; unless the parent said "done", kill the sandbox's processes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    said_done = sys.stdin.read().strip() == "done"
    if not said_done:
        kill_marked(marker)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)  # pid == pgid: every child leads its own group
    except OSError:
        pass


if __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    _watchdog_main(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
