"""Canonical key names (actions.keys) → X keysym names, for xdotool."""
from __future__ import annotations

_NAMED = {
    "ctrl": "ctrl", "alt": "alt", "shift": "shift", "super": "super", "enter": "Return", "esc": "Escape",
    "tab": "Tab", "space": "space", "backspace": "BackSpace", "delete": "Delete", "insert": "Insert",
    "home": "Home", "end": "End", "pageup": "Prior", "pagedown": "Next", "up": "Up", "down": "Down",
    "left": "Left", "right": "Right", "capslock": "Caps_Lock", "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock", "printscreen": "Print", "pause": "Pause", "menu": "Menu",
}
_SYMBOLS = {
    "!": "exclam", '"': "quotedbl", "#": "numbersign", "$": "dollar", "%": "percent", "&": "ampersand",
    "'": "apostrophe", "(": "parenleft", ")": "parenright", "*": "asterisk", "+": "plus", ",": "comma",
    "-": "minus", ".": "period", "/": "slash", ":": "colon", ";": "semicolon", "<": "less", "=": "equal",
    ">": "greater", "?": "question", "@": "at", "[": "bracketleft", "\\": "backslash",
    "]": "bracketright", "^": "asciicircum", "_": "underscore", "`": "grave", "{": "braceleft",
    "|": "bar", "}": "braceright", "~": "asciitilde",
}


def keysym_name(key: str) -> str:
    """X keysym name of a canonical key: 'enter' → 'Return', '<' → 'less', 'f5' → 'F5', 'a' → 'a'."""
    if key in _NAMED:
        return _NAMED[key]
    if key in _SYMBOLS:
        return _SYMBOLS[key]
    if len(key) > 1 and key[0] == "f" and key[1:].isdigit():
        return key.upper()
    return key
