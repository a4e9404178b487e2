"""X11 helpers shared by the sandbox, the checks and `--live`: window titles and the live session.

Only X11 is supported: pyautogui and mss cannot see or drive a Wayland session.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# Tools the desktop code calls, with the Debian package that ships each one.
DEBIAN_PACKAGES = {
    "Xvfb": "xvfb",
    "xauth": "xauth",
    "openbox": "openbox",
    "xdotool": "xdotool",
    "xwininfo": "x11-utils",
}


class DisplayError(RuntimeError):
    """The display cannot be used; the message says why and what to do."""


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
    # One xdotool call lists the ids, then prints each one's title; a window closing in between only
    # loses its own line.
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


def _is_wayland(environ: dict[str, str]) -> bool:
    return environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" or bool(environ.get("WAYLAND_DISPLAY"))


def _xauthority(environ: dict[str, str]) -> Path:
    if environ.get("XAUTHORITY"):
        return Path(environ["XAUTHORITY"])
    return Path(environ.get("HOME", str(Path.home()))) / ".Xauthority"


def live_display_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Check that the current session is a usable X11 display and return the env to drive it."""
    environ = dict(os.environ if environ is None else environ)
    if _is_wayland(environ):
        raise DisplayError(
            "X11 only: this session is Wayland "
            f"(XDG_SESSION_TYPE={environ.get('XDG_SESSION_TYPE', '')!r}, "
            f"WAYLAND_DISPLAY={environ.get('WAYLAND_DISPLAY', '')!r}); pyautogui and mss cannot drive it. "
            "Log in to an X11 session (e.g. 'GNOME on Xorg') or run without --live to use the sandbox."
        )
    if not environ.get("DISPLAY"):
        raise DisplayError("X11 only: DISPLAY is not set, so there is no display to drive; run without --live.")
    authority = _xauthority(environ)
    if not authority.is_file():
        raise DisplayError(
            f"no X authority file at {authority}: set XAUTHORITY to your session's file "
            "(pyautogui refuses to start without one)"
        )
    environ["XAUTHORITY"] = str(authority)
    _check_connects(environ)
    return environ


def _check_connects(environ: dict[str, str]) -> None:
    if shutil.which("xwininfo", path=environ.get("PATH")) is None:
        return  # cannot probe; pyautogui will report a bad display itself
    probe = subprocess.run(
        ["xwininfo", "-root"], env=environ, capture_output=True, text=True, timeout=10
    )
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DisplayError(f"cannot connect to X display {environ['DISPLAY']}: {reason}")
