"""3D (t, h, w) rotary positions for a chunk of tokens.

Text tokens advance all three axes together. The pad tokens of an image whose merged grid is
(t, h', w') and that starts at cursor c get t = c + frame, h = c + row, w = c + col (row-major over the
merged grid), and move the cursor to c + max(h', w'). The result depends only on the chunk and the
cursor after the cached prefix, so callers keep the cursor with the cache.

A video's frame groups are separate blocks of <|video_pad|> tokens (timestamp text between them), so
each group is placed like an image of grid (1, h, w): callers pass one grid per pad run, in prompt order.
"""
from __future__ import annotations

from typing import Sequence

import torch


def image_starts(input_ids: torch.Tensor, image_token_id: int) -> list[int]:
    """Index where each run of image pad tokens begins, in order (input_ids [T])."""
    is_pad = (input_ids == image_token_id).tolist()
    return [i for i, pad in enumerate(is_pad) if pad and (i == 0 or not is_pad[i - 1])]


def image_token_count(grid: Sequence[int], merge_size: int) -> int:
    """Number of pad tokens an image of patch grid (t, h, w) occupies after merging."""
    t, h, w = (int(x) for x in grid)
    return t * (h // merge_size) * (w // merge_size)


def _image_positions(grid: Sequence[int], merge_size: int, cursor: int) -> tuple[torch.Tensor, int]:
    """Positions [3, n] of one image placed at `cursor`, and the cursor after it."""
    t, h, w = int(grid[0]), int(grid[1]) // merge_size, int(grid[2]) // merge_size
    frames = torch.arange(t).view(t, 1, 1).expand(t, h, w)
    rows = torch.arange(h).view(1, h, 1).expand(t, h, w)
    cols = torch.arange(w).view(1, 1, w).expand(t, h, w)
    positions = torch.stack([frames, rows, cols]).reshape(3, -1) + cursor
    return positions, cursor + max(h, w)


def mrope_positions(input_ids: torch.Tensor, image_grids: Sequence[Sequence[int]], start: int,
                    image_token_id: int, merge_size: int,
                    video_token_id: int | None = None) -> tuple[torch.Tensor, int]:
    """input_ids [T] whose pad runs (image pads, or video pads when video_token_id is given) belong, in
    order, to `image_grids`; `start` is the cursor after the cached prefix -> (positions LongTensor
    [3, T] on input_ids' device, next cursor)."""
    pads = {image_token_id} if video_token_id is None else {image_token_id, video_token_id}
    ids = input_ids.tolist()
    if not image_grids:  # fast path: plain text (every decode step)
        positions = torch.arange(start, start + len(ids), device=input_ids.device)
        return positions.expand(3, -1).contiguous(), start + len(ids)
    pieces: list[torch.Tensor] = []
    grids = iter(image_grids)
    cursor, index = start, 0
    while index < len(ids):
        if ids[index] not in pads:
            end = index
            while end < len(ids) and ids[end] not in pads:
                end += 1
            pieces.append(torch.arange(cursor, cursor + end - index).expand(3, -1))
            cursor += end - index
            index = end
            continue
        grid = next(grids, None)
        if grid is None:
            raise ValueError(f"image pad token at index {index} but only {len(image_grids)} image grid(s) given")
        count = image_token_count(grid, merge_size)
        if ids[index:index + count] != [ids[index]] * count:
            raise ValueError(f"image at index {index} with grid {tuple(grid)} needs {count} pad tokens in a row")
        block, cursor = _image_positions(grid, merge_size, cursor)
        pieces.append(block)
        index += count
    if next(grids, None) is not None:
        raise ValueError(f"{len(image_grids)} image grids given but fewer image pad runs in input_ids")
    return torch.cat(pieces, dim=1).to(input_ids.device), cursor
