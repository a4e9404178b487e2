"""Test harness for desktop tests: a private Xvfb (+ openbox) and mousepad windows on it.

Desktop tests use displays :40–:49 only. Effects are read back through the application (the
file mousepad saved, windows that opened, the X server's pointer), never from the executor itself.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DISPLAYS = range(40, 50)
SCREEN = (1280, 800)
# Bound on each start-up wait (server, window manager, first window). The waits end as soon as the
# condition holds, so a generous bound costs nothing on an idle machine and rides out a loaded one.
START_TIMEOUT_S = 60.0
DESKTOP_TOOLS = ("Xvfb", "xauth", "mcookie", "openbox", "xdotool", "wmctrl", "xclip", "mousepad", "import")


def missing_tools() -> list[str]:
    """Programs the desktop tests need that are not installed."""
    return [tool for tool in DESKTOP_TOOLS if shutil.which(tool) is None]


def wait_for(condition, timeout: float = 15.0, interval: float = 0.1):
    """Poll until condition() is truthy; returns its value, or None after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return None


@dataclass
class Desktop:
    """One Xvfb server (optionally with openbox) and the processes started on it."""

    number: int
    xauthority: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def display(self) -> str:
        """':N'."""
        return f":{self.number}"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a process on this display."""
        return {**os.environ, "DISPLAY": self.display, "XAUTHORITY": str(self.xauthority), **extra}

    def run(self, *args: str, timeout: float = 20) -> str:
        """Run a command against the display and return its stdout."""
        done = subprocess.run(args, env=self.env(), capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{args} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        """Start a background process on the display; it is stopped at teardown."""
        process = subprocess.Popen(args, env=self.env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def pointer(self) -> tuple[int, int]:
        """Where the X server says the pointer is."""
        fields = dict(item.split(":") for item in self.run("xdotool", "getmouselocation").split())
        return int(fields["x"]), int(fields["y"])

    def stop(self) -> None:
        """Stop every process started here, newest first (Xvfb last)."""
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_desktop(tmp: Path, window_manager: bool = True, timeout: float = START_TIMEOUT_S) -> Desktop:
    """Xvfb 1280×800×24 with its own Xauthority cookie (and openbox), ready for clients.

    Ready means the display's lock file names our server and it answers a query made with this
    desktop's cookie (the socket file alone appears before the server accepts clients, and may be
    another test run's server) and, with a window manager, that openbox manages the screen. Each
    wait is bounded by `timeout`.
    """
    for number in DISPLAYS:
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        desktop = _start_xvfb(tmp, number, timeout)
        if desktop is None:
            continue  # another run took this number between our check and Xvfb's start
        if window_manager:
            _start_openbox(desktop, timeout)
        return desktop
    raise RuntimeError("displays :40–:49 are all in use")


def _answers(desktop: Desktop, *query: str) -> bool:
    """True when `query` (an xdotool command) succeeds against the display within 10 s."""
    try:
        return subprocess.run(["xdotool", *query], env=desktop.env(), capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _start_xvfb(tmp: Path, number: int, timeout: float) -> Desktop | None:
    """Xvfb on :number, once it answers; None when the server exits at once (the display was taken)."""
    handle, name = tempfile.mkstemp(prefix=f"xauth-{number}-", dir=tmp)  # a fresh file: its cookie is only ours
    os.close(handle)
    auth = Path(name)
    cookie = subprocess.run(["mcookie"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["xauth", "-f", str(auth), "add", f":{number}", ".", cookie], check=True)
    desktop = Desktop(number, auth)
    log = tmp / f"xvfb-{number}.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-auth", str(auth), "-nolisten", "tcp",
             "-noreset"],  # without it, the server resets when its last client leaves: a client then may fail
            stdout=out, stderr=subprocess.STDOUT,
        )
    desktop.processes.append(server)
    def exited_or_ready() -> bool:
        return server.poll() is not None or (_owns_display(server, number) and _answers(desktop, "getdisplaygeometry"))

    if wait_for(exited_or_ready, timeout=timeout):
        if server.poll() is None:
            return desktop
        if "already active" in log.read_text(errors="replace"):
            return None
    what = f"exited {server.returncode}" if server.poll() is not None else f"did not answer within {timeout:g}s"
    desktop.stop()
    raise RuntimeError(f"Xvfb :{number} {what} ({_load()}); its log: {log.read_text(errors='replace').strip()[-500:]}")


def _owns_display(server: subprocess.Popen, number: int) -> bool:
    """True when the display's lock file names this server (not another run's server on that number)."""
    try:
        return int(Path(f"/tmp/.X{number}-lock").read_text().strip()) == server.pid
    except (OSError, ValueError):
        return False


def _start_openbox(desktop: Desktop, timeout: float) -> None:
    """openbox, once it manages the screen (it sets _NET_CURRENT_DESKTOP; until then the query fails)."""
    log = desktop.xauthority.with_name(f"openbox-{desktop.number}.log")
    with open(log, "wb") as out:
        openbox = subprocess.Popen(["openbox"], env=desktop.env(), stdout=out, stderr=subprocess.STDOUT)
    desktop.processes.append(openbox)
    if not wait_for(lambda: openbox.poll() is not None or _answers(desktop, "get_desktop"), timeout=timeout) \
            or openbox.poll() is not None:
        state = "still starting" if openbox.poll() is None else f"exited {openbox.returncode}"
        desktop.stop()
        raise RuntimeError(f"openbox did not manage {desktop.display} within {timeout:g}s ({state}; {_load()}); "
                           f"its log: {log.read_text(errors='replace').strip()[-500:]}")


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def find_window(desktop: Desktop, title: str, timeout: float = START_TIMEOUT_S) -> str:
    """The id of a visible window whose name matches the regex `title`, once one is there.

    Polled instead of `xdotool search --sync`: a search walks the window tree, and a window destroyed
    during the walk (a previous test's app closing) makes that whole search fail with BadWindow.
    """
    def search() -> list[str]:
        try:
            done = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                                  env=desktop.env(), capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            return []
        return done.stdout.split()

    found = wait_for(search, timeout=timeout)
    if not found:
        raise RuntimeError(f"no visible window named like {title!r} on {desktop.display} within {timeout:g}s")
    return found[0]


def window_box(desktop: Desktop, window: str) -> tuple[int, int, int, int]:
    """(x, y, width, height) of a window, from the X server."""
    shape = dict(line.split("=", 1) for line in desktop.run("xdotool", "getwindowgeometry", "--shell", window).split())
    return int(shape["X"]), int(shape["Y"]), int(shape["WIDTH"]), int(shape["HEIGHT"])


def wait_until_drawn(desktop: Desktop, window: str, timeout: float = 60.0) -> None:
    """Wait until the app has painted its window (a GTK 4 window is one flat colour at first)."""
    from agent.desktop import Screen
    from agent.desktop.settle import drawn

    screen = Screen(desktop.display, xauthority=str(desktop.xauthority))
    try:
        if not wait_for(lambda: drawn(screen.capture()[0], window_box(desktop, window)), timeout=timeout):
            raise RuntimeError(f"window {window} on {desktop.display} was not drawn within {timeout:g}s")
    finally:
        screen.close()


class Mousepad:
    """A mousepad window editing one file, maximised, with a throw-away HOME."""

    def __init__(self, desktop: Desktop, path: Path, home: Path):
        self.desktop, self.path = desktop, path
        self.process = desktop.start(
            "mousepad", str(path), HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
            GSETTINGS_BACKEND="memory", NO_AT_BRIDGE="1",
        )
        self.window = find_window(desktop, re.escape(path.name))
        desktop.run("wmctrl", "-i", "-r", hex(int(self.window)), "-b", "add,maximized_vert,maximized_horz")
        if not wait_for(lambda: self._width() >= SCREEN[0] - 10, timeout=START_TIMEOUT_S):
            raise RuntimeError("mousepad's window was not maximised")
        desktop.run("xdotool", "windowactivate", "--sync", self.window)
        time.sleep(0.3)  # the first frame after the resize

    def _width(self) -> int:
        """Current window width, from the X server."""
        geometry = self.desktop.run("xdotool", "getwindowgeometry", "--shell", self.window)
        return int(dict(line.split("=") for line in geometry.split())["WIDTH"])

    def title(self) -> str:
        """The window title; mousepad prefixes '*' while the document has unsaved changes."""
        return self.desktop.run("xdotool", "getwindowname", self.window).strip()

    def saved_text(self) -> str:
        """Save with ctrl+s (sent by xdotool, not the executor) and return the file's content."""
        # Edits (a paste especially) land asynchronously: wait until mousepad reports a change.
        wait_for(lambda: self.title().startswith("*"), timeout=5)
        before = self.path.stat().st_mtime_ns
        self.desktop.run("xdotool", "windowactivate", "--sync", self.window)
        self.desktop.run("xdotool", "key", "--clearmodifiers", "ctrl+s")
        wait_for(lambda: self.path.stat().st_mtime_ns != before and not self.title().startswith("*"), timeout=10)
        return self.path.read_text(encoding="utf-8")

    def close(self) -> None:
        """Stop mousepad without saving."""
        self.process.kill()
        self.process.wait()
