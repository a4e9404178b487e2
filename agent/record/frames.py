"""Screenshots while a person works: the latest one is always at hand, the ones actions need are kept.

A thread captures the sandbox's screen every `every_s` seconds and keeps the picture only when it
changed. When an input event begins an action the recorder pins the latest frame: that is the screen
the person saw before acting. Pinned frames are PNG-encoded in the capture thread and their pixels
dropped, so a long recording holds compressed pictures only.
"""
from __future__ import annotations

import io
import threading
import time
from typing import TYPE_CHECKING

from agent.desktop import Screen
from agent.errors import CaptureError

if TYPE_CHECKING:
    from PIL.Image import Image


class Frame:
    """One captured picture: its pixels until pinned and encoded, then its PNG bytes."""

    def __init__(self, image: "Image", taken: float):
        self.image: "Image | None" = image
        self.taken = taken
        self.png: bytes | None = None
        self.pinned = False

    def encode(self) -> bytes:
        """The PNG bytes (encoded once; the pixels are then released)."""
        if self.png is None:
            buffer = io.BytesIO()
            self.image.save(buffer, format="PNG", compress_level=1)
            self.png, self.image = buffer.getvalue(), None
        return self.png


class FrameGrabber:
    """Captures a display in a thread; `pin()` hands out the newest frame taken before now."""

    def __init__(self, display: str, xauthority: str | None, every_s: float = 0.2):
        self.display, self.xauthority, self.every_s = display, xauthority, every_s
        self._latest: Frame | None = None
        self._raw: bytes | None = None
        self._pinned: list[Frame] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frames", daemon=True)
        self.error: str | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start capturing; return once the first frame is there (CaptureError if it never comes)."""
        self._thread.start()
        if not self._ready.wait(timeout) or self._latest is None:
            raise CaptureError(f"cannot capture the recording's display {self.display}: {self.error or 'no frame'}")

    def pin(self) -> Frame | None:
        """The newest frame, kept for an action."""
        with self._lock:
            frame = self._latest
            if frame is not None and not frame.pinned:
                frame.pinned = True
                self._pinned.append(frame)
            return frame

    def capture_now(self) -> Frame:
        """A fresh frame (the screen at the end), pinned."""
        screen = Screen(self.display, xauthority=self.xauthority)
        try:
            image, _ = screen.capture()
        finally:
            _close(screen)
        frame = Frame(image, time.monotonic())
        frame.pinned = True
        return frame

    def stop(self) -> None:
        """Stop capturing; every pinned frame is encoded by then."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._encode_pinned()

    def _run(self) -> None:
        try:
            screen = Screen(self.display, xauthority=self.xauthority)
        except CaptureError as exc:
            self.error = str(exc)
            self._ready.set()
            return
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    image, _ = screen.capture()
                except CaptureError as exc:  # the display went away: the recorder notices on its own
                    self.error = str(exc)
                    break
                raw = image.tobytes()
                with self._lock:
                    if raw != self._raw:
                        self._latest, self._raw = Frame(image, began), raw
                self._ready.set()
                self._encode_pinned()
                self._stop.wait(max(0.0, self.every_s - (time.monotonic() - began)))
        finally:
            _close(screen)
            self._ready.set()

    def _encode_pinned(self) -> None:
        with self._lock:
            waiting = [frame for frame in self._pinned if frame.png is None]
        for frame in waiting:
            frame.encode()


def _close(screen: Screen) -> None:
    """Close a capture connection; one to a display that is already gone cannot be closed cleanly."""
    try:
        screen.close()
    except Exception:  # mss raises its own XError for a lost connection
        pass
