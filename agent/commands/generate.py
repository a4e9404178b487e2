"""`agent generate`: one user turn (images, videos + text) through the checkpoint's chat template.

Streams the reply to stdout as it is generated, or with --json prints one object:
{"text", "token_ids", "prompt_tokens", "stop_reason", "timings"}. Problems the user can fix (missing
checkpoint, unreadable image, bad option) are UserErrors: agent/cli.py prints them and exits 2.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Sequence

from PIL import Image, UnidentifiedImageError

from agent.errors import UserError
from model import (
    MAX_INPUT_PIXELS,
    GenerationConfig,
    LoadError,
    from_pretrained,
    generate,
    read_video,
    resolve_device_dtype,
    video_config_for,
)


def _open_images(paths: Sequence[Path]):
    """The images, read lazily first: a size beyond the processor's bound is refused before decoding."""
    images = []
    for path in paths:
        if Path(path).is_dir():
            raise UserError(f"--image {path} is a folder; give an image file (a folder of frames goes to --video)")
        if not Path(path).is_file():
            raise UserError(f"image file {path} does not exist")
        try:
            with Image.open(path) as image:
                if image.width * image.height > MAX_INPUT_PIXELS:
                    raise UserError(f"image {path} is {image.width}x{image.height} pixels, more than the "
                                     f"{MAX_INPUT_PIXELS:,} accepted; downscale it first")
                images.append(image.convert("RGB"))
        except Image.DecompressionBombError as error:  # PIL's own bound, checked while opening
            raise UserError(f"image {path} is too large to open safely ({error}); downscale it first") from error
        except (UnidentifiedImageError, OSError) as error:
            raise UserError(f"cannot read image {path}: {error}") from error
    return images


def _load(model: str, device: str, dtype: str):
    try:
        return from_pretrained(model, dtype=dtype, device=device)
    except LoadError as error:
        raise UserError(str(error)) from error


def _check_options(device: str, dtype: str, max_new_tokens: int, temperature: float | None) -> None:
    """Refuse options that cannot work before the (slow) model load."""
    try:
        resolve_device_dtype(device, dtype)
        GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature or 0.0).validate()
    except ValueError as error:
        raise UserError(str(error)) from error


def _check_videos(paths: Sequence[Path], fps: float | None) -> None:
    """Refuse missing video paths and a bad --video-fps before the model load."""
    for path in paths:
        if not Path(path).exists():
            raise UserError(f"video {path} does not exist (give a video file or a folder of frame images)")
    if fps is not None and not fps > 0:
        raise UserError(f"--video-fps must be positive, got {fps}")


def _read_videos(loaded, paths: Sequence[Path], fps: float | None):
    """Decode (and sample) each video with the checkpoint's video settings."""
    config = video_config_for(loaded)
    return [read_video(path, config, fps) for path in paths]


def _write_piece(_token: int, piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def generate_command(model: str, prompt: str, images: Sequence[Path] = (), max_new_tokens: int = 256,
                 temperature: float | None = None, device: str = "auto", dtype: str = "auto",
                 json_output: bool = False, videos: Sequence[Path] = (), video_fps: float | None = None) -> int:
    """Run a single-turn generation and print it; returns the process exit code. `videos` are files
    or folders of frames (placed after the images); `video_fps` is a folder's frame rate, or
    overrides a file's."""
    try:
        _check_options(device, dtype, max_new_tokens, temperature)
        _check_videos(videos, video_fps)
        pictures = _open_images(images)  # before the (slow) model load, so typos fail fast
        started = time.perf_counter()
        loaded = _load(model, device, dtype)
        load_s = time.perf_counter() - started

        config = loaded.generation_defaults.with_overrides(max_new_tokens=max_new_tokens,
                                                           temperature=temperature).validate()
        clips = _read_videos(loaded, videos, video_fps)
        reply = generate(loaded, prompt, pictures, config, on_token=None if json_output else _write_piece,
                         videos=clips)
    except ValueError as error:  # an image the processor refuses, a template that rejects the prompt ...
        raise UserError(str(error)) from error
    if json_output:
        print(json.dumps(_payload(reply, load_s), ensure_ascii=False))
    else:
        print()
    return 0


def _payload(reply, load_s: float) -> dict:
    """The --json object: the reply, its prompt size and where the time went (seconds)."""
    counters = reply.counters
    decode_s = counters.decode_ms / 1e3
    timings = {"load_s": load_s, "vision_s": counters.vision_ms / 1e3, "prefill_s": counters.prefill_ms / 1e3,
               "decode_s": decode_s,
               "decode_tokens_per_s": counters.generated_tokens / decode_s if decode_s > 0 else 0.0}
    return {"text": reply.text, "token_ids": reply.token_ids, "prompt_tokens": counters.prompt_tokens,
            "stop_reason": reply.stop_reason, "timings": timings}
