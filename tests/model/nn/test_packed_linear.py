"""model/nn/packed_linear.py: CPU linears with oneDNN-packed weights compute what nn.Linear computes, and a
loaded CPU model runs every projection through them (except the patch embedding and a tied head)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from model.load.loader import from_pretrained
from model.nn.packed_linear import PackedLinear, pack_linears, packing_available

pytestmark = pytest.mark.skipif(not packing_available(torch.device("cpu"), torch.float32),
                                reason="this torch build has no oneDNN linear packing")


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-5), (torch.bfloat16, 1e-2)])
@pytest.mark.parametrize("bias", [True, False])
def test_packed_linear_computes_the_linear(dtype, tolerance, bias):
    if not packing_available(torch.device("cpu"), dtype):
        pytest.skip(f"no oneDNN packing for {dtype} on this CPU")
    torch.manual_seed(0)
    linear = nn.Linear(96, 200, bias=bias).to(dtype)
    packed = PackedLinear(linear)
    assert packed.packed and packed.weight.shape == (200, 96)
    assert torch.equal(packed.plain_weight(), linear.weight.detach())  # packing reorders, never rounds
    with torch.inference_mode():
        for rows in (1, 7, 300):  # decode step, a short chunk, a prefill
            x = torch.randn(rows, 96, dtype=dtype)
            torch.testing.assert_close(packed(x), linear(x), rtol=tolerance, atol=tolerance)
        strided = torch.randn(5, 192, dtype=dtype)[:, ::2]  # a non-contiguous view, as slices of fused outputs are
        torch.testing.assert_close(packed(strided), linear(strided), rtol=tolerance, atol=tolerance)


def test_only_cpu_float32_and_bfloat16_are_packed():
    assert not packing_available(torch.device("cpu"), torch.float64)
    assert not packing_available(torch.device("cpu"), torch.float16)
    assert not packing_available(torch.device("cuda"), torch.bfloat16)
    assert not packing_available(torch.device("meta"), torch.float32)


def test_moving_to_an_unpackable_dtype_leaves_a_plain_working_linear():
    linear = nn.Linear(16, 8)
    packed = PackedLinear(linear).to(torch.float64)
    assert not packed.packed and packed.weight.dtype == torch.float64 and packed.bias.dtype == torch.float64
    x = torch.randn(3, 16, dtype=torch.float64)
    torch.testing.assert_close(packed(x), linear.to(torch.float64)(x))
    assert packed.to(torch.float32).packed  # and packable again once back in float32


def test_pack_linears_replaces_every_linear_but_the_skipped():
    model = nn.Sequential(nn.Linear(4, 4), nn.ModuleList([nn.Linear(4, 4), nn.ReLU()]), nn.Linear(4, 2))
    kept = model[2]
    assert pack_linears(model, skip=(kept,)) == 2
    assert isinstance(model[0], PackedLinear) and isinstance(model[1][0], PackedLinear) and model[2] is kept


@pytest.mark.parametrize("preset, head_packed", [("merge2", True), ("tied", False)])
def test_a_loaded_cpu_model_is_packed(tiny_checkpoint, preset, head_packed):
    model = from_pretrained(tiny_checkpoint(preset), device="cpu", dtype="float32").model
    assert model.matmul_layout == "packed"
    plain = {name for name, module in model.named_modules() if type(module) is nn.Linear}
    # The patch embedding stays a plain Linear (one matmul per image); a head tied to the embeddings too,
    # since packing it would keep a second copy of the vocabulary matrix.
    assert plain == {"visual.patch_embed.proj"} | (set() if head_packed else {"lm_head"})
    attention = model.language_model.layers[0].self_attn
    assert attention.fused_qkv is None and isinstance(attention.q_proj, PackedLinear)
    if not head_packed:
        assert model.lm_head.weight is model.language_model.embed_tokens.weight


def test_pack_false_keeps_the_fused_plain_layout(tiny_checkpoint):
    from model.load.config import load_config
    from model.load.loader import build_model

    folder = tiny_checkpoint("merge2")
    plain = build_model(load_config(folder), folder, torch.device("cpu"), torch.float32, pack=False)
    packed = build_model(load_config(folder), folder, torch.device("cpu"), torch.float32)
    assert plain.matmul_layout == "fused" and packed.matmul_layout == "packed"
    ids = torch.arange(3, 30)
    positions = torch.arange(len(ids)).expand(3, -1)
    with torch.inference_mode():
        a = plain(ids, positions, plain.new_cache(), logits="all")
        b = packed(ids, positions, packed.new_cache(), logits="all")
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_without_working_onednn_ops_a_cpu_model_falls_back_to_fused(tiny_checkpoint, monkeypatch):
    import model.nn.packed_linear as packing

    monkeypatch.setattr(packing, "_ops_work", lambda dtype: False)  # as on a torch build without them
    model = from_pretrained(tiny_checkpoint("merge2"), device="cpu", dtype="float32").model
    assert model.matmul_layout == "fused"
    assert not any(isinstance(module, PackedLinear) for module in model.modules())
