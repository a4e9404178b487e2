"""Hand a file to the desktop's image viewer."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

OPENERS = ("xdg-open", "open") if sys.platform != "darwin" else ("open",)


def find_opener() -> str | None:
    """Path of the system's file opener (xdg-open on Linux, open on macOS), or None."""
    for name in OPENERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def open_in_viewer(path: Path) -> str | None:
    """Start the system viewer on `path` without waiting; return an error message, or None if started."""
    opener = find_opener()
    if opener is None:
        return f"No image viewer: install xdg-utils (xdg-open) or open {path} yourself."
    try:
        # Detached and silent, so the viewer's output never lands in the TUI.
        subprocess.Popen(
            [opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
    except OSError as exc:
        return f"Could not start {opener}: {exc}"
    return None
