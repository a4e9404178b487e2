"""Wait until a desktop is ready for its first screenshot: windows drawn, screen still.

A window is mapped before its app has painted it (a GTK 4 window is black at first), and an app
may still be laying out or starting a blink. `wait_until_settled` polls screenshots until every
awaited window shows more than one colour and the whole screen has not changed for `still_s`,
or the time is up (then it returns False and the run goes ahead with what is there).
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import time
from typing import Any, Callable

POLL_S = 0.15
STILL_S = 0.6


def window_boxes(env: dict[str, str], regex: str) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of the visible windows whose title matches regex."""
    pattern = re.compile(regex)
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "."],
                           env=env, capture_output=True, text=True, timeout=10)
    boxes = []
    for window in found.stdout.split():
        name = subprocess.run(["xdotool", "getwindowname", window], env=env, capture_output=True, text=True, timeout=10)
        if name.returncode != 0 or not pattern.search(name.stdout.rstrip("\n")):
            continue
        shape = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window],
                               env=env, capture_output=True, text=True, timeout=10)
        fields = dict(line.split("=", 1) for line in shape.stdout.split() if "=" in line)
        try:
            boxes.append((int(fields["X"]), int(fields["Y"]), int(fields["WIDTH"]), int(fields["HEIGHT"])))
        except (KeyError, ValueError):
            continue
    return boxes


def drawn(image: Any, box: tuple[int, int, int, int]) -> bool:
    """True when the window's area of the screenshot holds more than one colour."""
    x, y, w, h = box
    crop = image.crop((max(0, x), max(0, y), min(image.width, x + w), min(image.height, y + h)))
    if crop.width == 0 or crop.height == 0:
        return True  # off screen: nothing to wait for
    return any(low != high for low, high in crop.getextrema())


def _all_drawn(image: Any, boxes: Callable[[], list[tuple[int, int, int, int]]]) -> bool:
    try:
        found = boxes()
    except subprocess.TimeoutExpired:
        return False  # the X server is too busy to say where the windows are: not settled yet
    return all(drawn(image, box) for box in found)


def wait_until_settled(capture: Callable[[], Any], boxes: Callable[[], list[tuple[int, int, int, int]]],
                       timeout: float, still_s: float = STILL_S) -> bool:
    """Poll capture() until the boxes are drawn and the screen is unchanged for still_s; False on timeout."""
    deadline = time.monotonic() + timeout
    last_digest, still_since = None, time.monotonic()
    while True:
        image = capture()
        digest = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
        now = time.monotonic()
        if digest != last_digest:
            last_digest, still_since = digest, now
        elif now - still_since >= still_s and _all_drawn(image, boxes):
            return True
        if now >= deadline:
            return False
        time.sleep(POLL_S)
