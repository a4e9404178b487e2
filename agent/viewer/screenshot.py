"""The screenshot panel: textual-image where the terminal supports graphics, half blocks otherwise."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator, Literal

from PIL import Image
from textual.app import ComposeResult
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Static

from agent.viewer.halfblock import HalfBlockImage

Renderer = Literal["auto", "halfblock"]


def image_widget_class(renderer: Renderer) -> type[Widget]:
    """The widget class that draws images for this renderer choice.

    "auto" uses textual-image, which picks Sixel, the kitty graphics protocol or coloured cells for the
    terminal at hand; it must be imported before the app starts (it queries the terminal), which
    `prepare_renderer` does. Without it (or when asked) our own half-block widget is used.
    """
    if renderer == "auto":
        try:
            with _quiet_terminal_probe():
                # textual-image queries the terminal when imported: only when graphics are wanted
                from textual_image.widget import Image as TerminalImage
        except Exception:  # no terminal to query, or the package is missing: half blocks still work
            return HalfBlockImage
        return TerminalImage
    return HalfBlockImage


@contextmanager
def _quiet_terminal_probe() -> Iterator[None]:
    """Keep textual-image's import-time warning off the screen: a terminal that does not answer its
    cell-size query makes it log a full traceback (and then it simply assumes a cell size)."""
    logger = logging.getLogger("textual_image")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def prepare_renderer(renderer: Renderer) -> Renderer:
    """Import textual-image now (before Textual owns the terminal); fall back to half blocks."""
    return "auto" if image_widget_class(renderer) is not HalfBlockImage else "halfblock"


class ScreenshotPanel(Container):
    """Shows one annotated screenshot, or a line saying why there is none."""

    def __init__(self, renderer: Renderer = "halfblock", **kwargs):
        super().__init__(**kwargs)
        self._widget_class = image_widget_class(renderer)
        self.shown_step: int | None = None  # which step's screenshot (or note) is on display

    def compose(self) -> ComposeResult:
        """An image widget and a message line; one of them is visible."""
        # textual-image sizes itself from its CSS: the class lets the stylesheet keep its aspect.
        classes = "" if self._widget_class is HalfBlockImage else "terminal-image"
        yield self._widget_class(id="shot-image", classes=classes)
        yield Static("", id="shot-message")

    def show(self, step: int, image: Image.Image | None, message: str = "") -> None:
        """Display step `step`'s `image`, or hide the image and show `message` instead."""
        self.shown_step = step
        picture = self.query_one("#shot-image")
        picture.image = image  # both widget kinds expose an `image` property
        picture.display = image is not None
        note = self.query_one("#shot-message", Static)
        note.update(message)
        note.display = bool(message)
