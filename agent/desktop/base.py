"""The Desktop seam: where a run happens — a private sandbox, or the person's own X11 display.

`agent.desktop.sandbox.Sandbox` implements it for a task's private Xvfb desktop; `agent.desktop.live.
LiveDesktop` is the person's session (`agent run --live`). A run reads the display and its environment from the desktop
it was given and never from (or into) os.environ, so several runs in one process each drive their own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from agent.desktop.live import LiveDesktop
from agent.desktop.sandbox import Sandbox
from agent.errors import DesktopError
from agent.tasks import Task


class Desktop(Protocol):
    """A started X11 desktop a run can drive."""

    def start(self) -> None:
        """Bring the desktop up (apps, setup); raise on failure after cleaning up."""

    def close(self) -> None:
        """Tear down whatever start() began."""

    @property
    def env(self) -> dict[str, str]:
        """Environment for programs on this desktop: DISPLAY, XAUTHORITY, HOME …"""

    @property
    def display(self) -> str:
        """The X display name, e.g. ':3'."""

    @property
    def workdir(self) -> Path:
        """A folder private to the run ({workdir} in task files)."""

    @property
    def home(self) -> Path:
        """HOME of the desktop's apps ({home} in task files)."""


def sandbox_for(task: Task) -> Desktop:
    """A fresh private desktop built from the task's `sandbox:` section (not started yet)."""
    return Sandbox(task.sandbox)


def start_desktop(desktop: Desktop, what: str) -> None:
    """desktop.start(); a sandbox that fails to start says for what (`what`: the task file), from its cause.

    The person's own display (LiveDesktop) fails with its own message, which says what to do."""
    try:
        desktop.start()
    except DesktopError as exc:
        if isinstance(desktop, LiveDesktop):
            raise
        raise DesktopError(f"{what}: the desktop did not start: {exc}") from exc
    except OSError as exc:
        raise DesktopError(f"{what}: the desktop did not start: {exc}") from exc
