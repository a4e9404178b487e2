"""The "flash" backend's calls into flash-attn, checked on CPU against a stand-in that keeps its contract.

flash-attn only runs on CUDA, so the real kernels are exercised by the GPU tests alone. These tests
pin down our side of the interface everywhere: the stand-in below implements the two functions we call
with plain softmax attention, following flash-attn 2's documented contract, and asserts every input
requirement the real kernels check (layouts, int32 lengths, a contiguous last dimension, GQA head
counts). A wrong cu_seqlens, cache layout, cache length or causal alignment in model/nn/attention.py then
shows up as a mismatch with the SDPA backend, here, without a GPU.
"""
from __future__ import annotations

import sys
import types

import pytest
import torch

from model.load.loader import from_pretrained
from model.nn.attention import Attention
from model.nn.positions import mrope_positions


def _softmax_attention(q, k, v, causal: bool):
    """q [Tq, H, D], k/v [Tk, Hkv, D]; causal masks are aligned bottom-right (flash-attn >= 2.1)."""
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scores = torch.einsum("qhd,khd->hqk", q.float(), k.float()) / q.shape[-1] ** 0.5
    if causal:
        offset = k.shape[0] - q.shape[0]
        allowed = torch.arange(k.shape[0])[None, :] <= torch.arange(q.shape[0])[:, None] + offset
        scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.einsum("hqk,khd->qhd", scores.softmax(-1), v.float()).to(q.dtype)


def _check_heads(q, k):
    assert q.shape[-1] == k.shape[-1], "head dims differ"
    assert q.shape[-2] % k.shape[-2] == 0, "query heads must be a multiple of key/value heads"


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                           softmax_scale=None, causal=False, **unused):
    """Packed sequences q/k/v [total, H, D]; sequence i spans cu_seqlens[i]:cu_seqlens[i+1]."""
    assert q.dim() == k.dim() == v.dim() == 3 and all(t.stride(-1) == 1 for t in (q, k, v))
    for cu in (cu_seqlens_q, cu_seqlens_k):
        assert cu.dtype == torch.int32 and cu.dim() == 1 and int(cu[0]) == 0
    assert int(cu_seqlens_q[-1]) == q.shape[0] and int(cu_seqlens_k[-1]) == k.shape[0]
    assert max_seqlen_q == int(cu_seqlens_q.diff().max()) and max_seqlen_k == int(cu_seqlens_k.diff().max())
    _check_heads(q, k)
    out = torch.empty_like(q)
    bounds_q, bounds_k = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    for (q0, q1), (k0, k1) in zip(zip(bounds_q, bounds_q[1:]), zip(bounds_k, bounds_k[1:])):
        out[q0:q1] = _softmax_attention(q[q0:q1], k[k0:k1], v[k0:k1], causal)
    return out


def flash_attn_with_kvcache(q, k_cache, v_cache, k=None, v=None, cache_seqlens=None, softmax_scale=None,
                            causal=False, **unused):
    """q [B, Tq, H, D] against k/v_cache [B, capacity, Hkv, D], of which the first cache_seqlens[b]
    positions are valid (no new k/v passed: the caller wrote them already)."""
    assert k is None and v is None, "our cache is written before the call"
    assert q.dim() == k_cache.dim() == 4 and k_cache.shape == v_cache.shape
    assert k_cache.stride(-1) == 1 and v_cache.stride(-1) == 1, "cache must have a contiguous last dimension"
    assert cache_seqlens.dtype == torch.int32 and cache_seqlens.shape == (q.shape[0],)
    _check_heads(q[0], k_cache[0])
    out = torch.empty_like(q)
    for b, length in enumerate(cache_seqlens.tolist()):
        assert q.shape[1] <= length <= k_cache.shape[1]
        out[b] = _softmax_attention(q[b], k_cache[b, :length], v_cache[b, :length], causal)
    return out


@pytest.fixture
def install_stand_in(monkeypatch):
    """A function that installs the stand-in as the `flash_attn` module until the test ends (call it
    after anything that imports transformers: its package probe rejects a module without a spec)."""
    def install():
        module = types.ModuleType("flash_attn")
        module.flash_attn_varlen_func = flash_attn_varlen_func
        module.flash_attn_with_kvcache = flash_attn_with_kvcache
        monkeypatch.setitem(sys.modules, "flash_attn", module)
    return install


def test_vision_varlen_call_matches_sdpa(install_stand_in):
    install_stand_in()
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(15, 4, 16, generator=generator) for _ in range(3))
    lengths = [4, 8, 3]
    torch.testing.assert_close(Attention("flash").vision(q, k, v, lengths), Attention("sdpa").vision(q, k, v, lengths))


@pytest.mark.parametrize("past,tokens", [(0, 6), (5, 1), (5, 4), (0, 1)])
def test_kvcache_call_matches_sdpa_on_our_cache_layout(install_stand_in, past, tokens):
    install_stand_in()
    generator = torch.Generator().manual_seed(1)
    q = torch.randn(tokens, 6, 16, generator=generator)
    k_cache, v_cache = (torch.randn(1, 2, 24, 16, generator=generator) for _ in range(2))  # [1, Hkv, capacity, D]
    torch.testing.assert_close(Attention("flash").causal(q, k_cache, v_cache, past),
                               Attention("sdpa").causal(q, k_cache, v_cache, past), rtol=1e-5, atol=1e-5)


def test_whole_model_through_the_flash_calls_matches_sdpa(install_stand_in, tiny_checkpoint):
    """Vision, a prefill (trimmed last layer included) and a second chunk after it, on one model."""
    model = from_pretrained(tiny_checkpoint("merge2"), device="cpu", dtype="float32").model
    install_stand_in()
    cfg = model.config
    grids = [(1, 4, 6), (1, 2, 4)]
    pixels = torch.randn(sum(t * h * w for t, h, w in grids), cfg.vision.patch_dim,
                         generator=torch.Generator().manual_seed(2))
    ids = torch.tensor([3, 4] + [cfg.image_token_id] * 6 + [5] + [cfg.image_token_id] * 2 + [6, 7])
    positions, cursor = mrope_positions(ids, grids, 0, cfg.image_token_id, 2)
    tail_ids, tail_positions = torch.tensor([8, 9]), torch.arange(cursor, cursor + 2).expand(3, -1)

    def run(backend: str):
        model.set_attention_backend(backend)
        features = model.encode_images(pixels, torch.tensor(grids))
        cache = model.new_cache(chunk=8)
        first = model(ids, positions, cache, [(2, features[0]), (9, features[1])], logits="last")
        second = model(tail_ids, tail_positions, cache, logits="all")
        return features[0].embeds, first, second

    try:
        for flash, sdpa in zip(run("flash"), run("sdpa")):
            torch.testing.assert_close(flash, sdpa, rtol=1e-4, atol=1e-4)
    finally:
        model.set_attention_backend("sdpa")
