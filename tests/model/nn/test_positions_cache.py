"""MRoPE positions, the KV cache, and prefilling a prompt in chunks on top of a cache."""
from __future__ import annotations

import pytest
import torch

from model.nn.kv_cache import KVCache
from model.nn.positions import image_starts, image_token_count, mrope_positions

PAD = 99


def test_text_positions_advance_all_axes_from_start():
    positions, cursor = mrope_positions(torch.tensor([1, 2, 3]), [], start=10, image_token_id=PAD, merge_size=2)
    assert positions.tolist() == [[10, 11, 12]] * 3
    assert cursor == 13


def test_image_positions_follow_the_merged_grid():
    # 2 text tokens, one image of patch grid (1, 4, 6) -> merged 2 x 3 = 6 pads, then 1 text token.
    ids = torch.tensor([1, 2] + [PAD] * 6 + [3])
    positions, cursor = mrope_positions(ids, [(1, 4, 6)], start=0, image_token_id=PAD, merge_size=2)
    assert positions[:, :2].tolist() == [[0, 1]] * 3
    assert positions[0, 2:8].tolist() == [2] * 6  # t
    assert positions[1, 2:8].tolist() == [2, 2, 2, 3, 3, 3]  # h = cursor + row
    assert positions[2, 2:8].tolist() == [2, 3, 4, 2, 3, 4]  # w = cursor + col
    assert positions[:, 8].tolist() == [5, 5, 5]  # cursor moved by max(2, 3)
    assert cursor == 6


def test_positions_of_a_split_prompt_equal_the_whole():
    grids = [(1, 4, 6), (1, 2, 2)]
    ids = torch.tensor([1] + [PAD] * 6 + [2, 3] + [PAD] * 1 + [4, 5])
    whole, end = mrope_positions(ids, grids, 0, PAD, 2)
    first, middle = mrope_positions(ids[:8], grids[:1], 0, PAD, 2)
    second, end2 = mrope_positions(ids[8:], grids[1:], middle, PAD, 2)
    assert torch.equal(torch.cat([first, second], dim=1), whole) and end == end2


def test_position_errors_name_the_problem():
    with pytest.raises(ValueError, match="only 1 image grid"):
        mrope_positions(torch.tensor([1, PAD, 2, PAD]), [(1, 1, 1)], 0, PAD, 1)
    with pytest.raises(ValueError, match="needs 4 pad tokens"):
        mrope_positions(torch.tensor([PAD, PAD, 1]), [(1, 4, 4)], 0, PAD, 2)
    with pytest.raises(ValueError, match="fewer image pad runs"):
        mrope_positions(torch.tensor([1, PAD]), [(1, 1, 1), (1, 1, 1)], 0, PAD, 1)


def test_cache_grows_in_chunks_and_truncates():
    cache = KVCache(num_layers=2, num_kv_heads=2, head_dim=4, dtype=torch.float32, chunk=8)
    assert cache.capacity == 0 and cache.nbytes == 0
    cache.reserve(5)
    keys = torch.arange(5 * 2 * 4, dtype=torch.float32).view(5, 2, 4)
    for layer in range(2):
        cache.write(layer, keys, -keys)
    cache.advance(5)
    cache.reserve(6)  # 11 positions -> two chunks of 8
    assert cache.capacity == 16 and cache.length == 5
    assert cache.nbytes == 2 * 2 * (1 * 2 * 16 * 4) * 4
    assert torch.equal(cache.keys[1][0, :, :5], keys.transpose(0, 1))  # survived the growth
    cache.truncate(3)
    assert cache.length == 3 and not hasattr(cache, "cursor")  # the MRoPE cursor lives in the ledger only
    with pytest.raises(ValueError, match="cannot truncate"):
        cache.truncate(4)


def test_chunked_prefill_equals_one_pass(merge2_model):
    model, cfg = merge2_model, merge2_model.config
    grids = [(1, 4, 6), (1, 6, 4)]
    count = [image_token_count(g, 2) for g in grids]
    ids = torch.tensor([7, 8] + [cfg.image_token_id] * count[0] + [9, 10, 11] + [cfg.image_token_id] * count[1] + [12])
    pixels = torch.randn(sum(t * h * w for t, h, w in grids), cfg.vision.patch_dim, generator=torch.Generator().manual_seed(3))
    features = model.encode_images(pixels, torch.tensor(grids))
    starts = image_starts(ids, cfg.image_token_id)
    positions, _ = mrope_positions(ids, grids, 0, cfg.image_token_id, 2)
    whole = model(ids, positions, model.new_cache(), list(zip(starts, features)), logits="all")

    cache = model.new_cache(chunk=4)  # small chunks: the second part forces the cache to grow
    split = starts[1]  # the second chunk starts with the second image
    first_pos, cursor = mrope_positions(ids[:split], grids[:1], 0, cfg.image_token_id, 2)
    head = model(ids[:split], first_pos, cache, [(starts[0], features[0])], logits="all")
    second_pos, _ = mrope_positions(ids[split:], grids[1:], cursor, cfg.image_token_id, 2)
    tail = model(ids[split:], second_pos, cache, [(0, features[1])], logits="all")
    assert cache.length == len(ids)
    torch.testing.assert_close(torch.cat([head, tail]), whole, rtol=1e-5, atol=1e-5)


def test_misplaced_image_features_are_rejected(merge2_model):
    cfg = merge2_model.config
    features = merge2_model.encode_images(torch.zeros(4, cfg.vision.patch_dim), torch.tensor([[1, 2, 2]]))
    ids = torch.tensor([1, 2, cfg.image_token_id])
    positions, _ = mrope_positions(ids, [(1, 2, 2)], 0, cfg.image_token_id, 2)
    with pytest.raises(ValueError, match="do not line up"):
        merge2_model(ids, positions, merge2_model.new_cache(), [(1, features[0])])
