"""The daemons under a sandbox's desktop: Xvfb (or Xephyr), openbox, a private session bus, the wallpaper and panels.

The X server is Xvfb, invisible; a sandbox that a person works in (`agent record`) is nested in their
own display instead: Xephyr is an X server whose screen is a window on that display, so the person
clicks and types into the sandbox directly, and the sandbox stays a real X server of its own (its own
cookie, its own input, the same capture and xdotool as a run).

Each is started through the sandbox's `popen` (its own process group, tied to the sandbox's life,
logging to logs/NAME.log; see agent.desktop.sandbox) and waited for until it is ready: Xvfb until it
reports its display number, openbox until it manages the screen, dbus-daemon until its socket
exists, the panels (tint2) until openbox has shrunk the work area by their struts (so windows opened
next are maximised beside them, not under them). The wallpaper (hsetroot) is set once and its
program exits. Every wait is bounded by DAEMON_START_S and ends as soon as its condition holds. A daemon
that exits or does not get ready raises DaemonError naming it, the load average and the end of its
log; the sandbox turns that into a SandboxError.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NoReturn

from agent.desktop.display import add_cookie, read_display_number
from agent.desktop.look import Dressing
from agent.desktop.reaper import MARKER_VAR
from agent.errors import DaemonError

# Bound on each daemon's start (Xvfb, openbox, session bus); each wait ends once its condition holds.
# Generous: on 2 CPUs at load 8–12 openbox alone has needed over 15 s.
DAEMON_START_S = 60.0

# popen(argv, log, as_app=False, **Popen keywords) -> the started child (Sandbox._popen).
Popen = Callable[..., subprocess.Popen]



@dataclass(frozen=True)
class Nested:
    """Show the sandbox's screen in a window on another display (Xephyr) instead of nowhere (Xvfb)."""

    host_env: dict[str, str]
    """Environment that reaches the host display: DISPLAY and XAUTHORITY (the person's session)."""
    title: str
    """The window's title on the host display."""


def start_xvfb(popen: Popen, env: dict[str, str], logs: Path, width: int, height: int,
               nested: Nested | None = None) -> str:
    """Start Xvfb (or, `nested`, Xephyr in a window on the host display) on a free display, reachable only
    with a fresh cookie in env's XAUTHORITY file; return the display name (e.g. ':3') once the server
    accepts connections."""
    cookie = secrets.token_hex(16)
    authfile = env["XAUTHORITY"]
    # The server loads every cookie in its -auth file regardless of display number, so the
    # cookie is registered before the number is known and re-added for clients afterwards.
    add_cookie(authfile, ":0", cookie, env)
    read_fd, write_fd = os.pipe()
    try:
        common = ["-displayfd", str(write_fd), "-auth", authfile, "-nolisten", "tcp", "-noreset"]
        if nested is None:
            log = logs / "xvfb.log"
            popen(["Xvfb", "-screen", "0", f"{width}x{height}x24", *common], log, pass_fds=(write_fd,))
        else:
            log = logs / "xephyr.log"
            popen(["Xephyr", "-screen", f"{width}x{height}x24", "-title", nested.title, "-no-host-grab", *common],
                  log, pass_fds=(write_fd,), env=_host_env(nested, env))
        os.close(write_fd)
        write_fd = -1
        number = read_display_number(read_fd, timeout=DAEMON_START_S, log=log)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    display = f":{number}"
    add_cookie(authfile, display, cookie, env)
    return display


def _host_env(nested: Nested, env: dict[str, str]) -> dict[str, str]:
    """Xephyr's environment: the host display's, with the sandbox's PATH and marker (so the watchdog's
    sweep stops it too)."""
    return {**nested.host_env, "PATH": env.get("PATH", ""), MARKER_VAR: env.get(MARKER_VAR, "")}


def start_openbox(popen: Popen, env: dict[str, str], logs: Path) -> None:
    """Start openbox as the apps' user; return once it manages the screen of env's DISPLAY."""
    openbox = popen(["openbox", "--sm-disable"], logs / "openbox.log", as_app=True)
    # openbox sets _NET_CURRENT_DESKTOP once it manages the screen; until then this query fails.
    deadline = time.monotonic() + DAEMON_START_S
    while openbox.poll() is None:
        try:
            probe = subprocess.run(["xdotool", "get_desktop"], env=env, capture_output=True, timeout=10)
            if probe.returncode == 0:
                return
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() >= deadline:
            daemon_failed("openbox", f"did not manage the screen within {DAEMON_START_S:g}s", logs / "openbox.log")
        time.sleep(0.1)
    daemon_failed("openbox", f"exited {openbox.returncode} before managing the screen", logs / "openbox.log")


