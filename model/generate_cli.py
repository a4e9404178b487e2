"""`agent generate`: one user turn (images + text) through the checkpoint's chat template.

Streams the reply to stdout as it is generated, or with --json prints one object:
{"text", "token_ids", "prompt_tokens", "stop_reason", "timings"}. Problems the user can fix (missing
checkpoint, unreadable image, bad option) print one `error: ...` line on stderr and return 2.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Sequence


class UsageError(Exception):
    """An input the user can fix; its message is printed as is."""


def _open_images(paths: Sequence[Path]):
    from PIL import Image, UnidentifiedImageError

    images = []
    for path in paths:
        if not Path(path).is_file():
            raise UsageError(f"image file {path} does not exist")
        try:
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
        except (UnidentifiedImageError, OSError) as error:
            raise UsageError(f"cannot read image {path}: {error}") from error
    return images


def _load(model: str, device: str, dtype: str):
    from model.config import ConfigError
    from model.loader import CheckpointError, from_pretrained

    try:
        return from_pretrained(model, dtype=dtype, device=device)
    except (CheckpointError, ConfigError, FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from error


def _prompt_ids(loaded, prompt: str, images):
    from model.chat import encode_chat

    batch = loaded.processor_config.preprocess(images) if images else None
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": prompt}]
    counts = batch.tokens_per_image() if batch is not None else ()
    ids = encode_chat(loaded.tokenizer, [{"role": "user", "content": content}], counts)
    return ids, batch


def _write_piece(_token: int, piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def run_generate(model: str, prompt: str, images: Sequence[Path] = (), max_new_tokens: int = 256,
                 temperature: float | None = None, device: str = "auto", dtype: str = "auto",
                 json_output: bool = False) -> int:
    """Run a single-turn generation and print it; returns the process exit code."""
    try:
        pictures = _open_images(images)  # before the (slow) model load, so typos fail fast
        started = time.perf_counter()
        loaded = _load(model, device, dtype)
        load_s = time.perf_counter() - started
        from model.generate import generate

        ids, batch = _prompt_ids(loaded, prompt, pictures)
        config = loaded.generation_defaults.with_overrides(max_new_tokens=max_new_tokens,
                                                           temperature=temperature).validate()
        result = generate(loaded, ids, None if batch is None else batch.pixel_values,
                          None if batch is None else batch.grid_thw, config,
                          on_token=None if json_output else _write_piece)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # e.g. an out-of-range generation option
        print(f"error: {error}", file=sys.stderr)
        return 2
    if json_output:
        payload = {"text": result.text, "token_ids": result.token_ids, "prompt_tokens": result.prompt_tokens,
                   "stop_reason": result.stop_reason, "timings": {"load_s": load_s, **result.timings}}
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print()
    return 0
