"""from_pretrained: a checkpoint folder or hub id -> a LoadedModel (a ready Qwen3VL and its tokenizer etc.).

Every checkpoint tensor must be used and every parameter filled; otherwise the error names the
tensors. All key renaming lives in KEY_RENAMES below; the only shape change is the patch embedding's
Conv3d kernel [D, C, T, P, P], which becomes our Linear weight [D, C*T*P*P]. MoE experts, stored one
tensor per expert or fused in either orientation, are stacked by model/load/experts.py (its
EXPERT_PIECES table maps per-expert names onto our stacked parameters).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from huggingface_hub import snapshot_download
from safetensors import safe_open
from torch import nn

from model.errors import CheckpointError
from model.inputs.image import ProcessorConfig
from model.inputs.tokenizer import Tokenizer, require_chat_template
from model.load.config import Qwen3VLConfig, load_config
from model.load.device import resolve_device_dtype
from model.load.experts import ExpertStacks, expert_piece, is_stacked, surplus_pieces, unfilled
from model.load.generation_config import load_generation_defaults
from model.load.loaded import LoadedModel
from model.nn.attention import choose_backend
from model.nn.qwen3vl import Qwen3VL

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
# owner/name, each starting with a letter or digit (so ./ckpt, ../x and ~/x are never sent to the hub).
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
HUB_FILE_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"]


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
    if path.exists() or not HUB_ID.fullmatch(text):  # ./ckpt, /models/x, ~/x are paths, never hub ids
        raise CheckpointError(f"{text}: not a checkpoint folder (and not a hub id like Qwen/Qwen3-VL-2B-Instruct)")
    return _download(text)


def _download(repo_id: str) -> Path:
    """The hub snapshot's folder (only the files a checkpoint needs), or CheckpointError saying what to do."""
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
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
        except (ValueError, AttributeError) as error:  # bad JSON or bytes, or not an object
            raise CheckpointError(f"{index}: not a JSON object with a 'weight_map' ({error})") from error
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
    params = dict(model.named_parameters())
    shapes = {name: tuple(param.shape) for name, param in params.items()}
    plan: dict[str, tuple[Path, str]] = {}  # parameter, or per-expert tensor (model/load/experts.py) -> source
    unused: list[str] = []
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                name = rename_key(key)
                if name == TIED_HEAD_KEY and model.config.tie_word_embeddings:
                    continue
                if name not in params and expert_piece(name, shapes) is None:
                    unused.append(key)
                else:
                    plan[name] = (file, key)
    unused += [plan.pop(name)[1] for name in surplus_pieces(plan, shapes)]
    missing = [absent for name in params for absent in unfilled(name, shapes[name], plan)]
    problems = []
    if unused:
        problems.append(f"{len(unused)} checkpoint tensor(s) the model does not use: {', '.join(sorted(unused))}")
    if missing:
        problems.append(f"{len(missing)} parameter(s) the checkpoint does not fill: {', '.join(sorted(missing))}")
    if problems:
        raise CheckpointError(f"{files[0].parent}: " + "; ".join(problems))
    return plan


def _fused_expert_shapes(plan: dict[str, tuple[Path, str]]) -> dict[str, tuple[int, ...]]:
    """Stored shapes of the fused expert tensors in the plan (read from the file headers only)."""
    shapes = {}
    for name, (file, key) in plan.items():
        if is_stacked(name):
            with safe_open(str(file), framework="pt") as handle:
                shapes[name] = tuple(handle.get_slice(key).get_shape())
    return shapes


