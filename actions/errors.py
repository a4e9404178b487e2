"""Typed errors of the action layer; each message is short enough to show a model or a person."""
from __future__ import annotations


class ParseError(ValueError):
    """Model text that holds no valid action; str() is fed back to the model on the next turn."""


class CoordinateError(ValueError):
    """A coordinate outside the model's grid or the screen (never silently clamped)."""


class DesktopUnavailable(RuntimeError):
    """No usable X11 desktop: no DISPLAY, no Xauthority file, a Wayland session, or no connection."""


class ExecutionError(RuntimeError):
    """An action that reached the desktop but could not be carried out (e.g. xdotool failed)."""


class FailSafeTriggered(ExecutionError):
    """The pointer sat in a screen corner: the person's kill switch on a live desktop."""
