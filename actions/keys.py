"""Key names: every spelling a model uses, folded onto one canonical set.

Canonical names are lowercase: modifiers `ctrl alt shift super`, named keys such as `enter esc tab
space backspace delete insert home end pageup pagedown up down left right menu printscreen`, `f1`…`f24`,
and single printable ASCII characters (letters lowercased: a chord states shift explicitly).
"""
from __future__ import annotations

import string

MODIFIERS = ("ctrl", "alt", "shift", "super")

NAMED_KEYS = (
    *MODIFIERS,
    "enter", "esc", "tab", "space", "backspace", "delete", "insert",
    "home", "end", "pageup", "pagedown", "up", "down", "left", "right",
    "capslock", "numlock", "scrolllock", "printscreen", "pause", "menu",
    *(f"f{n}" for n in range(1, 25)),
)

# Printable ASCII other than letters (kept as typed) and whitespace (named above).
_SYMBOLS = frozenset(string.digits + string.punctuation)

# Spellings seen in model output, after lowercasing and removing spaces, '_' and '-'.
_ALIASES = {
    "control": "ctrl", "ctl": "ctrl", "ctrll": "ctrl", "ctrlr": "ctrl", "controll": "ctrl",
    "controlr": "ctrl", "lctrl": "ctrl", "rctrl": "ctrl", "leftctrl": "ctrl", "rightctrl": "ctrl",
    "alt": "alt", "altl": "alt", "altr": "alt", "lalt": "alt", "ralt": "alt", "option": "alt",
    "opt": "alt", "leftalt": "alt", "rightalt": "alt",
    "shiftl": "shift", "shiftr": "shift", "lshift": "shift", "rshift": "shift",
    "leftshift": "shift", "rightshift": "shift",
    "win": "super", "windows": "super", "cmd": "super", "command": "super", "meta": "super",
    "superl": "super", "superr": "super", "lwin": "super", "rwin": "super", "winleft": "super",
    "winright": "super", "os": "super",
    "return": "enter", "ret": "enter", "kpenter": "enter",
    "escape": "esc",
    "spacebar": "space",
    "bksp": "backspace", "backspc": "backspace", "bs": "backspace",
    "del": "delete", "ins": "insert",
    "pgup": "pageup", "prior": "pageup", "pgdn": "pagedown", "pgdown": "pagedown", "next": "pagedown",
    "arrowup": "up", "uparrow": "up", "arrowdown": "down", "downarrow": "down",
    "arrowleft": "left", "leftarrow": "left", "arrowright": "right", "rightarrow": "right",
    "caps": "capslock",
    "print": "printscreen", "prtsc": "printscreen", "prtscr": "printscreen", "prtscn": "printscreen",
    "sysrq": "printscreen",
    "apps": "menu", "contextmenu": "menu", "application": "menu",
    "plus": "+", "minus": "-", "comma": ",", "period": ".", "dot": ".", "slash": "/",
    "backslash": "\\", "semicolon": ";", "equal": "=", "equals": "=",
}


def canonical_key(name: str) -> str:
    """Canonical name of one key; ValueError naming the key when it is unknown."""
    if not isinstance(name, str):
        raise ValueError(f"key {name!r} is not a string")
    if name == " ":
        return "space"
    stripped = name.strip()
    if len(stripped) == 1:
        if stripped.isascii() and stripped.isalpha():
            return stripped.lower()
        if stripped in _SYMBOLS:
            return stripped
    folded = stripped.lower().replace(" ", "").replace("_", "").replace("-", "")
    if folded in NAMED_KEYS:
        return folded
    if folded in _ALIASES:
        return _ALIASES[folded]
    raise ValueError(f"unknown key {name!r}")


def split_chord(text: str) -> list[str]:
    """Split 'ctrl+shift+t' (or 'ctrl++') into its key names; a lone '+' is the plus key."""
    if text.strip() == "+":
        return ["+"]
    parts = text.split("+")
    keys: list[str] = []
    for index, part in enumerate(parts):
        if part.strip():
            keys.append(part)
        elif index > 0 and (not keys or keys[-1] != "+"):
            # An empty part between separators stands for the '+' key itself ('ctrl++').
            keys.append("+")
    return keys or [text]
