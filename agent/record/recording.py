"""One demonstration: the task's sandbox in a window on the person's display, their input recorded until
they stop.

The sandbox is the one a run of the task gets (files, setup, apps, awaited windows), except that its X
server is Xephyr, whose screen is a window on the person's display (agent.desktop.daemons.Nested). Why
Xephyr and not a VNC server and viewer: the person's clicks and keys go straight into the sandbox's own X
server, with no second copy of the screen, no port and no password, it is one Debian package
(xserver-xephyr), and every tool a run uses (mss, xdotool, XTest, RECORD) works on it unchanged.

While the person works, `FrameGrabber` keeps the latest screenshot and `InputListener` records every
input event with the screenshot before it. They stop with the stop key in the window, with the Stop
button (a small zenity dialog on their own display), or with Enter in the terminal; `finish()` turns the
events into actions (agent.record.events) and takes the screen as it is at the end.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Literal

from actions import ScreenGeometry
from agent.desktop import Sandbox, Screen
from agent.desktop.daemons import Nested
from agent.desktop.display import check_connects
from agent.errors import DisplayError, RecordError
from agent.record.events import Recorded, actions_from_events
from agent.record.frames import Frame, FrameGrabber
from agent.record.listener import InputListener
from agent.tasks import Task

StopReason = Literal["key", "button", "enter", "lost"]
BUTTON_TITLE = "agent record"


def host_display_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that reaches the person's display (where the recording's window goes);
    RecordError saying what is missing. XWayland is fine: Xephyr is an ordinary X client."""
    environ = dict(os.environ if environ is None else environ)
    if not environ.get("DISPLAY"):
        raise RecordError("agent record shows the task's desktop in a window on yours, but DISPLAY is not set: "
                          "run it in your graphical session (or over `ssh -X`)")
    try:
        check_connects(environ)
    except DisplayError as exc:
        raise RecordError(f"agent record shows the task's desktop in a window on yours, but {exc}") from None
    return environ


@dataclass
class Demonstration:
    """What a recording produced: the actions (screen pixels), the screenshots, the screen at the end."""

    recorded: list[Recorded]
    final: Frame
    geometry: ScreenGeometry
    titles_before: list[str] = field(default_factory=list)
    titles_after: list[str] = field(default_factory=list)

    @property
    def actions(self) -> list[Recorded]:
        """The recorded actions that the action space can say (keys it cannot name are left out)."""
        return [r for r in self.recorded if r.action is not None]

    @property
    def notes(self) -> list[str]:
        """Everything the recording could not say exactly."""
        return [note for r in self.recorded for note in r.notes]


class Recording:
    """A task's sandbox shown on the person's display, its input recorded; use as a context manager."""

    def __init__(self, task: Task, host_env: dict[str, str], stop_key: list[str], button: bool = True,
                 every_s: float = 0.2):
        """`button`: show the Stop button (a zenity dialog on the host display) when zenity is there."""
        self.task, self.stop_key, self.button = task, stop_key, button
        self.title = f"agent record: {task.id} ({'+'.join(stop_key)} to stop)"
        self.sandbox = Sandbox(task.sandbox, nested=Nested(host_env, self.title))
        self.host_env = dict(host_env)
        self.every_s = every_s
        self.frames: FrameGrabber | None = None
        self.listener: InputListener | None = None
        self.titles_before: list[str] = []
        self._button: subprocess.Popen | None = None

    def __enter__(self) -> "Recording":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> None:
        """Build the sandbox in its window, start capturing and listening, and show the Stop button; on
        any failure everything started is torn down again."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        self.sandbox.start()
        env = self.sandbox.env
        self.frames = FrameGrabber(env["DISPLAY"], env.get("XAUTHORITY"), self.every_s)
        self.frames.start()
        self.listener = InputListener(env["DISPLAY"], env.get("XAUTHORITY"), self.frames, self.stop_key)
        self.listener.start()
        self.titles_before = self.sandbox.window_titles()
        if self.button and shutil.which("zenity", path=self.host_env.get("PATH")):
            text = (f"Recording task {self.task.id}.\nDo it in the window “{self.title}”;\n"
                    f"press {'+'.join(self.stop_key)} there, or Stop recording here, when it is done.")
            self._button = subprocess.Popen(
                ["zenity", "--info", "--title", BUTTON_TITLE, "--text", text, "--ok-label", "Stop recording",
                 "--no-wrap"], env=self.host_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)

    def wait(self, enter: bool = False, timeout: float | None = None) -> StopReason | None:
        """Block until the person stops: the stop key, the Stop button, Enter on stdin (when `enter`),
        or the window closed (`lost`); None when `timeout` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            if self.listener.stop_pressed.is_set():
                return "key"
            if self.listener.lost.is_set():
                return "lost"
            if self._button is not None and self._button.poll() is not None:
                return "button"
            if enter and _line_waiting():
                sys.stdin.readline()
                return "enter"
            time.sleep(0.05)
        return None

    def finish(self) -> Demonstration:
        """Stop listening and capturing; the demonstration with the screen as it is now."""
        self._close_button()
        time.sleep(self.every_s)  # the last action's effect reaches the screen before the final capture
        self.listener.stop()
        final = self.frames.capture_now()
        self.frames.stop()
        screen = Screen(self.sandbox.display, xauthority=self.sandbox.env.get("XAUTHORITY"))
        try:
            _, geometry = screen.capture()
        finally:
            screen.close()
        return Demonstration(actions_from_events(self.listener.events), final, geometry, self.titles_before,
                             self.sandbox.window_titles())

    def close(self) -> None:
        """Tear everything down (the sandbox and its window included)."""
        self._close_button()
        if self.listener is not None:
            self.listener.stop()
        if self.frames is not None:
            self.frames.stop()
        self.sandbox.close()

    def _close_button(self) -> None:
        if self._button is not None and self._button.poll() is None:
            self._button.terminate()
            try:
                self._button.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._button.kill()
                self._button.wait()


def _line_waiting() -> bool:
    try:
        return bool(select.select([sys.stdin], [], [], 0)[0])
    except (OSError, ValueError):  # stdin closed or not selectable
        return False

