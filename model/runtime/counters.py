"""Per-turn counters of a Session: what was reused, what was computed, where the time went."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class TurnCounters:
    """One turn of a Session; `as_dict()` is what the agent writes into each trace step."""

    prompt_tokens: int = 0
    """Tokens of the whole rendered conversation this turn prefilled against."""
    cached_tokens: int = 0
    """Leading prompt tokens served from the KV cache (not recomputed)."""
    computed_tokens: int = 0
    """Prompt tokens run through the decoder this turn (prompt_tokens - cached_tokens)."""
    generated_tokens: int = 0
    """Tokens the model generated this turn."""
    images: int = 0
    """Screenshots present in the conversation this turn."""
    images_encoded: int = 0
    """Images run through the vision tower this turn."""
    images_from_cache: int = 0
    """Images whose vision features came from the encoder cache."""
    images_dropped: int = 0
    """Screenshots replaced by a text marker this turn (history policy or memory budget)."""
    kv_cache_tokens: int = 0
    """Tokens held by the KV cache when the turn ended."""
    vision_ms: float = 0.0
    """Milliseconds in the vision tower."""
    prefill_ms: float = 0.0
    """Milliseconds in the decoder for the computed prompt tokens."""
    decode_ms: float = 0.0
    """Milliseconds generating tokens."""

    def as_dict(self) -> dict[str, float]:
        """Plain numbers keyed by field name (milliseconds rounded to 0.1)."""
        values = asdict(self)
        for name in ("vision_ms", "prefill_ms", "decode_ms"):
            values[name] = round(values[name], 1)
        return values
