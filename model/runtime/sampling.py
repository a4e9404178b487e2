"""Pick the next token from logits: greedy, or temperature + top-k + top-p sampling."""
from __future__ import annotations

import torch

from model.load.generation_config import GenerationConfig


def make_generator(config: GenerationConfig, device: torch.device) -> torch.Generator | None:
    """A seeded torch.Generator on `device` when the config samples with a seed, else None."""
    if config.temperature == 0 or config.seed is None:
        return None
    return torch.Generator(device=device).manual_seed(config.seed)


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set to -inf every logit outside the top-k and outside the smallest set whose probability
    reaches top_p (the most likely token always survives). logits [vocab] -> [vocab]."""
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        # Drop a token when the tokens strictly more likely than it already reach top_p.
        drop_sorted = probs.cumsum(-1) - probs >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(0, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, config: GenerationConfig, generator: torch.Generator | None) -> int:
    """The next token id from logits [vocab] (float32)."""
    if config.temperature == 0:
        return int(torch.argmax(logits))
    logits = filter_logits(logits / config.temperature, config.top_k, config.top_p)
    probs = logits.softmax(-1)
    return int(torch.multinomial(probs, 1, generator=generator))