def _set_parameter(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    owner_path, _, attr = name.rpartition(".")
    owner = model.get_submodule(owner_path)
    setattr(owner, attr, nn.Parameter(tensor, requires_grad=False))


def load_weights(model: Qwen3VL, folder: Path, device: torch.device, dtype: torch.dtype) -> None:
    """Fill every parameter of a (meta-device) model from the folder's safetensors files."""
    params = dict(model.named_parameters())
    plan = _plan(model, checkpoint_files(folder))
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for name, (file, key) in plan.items():
        by_file.setdefault(file, []).append((name, key))
    experts = ExpertStacks({name: tuple(p.shape) for name, p in params.items()}, _fused_expert_shapes(plan))
    for file, entries in by_file.items():
        with safe_open(str(file), framework="pt") as handle:
            for name, key in entries:
                tensor = handle.get_tensor(key)
                try:
                    if experts.add_piece(name, tensor, device, dtype):  # one expert's slice of a stacked tensor
                        continue
                    tensor = experts.orient(name, tensor)  # fused experts stored transposed
                except ValueError as error:
                    raise CheckpointError(f"{file}: tensor {key}: {error}") from error
                if name == CONV_PATCH_KEY and tensor.dim() == 5:
                    tensor = tensor.flatten(1)  # Conv3d kernel -> matmul weight
                expected = tuple(params[name].shape)
                if tuple(tensor.shape) != expected:
                    raise CheckpointError(f"{file}: tensor {key} has shape {tuple(tensor.shape)}, "
                                          f"the model expects {expected} for {name}")
                _set_parameter(model, name, tensor.to(device=device, dtype=dtype))
    for name, stacked in experts.finished().items():
        _set_parameter(model, name, stacked)
    if model.config.tie_word_embeddings:
        model.lm_head.weight = model.language_model.embed_tokens.weight


def build_model(config: Qwen3VLConfig, folder: Path, device: torch.device, dtype: torch.dtype,
                attention: str = "auto", pack: bool = True) -> Qwen3VL:
    """Construct on the meta device (no allocation), then load the weights straight to `device`; `pack`
    False keeps plain (fused) weights on CPU too (model.prepare_matmuls can pack them later)."""
    with torch.device("meta"):
        model = Qwen3VL(config, device=device)
    load_weights(model, folder, device, dtype)
    model.prepare_matmuls(pack)  # after loading: packed or fused matrices live where the weights do
    model.eval()
    model.set_attention_backend(choose_backend(device, dtype, attention))
    return model


def from_pretrained(path_or_hub_id: str | os.PathLike, dtype: str | torch.dtype = "auto",
                    device: str | torch.device = "auto", attention: str = "auto") -> LoadedModel:
    """Load a Qwen3-VL checkpoint (folder or hub id): the model with its tokenizer, processor settings and
    generation defaults, as one LoadedModel."""
    device, dtype = resolve_device_dtype(device, dtype)  # first: a wrong --device must not wait for a download
    folder = resolve_checkpoint(path_or_hub_id)
    config = load_config(folder)
    tokenizer = Tokenizer.from_folder(folder)  # the small files before the weights: mistakes there fail fast
    require_chat_template(tokenizer)  # every prompt goes through it
    processor_config = _read_small_file(folder / "preprocessor_config.json", ProcessorConfig.from_file,
                                        ProcessorConfig())
    defaults = _read_small_file(folder / "generation_config.json", load_generation_defaults, None)
    im_end = tokenizer.special.im_end  # a chat turn always ends here, whatever eos says
    stops = defaults.stop_token_ids + (() if im_end in defaults.stop_token_ids else (im_end,))
    check_weight_files(checkpoint_files(folder))
    model = build_model(config, folder, device, dtype, attention)
    check_finite(model, folder)
    return LoadedModel(model, tokenizer, processor_config, defaults.with_overrides(stop_token_ids=stops), folder)


def _read_small_file(path: Path, read, absent):
    """read(path.parent), or `absent` when the file does not exist (None: read anyway, it has defaults);
    any problem with its content becomes a CheckpointError naming the file."""
    if absent is not None and not path.is_file():
        return absent
    try:
        return read(path.parent)
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as error:
        message = str(error) if str(path) in str(error) else f"{path}: {error}"
        raise CheckpointError(message) from error


def check_weight_files(files: list[Path]) -> None:
    """CheckpointError naming the first safetensors file that is not one, or is cut short, read from
    the headers alone (8-byte header length, JSON header, then the data its offsets describe)."""
    for file in files:
        size = file.stat().st_size
        with open(file, "rb") as handle:
            prefix = handle.read(8)
            header_length = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
            if not 2 <= header_length <= min(size - 8, 100 << 20):
                raise CheckpointError(f"{file}: not a safetensors file (no valid header; {size} bytes)")
            try:
                header = json.loads(handle.read(header_length))
                ends = [int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"]
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
                raise CheckpointError(f"{file}: not a safetensors file (unreadable header: {error})") from error
        needed = 8 + header_length + max(ends, default=0)
        if size < needed:
            raise CheckpointError(f"{file}: truncated: {size} bytes, its header describes {needed} "
                                  "(an interrupted download? fetch the file again)")


def check_finite(model: nn.Module, folder: Path) -> None:
    """CheckpointError naming the weights that hold NaN or infinity (a broken conversion or export).
    A float32 sum per tensor (one fast pass, ~0.2 s per GiB on 2 CPU cores) is non-finite whenever an
    element is; only then is the tensor checked element by element (a huge but finite sum can overflow)."""
    bad = [name for name, param in model.named_parameters()
           if param.is_floating_point() and not bool(torch.isfinite(torch.sum(param, dtype=torch.float32)))
           and not bool(torch.isfinite(param).all())]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise CheckpointError(f"{folder}: {len(bad)} weight tensor(s) hold NaN or infinite values: {shown}")
