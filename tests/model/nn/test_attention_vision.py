"""Attention backends, the vision grid tables and rotary layout, checked against plain definitions."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from model.nn.attention import Attention, choose_backend, flash_attn_available
from model.nn.rope import mrope_axis_of_frequency
from model.nn.vision_grid import block_order_rows_cols, interpolated_position_embeddings


def _naive(q, k, v, mask=None):
    """Softmax attention for q [H, T, D], k/v [H, L, D] with an optional bool mask [T, L]."""
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1) @ v


def test_vision_attention_stays_inside_each_image():
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(10, 2, 8, generator=generator) for _ in range(3))
    out = Attention("sdpa").vision(q, k, v, lengths=[4, 6])
    for span in (slice(0, 4), slice(4, 10)):
        expected = _naive(q[span].transpose(0, 1), k[span].transpose(0, 1), v[span].transpose(0, 1))
        torch.testing.assert_close(out[span], expected.transpose(0, 1))


@pytest.mark.parametrize("past", [0, 3])
@pytest.mark.parametrize("tokens", [1, 4])
def test_causal_attention_with_a_cached_prefix_and_gqa(past, tokens):
    generator = torch.Generator().manual_seed(1)
    total, heads, kv_heads = past + tokens, 4, 2
    q = torch.randn(tokens, heads, 8, generator=generator)
    k_cache = torch.randn(1, kv_heads, 16, 8, generator=generator)
    v_cache = torch.randn(1, kv_heads, 16, 8, generator=generator)
    out = Attention("sdpa").causal(q, k_cache, v_cache, past=past)
    keys = k_cache[0, :, :total].repeat_interleave(2, dim=0)
    values = v_cache[0, :, :total].repeat_interleave(2, dim=0)
    mask = torch.arange(total)[None, :] <= torch.arange(past, total)[:, None]
    torch.testing.assert_close(out, _naive(q.transpose(0, 1), keys, values, mask).transpose(0, 1))


def test_backend_is_sdpa_on_cpu_and_flash_is_refused_there():
    assert choose_backend(torch.device("cpu"), torch.float32) == "sdpa"
    with pytest.raises(ValueError, match="flash"):
        choose_backend(torch.device("cpu"), torch.bfloat16, "flash")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.skipif(not flash_attn_available(), reason="needs the flash-attn package")
@pytest.mark.parametrize("past", [0, 5])
def test_flash_backend_matches_sdpa_on_cuda(past):
    generator = torch.Generator(device="cuda").manual_seed(0)
    make = lambda *shape: torch.randn(*shape, device="cuda", dtype=torch.bfloat16, generator=generator)  # noqa: E731
    q, k, v = make(12, 4, 64), make(12, 4, 64), make(12, 4, 64)
    flash, sdpa = Attention("flash"), Attention("sdpa")
    torch.testing.assert_close(flash.vision(q, k, v, [5, 7]), sdpa.vision(q, k, v, [5, 7]), atol=2e-2, rtol=2e-2)
    tokens = 3
    query, k_cache, v_cache = make(tokens, 8, 64), make(1, 2, 32, 64), make(1, 2, 32, 64)
    torch.testing.assert_close(flash.causal(query, k_cache, v_cache, past), sdpa.causal(query, k_cache, v_cache, past),
                               atol=2e-2, rtol=2e-2)


def test_position_table_interpolation_equals_bilinear_align_corners():
    side, dim, merge = 6, 5, 2
    table = torch.randn(side * side, dim, generator=torch.Generator().manual_seed(2))
    h, w = 4, 10
    ours = interpolated_position_embeddings(table, h, w, merge)  # merge-block order
    grid = table.view(side, side, dim).permute(2, 0, 1)[None]
    expected = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=True)[0].permute(1, 2, 0)
    rows_cols = block_order_rows_cols(h, w, merge)
    torch.testing.assert_close(ours, expected[rows_cols[:, 0], rows_cols[:, 1]], rtol=1e-5, atol=1e-5)


def test_merge_block_order_walks_blocks_then_patches():
    order = block_order_rows_cols(4, 4, 2).tolist()
    assert order[:8] == [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2], [0, 3], [1, 2], [1, 3]]


def test_interleaved_mrope_axes():
    # Real Qwen3-VL: head_dim 128, sections [24, 20, 20] -> t,h,w,t,h,w,... then t for the last 4.
    axis = mrope_axis_of_frequency(64, (24, 20, 20)).tolist()
    assert axis[:6] == [0, 1, 2, 0, 1, 2]
    assert axis.count(1) == 20 and axis.count(2) == 20 and axis.count(0) == 24
    assert axis[60:] == [0, 0, 0, 0]
