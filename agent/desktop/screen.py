"""Screen capture with mss: one screenshot plus the geometry that maps it back to the pointer."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import mss
from PIL import Image

from actions import ScreenGeometry
from actions.x11.xdisplay import x_environment
from agent.errors import CaptureError

if TYPE_CHECKING:
    from PIL.Image import Image

    from actions.coords import ScreenGeometry



def _open_mss(display: str | None, xauthority: str | None = None) -> Any:
    factory = getattr(mss, "MSS", None) or mss.mss  # mss >= 10.2 prefers mss.MSS
    try:
        if display and xauthority:  # libxcb reads the cookie file from the environment while connecting
            with x_environment(display, Path(xauthority)):
                return factory(display=display)
        return factory(display=display) if display else factory()
    except Exception as exc:  # mss raises ScreenShotError and ctypes errors alike
        raise CaptureError(f"cannot open display {display or '$DISPLAY'} for capture: {exc}") from exc


class Screen:
    """Captures one monitor of an X11 display (monitor 1 = the first real monitor in mss)."""

    def __init__(self, display: str | None = None, monitor: int = 1, xauthority: str | None = None):
        """display ':N' and its Xauthority file; without them, $DISPLAY/$XAUTHORITY of this process."""
        self.display = display
        self.monitor = monitor
        self._mss = _open_mss(display, xauthority)

    def capture(self) -> tuple["Image", "ScreenGeometry"]:
        """Grab the monitor as an RGB image and describe where it sits on the pointer's screen."""
        monitors = self._mss.monitors
        if self.monitor >= len(monitors):
            raise CaptureError(f"monitor {self.monitor} does not exist ({len(monitors) - 1} found)")
        box = monitors[self.monitor]
        try:
            shot = self._mss.grab(box)
        except Exception as exc:
            raise CaptureError(f"capture of {self.display or '$DISPLAY'} failed: {exc}") from exc
        image = Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")
        # X11 reports monitors in pointer units; a HiDPI capture would be larger than the box.
        geometry = ScreenGeometry(
            screenshot_width=image.width, screenshot_height=image.height,
            logical_width=box["width"], logical_height=box["height"],
            offset_x=box["left"], offset_y=box["top"],
        )
        return image, geometry

    def close(self) -> None:
        """Release the X connection."""
        self._mss.close()
