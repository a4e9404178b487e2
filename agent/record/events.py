"""From a person's X input events to computer_use actions in screen pixels, as one pure function.

`actions_from_events` reads the events in order and writes the actions a model would have written:

- button 1 pressed and released in place: left_click; two or three such clicks within
  MULTI_CLICK_MS and a few pixels of each other: double_click, triple_click;
- button 1 pressed, moved more than DRAG_PX, released: left_click_drag from the press to the release;
- button 2 and 3: middle_click, right_click (at the press);
- wheel notches (buttons 4/5 up/down, 6/7 left/right): one scroll or hscroll per burst — notches in the
  same direction, each within SCROLL_GAP_MS of the last, where the pointer stays;
- characters typed without ctrl, alt or super (shift included): merged into one `type` until anything
  else happens (MAX_TYPE_CHARS at most);
- any other key, or a key with ctrl, alt or super: one `key` action naming the chord, modifiers first
  (ctrl+s, shift+tab, enter, f2); modifier keys alone do nothing.

Each action carries the screenshot pinned at its first press, so the step shows the screen before it.
What the action space cannot say is kept as a note on the action (a modifier held during a click, a
drag with the middle or right button), so a recording never silently means something else.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from Xlib import XK

from actions import action_from_dict
from actions.keys import MODIFIERS, NAMED_KEYS, canonical_key, split_chord
from actions.schemas import MAX_SCROLL, MAX_TYPE_CHARS
from actions.x11.xkeys import keysym_name

MULTI_CLICK_MS = 500  # GTK's double-click time is 400 ms; a little slack for a loaded machine
MULTI_CLICK_PX = 5
DRAG_PX = 6  # GTK starts a drag after 8 pixels; a shorter move is a click that wobbled
SCROLL_GAP_MS = 700
SCROLL_MOVE_PX = 24

SHIFT, LOCK, CONTROL, MOD1, MOD4 = 1, 2, 4, 8, 64  # X modifier mask bits (Mod1 is Alt, Mod4 Super)
WHEEL = {4: ("scroll", 1), 5: ("scroll", -1), 6: ("hscroll", -1), 7: ("hscroll", 1)}
CLICKS = {1: "left_click", 2: "middle_click", 3: "right_click"}
MULTI = {1: "left_click", 2: "double_click", 3: "triple_click"}

for _group in ("xkb", "xf86"):  # ISO_Left_Tab, ISO_Level3_Shift …, and the XF86 media keys, by name
    XK.load_keysym_group(_group)

_MODIFIER_KEYSYMS = {XK.string_to_keysym(name) for name in (
    "Shift_L", "Shift_R", "Control_L", "Control_R", "Alt_L", "Alt_R", "Meta_L", "Meta_R", "Super_L", "Super_R",
    "Hyper_L", "Hyper_R", "Caps_Lock", "Num_Lock", "ISO_Level3_Shift", "ISO_Level5_Shift", "Mode_switch",
)}
# Keysyms that name the same key as another (shift+Tab reports ISO_Left_Tab; the keypad's Enter).
_ALIASES = {"ISO_Left_Tab": "tab", "KP_Enter": "enter", "KP_Delete": "delete", "KP_Insert": "insert",
            "KP_Home": "home", "KP_End": "end", "KP_Prior": "pageup", "KP_Next": "pagedown", "KP_Up": "up",
            "KP_Down": "down", "KP_Left": "left", "KP_Right": "right", "KP_Tab": "tab", "KP_Space": "space"}
_KEYPAD_CHARS = {**{f"KP_{d}": str(d) for d in range(10)}, "KP_Add": "+", "KP_Subtract": "-",
                 "KP_Multiply": "*", "KP_Divide": "/", "KP_Decimal": ".", "KP_Separator": ",", "KP_Equal": "="}


def _key_names() -> dict[int, str]:
    """X keysym → canonical key name (actions.keys), from the one table of key names."""
    names = [name for name in NAMED_KEYS if name not in MODIFIERS]
    names += [chr(c) for c in range(0x21, 0x7F) if not chr(c).isupper()]
    table = {}
    for name in names:
        keysym = XK.string_to_keysym(keysym_name(name))
        if keysym:
            table[keysym] = canonical_key(name)
    table.update({XK.string_to_keysym(alias): name for alias, name in _ALIASES.items()})
    table.pop(0, None)  # NoSymbol names nothing
    return table


KEY_NAMES = _key_names()
KEYSYM_NAMES = {value: name[3:] for name, value in sorted(vars(XK).items(), reverse=True) if name.startswith("XK_")}
KEYPAD = {XK.string_to_keysym(name): char for name, char in _KEYPAD_CHARS.items()}


@dataclass(frozen=True)
class InputEvent:
    """One X input event as the recorder saw it (device events, in server order)."""

    kind: Literal["key", "button", "motion"]
    press: bool
    time_ms: int
    """The X server's timestamp."""
    x: int
    y: int
    """The pointer on the root window."""
    detail: int = 0
    """Keycode or button number."""
    state: int = 0
    """Modifier and button mask just before the event."""
    keysym: int = 0
    """Keys: the keysym the keyboard map gives with this state (shift, lock, level 3)."""
    base_keysym: int = 0
    """Keys: the keysym of the key's first level (its name in a chord)."""
    frame: Any = None
    """Presses: the screenshot taken last before the event."""


