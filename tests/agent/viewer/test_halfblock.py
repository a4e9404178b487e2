"""The half-block renderer used when the terminal has no graphics (and by the snapshot tests)."""
from __future__ import annotations

from PIL import Image

from agent.viewer.halfblock import UPPER_HALF, fit_size, halfblock_rows


def test_fit_keeps_the_aspect_with_two_pixels_per_cell():
    assert fit_size((320, 200), (80, 20)) == (64, 20)  # limited by height: 40 pixel rows
    assert fit_size((320, 200), (40, 100)) == (40, 12)  # limited by width
    assert fit_size((0, 10), (40, 10)) == (0, 0)


def test_each_cell_carries_the_upper_pixel_as_fg_and_the_lower_as_bg():
    image = Image.new("RGB", (2, 2))
    image.putpixel((0, 0), (255, 0, 0))
    image.putpixel((0, 1), (0, 0, 255))
    image.putpixel((1, 0), (0, 255, 0))
    image.putpixel((1, 1), (10, 20, 30))
    (row,) = halfblock_rows(image, 2, 1)
    cells = [(seg.text, seg.style.color.triplet, seg.style.bgcolor.triplet) for seg in row]
    assert [(t, tuple(fg), tuple(bg)) for t, fg, bg in cells] == [
        (UPPER_HALF, (255, 0, 0), (0, 0, 255)),
        (UPPER_HALF, (0, 255, 0), (10, 20, 30)),
    ]
