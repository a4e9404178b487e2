"""Loading checkpoints: folders, shards, config spellings, tensor accounting, hub errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from model.errors import CheckpointError
from model.load.config import load_config
from model.load.loader import build_model, from_pretrained, rename_key
from model.nn.positions import mrope_positions
from tests.helpers import REPO


def _copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "checkpoint"
    shutil.copytree(folder, target)
    return target


def _logits(model, ids=(5, 9, 77, 120, 3, 64)) -> torch.Tensor:
    input_ids = torch.tensor(ids)
    positions, _ = mrope_positions(input_ids, [], 0, model.config.image_token_id, 2)
    return model(input_ids, positions, model.new_cache(), logits="all")


def test_rename_table_maps_both_layouts():
    assert rename_key("model.visual.blocks.0.attn.qkv.weight") == "visual.blocks.0.attn.qkv.weight"
    assert rename_key("model.language_model.norm.weight") == "language_model.norm.weight"
    assert rename_key("visual.merger.norm.weight") == "visual.merger.norm.weight"
    assert rename_key("model.layers.3.mlp.up_proj.weight") == "language_model.layers.3.mlp.up_proj.weight"
    assert rename_key("lm_head.weight") == "lm_head.weight"
    assert rename_key("something.else") is None


def test_missing_tensor_is_named(tiny_checkpoint, tmp_path):
    folder = _copy(tiny_checkpoint("merge2"), tmp_path)
    tensors = load_file(folder / "model.safetensors")
    del tensors["model.language_model.layers.1.mlp.up_proj.weight"]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"does not fill: language_model\.layers\.1\.mlp\.up_proj\.weight"):
        from_pretrained(folder, device="cpu", dtype="float32")


def test_extra_tensor_is_named(tiny_checkpoint, tmp_path):
    folder = _copy(tiny_checkpoint("merge2"), tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["model.visual.blocks.0.attn.extra_scale"] = torch.ones(3)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"does not use: model\.visual\.blocks\.0\.attn\.extra_scale"):
        from_pretrained(folder, device="cpu", dtype="float32")


def test_wrong_shape_is_named(tiny_checkpoint, tmp_path):
    folder = _copy(tiny_checkpoint("merge2"), tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["model.language_model.norm.weight"] = torch.ones(7)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.language_model\.norm\.weight has shape \(7,\)"):
        from_pretrained(folder, device="cpu", dtype="float32")


def test_sharded_checkpoint_loads_the_same_weights(tiny_checkpoint, merge2_model):
    folder = tiny_checkpoint("merge2", max_shard_size="50KB")
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    sharded = from_pretrained(folder, device="cpu", dtype="float32").model
    torch.testing.assert_close(_logits(sharded), _logits(merge2_model), rtol=0, atol=0)


def test_transformers_457_config_spelling(tiny_checkpoint, tmp_path, merge2_model):
    folder = _copy(tiny_checkpoint("merge2"), tmp_path)
    raw = json.loads((folder / "config.json").read_text())
    rope = raw["text_config"].pop("rope_parameters")
    raw["text_config"]["rope_theta"] = rope.pop("rope_theta")
    raw["text_config"]["rope_scaling"] = rope  # 4.57: mrope_section etc. under rope_scaling
    raw["text_config"]["tie_word_embeddings"] = raw.pop("tie_word_embeddings")
    raw["vision_config"].pop("rope_parameters")
    raw["vision_config"]["model_type"] = "qwen3_vl"
    raw["transformers_version"] = "4.57.0"
    (folder / "config.json").write_text(json.dumps(raw))
    assert load_config(folder) == merge2_model.config
    legacy = from_pretrained(folder, device="cpu", dtype="float32").model
    torch.testing.assert_close(_logits(legacy), _logits(merge2_model), rtol=0, atol=0)


def test_tied_head_shares_the_embedding(tiny_checkpoint):
    model = from_pretrained(tiny_checkpoint("tied"), device="cpu", dtype="float32").model
    assert model.lm_head.weight is model.language_model.embed_tokens.weight


def test_patch_embedding_is_a_matmul_of_the_conv_kernel(tiny_checkpoint, merge2_model):
    tensors = load_file(tiny_checkpoint("merge2") / "model.safetensors")
    kernel = tensors["model.visual.patch_embed.proj.weight"]  # [D, C, T, P, P]
    assert kernel.dim() == 5
    assert torch.equal(merge2_model.visual.patch_embed.proj.weight, kernel.flatten(1))
    assert not any(isinstance(m, torch.nn.Conv3d) for m in merge2_model.modules())


def test_bfloat16_on_cpu_is_close_to_float32(tiny_checkpoint, merge2_model):
    model = from_pretrained(tiny_checkpoint("merge2"), device="cpu", dtype="bfloat16").model
    assert model.dtype == torch.bfloat16 and model.attention_backend == "sdpa"
    full, half = _logits(merge2_model), _logits(model)
    assert (half.argmax(-1) == full.argmax(-1)).float().mean() >= 0.5
    assert ((half - full).abs().max() / full.abs().max()) < 0.1


def test_not_a_folder_nor_hub_id(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        from_pretrained(tmp_path / "no" / "such" / "dir", device="cpu")


def test_offline_hub_id_explains_how_to_download(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home"), "PYTHONPATH": str(REPO)}
    code = ("from model.load.loader import from_pretrained\n"
            "try:\n    from_pretrained('Qwen/Qwen3-VL-2B-Instruct', device='cpu')\n"
            "except Exception as error:\n    print(type(error).__name__, error)\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("CheckpointError Qwen/Qwen3-VL-2B-Instruct"), done.stdout + done.stderr
    assert "hf download Qwen/Qwen3-VL-2B-Instruct" in done.stdout
    assert "pass the path of a checkpoint folder" in done.stdout


def test_moving_a_loaded_model_keeps_fused_weights_in_step(tiny_checkpoint, merge2_model):
    folder = tiny_checkpoint("merge2")
    config, cpu = load_config(folder), torch.device("cpu")
    direct = build_model(config, folder, cpu, torch.bfloat16, pack=False)
    cast = build_model(config, folder, cpu, torch.float32, pack=False).to(torch.bfloat16)
    attention = cast.language_model.layers[0].self_attn
    assert cast.matmul_layout == "fused" and attention.fused_qkv.weight.dtype == torch.bfloat16
    assert attention.q_proj.weight.data_ptr() == attention.fused_qkv.weight.data_ptr()  # a view, not a copy
    torch.testing.assert_close(_logits(cast), _logits(direct), rtol=0, atol=0)


def test_moving_a_packed_model_repacks_its_weights(tiny_checkpoint):
    folder = tiny_checkpoint("merge2")
    direct = from_pretrained(folder, device="cpu", dtype="bfloat16").model
    cast = from_pretrained(folder, device="cpu", dtype="float32").model
    assert cast.matmul_layout == "packed"
    cast = cast.to(torch.bfloat16)  # unpacked, converted, packed again in bfloat16's blocked layout
    q_proj = cast.language_model.layers[0].self_attn.q_proj
    assert cast.matmul_layout == "packed" and q_proj.weight.is_mkldnn and q_proj.weight.dtype == torch.bfloat16
    torch.testing.assert_close(_logits(cast), _logits(direct), rtol=0, atol=0)
