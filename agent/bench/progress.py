"""The live progress line of a bench: done/total, passed so far, running tasks, elapsed and ETA."""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """One line, redrawn in place on a terminal; on a pipe, one line per change."""

    def __init__(self, total: int, stream: TextIO | None = None, already: int = 0, passed: int = 0):
        self.total, self.done, self.passed = total, already, passed
        self.started_done = already
        self.running: list[str] = []
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.began = time.monotonic()
        self._lock = threading.Lock()

    def started(self, name: str) -> None:
        with self._lock:
            self.running.append(name)
            self._draw()

    def finished(self, name: str, status: str) -> None:
        with self._lock:
            if name in self.running:
                self.running.remove(name)
            self.done += 1
            self.passed += status == "success"
            self._say(f"{status:<9} {name}")

    def line(self) -> str:
        """The current progress line."""
        elapsed = time.monotonic() - self.began
        new = self.done - self.started_done
        left = self.total - self.done
        eta = _clock(elapsed / new * left) if new and left else ("0:00" if not left else "?")
        running = ", ".join(self.running) or "-"
        return (f"[{self.done}/{self.total}] passed {self.passed} · running: {running} · "
                f"elapsed {_clock(elapsed)} · ETA {eta}")

    def note(self, message: str) -> None:
        """A message on its own line, then the progress line again."""
        with self._lock:
            self._say(message)

    def _say(self, message: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(message + "\n")
        self._draw()

    def _draw(self) -> None:
        if not self.total:  # nothing planned yet (the model may still be loading)
            self.stream.flush()
            return
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.line()[: 200])
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
