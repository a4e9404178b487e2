"""examples/bench/bench_checkpoint.py: reduced configs, random checkpoints written once, and the reference that
runs on our very (plain) tensors, and refuses packed ones."""
from __future__ import annotations

import json

import pytest
import torch
from bench_checkpoint import cached_random_checkpoint, reduced_config, reference_on_shared_weights  # noqa: E402


REAL_SHAPE = {"text_config": {"num_hidden_layers": 28}, "vision_config": {"depth": 24, "deepstack_visual_indexes": [5, 11, 17]}}


def test_reduced_config_scales_deepstack_to_the_new_depth():
    assert reduced_config(REAL_SHAPE, 2, 3)["vision_config"] == {"depth": 3, "deepstack_visual_indexes": [1, 2]}
    assert reduced_config(REAL_SHAPE, 2, 5)["vision_config"]["deepstack_visual_indexes"] == [1, 2, 4]
    unchanged = reduced_config(REAL_SHAPE, None, None)
    assert unchanged == REAL_SHAPE and unchanged is not REAL_SHAPE
    assert reduced_config(REAL_SHAPE, 3, None)["text_config"]["num_hidden_layers"] == 3


def test_random_checkpoint_is_built_once_and_loads(tiny_checkpoint, tmp_path):
    from model.load.loader import from_pretrained

    source = tiny_checkpoint("merge2")  # any folder with config.json and tokenizer files will do
    first = cached_random_checkpoint(source, cache_root=tmp_path, text_layers=1, vision_depth=2)
    stamp = (first / "model.safetensors.index.json").stat().st_mtime_ns
    again = cached_random_checkpoint(source, cache_root=tmp_path, text_layers=1, vision_depth=2)
    assert again == first and (first / "model.safetensors.index.json").stat().st_mtime_ns == stamp
    config = json.loads((first / "config.json").read_text())
    assert config["text_config"]["num_hidden_layers"] == 1 and config["vision_config"]["depth"] == 2
    loaded = from_pretrained(first, device="cpu", dtype="float32")  # every tensor present and used
    assert len(loaded.model.language_model.layers) == 1


def test_reference_runs_on_our_tensors(tiny_checkpoint):
    from model.load.config import load_config
    from model.load.loader import build_model
    from model.nn.positions import mrope_positions

    folder = tiny_checkpoint("merge2")
    merge2_model = build_model(load_config(folder), folder, torch.device("cpu"), torch.float32, pack=False)
    reference = reference_on_shared_weights(merge2_model, folder)
    ours = {t.untyped_storage().data_ptr() for t in merge2_model.parameters()}
    assert {t.untyped_storage().data_ptr() for t in reference.parameters()} <= ours  # views, no copies
    ids = torch.arange(3, 40)
    positions, _ = mrope_positions(ids, [], 0, merge2_model.config.image_token_id, 2)
    with torch.inference_mode():
        expected = reference(input_ids=ids[None]).logits[0]
        actual = merge2_model(ids, positions, merge2_model.new_cache(), logits="all")
    assert torch.allclose(actual, expected, rtol=1e-4, atol=1e-4)
    merge2_model.prepare_matmuls()  # the bench packs ours after sharing: the reference keeps the plain tensors
    with torch.inference_mode():
        packed = merge2_model(ids, positions, merge2_model.new_cache(), logits="all")
        assert torch.equal(reference(input_ids=ids[None]).logits[0], expected)
    assert merge2_model.matmul_layout == "packed" and torch.allclose(packed, expected, rtol=1e-4, atol=1e-4)


def test_reference_needs_plain_weights(merge2_model, tiny_checkpoint):
    with pytest.raises(ValueError, match="packed"):
        reference_on_shared_weights(merge2_model, tiny_checkpoint("merge2"))
