"""Qwen3-VL video preprocessing: sample frames at a target rate, resize, normalise, cut into patches.

A clip of N frames (H x W, at `fps` frames per second) becomes:
- frame indices sampled uniformly at the config's target rate (2 per second), between min_frames and
  max_frames, never more than the clip has;
- one size for every frame: sides multiples of 32 with (frames rounded to pairs) x h x w inside the
  config's pixel budget (the budget covers the whole clip, not one frame);
- bicubic, antialiased resizing of the uint8 frames, then (x - 127.5) / 127.5 per channel;
- patch rows like an image's, except that the two time slots of a patch hold two consecutive sampled
  frames (the last frame is repeated when the count is odd). Two frames form one "frame group"; the
  grid is (groups, h/16, w/16).
- one timestamp per group: the mean of its two frames' times, written "<3.5 seconds>" before the
  group's tokens in the prompt (model/inputs/chat.py).

Semantics follow transformers' Qwen3VLVideoProcessor with torchvision (whose uint8 bicubic resize is
torch's own antialiased kernel, used here directly) and Qwen3VLProcessor's timestamps; no torchvision
is needed. Decoding files and reading folders of frames is model/inputs/video_io.py.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from model.errors import InputError
from model.inputs.image import to_rgb

# transformers' Qwen3VLVideoProcessor class defaults, used where video_preprocessor_config.json is silent.
DEFAULT_VIDEO_MIN_PIXELS = 128 * 32 * 32
DEFAULT_VIDEO_MAX_PIXELS = 768 * 32 * 32
DEFAULT_SAMPLE_FPS = 2.0  # frames sampled per second of video
DEFAULT_MIN_FRAMES = 4
DEFAULT_MAX_FRAMES = 768
UNKNOWN_CLIP_FPS = 24.0  # assumed when a clip does not say its frame rate (transformers does the same)
RESIZE_CHUNK = 16  # frames resized per call
MAX_ASPECT_RATIO = 200


@dataclass(frozen=True)
class VideoConfig:
    """Video preprocessing settings of a checkpoint (video_preprocessor_config.json)."""

    patch_size: int = 16
    merge_size: int = 2
    temporal_patch_size: int = 2  # sampled frames per frame group
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    rescale_factor: float = 1 / 255
    min_pixels: int = DEFAULT_VIDEO_MIN_PIXELS  # pixels of the whole resized clip (frames x h x w)...
    max_pixels: int = DEFAULT_VIDEO_MAX_PIXELS  # ...at least / at most
    fps: float = DEFAULT_SAMPLE_FPS
    min_frames: int = DEFAULT_MIN_FRAMES
    max_frames: int = DEFAULT_MAX_FRAMES
    cap_pixels_per_frame: bool = False  # qwen-vl-utils' per-frame cap (transformers' default: off)
    max_video_tokens: int = 768  # per-frame patch ceiling of that cap

    @property
    def factor(self) -> int:
        """Frame sides are multiples of this (patch x merge)."""
        return self.patch_size * self.merge_size

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "video preprocessor config") -> "VideoConfig":
        """Read the fields transformers writes; `size.shortest_edge`/`longest_edge` are the pixel bounds."""
        size = data.get("size") or {}
        if not isinstance(size, dict):
            raise ValueError(f"{source}: 'size' must be an object, got {size!r}")
        values = {name: data[name] for name in ("patch_size", "merge_size", "temporal_patch_size", "rescale_factor",
                                                 "fps", "min_frames", "max_frames", "cap_pixels_per_frame",
                                                 "max_video_tokens") if data.get(name) is not None}
        for name in ("image_mean", "image_std"):
            if name in data:
                values[name] = tuple(data[name])
        minimum = data.get("min_pixels", size.get("shortest_edge"))
        maximum = data.get("max_pixels", size.get("longest_edge"))
        if minimum is not None:
            values["min_pixels"] = minimum
        if maximum is not None:
            values["max_pixels"] = maximum
        config = cls(**values)
        config.validate(source)
        return config

    @classmethod
    def from_file(cls, path: str | Path) -> "VideoConfig":
        """Parse video_preprocessor_config.json (or the one in a checkpoint folder; defaults if it has none)."""
        path = Path(path)
        if path.is_dir():
            path = path / "video_preprocessor_config.json"
            if not path.is_file():
                return cls()
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: cannot read video preprocessor config ({error})") from error
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        return cls.from_dict(data, source=str(path))

    def validate(self, source: str = "video config") -> None:
        """Raise ValueError naming the first field that cannot work."""
        for name in ("patch_size", "merge_size", "temporal_patch_size", "min_pixels", "max_pixels", "min_frames",
                     "max_frames", "max_video_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{source}: '{name}' must be a positive integer, got {value!r}")
        if not isinstance(self.fps, (int, float)) or not self.fps > 0:
            raise ValueError(f"{source}: 'fps' must be a positive number, got {self.fps!r}")
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"{source}: min_pixels {self.min_pixels} exceeds max_pixels {self.max_pixels}")
        for name in ("image_mean", "image_std"):
            if len(getattr(self, name)) != 3:
                raise ValueError(f"{source}: '{name}' must have 3 values (RGB), got {list(getattr(self, name))!r}")


@dataclass
class Clip:
    """Decoded frames before sampling, and the rate they were recorded at."""

    frames: np.ndarray
    """uint8 [N, H, W, 3] RGB."""
    fps: float | None = None
    """Frames per second of the recording; None means unknown (24 is assumed, as transformers does)."""
    indices: list[int] | None = None
    """Position of each frame in the recording (None: 0, 1, 2, ...); timestamps are indices / fps."""
    sampled: bool = False
    """True when the frames were already chosen at the sampling rate (decoding a file does that):
    preprocessing then keeps them all."""

    @classmethod
    def from_images(cls, images: Sequence[Image.Image], fps: float | None = None) -> "Clip":
        """A clip from PIL images of one size (converted to RGB, transparency onto white)."""
        if len(images) == 0:
            raise InputError("a video needs at least one frame")
        arrays = [np.asarray(to_rgb(image)) for image in images]
        sizes = {array.shape for array in arrays}
        if len(sizes) > 1:
            raise InputError(f"all frames of a video must have one size, got {sorted(s[1::-1] for s in sizes)}")
        return cls(np.stack(arrays), fps)

    def check(self) -> None:
        """Raise ValueError unless frames is uint8 [N>0, H, W, 3] and fps is positive or None."""
        frames = self.frames
        if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            shape = getattr(frames, "shape", None)
            raise InputError(f"video frames must be a uint8 array [frames, height, width, 3], got "
                             f"{type(frames).__name__} {getattr(frames, 'dtype', '')} {shape}")
        if frames.shape[0] == 0 or frames.shape[1] == 0 or frames.shape[2] == 0:
            raise InputError(f"video frames must not be empty, got shape {frames.shape}")
        if self.fps is not None and not self.fps > 0:
            raise InputError(f"video fps must be positive, got {self.fps!r}")
        if self.indices is not None and len(self.indices) != frames.shape[0]:
            raise InputError(f"video has {frames.shape[0]} frames but {len(self.indices)} frame indices")

    def source_indices(self) -> np.ndarray:
        """Each frame's position in the recording."""
        return np.arange(self.frames.shape[0]) if self.indices is None else np.asarray(self.indices, dtype=int)


