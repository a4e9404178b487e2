"""Type any text as X key events: each character becomes its keysym, pressed through XTest.

A character whose keysym the keyboard map holds (at level 1 or 2 of group 1) is pressed on that
keycode, with Shift for level 2. A character the map lacks (é, 漢, or '<' on a map without it)
gets a spare keycode, one with no symbols, remapped to its keysym for as long as it is needed, as
xdotool does; the map is restored afterwards. Nothing goes through the clipboard, so terminals and
spreadsheets receive key presses exactly as from a keyboard. Text that cannot be delivered (a
control character, no spare keycode at all) raises ExecutionError before a key is pressed.

By X's rules a keycode whose level-2 symbol is NoSymbol types its level-1 symbol with Shift too,
so both columns of a remapped keycode hold the same keysym and Shift state does not matter.
"""
from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from actions.errors import ExecutionError

# X keysyms of the control characters a `type` action may carry.
_CONTROL_KEYSYMS = {"\n": 0xFF0D, "\t": 0xFF09}  # Return, Tab
_SHIFT_L = 0xFFE1
# Seconds for applications to read a MappingNotify before keys that use the new map arrive,
# and to translate the last key before the map changes back.
MAP_SETTLE_S = 0.08


class Undeliverable(ExecutionError):
    """Text holds a character that has no key event (a control character or an unpaired surrogate)."""


def char_keysym(char: str) -> int:
    """The X keysym of one character: Latin-1 keysyms equal the code point, others are 0x01000000 + it."""
    if char in _CONTROL_KEYSYMS:
        return _CONTROL_KEYSYMS[char]
    code = ord(char)
    category = unicodedata.category(char)
    if category in ("Cc", "Cs", "Cn") or code == 0x7F:
        raise Undeliverable(f"character U+{code:04X} ({category}) cannot be typed as a key; "
                            "use a key action (e.g. enter, tab) instead")
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 + code


@dataclass(frozen=True)
class Stroke:
    """One key press: a keycode, pressed with Shift or not."""

    keycode: int
    shift: bool


class KeymapTyper:
    """Types text on one X connection (python-xlib Display) with XTest key events."""

    def __init__(self, display: Any, key_delay_s: float = 0.008):
        self._display = display
        self.key_delay_s = key_delay_s

    # -- keyboard map ----------------------------------------------------------------------
    def _mapping(self) -> tuple[int, list[tuple[int, ...]]]:
        first = self._display.display.info.min_keycode
        count = self._display.display.info.max_keycode - first + 1
        return first, [tuple(row) for row in self._display.get_keyboard_mapping(first, count)]

    def _levels(self) -> tuple[dict[int, Stroke], list[int]]:
        """keysym -> the stroke that types it (level 1 preferred), and the spare keycodes."""
        first, rows = self._mapping()
        found: dict[int, Stroke] = {}
        spare: list[int] = []
        for offset, row in enumerate(rows):
            keycode = first + offset
            if not any(row):
                spare.append(keycode)
                continue
            lower = row[0] if row else 0
            upper = row[1] if len(row) > 1 and row[1] else lower  # NoSymbol at level 2 repeats level 1
            found.setdefault(lower, Stroke(keycode, False))
            found.setdefault(upper, Stroke(keycode, True))
        return found, spare

    def plan(self, text: str) -> tuple[list[Stroke], dict[int, int]]:
        """Strokes for text and the keysyms to put on spare keycodes (keycode -> keysym).

        Raises Undeliverable for a character with no key event, and ExecutionError when the text
        needs more distinct missing keysyms than there are spare keycodes (the caller splits it).
        """
        keysyms = [char_keysym(char) for char in text.replace("\r\n", "\n").replace("\r", "\n")]
        found, spare = self._levels()
        remap: dict[int, int] = {}
        strokes = []
        for keysym in keysyms:
            if keysym not in found:
                if not spare:
                    raise ExecutionError("no spare keycode left to type the remaining characters")
                keycode = spare.pop(0)
                remap[keycode] = keysym
                found[keysym] = Stroke(keycode, False)
            strokes.append(found[keysym])
        return strokes, remap

    # -- typing ----------------------------------------------------------------------------
    def type(self, text: str) -> None:
        """Press the keys that produce text in the focused window, in chunks that fit the spare keycodes."""
        for chunk in self._chunks(text):
            strokes, remap = self.plan(chunk)
            self._set_keysyms(remap)
            try:
                if remap:
                    time.sleep(MAP_SETTLE_S)
                self._press_all(strokes)
            finally:
                if remap:
                    time.sleep(MAP_SETTLE_S)
                self._set_keysyms({keycode: 0 for keycode in remap})

    def _chunks(self, text: str) -> list[str]:
        """Pieces of text that each need no more new keysyms than there are spare keycodes."""
        for char in text:
            char_keysym(char)  # refuse undeliverable text before any key is pressed
        found, spare = self._levels()
        if not spare and any(char_keysym(c) not in found for c in text):
            raise ExecutionError("the keyboard map has no spare keycode, so characters it lacks cannot be typed")
        chunks, current, missing = [], "", set()
        for char in text:
            keysym = char_keysym(char)
            if keysym not in found and keysym not in missing:
                if len(missing) == len(spare):
                    chunks.append(current)
                    current, missing = "", set()
                missing.add(keysym)
            current += char
        return chunks + ([current] if current else [])

    def _set_keysyms(self, remap: dict[int, int]) -> None:
        for keycode, keysym in remap.items():
            self._display.change_keyboard_mapping(keycode, [(keysym, keysym)])
        if remap:
            self._display.sync()

    def _press_all(self, strokes: list[Stroke]) -> None:
        # python-xlib comes with pyautogui and is needed only once a desktop is driven
        from Xlib import X
        from Xlib.ext import xtest

        shift = self._display.keysym_to_keycode(_SHIFT_L)
        for stroke in strokes:
            if stroke.shift:
                xtest.fake_input(self._display, X.KeyPress, shift)
            xtest.fake_input(self._display, X.KeyPress, stroke.keycode)
            xtest.fake_input(self._display, X.KeyRelease, stroke.keycode)
            if stroke.shift:
                xtest.fake_input(self._display, X.KeyRelease, shift)
            self._display.sync()
            time.sleep(self.key_delay_s)
