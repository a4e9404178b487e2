"""The Qwen3-VL vision tower: patch embedding, ViT blocks, patch merger and DeepStack mergers.

Attribute names mirror the checkpoint keys under `model.visual.` so weights load by name.
Shapes: N patches (all images packed), D vision hidden, m merge size, O text hidden (out_hidden_size).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from model.load.config import VisionConfig
from model.nn.attention import Attention
from model.nn.rope import VisionRotary, rotary_heads_first
from model.nn.vision_grid import block_order_rows_cols, interpolated_position_embeddings

TABLE_CACHE_SIZE = 4  # distinct image grids whose tables are kept
# In place: each is applied to a fresh fc1 output nobody else holds, so no new [N, 4D] buffer is allocated.
ACTIVATIONS = {
    "gelu_pytorch_tanh": lambda x: torch.ops.aten.gelu_(x, approximate="tanh"),
    "gelu": torch.ops.aten.gelu_,
    "silu": lambda x: F.silu(x, inplace=True),
}


def activation(name: str):
    """The activation function called `name` in config.json."""
    if name not in ACTIVATIONS:
        raise ValueError(f"hidden_act {name!r} is not supported (known: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]


class PatchEmbed(nn.Module):
    """A Conv3d whose kernel equals its stride is a matmul per patch: one Linear over patch rows.
    The checkpoint's [D, C, T, P, P] kernel is flattened to [D, C*T*P*P] by the loader."""

    def __init__(self, config: VisionConfig):
        """Linear from patch rows to the vision hidden size."""
        super().__init__()
        self.proj = nn.Linear(config.patch_dim, config.hidden_size)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[N, C*T*P*P] -> [N, D]."""
        return self.proj(pixel_values.to(self.proj.weight.dtype))


class VisionAttention(nn.Module):
    """Bidirectional multi-head attention within each image, with 2D rotary on q and k."""

    def __init__(self, config: VisionConfig):
        """Fused qkv projection and output projection (both with bias)."""
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, lengths: list[int],
                attention: Attention) -> torch.Tensor:
        """x [N, D], cos/sin [N, hd] float32, per-image lengths -> [N, D]."""
        qkv = self.qkv(x).view(x.shape[0], 3 * self.num_heads, -1)  # [N, 3H, hd]: q heads, k heads, v heads
        # Rotary on q and k together, in float32 like the reference whatever the weights' dtype, stored
        # heads-first so attention reads each head without copying.
        qk = rotary_heads_first(qkv[:, : 2 * self.num_heads], cos, sin, x.dtype)  # [N, 2H, hd] view
        q, k = qk.chunk(2, dim=1)
        out = attention.vision(q, k, qkv[:, 2 * self.num_heads:], lengths)  # [N, H, hd]
        return self.proj(out.reshape(x.shape[0], -1))


class VisionMLP(nn.Module):
    """fc1 -> GELU(tanh) -> fc2."""

    def __init__(self, config: VisionConfig):
        """Two biased linears around the configured activation."""
        super().__init__()
        self.linear_fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.linear_fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.act = activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, D] -> [N, D]."""
        return self.linear_fc2(self.act(self.linear_fc1(x)))


class VisionBlock(nn.Module):
    """Pre-LayerNorm transformer block."""

    def __init__(self, config: VisionConfig):
        """norm1 -> attention, norm2 -> MLP, each with a residual."""
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=1e-6)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=1e-6)
        self.attn = VisionAttention(config)
        self.mlp = VisionMLP(config)

    def forward(self, x, cos, sin, lengths, attention):
        """[N, D] -> [N, D]."""
        x = self.attn(self.norm1(x), cos, sin, lengths, attention).add_(x)  # residuals added in place
        return self.mlp(self.norm2(x)).add_(x)


