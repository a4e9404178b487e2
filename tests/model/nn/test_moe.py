"""The sparse expert block and MoE configs: routing, grouping by expert, which layers are sparse."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from model.errors import ConfigError
from model.load.config import TextConfig, is_moe_config, parse_config
from model.nn.moe import SparseMoeBlock, route


def _config(**moe) -> TextConfig:
    fields = {"num_experts": 6, "num_experts_per_tok": 2, "moe_intermediate_size": 12, **moe}
    return TextConfig(vocab_size=10, hidden_size=16, intermediate_size=20, num_hidden_layers=4,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=8, **fields)


def _block(seed: int = 0, **moe) -> SparseMoeBlock:
    block = SparseMoeBlock(_config(**moe)).requires_grad_(False)  # as loaded: inference only
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in block.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) / param.shape[-1] ** 0.5)
    return block


def _plain_moe(block: SparseMoeBlock, x: torch.Tensor, normalize: bool) -> torch.Tensor:
    """The definition, token by token: softmax over all experts, top k, weighted sum of SwiGLU experts."""
    out = torch.zeros_like(x)
    inter = block.experts.intermediate
    for t in range(x.shape[0]):
        probs = torch.softmax(x[t] @ block.gate.weight.T, dim=-1)
        top = probs.topk(block.top_k)
        weights = top.values / top.values.sum() if normalize else top.values
        for weight, expert in zip(weights, top.indices.tolist()):
            gate_up = block.experts.gate_up_proj[expert] @ x[t]
            hidden = F.silu(gate_up[:inter]) * gate_up[inter:]
            out[t] += weight * (block.experts.down_proj[expert] @ hidden)
    return out


@pytest.mark.parametrize("normalize", [True, False], ids=["norm_topk_prob", "raw_probs"])
@pytest.mark.parametrize("tokens", [1, 2, 37])
def test_block_equals_the_token_by_token_definition(tokens, normalize):
    block = _block(norm_topk_prob=normalize)
    x = torch.randn(tokens, 16, generator=torch.Generator().manual_seed(tokens))
    torch.testing.assert_close(block(x), _plain_moe(block, x, normalize), atol=1e-6, rtol=1e-5)


def test_route_renormalises_only_when_asked():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    weights, experts = route(logits, 2, normalize=True)
    assert experts.tolist() == [[0, 1]]
    torch.testing.assert_close(weights.sum(-1), torch.ones(1))
    raw, _ = route(logits, 2, normalize=False)
    torch.testing.assert_close(raw, torch.softmax(logits, -1)[:, :2])
    assert route(logits.bfloat16(), 2, normalize=True)[0].dtype == torch.bfloat16


def _record_expert_calls(block: SparseMoeBlock, monkeypatch) -> list[tuple[int, int]]:
    """(expert, rows) of every gate_up matmul the block runs (each expert's first of its two matmuls)."""
    calls: list[tuple[int, int]] = []
    starts = {block.experts.gate_up_proj[e].data_ptr(): e for e in range(block.experts.gate_up_proj.shape[0])}
    mm = torch.mm

    def recording(a, b, **kwargs):
        if b.data_ptr() in starts:
            calls.append((starts[b.data_ptr()], a.shape[0]))
        return mm(a, b, **kwargs)

    monkeypatch.setattr(torch, "mm", recording)
    return calls


def test_a_decode_step_runs_only_its_chosen_experts(monkeypatch):
    block = _block(num_experts=16, num_experts_per_tok=3)
    calls = _record_expert_calls(block, monkeypatch)
    x = torch.randn(1, 16, generator=torch.Generator().manual_seed(5))
    _, chosen = route(block.gate(x), 3, True)
    block(x)
    assert sorted(expert for expert, _ in calls) == sorted(chosen[0].tolist())
    assert all(rows == 1 for _, rows in calls)


def test_prefill_runs_each_expert_once_over_all_its_tokens(monkeypatch):
    block = _block(num_experts=16, num_experts_per_tok=2)
    calls = _record_expert_calls(block, monkeypatch)
    x = torch.randn(9, 16, generator=torch.Generator().manual_seed(6))
    _, chosen = route(block.gate(x), 2, True)
    block(x)
    expected = torch.bincount(chosen.flatten(), minlength=16)
    assert calls == [(e, int(n)) for e, n in enumerate(expected.tolist()) if n]  # once per used expert
    assert len(calls) < 16  # experts no token chose are never run


def test_sparse_layers_follow_decoder_sparse_step_and_mlp_only_layers():
    assert [_config(decoder_sparse_step=1).is_sparse_layer(i) for i in range(4)] == [True] * 4
    assert [_config(decoder_sparse_step=2).is_sparse_layer(i) for i in range(4)] == [False, True, False, True]
    mixed = _config(decoder_sparse_step=1, mlp_only_layers=(0, 2))
    assert [mixed.is_sparse_layer(i) for i in range(4)] == [False, True, False, True]
    dense = TextConfig(vocab_size=10, hidden_size=16, intermediate_size=20, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=8)
    assert not any(dense.is_sparse_layer(i) for i in range(2))


def _raw(model_type="qwen3_vl_moe", **text) -> dict:
    text_config = {"vocab_size": 10, "hidden_size": 16, "intermediate_size": 20, "num_hidden_layers": 2,
                   "num_attention_heads": 2, "moe_intermediate_size": 12, "num_experts_per_tok": 2,
                   "num_experts": 4, **text}
    vision = {"depth": 1, "hidden_size": 8, "intermediate_size": 8, "num_heads": 1, "out_hidden_size": 16}
    raw = {"text_config": text_config, "vision_config": vision}
    if model_type:
        raw["model_type"] = model_type
    return raw


def test_moe_configs_are_recognised_by_model_type():
    text = parse_config(_raw(mlp_only_layers=[1], decoder_sparse_step=1)).text
    assert (text.num_experts, text.num_experts_per_tok, text.moe_intermediate_size) == (4, 2, 12)
    assert text.mlp_only_layers == (1,) and text.norm_topk_prob
    # transformers 5.x writes num_local_experts; the text_config's own model_type is enough too
    raw = _raw(model_type=None)
    raw["text_config"] = {**raw["text_config"], "model_type": "qwen3_vl_moe_text", "num_local_experts": 8}
    del raw["text_config"]["num_experts"]
    assert is_moe_config(raw) and parse_config(raw).text.num_experts == 8
    assert parse_config(_raw(norm_topk_prob=False)).text.norm_topk_prob is False
    # a dense Qwen3-VL config ignores expert fields
    assert parse_config(_raw(model_type="qwen3_vl")).text.num_experts == 0


@pytest.mark.parametrize("change, message", [
    ({"num_experts": None}, "num_experts"),
    ({"num_experts_per_tok": 9}, "num_experts_per_tok must be between 1 and num_experts"),
    ({"decoder_sparse_step": 0}, "decoder_sparse_step must be >= 1"),
])
def test_bad_moe_fields_are_named(change, message):
    raw = _raw()
    for key, value in change.items():
        if value is None:
            del raw["text_config"][key]
        else:
            raw["text_config"][key] = value
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, source="ckpt/config.json")


