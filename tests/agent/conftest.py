"""Shared helpers for the agent tests: the repository on sys.path and the desktop skip rule."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DESKTOP_TOOLS = ("Xvfb", "xauth", "openbox", "xdotool", "mousepad", "galculator", "xclip")


def missing_desktop_tools() -> list[str]:
    """Desktop programs the sandbox tests need that are not on PATH."""
    return [tool for tool in DESKTOP_TOOLS if shutil.which(tool) is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip @pytest.mark.desktop tests, naming what is missing, on machines without the tools."""
    missing = missing_desktop_tools()
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"desktop test needs {', '.join(missing)} (apt-get install xvfb xauth openbox xdotool mousepad galculator xclip)")
    for item in items:
        if item.get_closest_marker("desktop") and Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)
