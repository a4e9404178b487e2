"""from_pretrained: a checkpoint folder or hub id -> a ready Qwen3VL.

Every checkpoint tensor must be used and every parameter filled; otherwise the error names the
tensors. All key renaming lives in KEY_RENAMES below; the only shape change is the patch embedding's
Conv3d kernel [D, C, T, P, P], which becomes our Linear weight [D, C*T*P*P].
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from torch import nn

from model.attention import choose_backend
from model.config import Qwen3VLConfig, load_config
from model.device import resolve_device_dtype
from model.qwen3vl import Qwen3VL

# Checkpoint key prefix -> our attribute path. The first matching rule wins.
KEY_RENAMES: list[tuple[str, str]] = [
    (r"^model\.visual\.", "visual."),  # transformers 4.57 / 5.x Qwen3VLForConditionalGeneration
    (r"^model\.language_model\.", "language_model."),  # same
    (r"^lm_head\.", "lm_head."),  # same
    (r"^visual\.", "visual."),  # older exports: vision tower at the top level ...
    (r"^model\.(?=embed_tokens\.|layers\.|norm\.)", "language_model."),  # ... decoder directly under model.
]
# With tied embeddings the head *is* the embedding; a stored copy of it is accepted and ignored.
TIED_HEAD_KEY = "lm_head.weight"
CONV_PATCH_KEY = "visual.patch_embed.proj.weight"
HUB_FILE_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"]


class CheckpointError(ValueError):
    """The checkpoint cannot be found, or its tensors do not match the model."""


def rename_key(key: str) -> str | None:
    """Our parameter name for checkpoint key `key`, or None when no rule matches."""
    for pattern, replacement in KEY_RENAMES:
        if re.match(pattern, key):
            return re.sub(pattern, replacement, key, count=1)
    return None


def resolve_checkpoint(path_or_id: str | os.PathLike) -> Path:
    """A local folder as is; otherwise a hub id fetched (or found in the cache) by snapshot_download."""
    path = Path(path_or_id).expanduser()
    if path.is_dir():
        return path
    text = str(path_or_id)
    if path.exists() or not re.fullmatch(r"[\w.-]+/[\w.-]+", text):
        raise CheckpointError(f"{text}: not a checkpoint folder (and not a hub id like Qwen/Qwen3-VL-2B-Instruct)")
    return _download(text)


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_FILE_PATTERNS))
    except Exception as error:  # offline, not cached, no such repo, network down, gated ...
        raise CheckpointError(
            f"{repo_id}: not a local folder, and fetching it from the Hugging Face hub failed "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'}). "
            f"Download it where the hub is reachable with `hf download {repo_id}` "
            f"(or `huggingface-cli download {repo_id}`), or pass the path of a checkpoint folder."
        ) from error


def checkpoint_files(folder: Path) -> list[Path]:
    """The safetensors files of a checkpoint: those named by model.safetensors.index.json, else all."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
        if not isinstance(weight_map, dict):
            raise CheckpointError(f"{index}: field 'weight_map' is missing")
        files = [folder / name for name in sorted(set(weight_map.values()))]
        absent = [str(f) for f in files if not f.is_file()]
        if absent:
            raise CheckpointError(f"{index} names shards that are missing: {', '.join(absent)}")
        return files
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{folder}: no *.safetensors files")
    return files


def _plan(model: Qwen3VL, files: list[Path]) -> dict[str, tuple[Path, str]]:
    """Map each parameter name to (file, checkpoint key); raise naming unused or missing tensors."""
    from safetensors import safe_open

    params = dict(model.named_parameters())
    plan: dict[str, tuple[Path, str]] = {}
    unused: list[str] = []
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                name = rename_key(key)
                if name == TIED_HEAD_KEY and model.config.tie_word_embeddings:
                    continue
                if name not in params:
                    unused.append(key)
                else:
                    plan[name] = (file, key)
    missing = [name for name in params if name not in plan]
    problems = []
    if unused:
        problems.append(f"{len(unused)} checkpoint tensor(s) the model does not use: {', '.join(sorted(unused))}")
    if missing:
        problems.append(f"{len(missing)} parameter(s) the checkpoint does not fill: {', '.join(sorted(missing))}")
    if problems:
        raise CheckpointError(f"{files[0].parent}: " + "; ".join(problems))
    return plan


def _set_parameter(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    owner_path, _, attr = name.rpartition(".")
    owner = model.get_submodule(owner_path)
    setattr(owner, attr, nn.Parameter(tensor, requires_grad=False))


def load_weights(model: Qwen3VL, folder: Path, device: torch.device, dtype: torch.dtype) -> None:
    """Fill every parameter of a (meta-device) model from the folder's safetensors files."""
    from safetensors import safe_open

    params = dict(model.named_parameters())
    plan = _plan(model, checkpoint_files(folder))
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for name, (file, key) in plan.items():
        by_file.setdefault(file, []).append((name, key))
    for file, entries in by_file.items():
        with safe_open(str(file), framework="pt") as handle:
            for name, key in entries:
                tensor = handle.get_tensor(key)
                if name == CONV_PATCH_KEY and tensor.dim() == 5:
                    tensor = tensor.flatten(1)  # Conv3d kernel -> matmul weight
                expected = tuple(params[name].shape)
                if tuple(tensor.shape) != expected:
                    raise CheckpointError(f"{file}: tensor {key} has shape {tuple(tensor.shape)}, "
                                          f"the model expects {expected} for {name}")
                _set_parameter(model, name, tensor.to(device=device, dtype=dtype))
    if model.config.tie_word_embeddings:
        model.lm_head.weight = model.language_model.embed_tokens.weight


def build_model(config: Qwen3VLConfig, folder: Path, device: torch.device, dtype: torch.dtype,
                attention: str = "auto") -> Qwen3VL:
    """Construct on the meta device (no allocation), then load the weights straight to `device`."""
    with torch.device("meta"):
        model = Qwen3VL(config, device=device)
    load_weights(model, folder, device, dtype)
    model.language_model.fuse_projections()  # after loading: fused matrices live where the weights do
    model.eval()
    model.set_attention_backend(choose_backend(device, dtype, attention))
    return model


def from_pretrained(path_or_hub_id: str | os.PathLike, dtype: str | torch.dtype = "auto",
                    device: str | torch.device = "auto", attention: str = "auto") -> Qwen3VL:
    """Load a Qwen3-VL checkpoint (folder or hub id) with its tokenizer, processor and generation
    settings attached as .tokenizer, .processor_config and .generation_defaults."""
    from model.generation_config import load_generation_defaults
    from model.processor import ProcessorConfig
    from model.tokenizer import Tokenizer

    folder = resolve_checkpoint(path_or_hub_id)
    device, dtype = resolve_device_dtype(device, dtype)
    model = build_model(load_config(folder), folder, device, dtype, attention)
    model.tokenizer = Tokenizer.from_folder(folder)
    has_processor = (folder / "preprocessor_config.json").is_file()
    model.processor_config = ProcessorConfig.from_file(folder) if has_processor else ProcessorConfig()
    defaults = load_generation_defaults(folder)
    im_end = model.tokenizer.special.im_end  # a chat turn always ends here, whatever eos says
    stops = defaults.stop_token_ids + (() if im_end in defaults.stop_token_ids else (im_end,))
    model.generation_defaults = defaults.with_overrides(stop_token_ids=stops)
    model.folder = folder
    return model
