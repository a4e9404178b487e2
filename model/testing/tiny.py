"""Tiny random Qwen3-VL checkpoints for tests and benchmarks (no downloads).

write_tiny_checkpoint builds transformers' Qwen3VLForConditionalGeneration from a preset, gives every
weight a well-spread random value (so norms, biases and heads all matter to the output), saves it with
save_pretrained, and adds generation_config.json, preprocessor_config.json and a tiny tokenizer whose
special-token ids the config uses.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from model.testing.tiny_tokenizer import write_tiny_tokenizer

PRESETS: dict[str, dict[str, Any]] = {
    # transformers' own test configuration (tests/models/qwen3_vl/test_modeling_qwen3_vl.py): merge size 1,
    # head_dim 8, mrope_section [16, 8, 8] (wider than head_dim / 2, so it is clipped). The vocabulary
    # and the special-token ids are the tiny tokenizer's instead of 99 and 0..6.
    "hf_test": {
        "text_config": {"hidden_size": 32, "head_dim": 8, "num_attention_heads": 4, "num_key_value_heads": 2,
                        "num_hidden_layers": 2, "intermediate_size": 37, "hidden_act": "silu",
                        "max_position_embeddings": 512,
                        "rope_parameters": {"rope_type": "default", "rope_theta": 10000,
                                            "mrope_section": [16, 8, 8], "mrope_interleaved": True}},
        "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 32, "out_hidden_size": 32,
                          "num_heads": 4, "patch_size": 16, "spatial_merge_size": 1, "temporal_patch_size": 2,
                          "num_position_embeddings": 16, "deepstack_visual_indexes": [0, 1],
                          "hidden_act": "gelu_pytorch_tanh"},
        "tie_word_embeddings": True,
    },
    # Merge 2, three DeepStack layers, head_dim 16 with mrope_section summing to head_dim / 2.
    "merge2": {
        "text_config": {"hidden_size": 64, "head_dim": 16, "num_attention_heads": 4, "num_key_value_heads": 2,
                        "num_hidden_layers": 4, "intermediate_size": 96,
                        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000,
                                            "mrope_section": [4, 2, 2], "mrope_interleaved": True}},
        "vision_config": {"depth": 4, "hidden_size": 32, "intermediate_size": 64, "out_hidden_size": 64,
                          "num_heads": 2, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                          "num_position_embeddings": 64, "deepstack_visual_indexes": [1, 2, 3]},
        "tie_word_embeddings": False,
    },
    # Tied input/output embeddings, one DeepStack layer.
    "tied": {
        "text_config": {"hidden_size": 48, "head_dim": 16, "num_attention_heads": 3, "num_key_value_heads": 1,
                        "num_hidden_layers": 2, "intermediate_size": 64,
                        "rope_parameters": {"rope_type": "default", "rope_theta": 5_000_000,
                                            "mrope_section": [4, 2, 2], "mrope_interleaved": True}},
        "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 48, "out_hidden_size": 48,
                          "num_heads": 2, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                          "num_position_embeddings": 36, "deepstack_visual_indexes": [0]},
        "tie_word_embeddings": True,
    },
    # CPU-sized benchmark model: text hidden 512 x 4 layers, vision hidden 256 x 4 blocks.
    "bench": {
        "text_config": {"hidden_size": 512, "head_dim": 64, "num_attention_heads": 8, "num_key_value_heads": 4,
                        "num_hidden_layers": 4, "intermediate_size": 1536,
                        "rope_parameters": {"rope_type": "default", "rope_theta": 5_000_000,
                                            "mrope_section": [12, 10, 10], "mrope_interleaved": True}},
        "vision_config": {"depth": 4, "hidden_size": 256, "intermediate_size": 1024, "out_hidden_size": 512,
                          "num_heads": 4, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                          "num_position_embeddings": 2304, "deepstack_visual_indexes": [1, 2, 3]},
        "tie_word_embeddings": False,
    },
    # Mixture of experts (Qwen3-VL-MoE): "merge2"'s towers with 8 experts, top 2, in every layer.
    "moe": {
        "model_type": "qwen3_vl_moe",
        "text_config": {"hidden_size": 64, "head_dim": 16, "num_attention_heads": 4, "num_key_value_heads": 2,
                        "num_hidden_layers": 4, "intermediate_size": 96, "moe_intermediate_size": 32,
                        "num_experts": 8, "num_experts_per_tok": 2, "decoder_sparse_step": 1,
                        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000,
                                            "mrope_section": [4, 2, 2], "mrope_interleaved": True}},
        "vision_config": {"depth": 4, "hidden_size": 32, "intermediate_size": 64, "out_hidden_size": 64,
                          "num_heads": 2, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                          "num_position_embeddings": 64, "deepstack_visual_indexes": [1, 2, 3]},
        "tie_word_embeddings": False,
    },
    # MoE with dense layers mixed in: sparse every 2nd layer (1, 3, 5) except layer 3 (mlp_only_layers);
    # 16 experts, top 4; one DeepStack layer, merge size 1.
    "moe_mixed": {
        "model_type": "qwen3_vl_moe",
        "text_config": {"hidden_size": 48, "head_dim": 16, "num_attention_heads": 3, "num_key_value_heads": 1,
                        "num_hidden_layers": 6, "intermediate_size": 64, "moe_intermediate_size": 24,
                        "num_experts": 16, "num_experts_per_tok": 4, "decoder_sparse_step": 2,
                        "mlp_only_layers": [3],
                        "rope_parameters": {"rope_type": "default", "rope_theta": 5_000_000,
                                            "mrope_section": [4, 2, 2], "mrope_interleaved": True}},
        "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 48, "out_hidden_size": 48,
                          "num_heads": 2, "patch_size": 16, "spatial_merge_size": 1, "temporal_patch_size": 2,
                          "num_position_embeddings": 36, "deepstack_visual_indexes": [0]},
        "tie_word_embeddings": False,
    },
    # CPU-sized MoE benchmark model: "bench"'s towers; 16 experts of width 384, top 4, in every layer
    # (30B-A3B: 128 experts of width 768, top 8).
    "bench_moe": {
        "model_type": "qwen3_vl_moe",
        "text_config": {"hidden_size": 512, "head_dim": 64, "num_attention_heads": 8, "num_key_value_heads": 4,
                        "num_hidden_layers": 4, "intermediate_size": 1536, "moe_intermediate_size": 384,
                        "num_experts": 16, "num_experts_per_tok": 4, "decoder_sparse_step": 1,
                        "rope_parameters": {"rope_type": "default", "rope_theta": 5_000_000,
                                            "mrope_section": [12, 10, 10], "mrope_interleaved": True}},
        "vision_config": {"depth": 4, "hidden_size": 256, "intermediate_size": 1024, "out_hidden_size": 512,
                          "num_heads": 4, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                          "num_position_embeddings": 2304, "deepstack_visual_indexes": [1, 2, 3]},
        "tie_word_embeddings": False,
    },
}
# How a MoE checkpoint stores its experts: "fused" as transformers 5.x saves them (gate_up_proj
# [E, 2I, H], down_proj [E, H, I]); "fused_transposed" as the released checkpoints and transformers 4.57
# do ([E, H, 2I], [E, I, H]); "per_expert": experts.{i}.gate_proj / up_proj / down_proj.weight.
EXPERT_LAYOUTS = ("fused", "fused_transposed", "per_expert")


def preset_config(preset: str, vocab_size: int, special: dict[str, int], **overrides) -> dict[str, Any]:
    """The config.json dict of a preset with the tokenizer's vocabulary and ids filled in; `overrides`
    replace top-level keys, and text_config / vision_config dicts are merged key by key."""
    if preset not in PRESETS:
        raise ValueError(f"unknown tiny preset {preset!r}; choose one of {', '.join(PRESETS)}")
    config = copy.deepcopy(PRESETS[preset])
    config["text_config"].update(vocab_size=vocab_size, bos_token_id=None, pad_token_id=None,
                                 eos_token_id=special["eos"])
    for key, value in overrides.items():
        if key in ("text_config", "vision_config"):
            config[key].update(value)
        else:
            config[key] = value
    config.update(image_token_id=special["image"], video_token_id=special["video"],
                  vision_start_token_id=special["vision_start"], vision_end_token_id=special["vision_end"])
    return config


def randomize_(model, seed: int) -> None:
    """Give every parameter a random value of sensible scale (norm scales near 1, biases small)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if "norm" in name and name.endswith("weight"):
                param.copy_(1 + 0.1 * noise)
            elif name.endswith("bias"):
                param.copy_(0.1 * noise)
            elif "embed_tokens" in name or "pos_embed" in name:
                param.copy_(noise)
            else:
                fan_in = math.prod(param.shape[1:]) if param.dim() > 1 else param.shape[0]
                if ".experts." in name and param.dim() == 3:  # stacked experts [E, out, in]
                    fan_in = param.shape[-1]
                param.copy_(noise / math.sqrt(fan_in))


