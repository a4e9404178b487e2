"""Every action kind through the pyautogui executor against a real mousepad under Xvfb.

Each effect is read back from the application: the file mousepad saves, a menu or dialog window
that opened, or the X server's pointer. Positions of text are measured from a screenshot.
Typing into other applications (terminal, GTK 4, Qt, spreadsheet) is in test_typing_apps.py.
"""
from __future__ import annotations

import io
import subprocess
import time
from dataclasses import dataclass

import pytest

from actions import CoordinateError, FailSafeTriggered, action_from_dict
from tests.actions.x11.desktop_harness import start_desktop, wait_for

pytestmark = pytest.mark.desktop

BACKGROUND = (255, 255, 255)


def act(executor, **arguments) -> None:
    executor.execute(action_from_dict(arguments))


@dataclass
class TextLayout:
    """Where the document's characters are on screen (monospace font, maximised window)."""

    left: float
    first_line_y: float
    line_pitch: float
    char_width: float

    def point(self, line: int, column: float) -> tuple[int, int]:
        """Pixel at a column boundary (+0.2 of a character, so the caret lands before it)."""
        return round(self.left + (column + 0.2) * self.char_width), round(self.first_line_y + line * self.line_pitch)


def _screenshot(desktop):
    from PIL import Image

    png = subprocess.run(["import", "-window", "root", "png:-"], env=desktop.env(), capture_output=True, check=True)
    return Image.open(io.BytesIO(png.stdout)).convert("RGB")


def measure_text(desktop, first_line: str) -> TextLayout:
    """The layout once two screenshots in a row agree (GTK may still be settling after a resize)."""
    previous = None
    for _ in range(20):
        layout = _measure_once(desktop, first_line)
        if layout is not None and layout == previous:
            return layout
        previous = layout
        time.sleep(0.2)
    raise AssertionError("the text layout did not settle")


def _measure_once(desktop, first_line: str) -> TextLayout | None:
    """Find the text view (the white area) and the ink of its first two lines."""
    image = _screenshot(desktop)
    width, height = image.size
    pixels = image.load()
    probe = width - 40
    # The text view is the first pure-white area (title bar blue, menu bar grey, long lines aside).
    top = next((y for y in range(30, height - 5) if all(pixels[probe, y + k] == BACKGROUND for k in range(5))), None)
    if top is None:
        return None
    bands, in_band = [], False
    for y in range(top, height):
        ink = [x for x in range(0, width - 60) if sum(pixels[x, y]) < 384]
        if ink and not in_band:
            bands.append([y, y, min(ink), max(ink)])
        elif ink:
            band = bands[-1]
            band[1], band[2], band[3] = y, min(band[2], min(ink)), max(band[3], max(ink))
        in_band = bool(ink)
        if len(bands) == 3:
            break
    if len(bands) < 2:
        return None
    (y0, y1, left, right), (next_top, *_) = bands[0], bands[1]
    char_width = (right - left + 1) / len(first_line.rstrip())
    return TextLayout(left=left, first_line_y=(y0 + y1) / 2, line_pitch=next_top - y0, char_width=char_width)


def popup_open(desktop) -> bool:
    """True while mousepad shows a menu (an unnamed-document 'Mousepad' popup window)."""
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Mousepad$"],
                           env=desktop.env(), capture_output=True, text=True)
    return bool(found.stdout.split())


def harness_type(desktop, text: str) -> None:
    """Type with xdotool directly, to test what a pointer action did to the caret or selection."""
    desktop.run("xdotool", "type", "--delay", "20", "--", text)
    time.sleep(0.3)


def test_left_click_places_the_caret(executor, mousepad, desktop):
    lines = "0000000000\n1111111111\n2222222222"
    app = mousepad(lines)
    layout = measure_text(desktop, "0000000000")
    act(executor, action="left_click", coordinate=layout.point(1, 5))
    harness_type(desktop, "Q")
    assert app.saved_text().rstrip("\n") == "0000000000\n11111Q11111\n2222222222"


def test_double_click_selects_a_word(executor, mousepad, desktop):
    app = mousepad("alpha beta gamma\nalpha beta gamma")
    layout = measure_text(desktop, "alpha beta gamma")
    act(executor, action="double_click", coordinate=layout.point(0, 7.5))
    harness_type(desktop, "X")
    assert app.saved_text().rstrip("\n") == "alpha X gamma\nalpha beta gamma"