def test_a_30b_a3b_shaped_config_builds_a_31b_model_with_3b_active():
    """Qwen3-VL-30B-A3B's config.json fields (48 layers, 128 experts of width 768, top 8), built on the
    meta device: 31.07B parameters as published, of which the experts a token does not use are 27.2B."""
    from model.nn.qwen3vl import Qwen3VL

    raw = _raw(num_hidden_layers=48, hidden_size=2048, intermediate_size=6144, num_attention_heads=32,
               num_key_value_heads=4, head_dim=128, vocab_size=151936, num_experts=128, num_experts_per_tok=8,
               moe_intermediate_size=768, decoder_sparse_step=1, mlp_only_layers=[], norm_topk_prob=True,
               rope_scaling={"mrope_interleaved": True, "mrope_section": [24, 20, 20], "rope_type": "default"},
               rope_theta=5_000_000)
    raw["vision_config"] = {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16,
                            "out_hidden_size": 2048, "deepstack_visual_indexes": [8, 16, 24]}
    with torch.device("meta"):
        model = Qwen3VL(parse_config(raw))
    total = sum(p.numel() for p in model.parameters())
    experts = sum(p.numel() for name, p in model.named_parameters() if ".mlp.experts." in name)
    assert all(layer.mlp.__class__ is SparseMoeBlock for layer in model.language_model.layers)
    assert round(total / 1e9, 2) == 31.07
    assert 3.0e9 < total - experts * (1 - 8 / 128) < 4.0e9  # active per token, embeddings and ViT included
