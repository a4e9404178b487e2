"""Drive an X11 display with pyautogui; `type` sends every character as its keysym (actions.x11.keysym_typing).

pyautogui connects its X11 backend to $DISPLAY once, at import, and keeps the connection in the
module globals `_display` and `keyboardMapping` of `pyautogui._pyautogui_x11`. Each executor
therefore builds its own copy of those globals (by reloading that module with its display in the
environment) and swaps them in before every action, so several sandboxes can be driven from one
process. FAILSAFE corners are recomputed for the bound display for the same reason.

Text is never pasted: the clipboard is left alone, and terminals and spreadsheets get key presses.
"""
from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

from actions.errors import CoordinateError, DesktopUnavailable, ExecutionError, FailSafeTriggered
from actions.schemas import recheck
from actions.x11.keysym_typing import KeymapTyper
from actions.x11.xdisplay import check_desktop, child_environment, x_environment
from actions.x11.xkeys import keysym_name

# Canonical key names (actions.keys) → pyautogui key names where they differ.
_PYAUTOGUI_KEYS = {"super": "winleft", "menu": "apps", "printscreen": "printscreen", "esc": "escape"}
_BUTTONS = {"left_click": "left", "right_click": "right", "middle_click": "middle"}
_MULTI_CLICKS = {"double_click": 2, "triple_click": 3}


def _import_pyautogui(display: str, xauthority: Any) -> tuple[Any, Any]:
    """(pyautogui, its x11 backend module) with the backend's globals built for `display`."""
    try:
        with x_environment(display, xauthority):
            already = "pyautogui" in sys.modules
            # pyautogui connects to $DISPLAY when imported: only here, with the display's environment set
            import pyautogui
            from pyautogui import _pyautogui_x11 as backend

            if already:
                backend = importlib.reload(backend)  # a fresh connection and key map for this display
    except Exception as exc:  # Xlib raises its own error types for refused connections and bad auth
        raise DesktopUnavailable(f"cannot open X display {display}: {type(exc).__name__}: {exc}") from exc
    return pyautogui, backend