def test_triple_click_selects_a_line(executor, mousepad, desktop):
    app = mousepad("first line\nsecond line\nthird line")
    layout = measure_text(desktop, "first line")
    act(executor, action="triple_click", coordinate=layout.point(1, 3))
    harness_type(desktop, "X")
    assert app.saved_text().rstrip("\n") == "first line\nX\nthird line"


def test_drag_selects_a_range(executor, mousepad, desktop):
    app = mousepad("0123456789abcdefghij\nsecond line")
    layout = measure_text(desktop, "0123456789abcdefghij")
    act(executor, action="left_click_drag", start_coordinate=layout.point(0, 2), coordinate=layout.point(0, 8))
    harness_type(desktop, "X")
    assert app.saved_text().rstrip("\n") == "01X89abcdefghij\nsecond line"


def test_right_click_opens_the_context_menu(executor, mousepad, desktop):
    mousepad("some text\nmore text")
    layout = measure_text(desktop, "some text")
    assert not popup_open(desktop)
    act(executor, action="right_click", coordinate=layout.point(1, 3))
    assert wait_for(lambda: popup_open(desktop), timeout=5)
    act(executor, action="key", keys=["esc"])
    assert wait_for(lambda: not popup_open(desktop), timeout=5)


def test_click_on_the_menu_bar_then_keys_open_preferences(executor, mousepad, desktop):
    mousepad("text\nmore")
    measure = _screenshot(desktop)
    # The menu bar is the first row band under the title bar; "Edit" is its second word.
    act(executor, action="left_click", coordinate=_menu_item_position(measure, 1))
    assert wait_for(lambda: popup_open(desktop), timeout=5)
    act(executor, action="key", keys=["up"])  # from a fresh menu, Up selects the last item: Preferences
    act(executor, action="key", keys=["Return"])
    found = wait_for(lambda: subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "Mousepad Preferences"],
        env=desktop.env(), capture_output=True, text=True).stdout.strip(), timeout=10)
    assert found, "Edit → Preferences… did not open the preferences window"
    desktop.run("xdotool", "key", "--window", found.split()[0], "Escape")


def _menu_item_position(image, index: int) -> tuple[int, int]:
    """Centre of the index-th word of the menu bar, found as clusters of ink on its row."""
    pixels, width = image.load(), image.size[0]
    y = next(y for y in range(25, 80) if any(sum(pixels[x, y]) < 200 for x in range(0, 300)))
    row = [x for x in range(0, 400) if any(sum(pixels[x, y + d]) < 300 for d in range(0, 8))]
    words, start = [], row[0]
    for a, b in zip(row, row[1:] + [10**6]):
        if b - a > 8:
            words.append((start, a))
            start = b
    left, right = words[index]
    return (left + right) // 2, y + 4


def test_type_ascii_and_save_with_a_key_combo(executor, mousepad):
    app = mousepad("")
    text = "Hello, World! <tag> {x} [y] ~`|\\ 'q' \"dq\" a+b=c; 100% #1 @me ^_^"
    act(executor, action="type", text=text)
    before = app.path.stat().st_mtime_ns
    act(executor, action="key", keys=["ctrl", "s"])
    assert wait_for(lambda: app.path.stat().st_mtime_ns != before, timeout=10)
    assert app.path.read_text(encoding="utf-8").rstrip("\n") == text


def test_type_non_ascii_text(executor, mousepad):
    app = mousepad("")
    text = "héllo wörld → 世界 ✓ Ωmega"
    act(executor, action="type", text=text)
    assert app.saved_text().rstrip("\n") == text


def test_text_with_a_control_character_is_an_execution_error_before_any_key(executor, mousepad):
    from actions import ExecutionError

    app = mousepad("")
    with pytest.raises(ExecutionError, match="U\\+0007"):
        act(executor, action="type", text="abc\x07def")
    act(executor, action="type", text="x")
    assert app.saved_text().rstrip("\n") == "x"


def test_long_text_with_more_new_characters_than_spare_keycodes(executor, mousepad):
    app = mousepad("")
    text = "".join(chr(0x4E00 + i) for i in range(150))  # 150 distinct CJK characters, none in the keymap
    act(executor, action="type", text=text)
    assert app.saved_text().rstrip("\n") == text


def test_type_newlines_and_tabs(executor, mousepad):
    app = mousepad("")
    act(executor, action="type", text="one\ntwo\tthree\n")
    assert app.saved_text() .rstrip("\n") == "one\ntwo\tthree"


