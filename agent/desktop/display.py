"""X11 helpers shared by the sandbox, the checks and `--live`: required tools, window titles, the
live session's environment, and the Xauthority / -displayfd plumbing of a new Xvfb server.

Only X11 is supported: pyautogui and mss cannot see or drive a Wayland session.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from pathlib import Path

from actions.x11.xdisplay import is_wayland, xauthority_path
from agent.errors import DisplayError

# Tools the desktop code calls, with the Debian package that ships each one.
DEBIAN_PACKAGES = {
    "Xvfb": "xvfb",
    "Xephyr": "xserver-xephyr",
    "xauth": "xauth",
    "openbox": "openbox",
    "xdotool": "xdotool",
    "xwininfo": "x11-utils",
    "xprop": "x11-utils",
    "dbus-daemon": "dbus",
    "tint2": "tint2",
    "hsetroot": "hsetroot",
}



def require_tools(*names: str, path: str | None = None) -> None:
    """Raise DisplayError naming the Debian packages of any tool that is not on PATH."""
    missing = [name for name in names if shutil.which(name, path=path) is None]
    if missing:
        packages = " ".join(sorted({DEBIAN_PACKAGES.get(name, name) for name in missing}))
        raise DisplayError(
            f"{', '.join(missing)} not found on PATH; install it with: sudo apt-get install {packages}"
        )


def window_titles(env: dict[str, str], timeout: float = 10.0) -> list[str]:
    """Titles of the visible (mapped and viewable) windows with a non-empty name on env's display."""
    # One search lists the ids, then one call per window reads its title, so a window that closes in
    # between only loses its own entry (a chained `getwindowname %@` would fail as a whole).
    search = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "."],
        env=env, capture_output=True, text=True, timeout=timeout,
    )
    titles = []
    for window_id in search.stdout.split():
        name = subprocess.run(
            ["xdotool", "getwindowname", window_id],
            env=env, capture_output=True, text=True, timeout=timeout,
        )
        if name.returncode == 0 and name.stdout.strip():
            titles.append(name.stdout.rstrip("\n"))
    return titles


def live_display_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Check that the current session is a usable X11 display and return the env to drive it."""
    environ = dict(os.environ if environ is None else environ)
    if is_wayland(environ):
        raise DisplayError(
            "X11 only: this session is Wayland "
            f"(XDG_SESSION_TYPE={environ.get('XDG_SESSION_TYPE', '')!r}, "
            f"WAYLAND_DISPLAY={environ.get('WAYLAND_DISPLAY', '')!r}); pyautogui and mss cannot drive it. "
            "Log in to an X11 session (e.g. 'GNOME on Xorg') or run without --live to use the sandbox."
        )
    if not environ.get("DISPLAY"):
        raise DisplayError("X11 only: DISPLAY is not set, so there is no display to drive; run without --live.")
    authority = xauthority_path(environ=environ)
    if not authority.is_file():
        raise DisplayError(
            f"no X authority file at {authority}: set XAUTHORITY to your session's file "
            "(pyautogui refuses to start without one)"
        )
    environ["XAUTHORITY"] = str(authority)
    _check_connects(environ)
    return environ


def check_connects(environ: dict[str, str]) -> None:
    """DisplayError unless environ's DISPLAY answers (checked with xwininfo when it is installed)."""
    _check_connects(environ)


def _check_connects(environ: dict[str, str]) -> None:
    if shutil.which("xwininfo", path=environ.get("PATH")) is None:
        return  # cannot probe; pyautogui will report a bad display itself
    try:
        probe = subprocess.run(["xwininfo", "-root"], env=environ, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise DisplayError(f"X display {environ['DISPLAY']} did not answer within 10s") from None
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DisplayError(f"cannot connect to X display {environ['DISPLAY']}: {reason}")


def add_cookie(authfile: str, display: str, cookie: str, env: dict[str, str]) -> None:
    """Register an MIT-MAGIC-COOKIE-1 for display in authfile (created if missing)."""
    done = subprocess.run(
        ["xauth", "-q", "-f", authfile, "add", display, "MIT-MAGIC-COOKIE-1", cookie],
        env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise DisplayError(f"xauth could not write {authfile}: {done.stderr.strip()}")


def read_display_number(fd: int, timeout: float, log: Path) -> int:
    """Read the display number Xvfb writes to -displayfd once it accepts connections."""
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            detail = log.read_text(errors="replace").strip()[-500:] if log.exists() else ""
            why = "timed out" if not ready else "exited"
            raise DisplayError(f"Xvfb {why} before reporting a display number; log: {detail}")
        data += chunk
    return int(data.strip())
