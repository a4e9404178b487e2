"""Per-image tables that depend only on an image's patch grid (t, h, w).

Patch rows arrive in merge-block order: for each m x m block (block rows, then block columns) its
m*m patches row by row, so that m*m consecutive rows form one merged token. Every per-patch table
(learned position embedding, rotary row/col) is produced in that same order.
"""
from __future__ import annotations

import torch


def block_order_rows_cols(h: int, w: int, merge: int, device=None) -> torch.Tensor:
    """(row, col) of each patch in merge-block order -> [h*w, 2] long."""
    rows = torch.arange(h, device=device).view(h, 1).expand(h, w)
    cols = torch.arange(w, device=device).view(1, w).expand(h, w)
    grid = torch.stack([rows, cols], dim=-1)  # [h, w, 2] raster
    # [h/m, m, w/m, m, 2] -> [h/m, w/m, m, m, 2]: blocks first, then the patches inside a block.
    grid = grid.view(h // merge, merge, w // merge, merge, 2).permute(0, 2, 1, 3, 4)
    return grid.reshape(h * w, 2)


def _axis_taps(size: int, side: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Linear interpolation of `size` points over a table axis of `side` entries, corners aligned:
    (lower index, upper index, upper weight), each [size]."""
    # Point i sits at i * (side-1)/(size-1) on the table axis (a single point sits at 0).
    source = torch.arange(size, device=device, dtype=torch.float32) * (side - 1) / max(size - 1, 1)
    lower = source.floor()
    upper_weight = source - lower
    lower = lower.long()
    return lower, (lower + 1).clamp(max=side - 1), upper_weight


def interpolated_position_embeddings(table: torch.Tensor, h: int, w: int, merge: int) -> torch.Tensor:
    """Bilinearly resample the square learned table [side*side, D] to an h x w patch grid (corners
    aligned), in merge-block order -> [h*w, D]."""
    side = int(round(table.shape[0] ** 0.5))
    square = table.view(side, side, -1)
    top, bottom, down = _axis_taps(h, side, table.device)
    left, right, across = _axis_taps(w, side, table.device)
    # Four taps per patch; weights are the outer products of the per-axis weights (float32 math).
    down, across = down[:, None], across[None, :]
    weights = ((1 - down) * (1 - across), (1 - down) * across, down * (1 - across), down * across)
    taps = (square[top][:, left], square[top][:, right], square[bottom][:, left], square[bottom][:, right])
    grid = sum(tap.float() * weight[:, :, None] for tap, weight in zip(taps, weights)).to(table.dtype)  # [h, w, D]
    grid = grid.view(h // merge, merge, w // merge, merge, -1).permute(0, 2, 1, 3, 4)
    return grid.reshape(h * w, -1)
