"""Vision-encoder outputs keyed by image content, with a byte budget and least-recently-used eviction.

The key hashes what the vision tower actually sees (the preprocessed pixel rows and the patch grid),
so the same screenshot resized to another pixel budget is a different entry, and two captures with
identical pixels share one. Entries still referenced by the conversation can be pinned: they are
evicted only after every unpinned entry, so a screenshot still in the conversation is not re-encoded
when the KV cache is rebuilt after a history drop.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable

import torch

from model.nn.qwen3vl import VisionFeatures


def image_digest(pixel_values: torch.Tensor, grid_thw: Iterable[int]) -> str:
    """SHA-256 hex digest of one image's preprocessed pixels [patches, 1536] and its (t, h, w) grid."""
    grid = tuple(int(v) for v in grid_thw)
    if len(grid) != 3:
        raise ValueError(f"grid_thw must have 3 values (t, h, w), got {grid}")
    rows = pixel_values.detach().contiguous().cpu()
    hasher = hashlib.sha256()
    hasher.update(repr((grid, str(rows.dtype), tuple(rows.shape))).encode())
    # Viewed as raw bytes so bfloat16 rows (which numpy cannot hold) hash the same way as float32.
    hasher.update(rows.reshape(-1).view(torch.uint8).numpy().tobytes())
    return hasher.hexdigest()


def features_nbytes(features: VisionFeatures) -> int:
    """Bytes held by one image's features: the merged embeddings plus every DeepStack level."""
    total = features.embeds.numel() * features.embeds.element_size()
    for level in features.deepstack:
        total += level.numel() * level.element_size()
    return total


@dataclass
class EncoderCacheStats:
    """Running totals since the cache was made."""

    hits: int = 0
    """Lookups answered from the cache."""
    misses: int = 0
    """Lookups that found nothing (the caller then encodes)."""
    evictions: int = 0
    """Entries removed to stay within the byte budget."""


class EncoderCache:
    """Image digest -> VisionFeatures, holding at most `max_bytes` of tensors."""

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError(f"EncoderCache max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.stats = EncoderCacheStats()
        self._entries: OrderedDict[str, VisionFeatures] = OrderedDict()  # oldest use first
        self._sizes: dict[str, int] = {}
        self._pinned: set[str] = set()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> VisionFeatures | None:
        """The features stored under `key` (marking them most recently used), or None."""
        features = self._entries.get(key)
        if features is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return features

    def put(self, key: str, features: VisionFeatures) -> bool:
        """Store features; evicts least recently used entries. False if one entry alone exceeds the budget."""
        size = features_nbytes(features)
        if size > self.max_bytes:
            return False
        self.discard(key)
        self._entries[key] = features
        self._sizes[key] = size
        self.nbytes += size
        self._evict_to_budget()
        return key in self._entries

    def pin(self, keys: Iterable[str]) -> None:
        """Replace the pinned set: these keys are evicted only once nothing unpinned is left."""
        self._pinned = set(keys)

    def discard(self, key: str) -> None:
        """Forget one entry if present."""
        if key in self._entries:
            del self._entries[key]
            self.nbytes -= self._sizes.pop(key)

    def clear(self) -> None:
        """Forget every entry (statistics are kept)."""
        self._entries.clear()
        self._sizes.clear()
        self.nbytes = 0

    def _evict_to_budget(self) -> None:
        while self.nbytes > self.max_bytes:
            victim = next((k for k in self._entries if k not in self._pinned), None)
            if victim is None:  # only pinned entries left: the budget is a hard limit
                victim = next(iter(self._entries))
            self.discard(victim)
            self.stats.evictions += 1
