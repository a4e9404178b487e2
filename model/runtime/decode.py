"""The decode loop every generation path shares: sample, feed back, stop.

A Session prefills the prompt and calls `decode_loop` with the logits of the prompt's last token;
the loop samples a token, feeds it at the next rotary position and repeats until a stop id, a stop
string or max_new_tokens. When it returns, the KV cache holds every generated token except the last
one (the stop token, or the final token at max_new_tokens): it was sampled but never fed back. The
rotary cursor is not returned: the session's ledger records it for every cached token.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import torch

from model.load.generation_config import GenerationConfig
from model.nn.kv_cache import KVCache
from model.runtime.sampling import make_generator, sample_next
from model.runtime.streaming import TextStream

OnToken = Callable[[int, str], None]  # (token id, text that became final with it)
StopReason = Literal["stop_token", "stop_string", "max_new_tokens"]


@dataclass
class GenerationResult:
    """What the decode loop produced and how long it took."""

    token_ids: list[int]  # generated ids, including the stop token when one ended generation
    text: str  # decoded text without special tokens, cut before a matched stop string
    stop_reason: StopReason
    timings: dict[str, float] = field(default_factory=dict)  # decode seconds and tokens/s


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
    sync(model.device)
    elapsed = time.perf_counter() - started
    tail = stream.flush()
    if tail and on_token is not None:
        on_token(stream.ids[-1], tail)  # characters held back for a stop string that never completed
    count = len(stream.ids)
    timings = {"decode_s": elapsed, "decode_tokens_per_s": count / elapsed if elapsed > 0 else 0.0}
    return GenerationResult(token_ids=list(stream.ids), text=stream.text, stop_reason=reason, timings=timings)


def sync(device: torch.device | None) -> None:
    """Wait for queued GPU work so timings measure it (no-op on CPU)."""
    if getattr(device, "type", None) == "cuda":
        torch.cuda.synchronize(device)
