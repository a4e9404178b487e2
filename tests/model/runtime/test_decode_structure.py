"""A decode step does no work proportional to the context outside attention (checked structurally, by
the shapes of every tensor operation, never by wall time), and the KV cache grows geometrically.

Every aten operation of one decode step is recorded with a TorchDispatchMode, except those inside the
attention kernel call (the one place that must read the whole context). At two context lengths the
recorded operations (views excepted: they only describe existing storage) and all their input and
output shapes must be identical: no cache copies, no
mask or rotary table that grows with the context, no concatenation onto the cache.
"""
from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from model.nn.kv_cache import KVCache


class _OpRecorder(TorchDispatchMode):
    """Records (op, input shapes, output shapes) of every aten call made while `recording` is True, except
    views (select, slice, transpose...: metadata over existing storage, no work, no allocation)."""

    def __init__(self):
        super().__init__()
        self.ops: list[tuple] = []
        self.recording = True

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.recording and not func.is_view:
            self.ops.append((str(func), _shapes(args), _shapes(out)))
        return out


def _shapes(value):
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)):
        return tuple(_shapes(v) for v in value if isinstance(v, (torch.Tensor, list, tuple)))
    return None


def _decode_step_ops(model, context: int):
    """Prefill `context` text tokens, then record one decode step -> (ops outside attention, attention calls)."""
    cache = model.new_cache()
    ids = torch.arange(context) % 50 + 3
    model(ids, torch.arange(context).expand(3, -1), cache)
    assert cache.capacity > context  # the step itself needs no growth
    recorder, attention = _OpRecorder(), model.language_model.attention
    calls = []
    original = attention.causal

    def attend(q, k_cache, v_cache, past):
        calls.append((k_cache, v_cache, past))
        recorder.recording = False  # the kernel reads the whole context by definition
        try:
            return original(q, k_cache, v_cache, past)
        finally:
            recorder.recording = True

    attention.causal = attend
    try:
        with recorder:
            model(torch.tensor([5]), torch.full((3, 1), context), cache)
    finally:
        del attention.causal
    storages = [(cache.keys[i].untyped_storage().data_ptr(), cache.values[i].untyped_storage().data_ptr())
                for i in range(len(calls))]
    return recorder.ops, calls, storages


def test_decode_step_work_outside_attention_does_not_depend_on_context(merge2_model):
    short_ops, short_calls, _ = _decode_step_ops(merge2_model, 300)
    long_ops, long_calls, storages = _decode_step_ops(merge2_model, 700)
    assert len(short_ops) > 20  # the whole step was recorded (projections, norms, rotary, MLP, head)
    assert short_ops == long_ops
    # Attention gets the cache's own storage (views, never a copy) and the right prefix length.
    assert [past for _, _, past in long_calls] == [700] * len(merge2_model.language_model.layers)
    for (keys, values, _), (key_storage, value_storage) in zip(long_calls, storages):
        assert keys.untyped_storage().data_ptr() == key_storage
        assert values.untyped_storage().data_ptr() == value_storage


def test_cache_grows_geometrically_so_copies_per_token_stay_constant():
    cache = KVCache(num_layers=1, num_kv_heads=1, head_dim=2, dtype=torch.float32, chunk=16)
    growths, copied = 0, 0
    for _ in range(4000):  # decode one token at a time
        before = cache.capacity
        cache.reserve(1)
        if cache.capacity != before:
            growths += 1
            copied += cache.length  # positions moved into the new storage
        cache.write(0, torch.zeros(1, 1, 2), torch.zeros(1, 1, 2))
        cache.advance(1)
    assert cache.capacity % 16 == 0 and cache.capacity <= 1.25 * 4000 + 16
    assert growths <= 25  # a fixed 16-position step would grow 250 times
    assert copied <= 5 * 4000  # each position is copied a bounded number of times, not O(length / chunk)