def start_session_bus(popen: Popen, socket: Path, address: str, logs: Path) -> None:
    """Start a dbus-daemon for this desktop only, listening at address (the apps' view of socket);
    return once socket (this process's view) exists."""
    bus = popen(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={address}"],
                logs / "dbus.log", as_app=True)
    deadline = time.monotonic() + DAEMON_START_S
    while not socket.exists():
        if bus.poll() is not None:
            daemon_failed("the session bus (dbus-daemon)", f"exited {bus.returncode}", logs / "dbus.log")
        if time.monotonic() > deadline:
            daemon_failed("the session bus (dbus-daemon)", f"did not open {socket} within {DAEMON_START_S:g}s",
                          logs / "dbus.log")
        time.sleep(0.05)


def start_look(popen: Popen, env: dict[str, str], dressing: Dressing, app_home: Path, logs: Path) -> None:
    """Put up what agent.desktop.look.dress prepared: the wallpaper, the panels, the pointer at rest.

    app_home: the apps' HOME (the dressing's paths are relative to it)."""
    set_wallpaper(popen, app_home / dressing.wallpaper, logs)
    start_panels(popen, env, [app_home / panel for panel in dressing.panels], dressing.work_area, logs)
    if dressing.pointer:
        park_pointer(env, dressing.pointer)


def set_wallpaper(popen: Popen, picture: Path, logs: Path) -> None:
    """Put picture on the root window, scaled to fill it (hsetroot exits once the root shows it)."""
    setter = popen(["hsetroot", "-fill", str(picture)], logs / "wallpaper.log", as_app=True)
    try:
        setter.wait(timeout=DAEMON_START_S)
    except subprocess.TimeoutExpired:
        daemon_failed("the wallpaper (hsetroot)", f"did not finish within {DAEMON_START_S:g}s", logs / "wallpaper.log")
    if setter.returncode != 0:
        daemon_failed("the wallpaper (hsetroot)", f"exited {setter.returncode}", logs / "wallpaper.log")


def start_panels(popen: Popen, env: dict[str, str], configs: list[Path], work_area: tuple[int, int, int, int],
                 logs: Path) -> None:
    """Start one tint2 per config; return once openbox's work area is work_area (x, y, width, height)."""
    panels = [popen(["tint2", "-c", str(config)], logs / f"panel{index}.log", as_app=True)
              for index, config in enumerate(configs)]
    deadline = time.monotonic() + DAEMON_START_S
    while (area := _work_area(env)) != work_area:
        for index, panel in enumerate(panels):
            if panel.poll() is not None:
                daemon_failed("the panel (tint2)", f"exited {panel.returncode}", logs / f"panel{index}.log")
        if time.monotonic() >= deadline:
            daemon_failed("the panel (tint2)", f"left the work area at {area}, not {work_area}, "
                          f"after {DAEMON_START_S:g}s", logs / "panel0.log")
        time.sleep(0.1)


def park_pointer(env: dict[str, str], point: tuple[int, int]) -> None:
    """Move the pointer to point (x, y) on env's display."""
    try:
        subprocess.run(["xdotool", "mousemove", str(point[0]), str(point[1])], env=env, capture_output=True,
                       timeout=10, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        raise DaemonError(f"could not move the pointer to {point}: {exc}") from exc


def _work_area(env: dict[str, str]) -> tuple[int, ...] | None:
    """The first desktop's work area (_NET_WORKAREA: x, y, width, height), or None while unknown."""
    try:
        probe = subprocess.run(["xprop", "-root", "-notype", "_NET_WORKAREA"], env=env, capture_output=True,
                               text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None
    _, _, values = probe.stdout.partition("=")
    try:
        return tuple(int(value) for value in values.split(",")[:4])
    except ValueError:
        return None


def daemon_failed(name: str, what: str, log: Path) -> NoReturn:
    """Raise a DaemonError with the load and the log's end (close() removes an own workdir's logs)."""
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    tail = log.read_text(errors="replace").strip()[-500:] if log.exists() else ""
    raise DaemonError(f"{name} {what} ({load}); {log.name}: {tail or '(empty)'}")
