"""logits="last" trims the final decoder layer to the last token: same logits, same cache, as "all".

The trimmed layer still writes every token's keys and values (the next chunk attends to them), but
computes the query, attention, o_proj and MLP for the last row only. "merge2" has three DeepStack
layers below its fourth (final) layer, so it is trimmed; "hf_test" adds DeepStack features after its
final layer, so it must take the full path instead (a trimmed layer could not receive them).
"""
from __future__ import annotations

import pytest
import torch

from model.load.loader import from_pretrained
from model.nn.positions import image_starts, image_token_count, mrope_positions


def _image_prompt(model, grid=(1, 4, 6), seed=5):
    """ids with text, one image and text after it; positions and the image entries for forward()."""
    cfg = model.config
    merge = cfg.vision.spatial_merge_size
    count = image_token_count(grid, merge)
    ids = torch.tensor([3, 4, cfg.vision_start_token_id] + [cfg.image_token_id] * count + [cfg.vision_end_token_id, 5, 6])
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randn(grid[0] * grid[1] * grid[2], cfg.vision.patch_dim, generator=generator)
    features = model.encode_images(pixels, torch.tensor([grid]))
    positions, _ = mrope_positions(ids, [grid], 0, cfg.image_token_id, merge)
    return ids, positions, list(zip(image_starts(ids, cfg.image_token_id), features))


def _filled(cache):
    """Every layer's valid keys and values, as one list."""
    return [store[layer][:, :, :cache.length] for store in (cache.keys, cache.values) for layer in range(cache.num_layers)]


@pytest.mark.parametrize("preset", ["merge2", "hf_test", "tied"])
def test_last_only_matches_the_full_pass(tiny_checkpoint, preset):
    model = from_pretrained(tiny_checkpoint(preset), device="cpu", dtype="float32").model
    ids, positions, images = _image_prompt(model)
    full_cache, last_cache = model.new_cache(), model.new_cache()
    every = model(ids, positions, full_cache, images, logits="all")
    last = model(ids, positions, last_cache, images, logits="last")
    assert last.shape == (1, model.config.text.vocab_size)
    torch.testing.assert_close(last, every[-1:], rtol=1e-5, atol=1e-5)
    assert last_cache.length == full_cache.length == len(ids)
    for trimmed, full in zip(_filled(last_cache), _filled(full_cache)):
        torch.testing.assert_close(trimmed, full, rtol=1e-6, atol=1e-6)


def test_trimmed_prefill_then_a_second_chunk_sees_the_whole_cache(merge2_model):
    """The keys a trimmed final layer cached for earlier rows are the ones the next chunk attends to."""
    model = merge2_model
    ids, positions, images = _image_prompt(model)
    tail_ids = torch.tensor([7, 8, 9])
    cursor = int(positions.max()) + 1
    tail_positions = torch.arange(cursor, cursor + 3).expand(3, -1)

    cache = model.new_cache()
    model(ids, positions, cache, images, logits="last")
    chunked = model(tail_ids, tail_positions, cache, logits="all")
    whole = model(torch.cat([ids, tail_ids]), torch.cat([positions, tail_positions], dim=1), model.new_cache(),
                  images, logits="all")
    torch.testing.assert_close(chunked, whole[-3:], rtol=1e-5, atol=1e-5)


def test_text_only_last_logits_match_with_unfused_projections(tiny_checkpoint):
    """The trimmed path without the fused q/k/v matrix (separate Linears) gives the same answer."""
    model = from_pretrained(tiny_checkpoint("merge2"), device="cpu", dtype="float32").model
    ids = torch.tensor([3, 4, 5, 6, 7, 8])
    positions = torch.arange(6).expand(3, -1)
    fused = model(ids, positions, model.new_cache(), logits="last")
    for layer in model.language_model.layers:
        layer.self_attn.fused_qkv, layer.mlp.fused_gate_up = None, None
    separate = model(ids, positions, model.new_cache(), logits="last")
    every = model(ids, positions, model.new_cache(), logits="all")
    torch.testing.assert_close(separate, fused, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(separate, every[-1:], rtol=1e-5, atol=1e-5)