class PatchMerger(nn.Module):
    """Concatenate each m x m block of patches (consecutive rows) and project to the text width.
    The final merger normalises each patch before concatenating; DeepStack mergers normalise the
    concatenated block ("post-shuffle")."""

    def __init__(self, config: VisionConfig, postshuffle_norm: bool):
        """LayerNorm, then fc1 -> GELU(erf) -> fc2 on the D*m*m block vector."""
        super().__init__()
        self.block_dim = config.hidden_size * config.spatial_merge_size**2
        self.postshuffle_norm = postshuffle_norm
        self.norm = nn.LayerNorm(self.block_dim if postshuffle_norm else config.hidden_size, eps=1e-6)
        self.linear_fc1 = nn.Linear(self.block_dim, self.block_dim)
        self.linear_fc2 = nn.Linear(self.block_dim, config.out_hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, D] -> [N/(m*m), O]."""
        if self.postshuffle_norm:
            x = self.norm(x.view(-1, self.block_dim))
        else:
            x = self.norm(x).view(-1, self.block_dim)
        return self.linear_fc2(torch.ops.aten.gelu_(self.linear_fc1(x)))


class VisionTower(nn.Module):
    """Patches of several images -> merged tokens for the decoder plus DeepStack features."""

    def __init__(self, config: VisionConfig, device=None):
        """Build the tower; `device` places the rotary table (parameters follow the caller's context)."""
        super().__init__()
        self.config = config
        self.patch_embed = PatchEmbed(config)
        # Weights come from the checkpoint: skip the random init (slow on the meta device).
        self.pos_embed = nn.Embedding(config.num_position_embeddings, config.hidden_size,
                                      _weight=torch.empty(config.num_position_embeddings, config.hidden_size))
        self.blocks = nn.ModuleList(VisionBlock(config) for _ in range(config.depth))
        self.merger = PatchMerger(config, postshuffle_norm=False)
        self.deepstack_merger_list = nn.ModuleList(
            PatchMerger(config, postshuffle_norm=True) for _ in config.deepstack_visual_indexes
        )
        self.rotary = VisionRotary(config.head_dim, config.rope_theta, device=device)
        self.attention = Attention("sdpa")
        self._table_cache: OrderedDict[tuple, tuple] = OrderedDict()

    def grid_tables(self, grids: Sequence[Sequence[int]]):
        """Position embeddings [N, D], rotary cos/sin [N, hd] and attention lengths for the packed images."""
        tables = [self._grid_table(tuple(int(x) for x in grid)) for grid in grids]
        lengths = [h * w for t, h, w in grids for _ in range(t)]  # each frame attends within itself
        if len(tables) == 1:
            return (*tables[0], lengths)
        embeds, cos, sin = (torch.cat(parts) for parts in zip(*tables))
        return embeds, cos, sin, lengths

    def clear_table_cache(self) -> None:
        """Forget cached grid tables (after the weights moved or changed dtype)."""
        self._table_cache.clear()

    def _grid_table(self, grid: tuple[int, int, int]):
        """(position embeddings, cos, sin) of one grid, cached: screenshots of one screen share a grid.
        The key includes the weights' address so reloaded weights never meet stale tables."""
        key = (grid, self.pos_embed.weight.data_ptr())
        if key not in self._table_cache:
            t, h, w = grid
            merge = self.config.spatial_merge_size
            embeds = interpolated_position_embeddings(self.pos_embed.weight, h, w, merge).repeat(t, 1)
            cos, sin = self.rotary(block_order_rows_cols(h, w, merge, embeds.device).repeat(t, 1))
            self._table_cache[key] = (embeds, cos, sin)
            if len(self._table_cache) > TABLE_CACHE_SIZE:
                self._table_cache.popitem(last=False)
        self._table_cache.move_to_end(key)
        return self._table_cache[key]


    def forward(self, pixel_values: torch.Tensor, grids: Sequence[Sequence[int]]):
        """pixel_values [N, C*T*P*P] in merge-block order, grids [(t, h, w)] ->
        (merged [N/(m*m), O], deepstack list of [N/(m*m), O])."""
        position_embeds, cos, sin, lengths = self.grid_tables(grids)
        if sum(lengths) != pixel_values.shape[0]:
            raise ValueError(f"pixel_values has {pixel_values.shape[0]} rows but the grids {list(grids)} "
                             f"need {sum(lengths)}")
        x = self.patch_embed(pixel_values) + position_embeds
        deepstack = []
        for index, block in enumerate(self.blocks):
            x = block(x, cos, sin, lengths, self.attention)
            if index in self.config.deepstack_visual_indexes:
                merger = self.deepstack_merger_list[self.config.deepstack_visual_indexes.index(index)]
                deepstack.append(merger(x))
        return self.merger(x), deepstack
