"""Qwen3-VL image preprocessing: resize to the patch grid, normalise, cut into merge-ordered patches.

One image of H x W pixels becomes `grid_h * grid_w` rows of `3 * temporal * patch * patch` values
(1536 for Qwen3-VL), where grid_h = H' / patch and H' is the smart-resized height. Rows come in
merge-block order: all `merge x merge` neighbours of one merged token are consecutive, so the
vision tower's patch merger can take groups of `merge**2` rows. The still image is repeated along
time to fill the temporal patch. Pixel values match transformers' Qwen2VLImageProcessorPil.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from model.errors import InputError

DEFAULT_MIN_PIXELS = 65_536  # Qwen3-VL checkpoints' preprocessor_config.json defaults
DEFAULT_MAX_PIXELS = 16_777_216
MAX_ASPECT_RATIO = 200
# Largest input accepted (8192 x 8192: an 8K screen fits): resizing costs time and memory in the input
# size, so a huge image is refused before any pixel is converted.
MAX_INPUT_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class ProcessorConfig:
    """Image preprocessing settings of a checkpoint (preprocessor_config.json)."""

    patch_size: int = 16  # side of one vision patch in pixels
    merge_size: int = 2  # merge x merge patches become one text token
    temporal_patch_size: int = 2  # frames per patch; a still image is repeated to fill them
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # per RGB channel, after rescaling
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    rescale_factor: float = 1 / 255  # bytes -> [0, 1]
    min_pixels: int = DEFAULT_MIN_PIXELS  # resized images have at least this many pixels...
    max_pixels: int = DEFAULT_MAX_PIXELS  # ...and at most this many

    @property
    def factor(self) -> int:
        """Side lengths of resized images are multiples of this (patch x merge, 32 for Qwen3-VL)."""
        return self.patch_size * self.merge_size

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "preprocessor config") -> "ProcessorConfig":
        """Read the fields transformers writes; `min_pixels`/`max_pixels` win over `size`."""
        size = data.get("size") or {}
        if not isinstance(size, dict):
            raise ValueError(f"{source}: 'size' must be an object, got {size!r}")
        values = {
            "patch_size": data.get("patch_size", cls.patch_size),
            "merge_size": data.get("merge_size", cls.merge_size),
            "temporal_patch_size": data.get("temporal_patch_size", cls.temporal_patch_size),
            "image_mean": tuple(data.get("image_mean", cls.image_mean)),
            "image_std": tuple(data.get("image_std", cls.image_std)),
            "rescale_factor": data.get("rescale_factor", cls.rescale_factor),
            "min_pixels": _first_present(
                data.get("min_pixels"), size.get("shortest_edge"), size.get("min_pixels"), cls.min_pixels
            ),
            "max_pixels": _first_present(
                data.get("max_pixels"), size.get("longest_edge"), size.get("max_pixels"), cls.max_pixels
            ),
        }
        for name in ("patch_size", "merge_size", "temporal_patch_size", "min_pixels", "max_pixels"):
            if not isinstance(values[name], int) or values[name] <= 0:
                raise ValueError(f"{source}: '{name}' must be a positive integer, got {values[name]!r}")
        for name in ("image_mean", "image_std"):
            if len(values[name]) != 3:
                raise ValueError(f"{source}: '{name}' must have 3 values (RGB), got {list(values[name])!r}")
        if values["min_pixels"] > values["max_pixels"]:
            raise ValueError(f"{source}: min_pixels {values['min_pixels']} exceeds max_pixels {values['max_pixels']}")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> "ProcessorConfig":
        """Parse a preprocessor_config.json file (or the one inside a checkpoint folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / "preprocessor_config.json"
        if not path.is_file():
            raise FileNotFoundError(f"no preprocessor_config.json at {path}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err
        return cls.from_dict(data, source=str(path))

    def preprocess(self, images: Sequence[Image.Image], min_pixels: int | None = None,
                   max_pixels: int | None = None) -> ImageBatch:
        """Preprocess with these settings; `min_pixels`/`max_pixels` override the checkpoint's budget."""
        return preprocess(
            images,
            min_pixels=self.min_pixels if min_pixels is None else min_pixels,
            max_pixels=self.max_pixels if max_pixels is None else max_pixels,
            patch_size=self.patch_size,
            merge_size=self.merge_size,
            temporal_patch_size=self.temporal_patch_size,
            mean=self.image_mean,
            std=self.image_std,
            rescale_factor=self.rescale_factor,
        )


@dataclass
class ImageBatch:
    """Preprocessed images: patch rows of all images concatenated, and each image's grid."""

    pixel_values: torch.Tensor  # float32 [sum_patches, 3 * temporal * patch * patch]
    grid_thw: torch.Tensor  # int64 [n_images, 3], (t, h, w) in patches before merging
    merge_size: int = 2

    def tokens_per_image(self) -> list[int]:
        """Number of <|image_pad|> tokens each image takes in the prompt."""
        return [tokens_per_image(grid, self.merge_size) for grid in self.grid_thw.tolist()]


def _first_present(*values: Any) -> Any:
    """The first argument that is not None."""
    return next(v for v in values if v is not None)


def smart_resize(height: int, width: int, factor: int = 32, min_pixels: int = DEFAULT_MIN_PIXELS,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Nearest (h, w) to the input that are multiples of `factor` with h*w inside the pixel budget.

    Rounds each side to the nearest multiple first; if that breaks the budget, scales both sides by
    the same ratio (flooring when shrinking, ceiling when growing) so the aspect ratio is kept.
    """
    if height <= 0 or width <= 0:
        raise InputError(f"image size must be positive, got height={height} width={width}")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise InputError(
            f"image aspect ratio must be at most {MAX_ASPECT_RATIO}, got {height}x{width} "
            f"(ratio {max(height, width) / min(height, width):.1f})"
        )
    new_h = round(height / factor) * factor
    new_w = round(width / factor) * factor
    if new_h * new_w > max_pixels:
        shrink = math.sqrt(height * width / max_pixels)
        new_h = max(factor, math.floor(height / shrink / factor) * factor)
        new_w = max(factor, math.floor(width / shrink / factor) * factor)
    elif new_h * new_w < min_pixels:
        grow = math.sqrt(min_pixels / (height * width))
        new_h = math.ceil(height * grow / factor) * factor
        new_w = math.ceil(width * grow / factor) * factor
    return new_h, new_w


def tokens_per_image(grid: Sequence[int] | torch.Tensor, merge_size: int = 2) -> int:
    """<|image_pad|> tokens for one image of grid (t, h, w): t*h*w / merge_size**2."""
    t, h, w = (int(v) for v in grid)
    return t * h * w // (merge_size * merge_size)


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB copy of `image`; transparent pixels are composited onto white, as transformers does."""
    has_alpha = "A" in image.getbands() or image.info.get("transparency") is not None
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def normalisation_table(mean: Sequence[float], std: Sequence[float], rescale_factor: float) -> np.ndarray:
    """float32 [3, 256]: the normalised value of every byte in every channel.

    Computed with transformers' arithmetic (float64 rescale, cast to float32, then (x - mean) / std in
    float32), so a lookup gives bit-identical values to rescaling and normalising the whole image.
    """
    levels = (np.arange(256, dtype=np.float64) * rescale_factor).astype(np.float32)
    mean32 = np.asarray(mean, dtype=np.float32)[:, None]
    std32 = np.asarray(std, dtype=np.float32)[:, None]
    return (levels[None, :] - mean32) / std32


def patchify(rgb: np.ndarray, table: torch.Tensor, patch_size: int, merge_size: int,
             temporal_patch_size: int) -> torch.Tensor:
    """uint8 [H, W, 3] -> float32 [grid_h * grid_w, 3 * temporal * patch * patch] in merge-block order.

    Rows: (block_row, block_col, row_in_block, col_in_block); columns: (channel, time, y, x).
    `table` is normalisation_table() as a tensor; bytes are reordered first (cheap, 1 byte each),
    then turned into floats by one gather.
    """
    height, width, channels = rgb.shape
    p, m = patch_size, merge_size
    grid_h, grid_w = height // p, width // p
    n = grid_h * grid_w
    # [bh, m, p, bw, m, p, C] -> [bh, bw, m, m, C, p, p] -> [N, C, p*p]
    blocks = torch.from_numpy(rgb).reshape(grid_h // m, m, p, grid_w // m, m, p, channels)
    codes = blocks.permute(0, 3, 1, 4, 6, 2, 5).reshape(n, channels, p * p).long()
    values = torch.gather(table.unsqueeze(0).expand(n, channels, 256), 2, codes)  # [N, C, p*p]
    # repeat the still frame along time: [N, C, 1, p*p] -> [N, C, T, p*p]
    values = values.unsqueeze(2).expand(n, channels, temporal_patch_size, p * p)
    return values.reshape(n, channels * temporal_patch_size * p * p)


def preprocess(images: Sequence[Image.Image], min_pixels: int = DEFAULT_MIN_PIXELS,
               max_pixels: int = DEFAULT_MAX_PIXELS, patch_size: int = 16, merge_size: int = 2,
               temporal_patch_size: int = 2, mean: Sequence[float] = (0.5, 0.5, 0.5),
               std: Sequence[float] = (0.5, 0.5, 0.5), rescale_factor: float = 1 / 255) -> ImageBatch:
    """Turn PIL images into the vision tower's input rows and grids (bicubic resize, normalise, patchify)."""
    if len(images) == 0:
        raise ValueError("preprocess needs at least one image")
    table = torch.from_numpy(normalisation_table(mean, std, rescale_factor))
    rows, grids = [], []
    for index, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise TypeError(f"image {index} must be a PIL.Image.Image, got {type(image).__name__}")
        if image.width * image.height > MAX_INPUT_PIXELS:
            raise InputError(f"image {index} is {image.width}x{image.height} = {image.width * image.height:,} pixels, "
                             f"more than the {MAX_INPUT_PIXELS:,} accepted; downscale it first")
        rgb = to_rgb(image)
        height, width = smart_resize(rgb.height, rgb.width, patch_size * merge_size, min_pixels, max_pixels)
        resized = rgb.resize((width, height), resample=Image.Resampling.BICUBIC)
        rows.append(patchify(np.array(resized), table, patch_size, merge_size, temporal_patch_size))
        grids.append((1, height // patch_size, width // patch_size))
    pixel_values = rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)
    grid_thw = torch.tensor(grids, dtype=torch.long)
    return ImageBatch(pixel_values=pixel_values, grid_thw=grid_thw, merge_size=merge_size)
