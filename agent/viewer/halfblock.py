"""Screenshots as text: each cell is '▀' with the upper pixel as foreground and the lower as background.

Terminal cells are about twice as tall as wide, so two stacked pixels per cell keep pixels square.
This renderer works in every colour terminal and is deterministic, which the snapshot tests need.
"""
from __future__ import annotations

from PIL import Image
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"


def fit_size(image_size: tuple[int, int], cells: tuple[int, int]) -> tuple[int, int]:
    """Largest (columns, rows) of cells that shows the image with its aspect kept."""
    width, height = image_size
    columns, rows = cells
    if width <= 0 or height <= 0 or columns <= 0 or rows <= 0:
        return 0, 0
    scale = min(columns / width, 2 * rows / height)
    return max(1, round(width * scale)), max(1, round(height * scale / 2))


def halfblock_rows(image: Image.Image, columns: int, rows: int) -> list[list[Segment]]:
    """The image resized to columns × 2·rows pixels, as `rows` lines of half-block segments."""
    small = image.convert("RGB").resize((columns, rows * 2), Image.Resampling.BILINEAR)
    pixels = small.load()
    lines = []
    for row in range(rows):
        line = []
        for column in range(columns):
            top = pixels[column, 2 * row]
            bottom = pixels[column, 2 * row + 1]
            style = Style(color=f"rgb({top[0]},{top[1]},{top[2]})", bgcolor=f"rgb({bottom[0]},{bottom[1]},{bottom[2]})")
            line.append(Segment(UPPER_HALF, style))
        lines.append(Segment.simplify(line))
    return lines


class HalfBlockImage(Widget):
    """Shows a PIL image with half blocks, scaled to the widget's size."""

    DEFAULT_CSS = "HalfBlockImage { width: 1fr; height: 1fr; }"

    def __init__(self, image: Image.Image | None = None, **kwargs):
        super().__init__(**kwargs)
        self._image = image
        self._cache: tuple[Size, list[Strip]] | None = None

    @property
    def image(self) -> Image.Image | None:
        """The image shown (None shows nothing)."""
        return self._image

    @image.setter
    def image(self, image: Image.Image | None) -> None:
        """Replace the image and redraw."""
        self._image = image
        self._cache = None
        self.refresh()

    def _strips(self) -> list[Strip]:
        size = self.size
        if self._cache and self._cache[0] == size:
            return self._cache[1]
        strips: list[Strip] = []
        if self._image is not None:
            columns, rows = fit_size(self._image.size, (size.width, size.height))
            if columns and rows:
                strips = [Strip(line, columns) for line in halfblock_rows(self._image, columns, rows)]
        self._cache = (size, strips)
        return strips

    def render_line(self, y: int) -> Strip:
        """One terminal row of the image (blank below it)."""
        strips = self._strips()
        if y >= len(strips):
            return Strip.blank(self.size.width)
        margin = (self.size.width - strips[y].cell_length) // 2  # centre the picture
        return Strip.join([Strip.blank(margin), strips[y]]).extend_cell_length(self.size.width)
