"""`agent view [PATH]`: browse a runs folder, one run (live with --follow), or a bench's scoreboard."""
from __future__ import annotations

from pathlib import Path

from agent.viewer.app import ViewerApp, resolve_target
from agent.viewer.screenshot import prepare_renderer


def view_command(path: Path, follow: bool = False) -> int:
    """Open the viewer on path; a path that is no run, runs folder or bench is a NotARunError (exit 2)."""
    target = resolve_target(path, follow)
    ViewerApp(target, follow=follow, renderer=prepare_renderer("auto")).run()
    return 0
