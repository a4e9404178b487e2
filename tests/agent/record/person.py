"""A person at the keyboard and mouse, played by xdotool: performs computer_use actions given in pixels.

`Person(env)` drives a display directly; `Person(env, window=ID)` drives the person's own display with
the pointer placed relative to a window (the recording's Xephyr window), so every event travels the way
a real person's does: host server → Xephyr → the sandbox's server.
"""
from __future__ import annotations

import subprocess
import time
from typing import Any

from actions.x11.xkeys import keysym_name

BUTTONS = {"left_click": 1, "middle_click": 2, "right_click": 3}
CLICKS = {"double_click": 2, "triple_click": 3}


class Person:
    """Performs actions on a display with xdotool, pausing `pause_s` after each like a person would."""

    def __init__(self, env: dict[str, str], window: str | None = None, pause_s: float = 0.8):
        self.env, self.window, self.pause_s = env, window, pause_s

    def xdotool(self, *args: str) -> str:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"xdotool {' '.join(args)}: {done.stderr}"
        return done.stdout

    def move(self, x: int, y: int) -> None:
        where = ["--window", self.window] if self.window else []
        self.xdotool("mousemove", *where, str(x), str(y))

    def focus(self) -> None:
        """Give the window the keyboard (a person clicks into it first)."""
        if self.window:
            self.xdotool("windowactivate", "--sync", self.window)

    def perform(self, action: dict[str, Any]) -> None:
        """One action in pixels of the recorded display."""
        kind = action["action"]
        if kind in BUTTONS:
            self.move(*action["coordinate"])
            self.xdotool("click", str(BUTTONS[kind]))
        elif kind in CLICKS:
            self.move(*action["coordinate"])
            self.xdotool("click", "--repeat", str(CLICKS[kind]), "--delay", "90", "1")
        elif kind == "left_click_drag":
            (x0, y0), (x1, y1) = action["start_coordinate"], action["coordinate"]
            self.move(x0, y0)
            self.xdotool("mousedown", "1")
            for step in range(1, 6):  # a hand moves through the points in between
                self.move(x0 + (x1 - x0) * step // 5, y0 + (y1 - y0) * step // 5)
                time.sleep(0.05)
            self.xdotool("mouseup", "1")
        elif kind in ("scroll", "hscroll"):
            if action.get("coordinate"):
                self.move(*action["coordinate"])
            notches = int(action["pixels"])
            button = {("scroll", True): "4", ("scroll", False): "5", ("hscroll", True): "7",
                      ("hscroll", False): "6"}[(kind, notches > 0)]
            self.xdotool("click", "--repeat", str(abs(notches)), "--delay", "40", button)
        elif kind == "mouse_move":
            self.move(*action["coordinate"])
        elif kind == "type":
            self.xdotool("type", "--delay", "30", action["text"])
        elif kind == "key":
            self.xdotool("key", "+".join(keysym_name(k) for k in action["keys"]))
        elif kind == "wait":
            time.sleep(float(action["time"]))
        elif kind in ("terminate", "answer"):
            return
        time.sleep(self.pause_s)
