"""Which part of a new prompt the KV cache already holds.

Every token gets a comparison key: its id for text, and for the pad tokens of an image a negative key
derived from the image's content digest (two screenshots of the same size render identical pad ids,
so ids alone would call them equal). The reusable prefix is the longest common prefix of the cached
keys and the new keys, moved back to an image's first pad token if it would end inside an image (a
forward chunk never starts inside an image). The ledger keeps, with every cached token, the MRoPE
cursor after it, so the positions of whatever follows a reused prefix are known without recomputing it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass(frozen=True)
class ImageSpan:
    """Where one image's pad tokens sit in a token sequence."""

    start: int
    """Index of the first pad token."""
    length: int
    """Number of pad tokens (tokens_per_image)."""
    digest: str
    """Content digest of the image (see model.runtime.encoder_cache.image_digest)."""

    @property
    def end(self) -> int:
        """Index just past the last pad token."""
        return self.start + self.length


def image_key(digest: str) -> int:
    """A negative int64 key for an image's pad tokens (text token ids are never negative)."""
    return -(int(digest[:15], 16) + 1)


def token_keys(input_ids: Sequence[int], spans: Sequence[ImageSpan]) -> list[int]:
    """Per-token comparison keys: ids, with each image's pad tokens replaced by its image key."""
    keys = list(input_ids)
    for span in spans:
        keys[span.start:span.end] = [image_key(span.digest)] * span.length
    return keys


def common_prefix_length(cached: Sequence[int], new: Sequence[int]) -> int:
    """Length of the longest common prefix of two key sequences."""
    n = min(len(cached), len(new))
    if n == 0:
        return 0
    a = torch.as_tensor(cached[:n], dtype=torch.long)
    b = torch.as_tensor(new[:n], dtype=torch.long)
    differ = (a != b).nonzero()
    return int(differ[0, 0]) if len(differ) else n


def snap_out_of_images(n: int, spans: Sequence[ImageSpan]) -> int:
    """Move a cut point back to an image's first pad token if it falls inside that image."""
    for span in spans:
        if span.start < n < span.end:
            return span.start
    return n


def reusable_prefix(cached: Sequence[int], new: Sequence[int], spans: Sequence[ImageSpan]) -> int:
    """How many leading tokens of `new` the cache can serve, leaving at least one token to compute."""
    n = min(common_prefix_length(cached, new), len(new) - 1)
    return snap_out_of_images(max(n, 0), spans)


class CacheLedger:
    """What the KV cache holds, token by token: comparison keys and the MRoPE cursor after each token."""

    def __init__(self) -> None:
        self.keys: list[int] = []
        self._cursor_after: list[int] = []

    def __len__(self) -> int:
        return len(self.keys)

    def cursor_at(self, n: int) -> int:
        """The MRoPE cursor after the first n cached tokens (0 for the empty prefix)."""
        if not 0 <= n <= len(self.keys):
            raise ValueError(f"prefix length {n} outside the cached 0..{len(self.keys)}")
        return self._cursor_after[n - 1] if n else 0

    def truncate(self, n: int) -> None:
        """Forget every token from index n on (mirrors KVCache.truncate)."""
        del self.keys[n:]
        del self._cursor_after[n:]

    def extend(self, keys: Sequence[int], positions: torch.Tensor) -> None:
        """Record tokens appended to the cache with their positions [3, T]."""
        if positions.shape[-1] != len(keys):
            raise ValueError(f"{len(keys)} keys but positions for {positions.shape[-1]} tokens")
        if not len(keys):
            return
        # After a token the cursor is one past the largest position seen so far: for text that is
        # its own position + 1; after an image's last pad it is start + max(h', w').
        running_max = torch.cummax(positions.max(dim=0).values, dim=0).values
        floor = self._cursor_after[-1] - 1 if self._cursor_after else -1
        after = torch.clamp(running_max, min=floor) + 1
        self.keys.extend(int(k) for k in keys)
        self._cursor_after.extend(after.tolist())

    def extend_text(self, token_ids: Sequence[int], start_cursor: int) -> None:
        """Record plain text tokens decoded one by one from `start_cursor` on."""
        self.keys.extend(int(t) for t in token_ids)
        self._cursor_after.extend(range(start_cursor + 1, start_cursor + 1 + len(token_ids)))

    def clear(self) -> None:
        """Forget everything."""
        self.truncate(0)
