"""Checks and connections for an X11 display, before anything touches pyautogui."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from actions.errors import DesktopUnavailable

_ENV_LOCK = threading.Lock()


def xauthority_path(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The Xauthority file Xlib will read: the argument, environ's XAUTHORITY, or HOME/.Xauthority.

    environ defaults to this process's environment."""
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if environ.get("XAUTHORITY"):
        return Path(environ["XAUTHORITY"])
    return Path(environ.get("HOME") or Path.home()) / ".Xauthority"


def is_wayland(environ: Mapping[str, str]) -> bool:
    """Whether environ describes a Wayland session (which pyautogui and mss cannot drive)."""
    return environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" or bool(environ.get("WAYLAND_DISPLAY"))


def check_desktop(display: str | None, xauthority: str | None) -> tuple[str, Path]:
    """(display, Xauthority file) for a usable X11 desktop, or DesktopUnavailable saying what is missing.

    A Wayland session only matters for the person's own display: an explicitly named display
    (a sandbox's Xvfb) is X11 whatever the host session is.
    """
    if display is None:
        if is_wayland(os.environ):
            raise DesktopUnavailable(
                "this is a Wayland session; pyautogui and mss drive X11 only "
                "(log in to an X11/Xorg session, or run in the Xvfb sandbox)"
            )
        display = os.environ.get("DISPLAY")
        if not display:
            raise DesktopUnavailable("no X display: DISPLAY is not set (run in the sandbox or on an X11 desktop)")
    auth = xauthority_path(xauthority)
    if not auth.is_file():
        raise DesktopUnavailable(
            f"no Xauthority file at {auth} for display {display}: create one with "
            f"`xauth -f {auth} add {display} . $(mcookie)` and start the server with `-auth {auth}`"
        )
    return display, auth


@contextmanager
def x_environment(display: str, xauthority: Path) -> Iterator[None]:
    """Point DISPLAY/XAUTHORITY at a display for the duration (Xlib and pyautogui read them)."""
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in ("DISPLAY", "XAUTHORITY")}
        os.environ["DISPLAY"], os.environ["XAUTHORITY"] = display, str(xauthority)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def child_environment(display: str, xauthority: Path) -> dict[str, str]:
    """Environment for a helper process (xdotool, xclip) aimed at the display."""
    return {**os.environ, "DISPLAY": display, "XAUTHORITY": str(xauthority)}
