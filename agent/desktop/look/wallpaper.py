"""The desktop's wallpaper, drawn at the screen's size: a smooth colour field with soft glows.

A wallpaper is data (`Wallpaper`: a small grid of colours stretched over the screen, then glows of
light laid on top) rendered with Pillow alone, the same picture for the same size every time, so
screenshots of two runs of a task match. `hsetroot` puts the file on the root window.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

RGB = tuple[int, int, int]
RIM = 181  # Image.radial_gradient's value at distance 128 from the centre


@dataclass(frozen=True)
class Glow:
    """A soft round patch of light: centre and radius as fractions of the screen's width."""

    x: float
    y: float
    radius: float
    colour: RGB
    strength: float = 0.6  # opacity at the centre, fading to 0 at the radius


@dataclass(frozen=True)
class Wallpaper:
    """A colour field: `grid` rows of colours, stretched smoothly over the screen, and glows on top."""

    grid: tuple[tuple[RGB, ...], ...]
    glows: tuple[Glow, ...] = ()

    def render(self, width: int, height: int) -> Image.Image:
        """The wallpaper as an RGB image of width x height pixels."""
        rows, cols = len(self.grid), len(self.grid[0])
        seed = Image.new("RGB", (cols, rows))
        seed.putdata([colour for row in self.grid for colour in row])
        picture = seed.resize((width, height), Image.Resampling.BICUBIC)
        for glow in self.glows:
            picture = _lay_glow(picture, glow)
        return picture

    def write(self, path: Path, width: int, height: int) -> Path:
        """Save the wallpaper for a width x height screen as PNG at path (folders created); return path.

        The file holds a quarter-size picture ("hsetroot -fill" stretches it over the screen): the picture
        has no detail to lose, and drawing and saving it is 16 times faster."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.render(max(1, width // 4), max(1, height // 4)).save(path, format="PNG")
        return path


def _lay_glow(picture: Image.Image, glow: Glow) -> Image.Image:
    """picture with glow's colour blended in through a radial fade (opaque centre, clear rim)."""
    width, height = picture.size
    radius = max(1, round(glow.radius * width))
    # radial_gradient: 256x256, 0 at the centre, 181 half-way along each edge (the circle of radius 128), 255 in
    # the corners. Inside that circle the light fades as the square of the distance to the rim, so no edge shows.
    def level(value: int) -> int:
        inside = max(0.0, 1.0 - value / RIM)
        return round(255 * glow.strength * inside * inside)

    fade = Image.radial_gradient("L").point(level).resize((2 * radius, 2 * radius), Image.Resampling.BILINEAR)
    mask = Image.new("L", picture.size, 0)
    mask.paste(fade, (round(glow.x * width) - radius, round(glow.y * height) - radius))
    return Image.composite(Image.new("RGB", picture.size, glow.colour), picture, mask)
