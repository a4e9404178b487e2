"""Fixtures for the action layer's tests: a private Xvfb desktop and a fresh mousepad per test.

Desktop tests use displays :40–:49 only. Effects are read back through the application (the
file mousepad saved, windows that opened, the X pointer), never from the executor itself.
"""
from __future__ import annotations

import pytest

from tests.actions.x11.desktop_harness import Mousepad, missing_tools, start_desktop


@pytest.fixture(scope="session")
def desktop(tmp_path_factory):
    """A private Xvfb + openbox desktop shared by the desktop tests."""
    missing = missing_tools()
    if missing:
        pytest.skip(f"desktop tests need {', '.join(missing)} (apt: xvfb xauth openbox xdotool wmctrl xclip mousepad imagemagick)")
    desktop = start_desktop(tmp_path_factory.mktemp("desktop"))
    yield desktop
    desktop.stop()


@pytest.fixture(scope="session")
def executor(desktop):
    """The pyautogui executor bound to the private desktop (FAILSAFE on, as on a live desktop)."""
    from actions.x11.pyautogui_executor import PyAutoGUIExecutor

    executor = PyAutoGUIExecutor(display=desktop.display, xauthority=str(desktop.xauthority))
    yield executor
    executor.close()


@pytest.fixture
def mousepad(desktop, tmp_path):
    """Open a file with the given text in a fresh mousepad: `mousepad("text") -> Mousepad`."""
    opened: list[Mousepad] = []

    def open_file(text: str, name: str = "doc.txt") -> Mousepad:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        app = Mousepad(desktop, path, tmp_path / "home")
        opened.append(app)
        return app

    yield open_file
    for app in opened:
        app.close()
