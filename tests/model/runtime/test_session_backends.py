"""Every attention backend, forced on CPU, keeps a multi-turn Session exact against transformers.

Turn 1 prefills from an empty cache; every later turn prefills a chunk after the cached prefix, which
each backend attends differently: "lse_split" (the CPU default) merges two partial softmaxes,
"sdpa_mask" uses SDPA with a bottom-right causal mask (what a GPU without flash-attn runs), and
"flash" calls flash-attn's kvcache kernel (here the contract stand-in of test_flash_contract.py, since
flash-attn needs CUDA). Each test also checks that the backend's own chunk path really ran.
"""
from __future__ import annotations

import pytest
import torch

import model.nn.attention as attention
from model.load.loader import from_pretrained
from model.runtime.session import Session
from model.runtime.vision_guard import vision_token_ids
from tests.model.nn.test_flash_contract import flash_attn_varlen_func, flash_attn_with_kvcache
from tests.model.runtime.session_helpers import SIZES, reference_greedy, reference_logits, screenshot

TURNS = 3
NEW_TOKENS = 5
# backend -> the module function that attends a chunk after a cached prefix on that backend
CHUNK_PATH = {"lse_split": "_chunk_after_prefix", "sdpa_mask": "_masked_chunk_after_prefix",
              "flash": "_flash_with_kvcache"}


@pytest.fixture
def flash_stand_in(monkeypatch):
    """flash_attn replaced by the contract stand-in (plain softmax attention) for one test."""
    import sys
    import types

    module = types.ModuleType("flash_attn")
    module.flash_attn_varlen_func = flash_attn_varlen_func
    module.flash_attn_with_kvcache = flash_attn_with_kvcache
    monkeypatch.setitem(sys.modules, "flash_attn", module)


def load_with_backend(folder, backend: str):
    """Our model on CPU in float32 with `backend` forced (flash: set after loading, since the loader
    refuses flash without CUDA)."""
    if backend == "flash":
        loaded = from_pretrained(folder, device="cpu", dtype="float32")
        loaded.model.set_attention_backend("flash")
        return loaded
    return from_pretrained(folder, device="cpu", dtype="float32", attention=backend)


def count_calls(monkeypatch, name: str) -> list[int]:
    """Wrap attention.<name> so each call appends to the returned list."""
    calls: list[int] = []
    original = getattr(attention, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(attention, name, counted)
    return calls


@pytest.mark.parametrize("backend", ["lse_split", "sdpa_mask", "flash"])
def test_backend_is_exact_turn_after_turn(session_checkpoint, reference, monkeypatch, request, backend):
    if backend == "flash":
        request.getfixturevalue("flash_stand_in")
    loaded = load_with_backend(session_checkpoint, backend)
    assert loaded.model.attention_backend == backend
    calls = count_calls(monkeypatch, CHUNK_PATH[backend])
    session = Session(loaded, system="You are a helpful assistant.")
    config = loaded.generation_defaults.with_overrides(temperature=0.0, max_new_tokens=NEW_TOKENS)
    for turn in range(TURNS):
        session.add_user(f"step {turn}", images=[screenshot(turn, SIZES[turn])])
        state = session.prefill(reserve=NEW_TOKENS)
        if turn:
            assert state.counters.cached_tokens > 0  # a chunk after a cached prefix
        torch.testing.assert_close(state.logits, reference_logits(reference, state.prompt), atol=2e-5, rtol=1e-4)
        reply = session.decode(state, config)
        expected = reference_greedy(reference, state.prompt, NEW_TOKENS, vision_token_ids(loaded.tokenizer))
        assert reply.token_ids == expected, f"{backend}, turn {turn}"
    if backend == "flash":
        assert calls  # every attention call of the decoder goes through flash_attn_with_kvcache
    else:
        # every layer but the last (trimmed to the last query, which needs no mask) on every later turn
        assert len(calls) >= (loaded.config.text.num_hidden_layers - 1) * (TURNS - 1)


def test_unavailable_backends_are_refused_with_the_reason(session_checkpoint):
    with pytest.raises(ValueError, match="'flash' needs CUDA"):
        from_pretrained(session_checkpoint, device="cpu", dtype="float32", attention="flash")
    with pytest.raises(ValueError, match="expected one of auto, sdpa, flash, sdpa_mask, lse_split"):
        from_pretrained(session_checkpoint, device="cpu", dtype="float32", attention="fast")
