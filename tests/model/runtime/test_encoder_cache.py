"""Encoder cache: content keys, byte budget, LRU order, pinning."""
from types import SimpleNamespace

import torch

from model.runtime.encoder_cache import EncoderCache, features_nbytes, image_digest


def features(n_tokens: int, hidden: int = 4, levels: int = 2):
    """Stand-in VisionFeatures: float32 embeds [n, hidden] and `levels` DeepStack tensors."""
    return SimpleNamespace(
        embeds=torch.zeros(n_tokens, hidden), deepstack=[torch.zeros(n_tokens, hidden) for _ in range(levels)]
    )


def test_digest_depends_on_pixels_and_grid():
    pixels = torch.rand(16, 1536)
    same = image_digest(pixels.clone(), (1, 4, 4))
    assert image_digest(pixels, (1, 4, 4)) == same
    assert image_digest(pixels, (1, 2, 8)) != same
    changed = pixels.clone()
    changed[3, 7] += 1e-3
    assert image_digest(changed, (1, 4, 4)) != same
    assert image_digest(pixels.to(torch.bfloat16), (1, 4, 4)) != same


def test_counts_bytes_of_all_levels():
    assert features_nbytes(features(10, hidden=4, levels=3)) == 10 * 4 * 4 * 4


def test_evicts_least_recently_used_within_budget():
    size = features_nbytes(features(8))
    cache = EncoderCache(max_bytes=2 * size)
    cache.put("a", features(8))
    cache.put("b", features(8))
    assert cache.get("a") is not None  # a is now more recent than b
    cache.put("c", features(8))
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.nbytes == 2 * size
    assert (cache.stats.hits, cache.stats.evictions) == (1, 1)
    assert cache.get("b") is None and cache.stats.misses == 1


def test_pinned_entries_outlive_unpinned():
    size = features_nbytes(features(8))
    cache = EncoderCache(max_bytes=2 * size)
    cache.put("old", features(8))
    cache.put("newer", features(8))
    cache.pin(["old"])
    cache.put("newest", features(8))
    assert "old" in cache and "newer" not in cache


def test_entry_larger_than_budget_is_not_stored():
    cache = EncoderCache(max_bytes=10)
    assert cache.put("big", features(8)) is False
    assert len(cache) == 0 and cache.nbytes == 0
