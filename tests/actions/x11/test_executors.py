"""The Executor protocol, the dry-run executor, and clear refusals when there is no X11 desktop."""
from __future__ import annotations

import subprocess
import sys

import pytest

from actions import DesktopUnavailable, DryRunExecutor, Executor, ScreenGeometry, action_from_dict, parse, to_screen
from actions.x11.pyautogui_executor import PyAutoGUIExecutor


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


# -- keysym typing, on a fake keyboard map (no X server) ---------------------------------------
class FakeKeymap:
    """Enough of python-xlib's Display for actions.x11.keysym_typing: a keyboard map that can change."""

    class _Info:
        min_keycode, max_keycode = 8, 15

    def __init__(self):
        self.display = type("D", (), {"info": self._Info()})()
        # keycode 8: a/A, 9: 1/!, 10: ( with NoSymbol shifted, 11: Return, 12: Shift_L, 13-15 spare
        self.rows = {8: (0x61, 0x41), 9: (0x31, 0x21), 10: (0x28, 0), 11: (0xFF0D, 0), 12: (0xFFE1, 0),
                     13: (0, 0), 14: (0, 0), 15: (0, 0)}
        self.changes = []

    def get_keyboard_mapping(self, first, count):
        return [self.rows[code] for code in range(first, first + count)]

    def change_keyboard_mapping(self, first, rows):
        self.rows[first] = tuple(rows[0])
        self.changes.append((first, tuple(rows[0])))

    def sync(self):
        pass


def test_keysyms_of_characters():
    from actions.x11.keysym_typing import char_keysym

    assert [char_keysym(c) for c in "a~é\n\t"] == [0x61, 0x7E, 0xE9, 0xFF0D, 0xFF09]
    assert char_keysym("世") == 0x01000000 + 0x4E16


@pytest.mark.parametrize("text", ["\x07", "a\x1bb", "\ud800", "\x7f"])
def test_control_characters_are_undeliverable(text):
    from actions.x11.keysym_typing import Undeliverable, char_keysym

    with pytest.raises(Undeliverable, match="cannot be typed as a key"):
        [char_keysym(c) for c in text]


def test_plan_uses_the_map_shift_level_and_spare_keycodes():
    from actions.x11.keysym_typing import KeymapTyper, Stroke

    typer = KeymapTyper(FakeKeymap())
    strokes, remap = typer.plan("aA!(é\n")
    assert strokes[:4] == [Stroke(8, False), Stroke(8, True), Stroke(9, True), Stroke(10, False)]
    # '(' has NoSymbol at level 2: typed unshifted. 'é' is absent: the first spare keycode gets it.
    assert strokes[4] == Stroke(13, False) and remap == {13: 0xE9} and strokes[5] == Stroke(11, False)


def test_text_with_more_new_characters_than_spare_keycodes_is_split():
    from actions.x11.keysym_typing import KeymapTyper

    typer = KeymapTyper(FakeKeymap())
    assert typer._chunks("éüñaöß") == ["éüña", "öß"]  # three spare keycodes


def test_typing_restores_the_keyboard_map(monkeypatch):
    from actions.x11 import keysym_typing

    pressed = []
    fake = FakeKeymap()
    typer = keysym_typing.KeymapTyper(fake, key_delay_s=0)
    monkeypatch.setattr(keysym_typing, "MAP_SETTLE_S", 0)
    monkeypatch.setattr(typer, "_press_all", lambda strokes: pressed.extend(strokes))
    before = dict(fake.rows)
    typer.type("aé世")
    assert [stroke.keycode for stroke in pressed] == [8, 13, 14]
    assert fake.rows == before  # the spare keycodes are empty again
