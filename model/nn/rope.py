"""Rotary position embeddings: interleaved MRoPE for the text decoder, 2D axial rotary for the ViT.

Text (interleaved MRoPE): a head of width D has D/2 rotation frequencies. Frequency j turns with the
h position when j % 3 == 1 and j < 3 * section_h, with the w position when j % 3 == 2 and
j < 3 * section_w, and with the t position otherwise. So the axes are interleaved t,h,w,t,h,w,...
rather than in three contiguous blocks (Qwen2-VL's layout). With t == h == w (plain text) it reduces
to ordinary 1D RoPE.

Vision (2D axial): D/4 frequencies; the angle vector is [row * f, col * f], duplicated for the two
rotate-half halves.
"""
from __future__ import annotations

import torch


def inverse_frequencies(dim: int, theta: float, device=None) -> torch.Tensor:
    """theta^(-2i/dim) for i < dim/2, computed in float32 -> [dim/2]."""
    exponents = torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim
    return 1.0 / (theta ** exponents)


def mrope_axis_of_frequency(half_dim: int, section: tuple[int, int, int], device=None) -> torch.Tensor:
    """Which position axis (0=t, 1=h, 2=w) drives each of the half_dim frequencies -> [half_dim] long."""
    index = torch.arange(half_dim, device=device)
    axis = torch.zeros(half_dim, dtype=torch.long, device=device)
    axis[(index % 3 == 1) & (index < 3 * section[1])] = 1
    axis[(index % 3 == 2) & (index < 3 * section[2])] = 2
    return axis


class TextRotary:
    """cos/sin tables for the text decoder's interleaved MRoPE."""

    def __init__(self, head_dim: int, theta: float, section: tuple[int, int, int], device=None):
        """Precompute the inverse frequencies and the axis each frequency follows."""
        self.inv_freq = inverse_frequencies(head_dim, theta, device)  # [D/2]
        self.axis = mrope_axis_of_frequency(head_dim // 2, section, device)  # [D/2]

    def to(self, device) -> "TextRotary":
        """Move the tables (used after loading onto a device)."""
        self.inv_freq, self.axis = self.inv_freq.to(device), self.axis.to(device)
        return self

    def __call__(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """positions [3, T] -> (cos, sin) of the D/2 rotation angles, each [T, D/2] in `dtype`."""
        # Each frequency picks its own axis' position: [D/2, T] -> [T, D/2].
        angles = positions[self.axis].t().to(torch.float32) * self.inv_freq
        return angles.cos().to(dtype), angles.sin().to(dtype)


class VisionRotary:
    """cos/sin for the ViT's 2D rotary from each patch's (row, col)."""

    def __init__(self, head_dim: int, theta: float, device=None):
        """Precompute the D/4 inverse frequencies shared by rows and columns."""
        self.inv_freq = inverse_frequencies(head_dim // 2, theta, device)  # [D/4]

    def to(self, device) -> "VisionRotary":
        """Move the table (used after loading onto a device)."""
        self.inv_freq = self.inv_freq.to(device)
        return self

    def __call__(self, rows_cols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """rows_cols [N, 2] -> (cos, sin) of the D/2 angles (row frequencies, then column ones), each
        [N, D/2] in float32."""
        angles = rows_cols.to(torch.float32)[:, :, None] * self.inv_freq  # [N, 2, D/4]
        angles = angles.flatten(1)
        return angles.cos(), angles.sin()


def rotary_heads_first(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """apply_rotary computed in float32 and rounded once to `dtype`, written straight into heads-first
    storage [H, T, D]: x [T, H, D] -> an [T, H, D] view of it, whose per-head slices attention kernels
    read without another copy (no cat, no cast, no transpose buffers)."""
    x32 = x.float()  # a view when x already is float32
    out = torch.empty((x.shape[1], x.shape[0], x.shape[2]), dtype=dtype, device=x.device).transpose(0, 1)
    first, second = x32.chunk(2, dim=-1)
    low, high = out.chunk(2, dim=-1)
    cos, sin = cos[:, None, :], sin[:, None, :]
    torch.sub(first * cos, second * sin, out=low)
    torch.add(second * cos, first * sin, out=high)
    return out


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x [T, H, D] by per-token angles, cos/sin [T, D/2]: the first and second halves of each
    head are the two coordinates of D/2 planes ("rotate half" layout). Same arithmetic as
    x * [cos, cos] + [-x2, x1] * [sin, sin], with half-width tables."""
    first, second = x.chunk(2, dim=-1)
    cos, sin = cos[:, None, :], sin[:, None, :]
    return torch.cat((first * cos - second * sin, second * cos + first * sin), dim=-1)
