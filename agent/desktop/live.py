"""The person's own X11 session as a Desktop (`agent run --live`): checked, never started or torn down."""
from __future__ import annotations

from pathlib import Path

from agent.desktop.display import live_display_env


class LiveDesktop:
    """The person's own X11 session: nothing to start or tear down; checked before anything moves."""

    def __init__(self, environ: dict[str, str] | None = None, workdir: Path | None = None):
        self._environ = environ
        self._env: dict[str, str] = {}
        self._workdir = Path(workdir) if workdir else Path.cwd()

    def start(self) -> None:
        """Check the session is a usable X11 display (not Wayland, DISPLAY and Xauthority present)."""
        self._env = live_display_env(self._environ)  # a DisplayError is a DesktopError

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