def _processor_json(merge: int, patch: int, min_pixels: int, max_pixels: int) -> dict[str, Any]:
    return {
        "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen3VLProcessor",
        "patch_size": patch, "merge_size": merge, "temporal_patch_size": 2,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "rescale_factor": 1 / 255,
        "do_resize": True, "do_rescale": True, "do_normalize": True, "do_convert_rgb": True,
        "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels},
    }


def transformers_classes(model_type: str):
    """transformers' (config class, model class) for a preset's model_type."""
    import transformers  # optional (the dev extra): only writing a checkpoint needs it

    if model_type == "qwen3_vl_moe":
        return transformers.Qwen3VLMoeConfig, transformers.Qwen3VLMoeForConditionalGeneration
    return transformers.Qwen3VLConfig, transformers.Qwen3VLForConditionalGeneration


def _restore_experts(tensors: dict, layout: str) -> dict:
    """Checkpoint tensors as saved by transformers 5.x -> the same weights in expert `layout`."""
    out = {}
    for key, tensor in tensors.items():
        prefix, _, kind = key.rpartition(".")
        if not prefix.endswith(".mlp.experts") or layout == "fused":
            out[key] = tensor
        elif layout == "fused_transposed":
            out[key] = tensor.transpose(1, 2).contiguous()
        elif kind == "gate_up_proj":  # [E, 2I, H] -> per expert gate [I, H], up [I, H]
            for index, (gate, up) in enumerate(t.chunk(2) for t in tensor):
                out[f"{prefix}.{index}.gate_proj.weight"] = gate.contiguous()
                out[f"{prefix}.{index}.up_proj.weight"] = up.contiguous()
        else:  # down_proj [E, H, I] -> per expert [H, I]
            for index, down in enumerate(tensor):
                out[f"{prefix}.{index}.down_proj.weight"] = down.contiguous()
    return out


