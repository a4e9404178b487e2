"""Random checkpoints at a released model's real shape, for benchmarks, and a reference on the same weights.

`cached_random_checkpoint` takes the weightless files of a released checkpoint (config, tokenizer,
chat template, preprocessor; e.g. ../shared/checkpoints/qwen3-vl-2b-instruct), optionally cuts the
depth of both towers, and writes random weights beside copies of those files, once: later runs find the
folder under the cache root and reuse it. Weights are stored in bfloat16 (half the disk) and created
one tensor at a time (never the whole model in float32 at once), with model.testing.tiny's value rules.

`reference_on_shared_weights` builds transformers' Qwen3VLForConditionalGeneration whose parameters
*are* our model's tensors (views, no copy). It needs our plain weights: build ours with pack=False,
share, then let ours pack its linears (CPU), which leaves the plain ones to the reference alone.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
REAL_2B_FILES = REPO.parent / "shared" / "checkpoints" / "qwen3-vl-2b-instruct"
DEFAULT_CACHE = Path.home() / ".cache" / "qwen-desktop-agent" / "bench-checkpoints"
WEIGHT_DTYPE = torch.bfloat16
SHARD_BYTES = 1 << 30
FORMAT_VERSION = 1  # bump when the way weights are generated changes


def reduced_config(config: dict, text_layers: int | None, vision_depth: int | None) -> dict:
    """config.json with fewer decoder layers and/or ViT blocks; DeepStack indexes are scaled to the
    new depth so every DeepStack merger is still exercised."""
    config = json.loads(json.dumps(config))
    text, vision = config["text_config"], config["vision_config"]
    if text_layers is not None:
        text["num_hidden_layers"] = text_layers
    if vision_depth is not None and vision_depth != vision["depth"]:
        full = vision["depth"]
        scaled = [min(vision_depth - 1, round(i * vision_depth / full)) for i in vision["deepstack_visual_indexes"]]
        vision["deepstack_visual_indexes"] = sorted(set(scaled))
        vision["depth"] = vision_depth
    return config


def cached_random_checkpoint(source: Path = REAL_2B_FILES, cache_root: Path = DEFAULT_CACHE,
                             text_layers: int | None = None, vision_depth: int | None = None,
                             seed: int = 0) -> Path:
    """A folder with `source`'s files and random weights of its (possibly reduced) config, built once."""
    source = Path(source)
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{source}: no config.json (expected the weightless files of a released checkpoint)")
    config = reduced_config(json.loads((source / "config.json").read_text()), text_layers, vision_depth)
    key = hashlib.sha256(json.dumps([config, seed, FORMAT_VERSION], sort_keys=True).encode()).hexdigest()[:12]
    text, vision = config["text_config"], config["vision_config"]
    folder = Path(cache_root) / f"{source.name}-L{text['num_hidden_layers']}-V{vision['depth']}-{key}"
    if (folder / "DONE").is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)  # an interrupted build
    folder.mkdir(parents=True)
    for file in source.iterdir():
        if file.is_file() and file.name != "config.json" and file.suffix in (".json", ".txt", ".jinja", ".md"):
            shutil.copyfile(file, folder / file.name)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    _write_random_weights(folder, config, seed)
    (folder / "DONE").write_text("complete\n")
    return folder


class _OneTensor:
    """Lets model.testing.tiny.randomize_ fill a single named tensor (its value rules live there, once)."""

    def __init__(self, name: str, tensor: torch.Tensor):
        self.name, self.tensor = name, tensor

    def named_parameters(self):
        yield self.name, self.tensor


def _checkpoint_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Checkpoint key -> shape, from transformers' model built on the meta device (no memory)."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(Qwen3VLConfig(**config))
    return {name: tuple(param.shape) for name, param in model.named_parameters()}  # tied head listed once


def _write_random_weights(folder: Path, config: dict, seed: int) -> None:
    from safetensors.torch import save_file

    from model.testing.tiny import randomize_

    shard: dict[str, torch.Tensor] = {}
    weight_map: dict[str, str] = {}
    shards = total = 0

    def flush():
        nonlocal shard, shards, total
        name = f"model-{shards:05d}.safetensors"
        save_file(shard, str(folder / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
        total += sum(t.numel() * t.element_size() for t in shard.values())
        shard, shards = {}, shards + 1

    for index, (name, shape) in enumerate(_checkpoint_shapes(config).items()):
        value = torch.empty(shape)
        randomize_(_OneTensor(name, value), seed=seed * 1_000_003 + index)
        shard[name] = value.to(WEIGHT_DTYPE)
        if sum(t.numel() * t.element_size() for t in shard.values()) >= SHARD_BYTES:
            flush()
    if shard:
        flush()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))


def reference_on_shared_weights(ours, folder: Path):
    """transformers.Qwen3VLForConditionalGeneration (Qwen3VLMoe... for a MoE checkpoint; SDPA attention)
    whose every parameter is a view of `ours`' (a model.nn.qwen3vl.Qwen3VL loaded from `folder`) tensor of
    the same checkpoint name."""
    from model.load.loader import rename_key
    from model.testing.tiny import transformers_classes

    if ours.matmul_layout == "packed":
        raise ValueError("the reference needs our plain weights: build with pack=False, share, then "
                         "ours.prepare_matmuls() (packed weights are opaque oneDNN tensors)")
    model_type = json.loads((Path(folder) / "config.json").read_text()).get("model_type", "qwen3_vl")
    config_class, model_class = transformers_classes(model_type)
    config = config_class.from_pretrained(folder)
    config._attn_implementation = "sdpa"
    with torch.device("meta"):
        reference = model_class(config)
    mine = dict(ours.named_parameters(remove_duplicate=False))
    for name, param in list(reference.named_parameters(remove_duplicate=False)):
        tensor = mine[rename_key(name)].detach().view(param.shape)  # the patch Conv3d kernel is our Linear weight
        owner, _, attr = name.rpartition(".")
        setattr(reference.get_submodule(owner), attr, torch.nn.Parameter(tensor, requires_grad=False))
    _rebuild_meta_buffers(reference, ours.device)
    return reference.eval()


def _rebuild_meta_buffers(model: torch.nn.Module, device: torch.device) -> None:
    """Modules whose (non-persistent) buffers were made on the meta device, such as the rotary
    inverse-frequency tables, are rebuilt for real from their own config."""
    for name, module in list(model.named_modules()):
        if not any(buffer.is_meta for buffer in module.buffers(recurse=False)):
            continue
        with torch.device(device):
            rebuilt = type(module)(module.config)
        owner, _, attr = name.rpartition(".")
        setattr(model.get_submodule(owner), attr, rebuilt)
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"reference model still has tensors on the meta device: {', '.join(left[:5])}")