def test_keys_pyautogui_would_shift_wrongly_are_still_right(executor, mousepad):
    app = mousepad("")
    for key in ("<", ">", "shift+a", "space", "~"):
        act(executor, action="key", keys=[key])
    assert app.saved_text().rstrip("\n") == "<>A ~"


def test_select_all_combo_replaces_the_document(executor, mousepad):
    app = mousepad("old text\nmore old text")
    act(executor, action="key", keys=["ctrl", "a"])
    act(executor, action="type", text="new")
    assert app.saved_text().rstrip("\n") == "new"


def _line_of(saved: str, marker: str) -> int:
    return next(i for i, line in enumerate(saved.split("\n")) if marker in line)


def test_scroll_down_and_up(executor, mousepad, desktop):
    app = mousepad("\n".join(f"line {i:03d}" for i in range(300)))
    layout = measure_text(desktop, "line 000")
    middle = layout.point(10, 2)
    act(executor, action="scroll", pixels=-10, coordinate=middle)
    time.sleep(0.5)
    act(executor, action="left_click", coordinate=layout.point(0, 0))
    harness_type(desktop, "S")
    down_line = _line_of(app.saved_text(), "S")
    assert down_line >= 10, f"after scrolling down the top line is still line {down_line}"
    act(executor, action="scroll", pixels=40, coordinate=middle)
    time.sleep(0.5)
    act(executor, action="left_click", coordinate=layout.point(0, 0))
    harness_type(desktop, "U")
    assert _line_of(app.saved_text(), "U") == 0


def test_hscroll_right(executor, mousepad, desktop):
    app = mousepad("M" * 20 + "\n" + "N" * 600 + "\n" + "O" * 600)
    layout = measure_text(desktop, "M" * 20)
    act(executor, action="hscroll", pixels=10, coordinate=layout.point(1, 5))
    time.sleep(0.5)
    act(executor, action="left_click", coordinate=layout.point(1, 0))
    harness_type(desktop, "H")
    long_line = app.saved_text().split("\n")[1]
    assert long_line.index("H") >= 20, "hscroll did not move the view right"


def test_middle_click_pastes_the_primary_selection(executor, mousepad, desktop):
    app = mousepad("alpha beta\nsecond")
    layout = measure_text(desktop, "alpha beta")
    act(executor, action="double_click", coordinate=layout.point(0, 2))
    act(executor, action="middle_click", coordinate=layout.point(1, 6))
    assert app.saved_text().rstrip("\n") == "alpha beta\nsecondalpha"


def test_mouse_move_moves_the_x_pointer(executor, desktop):
    act(executor, action="mouse_move", coordinate=[123, 456])
    assert desktop.pointer() == (123, 456)


def test_wait_terminate_and_answer_touch_nothing(executor, desktop):
    act(executor, action="mouse_move", coordinate=[300, 300])
    for arguments in ({"action": "wait", "time": 0.1}, {"action": "terminate", "status": "success"},
                      {"action": "answer", "text": "done"}):
        executor.execute(action_from_dict(arguments))
    assert desktop.pointer() == (300, 300)


def test_off_screen_target_is_refused_before_moving(executor, desktop):
    act(executor, action="mouse_move", coordinate=[200, 200])
    with pytest.raises(CoordinateError, match="1280×800"):
        act(executor, action="left_click", coordinate=[1280, 10])
    with pytest.raises(CoordinateError):
        act(executor, action="left_click", coordinate=[10.5, 10])
    assert desktop.pointer() == (200, 200)


def test_failsafe_corner_stops_the_executor(executor, desktop):
    desktop.run("xdotool", "mousemove", "0", "0")
    with pytest.raises(FailSafeTriggered):
        act(executor, action="left_click", coordinate=[400, 400])
    assert desktop.pointer() == (0, 0)
    desktop.run("xdotool", "mousemove", "640", "400")


def test_two_displays_in_one_process(executor, desktop, tmp_path):
    from actions.x11.pyautogui_executor import PyAutoGUIExecutor

    second = start_desktop(tmp_path, window_manager=False)
    try:
        other = PyAutoGUIExecutor(display=second.display, xauthority=str(second.xauthority))
        act(executor, action="mouse_move", coordinate=[111, 222])
        act(other, action="mouse_move", coordinate=[333, 444])
        act(executor, action="mouse_move", coordinate=[555, 666])
        assert desktop.pointer() == (555, 666)
        assert second.pointer() == (333, 444)
        other.close()
    finally:
        second.stop()
