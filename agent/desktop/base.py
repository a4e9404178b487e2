"""The Desktop seam: where a run happens — a private sandbox, or the person's own X11 display.

`agent.sandbox.Sandbox` implements it for a task's private Xvfb desktop; `LiveDesktop` below is the
person's session (`agent run --live`). A run reads the display and its environment from the desktop
it was given and never from (or into) os.environ, so several runs in one process each drive their own.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agent.tasks.schema import Task


class DesktopError(RuntimeError):
    """The desktop could not be started; the message says why."""


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


class LiveDesktop:
    """The person's own X11 session: nothing to start or tear down; checked before anything moves."""

    def __init__(self, environ: dict[str, str] | None = None, workdir: Path | None = None):
        self._environ = environ
        self._env: dict[str, str] = {}
        self._workdir = Path(workdir) if workdir else Path.cwd()

    def start(self) -> None:
        """Check the session is a usable X11 display (not Wayland, DISPLAY and Xauthority present)."""
        from agent.desktop.display import DisplayError, live_display_env

        try:
            self._env = live_display_env(self._environ)
        except DisplayError as exc:
            raise DesktopError(str(exc)) from exc

    def close(self) -> None:
        """Nothing was started."""

    @property
    def env(self) -> dict[str, str]:
        return dict(self._env)

    @property
    def display(self) -> str:
        return self._env["DISPLAY"]

    @property
    def workdir(self) -> Path:
        return self._workdir

    @property
    def home(self) -> Path:
        return Path(self._env.get("HOME", str(Path.home())))


def sandbox_for(task: "Task") -> Desktop:
    """A fresh private desktop built from the task's `sandbox:` section (not started yet)."""
    from agent.desktop.sandbox import Sandbox

    return Sandbox(task.sandbox)


def start_desktop(desktop: Desktop, what: str) -> None:
    """desktop.start(), with every known start failure turned into DesktopError naming `what`."""
    from agent.desktop.display import DisplayError
    from agent.desktop.sandbox import SandboxError

    try:
        desktop.start()
    except DesktopError:
        raise
    except (SandboxError, DisplayError, OSError) as exc:
        raise DesktopError(f"{what}: the desktop did not start: {exc}") from exc
