"""Single-sequence generation: prefill a prompt (with images), then decode token by token.

`prefill` and `decode_loop` are separate so a multi-turn session can prefill only the new part of a
conversation on top of a cache it kept, then reuse the same decode loop.

After decode_loop returns, the cache holds every generated token except the last one (the stop
token, or the final token at max_new_tokens): it was sampled but never fed back. `cursor` in the
result is the rotary position that last token would take.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import torch

from model.generation_config import GenerationConfig
from model.kv_cache import KVCache
from model.positions import mrope_positions
from model.sampling import make_generator, sample_next
from model.streaming import TextStream

OnToken = Callable[[int, str], None]  # (token id, text that became final with it)
StopReason = Literal["stop_token", "stop_string", "max_new_tokens"]


@dataclass
class GenerationResult:
    """What generation produced and how long the phases took."""

    token_ids: list[int]  # generated ids, including the stop token when one ended generation
    text: str  # decoded text without special tokens, cut before a matched stop string
    stop_reason: StopReason
    cursor: int  # rotary position of the last generated token (not yet in the cache)
    prompt_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, decode tokens/s


def image_starts(input_ids: torch.Tensor, image_token_id: int) -> list[int]:
    """Index where each run of image pad tokens begins, in order."""
    is_pad = (input_ids == image_token_id).tolist()
    return [i for i, pad in enumerate(is_pad) if pad and (i == 0 or not is_pad[i - 1])]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def prefill(model, cache: KVCache, input_ids: torch.Tensor, pixel_values: torch.Tensor | None = None,
            grid_thw: torch.Tensor | None = None, timings: dict[str, float] | None = None) -> torch.Tensor:
    """Encode the images, run input_ids [T] after the cache's prefix and advance cache.cursor ->
    logits [1, vocab] of the last token. Each image must be complete inside input_ids."""
    timings = {} if timings is None else timings
    config = model.config
    grids = [] if grid_thw is None else [tuple(int(x) for x in row) for row in grid_thw.tolist()]
    started = time.perf_counter()
    features = model.encode_images(pixel_values, grid_thw) if grids else []
    _sync(model.device)
    timings["vision_s"] = time.perf_counter() - started
    starts = image_starts(input_ids, config.image_token_id)
    if len(starts) != len(features):
        raise ValueError(f"prompt has {len(starts)} image pad run(s) but {len(features)} image(s) were given")
    positions, cursor = mrope_positions(input_ids, grids, cache.cursor, config.image_token_id,
                                        config.vision.spatial_merge_size)
    started = time.perf_counter()
    logits = model(input_ids, positions, cache, list(zip(starts, features)), logits="last")
    _sync(model.device)
    timings["prefill_s"] = time.perf_counter() - started
    cache.cursor = cursor
    return logits


@torch.inference_mode()
def decode_loop(model, cache: KVCache, first_logits: torch.Tensor, cursor: int, config: GenerationConfig,
                tokenizer=None, on_token: OnToken | None = None) -> GenerationResult:
    """Sample from `first_logits` [..., vocab] (its last row: the prompt's last position), feed each new token at
    positions cursor, cursor+1, ... and stop on a stop id, a stop string or max_new_tokens."""
    config.validate()
    generator = make_generator(config, model.device)
    stream = TextStream(tokenizer, config.stop_strings)
    stop_ids = set(config.stop_token_ids)
    logits = first_logits.reshape(-1, first_logits.shape[-1])[-1]  # [vocab] of the last position
    reason = "max_new_tokens"
    started = time.perf_counter()
    for step in range(config.max_new_tokens):
        token = sample_next(logits, config, generator)
        if token in stop_ids:
            stream.add_stop_token(token)
            reason = "stop_token"
            break
        piece, stopped = stream.push(token)
        if on_token is not None:
            on_token(token, piece)
        if stopped:
            reason = "stop_string"
            break
        if step == config.max_new_tokens - 1:
            break
        positions = torch.full((3, 1), cursor, dtype=torch.long)
        logits = model(torch.tensor([token]), positions, cache)[-1]
        cursor += 1
    _sync(model.device)
    elapsed = time.perf_counter() - started
    tail = stream.flush()
    if tail and on_token is not None:
        on_token(stream.ids[-1], tail)  # characters held back for a stop string that never completed
    cache.cursor = cursor
    count = len(stream.ids)
    timings = {"decode_s": elapsed, "decode_tokens_per_s": count / elapsed if elapsed > 0 else 0.0}
    return GenerationResult(token_ids=list(stream.ids), text=stream.text, stop_reason=reason,
                            cursor=cursor, timings=timings)


def generate(model, prompt_ids: Sequence[int] | torch.Tensor, pixel_values: torch.Tensor | None = None,
             grid_thw: torch.Tensor | None = None, config: GenerationConfig | None = None,
             on_token: OnToken | None = None, tokenizer=None) -> GenerationResult:
    """Generate a reply to a fresh prompt. `config` defaults to the checkpoint's generation_config.json;
    `tokenizer` defaults to the one the loader attached."""
    config = config or model.generation_defaults or GenerationConfig()
    tokenizer = tokenizer if tokenizer is not None else model.tokenizer
    input_ids = torch.as_tensor(prompt_ids, dtype=torch.long)
    cache = model.new_cache()
    timings: dict[str, float] = {}
    first_logits = prefill(model, cache, input_ids, pixel_values, grid_thw, timings)
    result = decode_loop(model, cache, first_logits, cache.cursor, config, tokenizer, on_token)
    result.prompt_tokens = int(input_ids.shape[0])
    result.timings = {**timings, **result.timings}
    return result
