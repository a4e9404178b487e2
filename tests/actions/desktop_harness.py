"""Test harness for desktop tests: a private Xvfb (+ openbox) and mousepad windows on it.

Desktop tests use displays :40–:49 only. Effects are read back through the application (the
file mousepad saved, windows that opened, the X server's pointer), never from the executor itself.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DISPLAYS = range(40, 50)
SCREEN = (1280, 800)
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


def _free_display() -> int:
    for number in DISPLAYS:
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    raise RuntimeError("displays :40–:49 are all in use")


def start_desktop(tmp: Path, window_manager: bool = True) -> Desktop:
    """Xvfb 1280×800×24 with its own Xauthority cookie (and openbox), ready for clients."""
    number = _free_display()
    auth = tmp / f"xauth-{number}"
    auth.touch()
    cookie = subprocess.run(["mcookie"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["xauth", "-f", str(auth), "add", f":{number}", ".", cookie], check=True)
    desktop = Desktop(number, auth)
    desktop.processes.append(subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-auth", str(auth), "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))
    if not wait_for(lambda: Path(f"/tmp/.X11-unix/X{number}").exists()):
        desktop.stop()
        raise RuntimeError(f"Xvfb :{number} did not start")
    if window_manager:
        desktop.start("openbox")
        time.sleep(0.5)
    return desktop


class Mousepad:
    """A mousepad window editing one file, maximised, with a throw-away HOME."""

    def __init__(self, desktop: Desktop, path: Path, home: Path):
        self.desktop, self.path = desktop, path
        self.process = desktop.start(
            "mousepad", str(path), HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
            GSETTINGS_BACKEND="memory", NO_AT_BRIDGE="1",
        )
        self.window = desktop.run("xdotool", "search", "--sync", "--onlyvisible", "--name", path.name).split()[0]
        desktop.run("wmctrl", "-i", "-r", hex(int(self.window)), "-b", "add,maximized_vert,maximized_horz")
        if not wait_for(lambda: self._width() >= SCREEN[0] - 10, timeout=10):
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
