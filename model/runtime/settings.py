"""A Session's knobs in one object, defaults defined here once.

    settings = SessionSettings(history=HistoryPolicy(keep_images=3), max_pixels=1280 * 800)
    session = Session(loaded, system=..., settings=settings)      # or Session(loaded, max_pixels=...)

Session.fork() hands the same settings to the new Session.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from model.runtime.history import HistoryPolicy

OnBudget = Literal["drop", "error"]


@dataclass(frozen=True)
class SessionSettings:
    """How a Session resizes screenshots, keeps history and bounds its memory."""

    history: HistoryPolicy = HistoryPolicy(keep_images=None)
    """Which screenshots stay in the conversation (default: every one)."""
    min_pixels: int | None = None
    """Smallest screenshot size after resizing, in pixels; None: the checkpoint's preprocessor_config.json."""
    max_pixels: int | None = None
    """Largest screenshot size after resizing, in pixels; None: the checkpoint's preprocessor_config.json."""
    encoder_cache_bytes: int = 1 << 30
    """Bytes of vision features kept between turns (and shared by forked Sessions)."""
    max_kv_tokens: int | None = None
    """Most tokens the KV cache may hold (prompt + reply); None: no token limit."""
    max_kv_bytes: int | None = None
    """Most bytes the KV cache may hold, turned into tokens with the model's bytes per token; None: no limit."""
    on_budget: OnBudget = "drop"
    """Over the KV budget: "drop" removes more old screenshots (keeping the newest), "error" raises KVBudgetError."""
    prefill_chunk: int = 2048
    """Prompt tokens per decoder call while prefilling (an image is never cut in two)."""

    def __post_init__(self) -> None:
        if self.on_budget not in ("drop", "error"):
            raise ValueError(f"on_budget must be 'drop' or 'error', got {self.on_budget!r}")
        if self.prefill_chunk < 1:
            raise ValueError(f"prefill_chunk must be >= 1, got {self.prefill_chunk}")

    def kv_token_limit(self, model) -> int | None:
        """The tighter of max_kv_tokens and max_kv_bytes in tokens of `model`'s cache (a Qwen3VL); None: unbounded."""
        limits = [self.max_kv_tokens] if self.max_kv_tokens is not None else []
        if self.max_kv_bytes is not None:
            text = model.config.text
            per_token = 2 * text.num_hidden_layers * text.num_key_value_heads * text.head_dim * model.dtype.itemsize
            limits.append(self.max_kv_bytes // per_token)
        return min(limits) if limits else None
