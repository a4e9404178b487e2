"""The Executor protocol, the dry-run executor, and clear refusals when there is no X11 desktop."""
from __future__ import annotations

import subprocess
import sys

import pytest

from actions import DesktopUnavailable, DryRunExecutor, Executor, ScreenGeometry, action_from_dict, parse, to_screen
from actions.pyautogui_executor import PyAutoGUIExecutor


def test_dry_run_records_screen_actions_in_order():
    executor = DryRunExecutor()
    assert isinstance(executor, Executor)
    parsed = parse(
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 500]}}\n</tool_call>\n'
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 30}}\n</tool_call>'
    )
    geometry = ScreenGeometry.flat(1280, 800)
    for action in parsed.actions:
        executor.execute(to_screen(action, geometry))
    assert [a.model_dump(mode="json") for a in executor.executed] == [
        {"action": "left_click", "coordinate": [640, 400]},
        {"action": "wait", "time": 30},
    ]


def test_no_display_is_named(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    with pytest.raises(DesktopUnavailable, match="DISPLAY is not set"):
        PyAutoGUIExecutor()


def test_wayland_session_is_refused_for_the_live_desktop(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    with pytest.raises(DesktopUnavailable, match="Wayland"):
        PyAutoGUIExecutor()


def test_missing_xauthority_file_is_named(monkeypatch, tmp_path):
    missing = tmp_path / "nope" / "Xauthority"
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DesktopUnavailable, match=f"no Xauthority file at {missing}"):
        PyAutoGUIExecutor(display=":47", xauthority=str(missing))
    monkeypatch.setenv("XAUTHORITY", str(missing))
    with pytest.raises(DesktopUnavailable, match="Xauthority"):
        PyAutoGUIExecutor(display=":47")


def test_display_without_a_server_is_refused_cleanly(monkeypatch, tmp_path):
    auth = tmp_path / "auth"
    auth.write_bytes(b"")
    # :49 with no server listening; the error must be ours, not Xlib's.
    if subprocess.run(["test", "-e", "/tmp/.X11-unix/X49"]).returncode == 0:
        pytest.skip("display :49 is in use here")
    with pytest.raises(DesktopUnavailable, match="cannot open X display :49"):
        PyAutoGUIExecutor(display=":49", xauthority=str(auth))


def test_importing_actions_does_not_import_pyautogui():
    code = "import actions, sys; print('pyautogui' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.stdout.split() == ["False", "False"]


def test_terminate_needs_no_desktop_in_dry_run():
    executor = DryRunExecutor()
    executor.execute(action_from_dict({"action": "terminate", "status": "failure"}))
    assert executor.executed[0].status == "failure"
