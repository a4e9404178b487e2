"""Screenshot retention for long conversations: keep the most recent ones, replace older ones by a marker.

Dropping one screenshot changes the conversation from that image on, so the KV cache must be rebuilt
from there. Dropping one per step would rebuild most of the cache every step; dropping `drop_chunk` at
a time rebuilds it only every `drop_chunk` steps, and between rebuilds every step reuses the whole cache.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MARKER = "[earlier screenshot omitted]"


@dataclass(frozen=True)
class HistoryPolicy:
    """How many screenshots stay in the conversation and how they leave it."""

    keep_images: int | None = 3
    """Screenshots always kept (the newest ones); None keeps every screenshot."""
    drop_chunk: int = 2
    """How many of the oldest screenshots leave together once the count reaches keep + chunk."""
    marker: str = DEFAULT_MARKER
    """Text that replaces a dropped screenshot, so the model knows one was there."""

    def __post_init__(self) -> None:
        if self.keep_images is not None and self.keep_images < 1:
            raise ValueError(f"HistoryPolicy.keep_images must be >= 1 or None, got {self.keep_images}")
        if self.drop_chunk < 1:
            raise ValueError(f"HistoryPolicy.drop_chunk must be >= 1, got {self.drop_chunk}")

    @property
    def max_images(self) -> int | None:
        """The most screenshots the conversation ever holds under this policy (None: unbounded)."""
        if self.keep_images is None:
            return None
        return self.keep_images + self.drop_chunk - 1

    def images_to_drop(self, present: int) -> int:
        """How many of the oldest screenshots to replace now, with `present` screenshots in the conversation.

        The count grows by one per step from `keep` to `keep + chunk - 1`; when it would reach
        `keep + chunk`, the oldest ones go at once and `keep` remain.
        """
        if present < 0:
            raise ValueError(f"present must be >= 0, got {present}")
        limit = self.max_images
        if limit is None or present <= limit:
            return 0
        return present - self.keep_images


def drop_oldest(present_flags: list[bool], count: int) -> list[int]:
    """Indices of the `count` oldest entries still present (True), oldest first."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    chosen = [i for i, present in enumerate(present_flags) if present][:count]
    if len(chosen) < count:
        raise ValueError(f"cannot drop {count} screenshots: only {len(chosen)} are present")
    return chosen
