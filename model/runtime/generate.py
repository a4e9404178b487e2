"""Generation: the decode loop every path shares, and single-turn generation as a one-turn Session.

There is one way to run a prompt: `model.session.Session` renders it through the chat template,
prefills what its KV cache does not hold and calls `decode_loop`, which masks vision placeholders out
of the reply. `generate` is that path for a conversation of one user turn.

After decode_loop returns, the cache holds every generated token except the last one (the stop
token, or the final token at max_new_tokens): it was sampled but never fed back. The rotary cursor is
not returned: the session's ledger records it for every cached token.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal, Sequence

import torch

from model.load.generation_config import GenerationConfig
from model.nn.kv_cache import KVCache
from model.runtime.sampling import make_generator, sample_next
from model.runtime.streaming import TextStream

if TYPE_CHECKING:
    from PIL.Image import Image

    from model.load.loaded import LoadedModel
    from model.runtime.session import SessionReply
    from model.inputs.video import Clip

OnToken = Callable[[int, str], None]  # (token id, text that became final with it)
StopReason = Literal["stop_token", "stop_string", "max_new_tokens"]


@dataclass
class GenerationResult:
    """What the decode loop produced and how long it took."""

    token_ids: list[int]  # generated ids, including the stop token when one ended generation
    text: str  # decoded text without special tokens, cut before a matched stop string
    stop_reason: StopReason
    timings: dict[str, float] = field(default_factory=dict)  # decode seconds and tokens/s


def image_starts(input_ids: torch.Tensor, image_token_id: int) -> list[int]:
    """Index where each run of image pad tokens begins, in order."""
    is_pad = (input_ids == image_token_id).tolist()
    return [i for i, pad in enumerate(is_pad) if pad and (i == 0 or not is_pad[i - 1])]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
    count = len(stream.ids)
    timings = {"decode_s": elapsed, "decode_tokens_per_s": count / elapsed if elapsed > 0 else 0.0}
    return GenerationResult(token_ids=list(stream.ids), text=stream.text, stop_reason=reason, timings=timings)


def generate(loaded: "LoadedModel", prompt: str, images: Sequence["Image"] = (),
             config: GenerationConfig | None = None, on_token: OnToken | None = None, *,
             system: str | None = None, max_pixels: int | None = None,
             videos: Sequence["Clip"] = ()) -> "SessionReply":
    """One user turn (images first, then videos, then `prompt`) through the chat template, answered by
    a one-turn Session. `config` defaults to the checkpoint's generation_config.json; images are resized
    to the checkpoint's pixel budget unless `max_pixels` is given, videos per its video settings."""
    from model.runtime.session import Session

    session = Session(loaded, system=system, max_pixels=max_pixels)
    session.add_user(prompt, images=images, videos=videos)
    return session.generate(config, on_token)
