"""The decoder's key/value cache for one sequence (batch size 1).

Per layer, keys and values live in [1, n_kv_heads, capacity, head_dim] tensors that grow by whole
chunks, so a decode step writes in place instead of concatenating. The rotary position of the next
token is not kept here: with images it is not the token count, and its one owner is the session's
CacheLedger (model/runtime/prefix.py), which records it after every cached token.
"""
from __future__ import annotations

import torch

GROWTH_DIVISOR = 4  # a full cache grows by at least capacity / 4 (25% spare at most)


class KVCache:
    """Growable per-layer key/value storage."""

    def __init__(self, num_layers: int, num_kv_heads: int, head_dim: int, *, dtype: torch.dtype,
                 device: torch.device | str = "cpu", chunk: int = 256):
        """Empty cache; storage is allocated on first use in multiples of `chunk` positions."""
        self.num_layers, self.num_kv_heads, self.head_dim = num_layers, num_kv_heads, head_dim
        self.dtype, self.device, self.chunk = dtype, torch.device(device), chunk
        self.keys: list[torch.Tensor] = [self._empty(0) for _ in range(num_layers)]
        self.values: list[torch.Tensor] = [self._empty(0) for _ in range(num_layers)]
        self.length = 0  # positions 0..length-1 hold valid keys/values

    @classmethod
    def for_model(cls, model, chunk: int = 256) -> "KVCache":
        """An empty cache shaped for `model` (a Qwen3VL), on its device and dtype."""
        text = model.config.text
        return cls(text.num_hidden_layers, text.num_key_value_heads, text.head_dim,
                   dtype=model.dtype, device=model.device, chunk=chunk)

    @property
    def capacity(self) -> int:
        """Positions allocated per layer."""
        return self.keys[0].shape[2]

    @property
    def nbytes(self) -> int:
        """Bytes held by all key/value storage (allocated, not only used)."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def _empty(self, capacity: int) -> torch.Tensor:
        shape = (1, self.num_kv_heads, capacity, self.head_dim)
        return torch.empty(shape, dtype=self.dtype, device=self.device)

    def reserve(self, extra: int) -> None:
        """Make room for `extra` more positions, growing every layer by whole chunks and by at least a
        quarter of the current capacity: growing copies the whole cache, so a cache that grew by a fixed
        step would copy O(length) bytes every `chunk` decode steps (quadratic over a long conversation);
        growing geometrically keeps the copying per token constant."""
        needed = self.length + extra
        if needed <= self.capacity:
            return
        wanted = max(needed, self.capacity + self.capacity // GROWTH_DIVISOR)
        capacity = -(-wanted // self.chunk) * self.chunk
        for layer in range(self.num_layers):
            for store in (self.keys, self.values):
                grown = self._empty(capacity)
                grown[:, :, : self.length] = store[layer][:, :, : self.length]
                store[layer] = grown

    def write(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store keys/values [T, Hkv, D] at positions length..length+T-1 of `layer` (after `reserve(T)`);
        returns that layer's full storage tensors. `length` moves only in `advance`."""
        end = self.length + keys.shape[0]
        self.keys[layer][0, :, self.length:end] = keys.transpose(0, 1)
        self.values[layer][0, :, self.length:end] = values.transpose(0, 1)
        return self.keys[layer], self.values[layer]

    def advance(self, count: int) -> None:
        """Mark `count` freshly written positions as valid (called once per forward, after all layers)."""
        self.length += count

    def truncate(self, length: int) -> None:
        """Forget positions `length` and later."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a cache of length {self.length} to {length}")
        self.length = length
