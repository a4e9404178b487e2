"""Read a video for the model: a file decoded with PyAV, or a folder of frame images.

    clip = read_video(path, config)      # -> model.inputs.video.Clip, ready for preprocess_video

A file is decoded with PyAV (`pip install ".[video]"`; its wheels bundle FFmpeg, no torchvision): the
frame count and average rate come from the container, the frames to keep are chosen before decoding
(model.inputs.video.sample_indices) and only those are converted to RGB. A folder holds one image per frame,
taken in natural name order (frame2 before frame10), recorded at `fps` (by default the config's
sampling rate, so every frame is kept up to max_frames). Errors name the path and what is wrong.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from model.errors import VideoReadError
from model.inputs.video import Clip, VideoConfig, sample_indices

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def read_video(path: str | Path, config: VideoConfig = VideoConfig(), fps: float | None = None) -> Clip:
    """A file or a folder of frames -> clip. `fps` overrides the rate a file states, or gives the rate
    a folder's frames were recorded at."""
    path = Path(path)
    if fps is not None and not fps > 0:
        raise VideoReadError(f"video fps must be positive, got {fps}")
    if path.is_dir():
        return read_frame_folder(path, config.fps if fps is None else fps)
    if not path.is_file():
        raise VideoReadError(f"video {path} does not exist (give a video file or a folder of frame images)")
    return decode_file(path, config, fps)


def natural_key(name: str) -> list:
    """Sort key that orders embedded numbers by value: frame2.png before frame10.png."""
    return [int(piece) if piece.isdigit() else piece.lower() for piece in re.split(r"(\d+)", name)]


def read_frame_folder(folder: Path, fps: float) -> Clip:
    """Every image file in `folder` (natural name order) as one clip recorded at `fps`."""
    files = sorted((f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in FRAME_SUFFIXES),
                   key=lambda f: natural_key(f.name))
    if not files:
        raise VideoReadError(f"video folder {folder} has no frame images ({', '.join(FRAME_SUFFIXES)})")
    images = []
    for file in files:
        try:
            with Image.open(file) as image:
                image.load()
                images.append(image.copy())
        except (UnidentifiedImageError, OSError) as error:
            raise VideoReadError(f"cannot read frame {file}: {error}") from error
    try:
        return Clip.from_images(images, fps)
    except ValueError as error:
        raise VideoReadError(f"video folder {folder}: {error}") from error


def decode_file(path: Path, config: VideoConfig, fps: float | None = None) -> Clip:
    """Decode the frames of `path` that sampling keeps, with PyAV: a clip of those frames only, marked
    as sampled, with their positions in the file (for the timestamps)."""
    try:
        import av  # optional: the `video` extra; only decoding a file needs it
    except ImportError as error:
        raise VideoReadError(f"reading video file {path} needs PyAV: pip install 'qwen-desktop-agent[video]' "
                             "(or pass a folder of frame images)") from error
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError(f"{path} has no video stream")
            stream = container.streams.video[0]
            rate = fps if fps is not None else (float(stream.average_rate) if stream.average_rate else None)
            frames = _decode_sampled(container, stream, config, rate)
    except av.FFmpegError as error:
        raise VideoReadError(f"cannot decode video {path}: {error}") from error
    arrays, indices = frames
    if not arrays:
        raise VideoReadError(f"video {path} has no decodable frames")
    return Clip(np.stack(arrays), rate, indices, sampled=True)


def _decode_sampled(container, stream, config: VideoConfig, rate: float | None) -> tuple[list[np.ndarray], list[int]]:
    """RGB arrays of the frames sampling keeps, and their indices. When the container does not state
    its frame count, every frame is decoded first (the count is needed to choose)."""
    total = int(stream.frames or 0)
    if total <= 0:
        every = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        if not every:
            return [], []
        keep = sample_indices(len(every), rate, config).tolist()
        return [every[i] for i in keep], keep
    keep = sample_indices(total, rate, config).tolist()
    wanted = set(keep)
    found: dict[int, np.ndarray] = {}
    for index, frame in enumerate(container.decode(stream)):
        if index > keep[-1]:
            break
        if index in wanted:
            found[index] = frame.to_ndarray(format="rgb24")
    kept = [i for i in keep if i in found]  # a container may hold fewer frames than it states
    return [found[i] for i in kept], kept