@dataclass
class PreparedVideo:
    """A preprocessed video: patch rows of every frame group, its grid, and each group's time."""

    pixel_values: torch.Tensor
    """float32 [groups * h * w, 3 * temporal * patch * patch], group by group, merge-block order."""
    grid_thw: tuple[int, int, int]
    """(frame groups, h, w) in patches."""
    timestamps: list[float]
    """Seconds of each frame group (mean of its frames' times)."""
    frame_indices: list[int]
    """Which frames of the clip were sampled."""
    merge_size: int = 2

    @property
    def groups(self) -> int:
        """Frame groups (temporal patches): each is one block of pad tokens in the prompt."""
        return self.grid_thw[0]

    @property
    def tokens_per_group(self) -> int:
        """<|video_pad|> tokens of one frame group."""
        _, h, w = self.grid_thw
        return (h // self.merge_size) * (w // self.merge_size)

    def group_rows(self, index: int) -> torch.Tensor:
        """Patch rows of frame group `index` [h * w, C*T*p*p]: encoded alone they give that group's
        features, since the vision tower attends within a frame group only."""
        _, h, w = self.grid_thw
        return self.pixel_values[index * h * w:(index + 1) * h * w]


def timestamp_text(seconds: float) -> str:
    """The text before a frame group's tokens, as Qwen3VLProcessor writes it: "<3.5 seconds>"."""
    return f"<{seconds:.1f} seconds>"


def sample_indices(total_frames: int, clip_fps: float | None, config: VideoConfig) -> np.ndarray:
    """Indices of the frames to keep: `config.fps` per second of video, within [min_frames, max_frames]
    and never more than the clip has, spread evenly from the first frame to the last."""
    if total_frames <= 0:
        raise InputError(f"a video needs at least one frame, got {total_frames}")
    rate = UNKNOWN_CLIP_FPS if clip_fps is None else clip_fps
    wanted = int(total_frames / rate * config.fps)
    count = min(max(wanted, config.min_frames), config.max_frames, total_frames)
    return np.linspace(0, total_frames - 1, count).round().astype(int)


def group_timestamps(indices: Sequence[int], clip_fps: float | None, temporal_patch_size: int = 2) -> list[float]:
    """Seconds of each frame group: the mean of its first and last frame's time (the last index is
    repeated to fill the final group, as the frames are)."""
    rate = UNKNOWN_CLIP_FPS if clip_fps is None else clip_fps
    padded = list(int(i) for i in indices)
    padded += [padded[-1]] * (-len(padded) % temporal_patch_size)
    seconds = [index / rate for index in padded]
    return [(seconds[i] + seconds[i + temporal_patch_size - 1]) / 2 for i in range(0, len(seconds), temporal_patch_size)]


def clip_budget(config: VideoConfig, num_frames: int) -> int:
    """Largest pixel count of the whole resized clip; with cap_pixels_per_frame, a per-frame share."""
    if not config.cap_pixels_per_frame:
        return config.max_pixels
    per_frame_cap = config.max_video_tokens * config.factor * config.factor
    per_frame = max(min(per_frame_cap, config.max_pixels // num_frames), int(config.min_pixels * 1.05))
    return per_frame * num_frames


def video_smart_resize(num_frames: int, height: int, width: int, factor: int = 32, temporal_factor: int = 2,
                       min_pixels: int = DEFAULT_VIDEO_MIN_PIXELS,
                       max_pixels: int = DEFAULT_VIDEO_MAX_PIXELS) -> tuple[int, int]:
    """Frame size (h, w), multiples of `factor`, nearest to (height, width) such that the clip's
    pixel count (frames rounded to the temporal factor) x h x w lies in [min_pixels, max_pixels].

    Frames thinner than `factor` are first scaled up to it; over budget both sides shrink by one
    ratio (floored), under budget they grow (ceiled), so the aspect ratio is kept.
    """
    if num_frames < temporal_factor:
        raise InputError(f"a video needs at least {temporal_factor} sampled frames, got {num_frames}")
    if height <= 0 or width <= 0:
        raise InputError(f"frame size must be positive, got height={height} width={width}")
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise InputError(f"frame aspect ratio must be at most {MAX_ASPECT_RATIO}, got {height}x{width}")
    new_h = round(height / factor) * factor
    new_w = round(width / factor) * factor
    frames = round(num_frames / temporal_factor) * temporal_factor
    if frames * new_h * new_w > max_pixels:
        shrink = math.sqrt(num_frames * height * width / max_pixels)
        new_h = max(factor, math.floor(height / shrink / factor) * factor)
        new_w = max(factor, math.floor(width / shrink / factor) * factor)
    elif frames * new_h * new_w < min_pixels:
        grow = math.sqrt(min_pixels / (num_frames * height * width))
        new_h = math.ceil(height * grow / factor) * factor
        new_w = math.ceil(width * grow / factor) * factor
    return new_h, new_w


def resize_frames(frames: np.ndarray, height: int, width: int, chunk: int = RESIZE_CHUNK) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> uint8 [T, 3, height, width]: bicubic with antialiasing, on the bytes.
    Frames are resized `chunk` at a time (each frame's result is independent of the others), so a
    long clip never holds a second full-resolution copy of itself."""
    pieces = []
    for start in range(0, frames.shape[0], chunk):
        piece = torch.from_numpy(np.ascontiguousarray(frames[start:start + chunk])).permute(0, 3, 1, 2).contiguous()
        if tuple(piece.shape[-2:]) != (height, width):
            piece = F.interpolate(piece, size=[height, width], mode="bicubic", align_corners=False, antialias=True)
        pieces.append(piece)
    return torch.cat(pieces)


def normalise(frames: torch.Tensor, config: VideoConfig) -> torch.Tensor:
    """uint8 [T, 3, H, W] -> float32: (x - mean/rescale) / (std/rescale), mean and std folded in float32."""
    mean = (torch.tensor(config.image_mean) * (1.0 / config.rescale_factor)).view(1, 3, 1, 1)
    std = (torch.tensor(config.image_std) * (1.0 / config.rescale_factor)).view(1, 3, 1, 1)
    return frames.to(torch.float32).sub_(mean).div_(std)


def patchify_frames(frames: torch.Tensor, patch_size: int, merge_size: int, temporal_patch_size: int) -> torch.Tensor:
    """float [T, C, H, W] -> [groups * gh * gw, C * temporal * p * p] in merge-block order.

    Rows: (group, block_row, block_col, row_in_block, col_in_block); columns: (channel, time, y, x).
    The last frame is repeated until T is a multiple of the temporal patch size.
    """
    if pad := -frames.shape[0] % temporal_patch_size:
        frames = torch.cat([frames, frames[-1:].expand(pad, -1, -1, -1)])
    count, channels, height, width = frames.shape
    p, m, tp = patch_size, merge_size, temporal_patch_size
    groups, grid_h, grid_w = count // tp, height // p, width // p
    # [g, tp, C, bh, m, p, bw, m, p] -> [g, bh, bw, m, m, C, tp, p, p]
    blocks = frames.reshape(groups, tp, channels, grid_h // m, m, p, grid_w // m, m, p)
    blocks = blocks.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return blocks.reshape(groups * grid_h * grid_w, channels * tp * p * p)


def preprocess_video(clip: Clip, config: VideoConfig = VideoConfig()) -> PreparedVideo:
    """Sample (unless clip.sampled), resize, normalise and patch one clip."""
    clip.check()
    total = clip.frames.shape[0]
    keep = np.arange(total) if clip.sampled else sample_indices(total, clip.fps, config)
    indices = clip.source_indices()[keep]
    frames = clip.frames if clip.sampled else clip.frames[keep]  # [T, H, W, 3]
    height, width = video_smart_resize(len(indices), frames.shape[1], frames.shape[2], config.factor,
                                       config.temporal_patch_size, config.min_pixels,
                                       clip_budget(config, len(indices)))
    rows = patchify_frames(normalise(resize_frames(frames, height, width), config), config.patch_size,
                           config.merge_size, config.temporal_patch_size)
    groups = -(-len(indices) // config.temporal_patch_size)
    grid = (groups, height // config.patch_size, width // config.patch_size)
    return PreparedVideo(rows, grid, group_timestamps(indices, clip.fps, config.temporal_patch_size),
                         [int(i) for i in indices], config.merge_size)


def video_config_for(loaded) -> VideoConfig:
    """The video settings of a loaded checkpoint: its video_preprocessor_config.json, else the image
    processor's patch, merge and normalisation with transformers' video defaults for the rest."""
    folder = getattr(loaded, "folder", None)
    if folder is not None and (Path(folder) / "video_preprocessor_config.json").is_file():
        return VideoConfig.from_file(folder)
    image = loaded.processor_config
    return VideoConfig(patch_size=image.patch_size, merge_size=image.merge_size,
                       temporal_patch_size=image.temporal_patch_size, image_mean=tuple(image.image_mean),
                       image_std=tuple(image.image_std), rescale_factor=image.rescale_factor)