@dataclass
class Recorded:
    """One recorded action in screen pixels, the screenshot before it, and what it could not say."""

    action: Any
    frame: Any
    notes: list[str] = field(default_factory=list)


def typed_char(keysym: int) -> str | None:
    """The character a keysym types (Latin-1, Unicode keysyms, the keypad), or None for other keys."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return chr(keysym - 0x01000000)
    return KEYPAD.get(keysym)


def modifiers_of(state: int) -> list[str]:
    """Canonical modifier names held in an X state mask, in chord order."""
    held = [("ctrl", CONTROL), ("alt", MOD1), ("shift", SHIFT), ("super", MOD4)]
    return [name for name, bit in held if state & bit]


def chord_of(event: InputEvent) -> list[str] | None:
    """The `key` action's keys for a key press: held modifiers, then the key's own name (its first
    level: ctrl+shift+t, not ctrl+shift+T); None for a key the action space cannot name."""
    name = KEY_NAMES.get(event.base_keysym) or KEY_NAMES.get(event.keysym)
    if name is None:
        return None
    return [m for m in modifiers_of(event.state) if m != name] + [name]


def is_modifier_key(event: InputEvent) -> bool:
    """Shift, Ctrl, Alt, Super, Caps Lock … pressed on their own: they only change other keys."""
    return event.keysym in _MODIFIER_KEYSYMS or event.base_keysym in _MODIFIER_KEYSYMS


def _near(a: tuple[int, int], b: tuple[int, int], limit: float) -> bool:
    return math.dist(a, b) <= limit


@dataclass
class _Press:
    event: InputEvent
    farthest: float = 0.0


class _Builder:
    """The state of one pass over the events: at most one group (typing, a scroll burst, clicks) open."""

    def __init__(self) -> None:
        self.out: list[Recorded] = []
        self.text: list[str] = []
        self.text_frame: Any = None
        self.scroll: dict[str, Any] | None = None
        self.clicks: dict[str, Any] | None = None
        self.down: dict[int, _Press] = {}

    def emit(self, arguments: dict[str, Any], frame: Any, notes: list[str] | None = None) -> None:
        """Append one finished action."""
        self.out.append(Recorded(action_from_dict(arguments), frame, notes or []))

    def flush(self, *, typing: bool = True, scroll: bool = True, clicks: bool = True) -> None:
        """Close the open groups named (typing, a scroll burst, clicks) as actions."""
        if typing and self.text:
            self.emit({"action": "type", "text": "".join(self.text)}, self.text_frame)
            self.text, self.text_frame = [], None
        if scroll and self.scroll:
            s = self.scroll
            self.emit({"action": s["axis"], "pixels": s["sign"] * s["count"], "coordinate": list(s["at"])}, s["frame"])
            self.scroll = None
        if clicks and self.clicks:
            c = self.clicks
            self.emit({"action": MULTI[c["count"]], "coordinate": list(c["at"])}, c["frame"], c["notes"])
            self.clicks = None

    # -- events ------------------------------------------------------------------------------
    def motion(self, event: InputEvent) -> None:
        """A pointer move while a button is held: how far each held press has travelled."""
        for press in self.down.values():
            press.farthest = max(press.farthest, math.dist((press.event.x, press.event.y), (event.x, event.y)))

    def wheel(self, event: InputEvent) -> None:
        """A wheel notch: joins the open burst (same axis and direction, soon, in place) or starts one."""
        if not event.press:
            return
        self.flush(scroll=False)
        axis, sign = WHEEL[event.detail]
        s = self.scroll
        if (s and s["axis"] == axis and s["sign"] == sign and event.time_ms - s["last"] <= SCROLL_GAP_MS
                and _near(s["at"], (event.x, event.y), SCROLL_MOVE_PX) and s["count"] < MAX_SCROLL):
            s["count"], s["last"] = s["count"] + 1, event.time_ms
            return
        self.flush()
        self.scroll = {"axis": axis, "sign": sign, "count": 1, "last": event.time_ms, "at": (event.x, event.y),
                       "frame": event.frame}

    def button(self, event: InputEvent) -> None:
        """A press remembers where; the release decides: click (maybe joining a double/triple), drag."""
        if event.press:
            self.flush(clicks=False)
            self.down[event.detail] = _Press(event)
            return
        press = self.down.pop(event.detail, None)
        if press is None:
            return  # pressed before the recording began
        start = (press.event.x, press.event.y)
        moved = max(press.farthest, math.dist(start, (event.x, event.y))) > DRAG_PX
        notes = _held_notes(press.event.state)
        if event.detail == 1 and moved:
            self.flush()
            self.emit({"action": "left_click_drag", "start_coordinate": list(start), "coordinate": [event.x, event.y]},
                      press.event.frame, notes)
        elif event.detail == 1:
            c = self.clicks
            if (c and press.event.time_ms - c["last"] <= MULTI_CLICK_MS and _near(c["at"], start, MULTI_CLICK_PX)
                    and c["count"] < 3):
                c["count"], c["last"] = c["count"] + 1, press.event.time_ms
                return
            self.flush()
            self.clicks = {"count": 1, "last": press.event.time_ms, "at": start, "frame": press.event.frame,
                           "notes": notes}
        else:
            self.flush()
            if moved:
                notes.append(f"a drag with the {CLICKS[event.detail].split('_')[0]} button is recorded as a click "
                             "(the action space drags with the left button only)")
            self.emit({"action": CLICKS[event.detail], "coordinate": list(start)}, press.event.frame, notes)

    def key(self, event: InputEvent) -> None:
        """A key press: a character joins the typing; anything else (or with ctrl/alt/super) is a chord."""
        if not event.press or is_modifier_key(event):
            return
        self.flush(typing=False)
        char = typed_char(event.keysym)
        if char is not None and not event.state & (CONTROL | MOD1 | MOD4):
            if not self.text:
                self.text_frame = event.frame
            self.text.append(char)
            if len(self.text) >= MAX_TYPE_CHARS:
                self.flush()
            return
        self.flush()
        keys = chord_of(event)
        if keys is None:
            name = KEYSYM_NAMES.get(event.keysym) or f"0x{event.keysym:x}"
            self.out.append(Recorded(None, event.frame, [f"key {name!r} has no name in the action space; left out"]))
            return
        self.emit({"action": "key", "keys": keys}, event.frame)


def _held_notes(state: int) -> list[str]:
    held = modifiers_of(state)
    if not held:
        return []
    return [f"{'+'.join(held)} was held during the click; the action space has no held modifiers, so the "
            "replay clicks without them"]


def actions_from_events(events: Sequence[InputEvent]) -> list[Recorded]:
    """The actions (screen pixels) the events amount to, in order; an entry whose action is None is a
    key that could not be named (its note says which)."""
    builder = _Builder()
    for event in events:
        if event.kind == "motion":
            builder.motion(event)
        elif event.kind == "button" and event.detail in WHEEL:
            builder.wheel(event)
        elif event.kind == "button" and event.detail in CLICKS:
            builder.button(event)
        elif event.kind == "key":
            builder.key(event)
    builder.flush()
    return builder.out


def normalize_chord(text: str) -> list[str]:
    """A key chord as `chord_of` names it ('Ctrl+Alt+Q' → ['ctrl', 'alt', 'q']); ValueError naming an
    unknown key."""
    keys = [canonical_key(part) for part in split_chord(text)]
    held = [m for m in ("ctrl", "alt", "shift", "super") if m in keys[:-1]]
    if not keys or keys[-1] in MODIFIERS or len(held) != len(keys) - 1:
        raise ValueError(f"{text!r} is not a key chord: give modifiers (ctrl, alt, shift, super) then one key, "
                         "e.g. pause or ctrl+alt+q")
    return held + [keys[-1]]
