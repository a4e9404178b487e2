"""Listen to a display's input with the X RECORD extension: every key, button and drag in server order.

RECORD delivers the device events the server processes — a person's, through the Xephyr window, or
XTest's, from xdotool — to a second connection, without grabbing anything, so the applications get
their input as usual. Each key press is resolved to keysyms with the display's keyboard map at that
moment: the map is read at the start and followed through every ChangeKeyboardMapping request any
client sends (xdotool and our own typing remap a spare keycode for characters the map lacks).
Each press pins the newest screenshot (agent.record.frames). The stop key is recognised here and
never recorded.
"""
from __future__ import annotations

import struct
import threading
from pathlib import Path
from typing import Any

from Xlib import X, display as xdisplay
from Xlib.error import DisplayError as XlibDisplayError
from Xlib.ext import record
from Xlib.protocol import rq

from actions.x11.xdisplay import x_environment
from agent.errors import DisplayError
from agent.record.events import LOCK, SHIFT, InputEvent, chord_of
from agent.record.frames import FrameGrabber

CHANGE_KEYBOARD_MAPPING = 100  # the core request's opcode
NUM_LOCK, LEVEL3 = 16, 128  # Mod2 and Mod5 as X servers usually assign them
BUTTONS_HELD = 0x1F00  # Button1Mask … Button5Mask


class Keymap:
    """The display's keyboard map (keycode → keysyms per level), kept current by the requests it sees."""

    def __init__(self, first: int, rows: list[list[int]]):
        self.rows = {first + offset: list(row) for offset, row in enumerate(rows)}

    def change(self, data: bytes) -> None:
        """Apply a ChangeKeyboardMapping request's body (as RECORD hands it over)."""
        if len(data) < 8:
            return
        count, first, per = data[1], data[4], data[5]
        keysyms = struct.unpack(f"={count * per}I", data[8:8 + 4 * count * per]) if per else ()
        for index in range(count):
            self.rows[first + index] = list(keysyms[index * per:(index + 1) * per])

    def keysyms(self, keycode: int, state: int) -> tuple[int, int]:
        """(the keysym this state types, the key's first-level keysym), by the core protocol's rules."""
        row = self.rows.get(keycode, [])
        if LEVEL3 & state and len(row) > 4 and row[4]:
            row = row[4:6]
        lower = row[0] if row else 0
        upper = row[1] if len(row) > 1 and row[1] else _upper(lower)
        base = lower or upper
        if NUM_LOCK & state and 0xFF80 <= upper <= 0xFFBD:  # keypad with Num Lock: digits (shift undoes it)
            return (lower if SHIFT & state else upper), base
        if SHIFT & state:
            return upper, base
        if LOCK & state and _upper(lower) != lower:
            return _upper(lower), base
        return lower, base


def _upper(keysym: int) -> int:
    """The upper-case keysym of a letter (Latin-1 and Unicode keysyms), else the keysym itself."""
    if 0x61 <= keysym <= 0x7A or 0xE0 <= keysym <= 0xFE and keysym != 0xF7:
        return keysym - 0x20
    if keysym >= 0x01000100:
        upper = chr(keysym - 0x01000000).upper()
        return 0x01000000 + ord(upper) if len(upper) == 1 else keysym
    return keysym


class InputListener:
    """Records a display's input until stopped; `events` holds what it saw, `stop_pressed` the stop key."""

    def __init__(self, display: str, xauthority: str | None, frames: FrameGrabber, stop_key: list[str]):
        self.display, self.xauthority, self.frames, self.stop_key = display, xauthority, frames, stop_key
        self.events: list[InputEvent] = []
        self.stop_pressed = threading.Event()
        self.lost = threading.Event()  # the display went away (its window was closed)
        self.error: str | None = None
        self._record: Any = None
        self._control: Any = None
        self._context: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect, read the keyboard map and start listening (DisplayError when RECORD is missing)."""
        try:
            with x_environment(self.display, Path(self.xauthority or "")):
                self._record, self._control = xdisplay.Display(self.display), xdisplay.Display(self.display)
        except (XlibDisplayError, OSError, ValueError) as exc:
            raise DisplayError(f"cannot listen to display {self.display}: {exc}") from exc
        if not self._record.has_extension("RECORD"):
            self.close()
            raise DisplayError(f"display {self.display} has no RECORD extension, so input cannot be recorded")
        info = self._control.display.info
        self.keymap = Keymap(info.min_keycode, self._control.get_keyboard_mapping(
            info.min_keycode, info.max_keycode - info.min_keycode + 1))
        self._context = self._record.record_create_context(0, [record.AllClients], [{
            "core_requests": (CHANGE_KEYBOARD_MAPPING, CHANGE_KEYBOARD_MAPPING), "core_replies": (0, 0),
            "ext_requests": (0, 0, 0, 0), "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
            "device_events": (X.KeyPress, X.MotionNotify), "errors": (0, 0),
            "client_started": False, "client_died": False,
        }])
        self._thread = threading.Thread(target=self._listen, name="record", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        try:
            self._record.record_enable_context(self._context, self._on_data)
        except Exception as exc:  # the server closed the connection: Xephyr's window was closed
            self.error = f"{type(exc).__name__}: {exc}"
            self.lost.set()

    def _on_data(self, reply: Any) -> None:
        if reply.category == record.FromClient:
            if reply.data and reply.data[0] == CHANGE_KEYBOARD_MAPPING:
                self.keymap.change(bytes(reply.data))
            return
        if reply.category != record.FromServer:
            return
        data = reply.data
        while len(data) >= 32:
            event, data = rq.EventField(None).parse_binary_value(data, self._record.display, None, None)
            self._on_event(event)

    def _on_event(self, event: Any) -> None:
        kind = {X.KeyPress: "key", X.KeyRelease: "key", X.ButtonPress: "button", X.ButtonRelease: "button",
                X.MotionNotify: "motion"}.get(event.type)
        if kind is None or (kind == "motion" and not event.state & BUTTONS_HELD):
            return  # pointer moves matter only while a button is held (drags)
        press = event.type in (X.KeyPress, X.ButtonPress)
        keysym = base = 0
        if kind == "key":
            keysym, base = self.keymap.keysyms(event.detail, event.state)
        recorded = InputEvent(kind=kind, press=press, time_ms=event.time, x=event.root_x, y=event.root_y,
                              detail=event.detail, state=event.state, keysym=keysym, base_keysym=base)
        if kind == "key" and press and chord_of(recorded) == self.stop_key:
            self.stop_pressed.set()
            return
        if press:
            recorded = InputEvent(**{**recorded.__dict__, "frame": self.frames.pin()})
        self.events.append(recorded)

    def stop(self) -> None:
        """Stop listening and close both connections."""
        if self._context is not None and self._control is not None:
            try:
                self._control.record_disable_context(self._context)
                self._control.flush()
            except Exception:  # the display is already gone
                pass
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._context is not None and self._control is not None:
            try:
                self._control.record_free_context(self._context)
                self._control.flush()
            except Exception:
                pass
        self.close()

    def close(self) -> None:
        """Close both X connections (idempotent)."""
        for connection in (self._record, self._control):
            if connection is not None:
                try:
                    connection.close()
                except Exception:
                    pass
        self._record = self._control = None
