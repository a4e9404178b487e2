"""The Qwen3 text decoder: RMSNorm, GQA attention with q/k norms and MRoPE, SwiGLU MLP (or the sparse
expert block of MoE checkpoints, model/nn/moe.py), DeepStack.

Attribute names mirror the checkpoint keys under `model.language_model.`. Batch size is 1, so hidden
states are [T, hidden] without a batch dimension. Shapes: T new tokens, E hidden, H query heads,
Hkv key/value heads, hd head_dim.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from model.load.config import TextConfig
from model.nn.attention import Attention
from model.nn.fused import FusedLinear
from model.nn.kv_cache import KVCache
from model.nn.moe import SparseMoeBlock
from model.nn.rope import TextRotary, apply_rotary


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in float32."""

    def __init__(self, size: int, eps: float):
        """A learned scale of `size` entries."""
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise over the last dimension; the result has x's dtype."""
        if x.dtype == torch.float32:  # one fused kernel, same arithmetic as below
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        # Half precision: the fused kernel normalises in float32 and rounds to x's dtype once; the scale is
        # then applied in x's dtype: the reference's rounding points, bit for bit, without float32 copies.
        return F.rms_norm(x, self.weight.shape, None, self.eps).mul_(self.weight)


class TextAttention(nn.Module):
    """Grouped-query causal attention; q and k are RMS-normalised per head before rotary."""

    def __init__(self, config: TextConfig):
        """q/k/v/o projections and the per-head q/k norms."""
        super().__init__()
        self.num_heads, self.num_kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = config.head_dim
        bias, hidden = config.attention_bias, config.hidden_size
        self.q_proj = nn.Linear(hidden, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(hidden, self.num_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(hidden, self.num_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, hidden, bias=bias)
        self.q_norm = RMSNorm(self.head_dim, config.rms_norm_eps)
        self.k_norm = RMSNorm(self.head_dim, config.rms_norm_eps)
        self.fused_qkv: FusedLinear | None = None  # set by fuse_projections() after loading

    def fuse_projections(self) -> None:
        """Compute q, k and v with one matmul (weights stay addressable by their checkpoint names)."""
        self.fused_qkv = FusedLinear([self.q_proj, self.k_proj, self.v_proj])

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache, layer: int,
                attention: Attention, last_only: bool = False) -> torch.Tensor:
        """x [T, E], cos/sin [T, hd/2]; writes this chunk's k/v into `cache` -> [T, E], or [1, E] for the
        last token alone with `last_only` (keys and values are still computed and cached for all T)."""
        tokens = x.shape[0]
        q, k, v = self._project(x, last_only)
        queries = q.shape[0]  # T, or 1 with last_only
        q = self.q_norm(q.view(queries, self.num_heads, self.head_dim))
        k = self.k_norm(k.view(tokens, self.num_kv_heads, self.head_dim))
        v = v.view(tokens, self.num_kv_heads, self.head_dim)
        q, k = apply_rotary(q, cos[tokens - queries:], sin[tokens - queries:]), apply_rotary(k, cos, sin)
        k_store, v_store = cache.write(layer, k, v)
        # The queries are the chunk's last `queries` positions: everything before them counts as past.
        out = attention.causal(q, k_store, v_store, past=cache.length + tokens - queries)  # [queries, H, hd]
        return self.o_proj(out.reshape(queries, -1))

    def _project(self, x: torch.Tensor, last_only: bool):
        """q [T, H*hd] (or [1, H*hd], the last row's, with `last_only`), k and v [T, Hkv*hd]."""
        query_rows = x[-1:] if last_only else x
        if self.fused_qkv is None:
            return self.q_proj(query_rows), self.k_proj(x), self.v_proj(x)
        if not last_only:
            return self.fused_qkv(x)
        (q,) = self.fused_qkv.subset(query_rows, 0, 1)
        return (q, *self.fused_qkv.subset(x, 1, 3))


class TextMLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: TextConfig):
        """Bias-free gate, up and down projections."""
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.fused_gate_up: FusedLinear | None = None  # set by fuse_projections() after loading

    def fuse_projections(self) -> None:
        """Compute gate and up with one matmul."""
        self.fused_gate_up = FusedLinear([self.gate_proj, self.up_proj])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[T, E] -> [T, E]."""
        if self.fused_gate_up is not None:
            gate, up = self.fused_gate_up(x)
        else:
            gate, up = self.gate_proj(x), self.up_proj(x)
        # In place on the (fresh) gate half: no extra [T, intermediate] buffers; down_proj reads the strided view.
        return self.down_proj(F.silu(gate, inplace=True).mul_(up))


class DecoderLayer(nn.Module):
    """Pre-RMSNorm attention and MLP blocks with residuals."""

    def __init__(self, config: TextConfig, index: int = 0):
        """Decoder layer `index`: its MLP is the sparse expert block where the config says so (MoE)."""
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = TextAttention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = SparseMoeBlock(config) if config.is_sparse_layer(index) else TextMLP(config)

    def forward(self, x, cos, sin, cache, layer, attention, last_only: bool = False):
        """[T, E] -> [T, E], or [1, E] (the last token's) with `last_only`."""
        attended = self.self_attn(self.input_layernorm(x), cos, sin, cache, layer, attention, last_only)
        x = attended.add_(x[-1:] if last_only else x)  # residuals added in place into fresh outputs
        return self.mlp(self.post_attention_layernorm(x)).add_(x)


class TextModel(nn.Module):
    """Embeddings, decoder layers and final norm (the LM head lives on Qwen3VL)."""

    def __init__(self, config: TextConfig, device=None):
        """Build the decoder; `device` places the rotary tables."""
        super().__init__()
        self.config = config
        # Weights come from the checkpoint: skip the random init (slow on the meta device).
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size,
                                         _weight=torch.empty(config.vocab_size, config.hidden_size))
        self.layers = nn.ModuleList(DecoderLayer(config, index) for index in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary = TextRotary(config.head_dim, config.rope_theta, config.mrope_section, device=device)
        self.attention = Attention("sdpa")

    def fuse_projections(self) -> None:
        """Fuse q/k/v and gate/up matmuls in every layer (call once the weights are in place)."""
        for layer in self.layers:
            layer.self_attn.fuse_projections()
            layer.mlp.fuse_projections()

    def drop_fused_projections(self) -> None:
        """Back to one matmul per projection (the Linears still hold their weights), e.g. before packing."""
        for layer in self.layers:
            layer.self_attn.fused_qkv = None
            if isinstance(layer.mlp, TextMLP):
                layer.mlp.fused_gate_up = None

    def forward(self, embeds: torch.Tensor, positions: torch.Tensor, cache: KVCache,
                deepstack: Sequence[tuple[slice, list[torch.Tensor]]] = (), last_only: bool = False) -> torch.Tensor:
        """embeds [T, E], positions [3, T]; deepstack holds (token span, per-layer features [n, E]) per
        image, added to the hidden states at the span after layers 0..k-1 -> normed hidden [T, E]
        ([1, E] for the last token only with `last_only`)."""
        cos, sin = self.rotary(positions, embeds.dtype)
        cache.reserve(embeds.shape[0])
        x = embeds
        # Only the last token's hidden state leaves the final layer when last_only: the other rows would
        # feed nothing but their own (discarded) logits, so that layer computes just their keys/values for
        # the cache. Exact, and it saves almost a whole layer of prefill. Not for a single token (nothing
        # to save) or when DeepStack features are still added after the final layer.
        trim_final = last_only and x.shape[0] > 1 and all(len(f) < len(self.layers) for _, f in deepstack)
        final = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            x = layer(x, cos, sin, cache, index, self.attention, last_only=trim_final and index == final)
            for span, features in deepstack:
                if index < len(features):
                    x[span] += features[index].to(x.dtype)
        cache.advance(embeds.shape[0])
        return self.norm(x[-1:] if last_only else x)