class PyAutoGUIExecutor:
    """Executes screen-space actions on one X11 display."""

    def __init__(self, display: str | None = None, failsafe: bool = True, xauthority: str | None = None,
                 drag_seconds: float = 0.4, type_delay_ms: int = 12):
        """display: ':N' (default $DISPLAY); failsafe: keep pyautogui's corner kill switch (live desktops)."""
        self.display, self.xauthority = check_desktop(display, xauthority)
        self.failsafe = failsafe
        self.drag_seconds = drag_seconds
        self.type_delay_ms = type_delay_ms
        self._pyautogui, backend = _import_pyautogui(self.display, self.xauthority)
        self._backend = backend
        self._x_display = backend._display
        self._key_map = backend.keyboardMapping
        screen = self._x_display.screen()
        self.width, self.height = screen.width_in_pixels, screen.height_in_pixels
        self._typable = self._characters_pyautogui_types_correctly()
        self._typer = KeymapTyper(self._x_display, key_delay_s=type_delay_ms / 1000)

    def _characters_pyautogui_types_correctly(self) -> frozenset[str]:
        """Printable ASCII whose key and shift state in pyautogui yield that very character here.

        pyautogui guesses shift from the character alone; on keymaps where that guess is wrong
        (e.g. '<' on the extra 102nd key types '>') a key combination goes through xdotool instead.
        By X's rules a keycode whose shifted symbol is NoSymbol types its unshifted one with Shift.
        """
        typable = set()
        for char in map(chr, range(0x20, 0x7F)):
            keycode = self._key_map.get(char)
            if not keycode:
                continue
            lower = self._x_display.keycode_to_keysym(keycode, 0)
            upper = self._x_display.keycode_to_keysym(keycode, 1) or lower
            # Keysyms of printable ASCII equal their code points.
            if (upper if self._pyautogui.isShiftCharacter(char) else lower) == ord(char):
                typable.add(char)
        return frozenset(typable)

    @contextmanager
    def _bound(self) -> Iterator[Any]:
        """pyautogui aimed at this executor's display for the duration of one action."""
        gui = self._pyautogui
        self._backend._display = self._x_display
        self._backend.keyboardMapping = self._key_map
        w, h = self.width, self.height
        gui.FAILSAFE = self.failsafe
        gui.FAILSAFE_POINTS[:] = [(0, 0), (0, h - 1), (w - 1, 0), (w - 1, h - 1)]
        try:
            yield gui
        except gui.FailSafeException as exc:
            raise FailSafeTriggered("pointer in a screen corner: the person stopped the run") from exc

    def _check_point(self, point: Any) -> tuple[int, int]:
        """Integer pixels on this display; pyautogui would silently clamp anything else."""
        x, y = point
        if x != int(x) or y != int(y) or not (0 <= x < self.width and 0 <= y < self.height):
            raise CoordinateError(f"({x}, {y}) is not a pixel of display {self.display} ({self.width}×{self.height})")
        return int(x), int(y)

    def execute(self, action: Any) -> None:
        """Perform one screen-space action."""
        recheck(action)  # bounds again, right before the desktop is touched
        kind = action.action
        if kind in ("terminate", "answer"):
            return
        if kind == "wait":
            time.sleep(float(action.time))
            return
        points = [self._check_point(p) for p in (getattr(action, "start_coordinate", None),
                                                  getattr(action, "coordinate", None)) if p is not None]
        if kind == "type":
            self._type(action.text)
            return
        with self._bound() as gui:
            self._perform(gui, action, points)

    def _perform(self, gui: Any, action: Any, points: list[tuple[int, int]]) -> None:
        """The pyautogui calls for one action; `points` are the checked start/target pixels."""
        kind = action.action
        if kind == "key":
            self._press(gui, action.keys)
        elif kind == "mouse_move":
            gui.moveTo(*points[-1])
        elif kind in _BUTTONS:
            gui.click(*points[-1], button=_BUTTONS[kind])
        elif kind in _MULTI_CLICKS:
            gui.click(*points[-1], clicks=_MULTI_CLICKS[kind], interval=0.05, button="left")
        elif kind == "left_click_drag":
            if len(points) == 2:
                gui.moveTo(*points[0])
            gui.dragTo(*points[-1], duration=self.drag_seconds, button="left")
        elif kind in ("scroll", "hscroll"):
            if points:
                gui.moveTo(*points[-1])
            notches = int(round(action.pixels))
            (gui.scroll if kind == "scroll" else gui.hscroll)(notches)
        else:
            raise ExecutionError(f"the pyautogui executor cannot perform {kind!r}")

    def _press(self, gui: Any, keys: list[str]) -> None:
        """Press keys in order and release in reverse; keys pyautogui lacks go through xdotool."""
        names = [_PYAUTOGUI_KEYS.get(k, k) for k in keys]
        # A one-character key that pyautogui would shift wrongly ('<') goes through xdotool too.
        if all(self._key_map.get(n) and (len(n) > 1 or n in self._typable) for n in names):
            gui.hotkey(*names, interval=0.02)
        else:
            self._xdotool("key", "--clearmodifiers", "+".join(keysym_name(k) for k in keys))

    def _type(self, text: str) -> None:
        """Every character as its keysym through XTest (spare keycodes remapped as needed); never pasted."""
        try:
            self._typer.type(text)
        except ExecutionError:
            raise
        except Exception as exc:  # Xlib reports a lost connection with its own error types
            raise ExecutionError(f"typing on {self.display} failed: {type(exc).__name__}: {exc}") from exc

    def _xdotool(self, *args: str) -> None:
        """Run xdotool against this display; ExecutionError with its stderr on failure."""
        if not shutil.which("xdotool"):
            raise ExecutionError(f"xdotool is not installed; it is needed for xdotool {args[0]} {args[-1]!r}")
        done = subprocess.run(["xdotool", *args], env=child_environment(self.display, self.xauthority),
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ExecutionError(f"xdotool {args[0]} failed: {done.stderr.strip()}")

    def close(self) -> None:
        """Close this executor's X connection."""
        self._x_display.close()