def rewrite_expert_layout(folder: Path, layout: str) -> None:
    """Re-store the experts of every safetensors file in `folder` in `layout` (see EXPERT_LAYOUTS)."""
    if layout not in EXPERT_LAYOUTS:
        raise ValueError(f"unknown expert layout {layout!r}; choose one of {', '.join(EXPERT_LAYOUTS)}")
    weight_map = {}
    for file in sorted(folder.glob("*.safetensors")):
        tensors = _restore_experts(load_file(str(file)), layout)
        save_file(tensors, str(file), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, file.name))
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        data = json.loads(index.read_text())
        data["weight_map"] = weight_map
        index.write_text(json.dumps(data, indent=2))


def write_tiny_checkpoint(folder, preset: str = "merge2", seed: int = 0, max_shard_size: str | None = None,
                          expert_layout: str = "fused", **overrides) -> Path:
    """Write a random checkpoint of `preset` into `folder` (created) and return the folder; MoE presets
    store their experts in `expert_layout` (see EXPERT_LAYOUTS)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info = write_tiny_tokenizer(folder)
    special = {"eos": info.im_end_id, "image": info.image_pad_id, "video": info.video_pad_id,
               "vision_start": info.vision_start_id, "vision_end": info.vision_end_id}
    config_dict = preset_config(preset, info.vocab_size, special, **overrides)
    config_class, model_class = transformers_classes(config_dict.pop("model_type", "qwen3_vl"))
    torch.manual_seed(seed)
    model = model_class(config_class(**config_dict)).eval()
    randomize_(model, seed)
    model.save_pretrained(folder, **({"max_shard_size": max_shard_size} if max_shard_size else {}))
    if config_class.model_type == "qwen3_vl_moe":
        rewrite_expert_layout(folder, expert_layout)
    generation = {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
                  "eos_token_id": [info.im_end_id, info.endoftext_id], "pad_token_id": info.endoftext_id}
    (folder / "generation_config.json").write_text(json.dumps(generation, indent=2))
    vision = config_dict["vision_config"]
    factor = vision["patch_size"] * vision["spatial_merge_size"]
    pixels = (65_536, 16_777_216) if preset.startswith("bench") else (4 * factor**2, 64 * factor**2)
    processor = _processor_json(vision["spatial_merge_size"], vision["patch_size"], *pixels)
    (folder / "preprocessor_config.json").write_text(json.dumps(processor, indent=2))
    return folder
