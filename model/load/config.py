"""Our own view of a Qwen3-VL checkpoint's config.json.

transformers 4.57 writes `rope_scaling` + `rope_theta` in text_config; 5.x writes one `rope_parameters`
dict. `tie_word_embeddings` sits at the top level, in text_config, or both. Everything is normalised
here so the rest of model/ reads plain dataclass fields.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.errors import ConfigError

MOE_MODEL_TYPE = "qwen3_vl_moe"  # config.json model_type of the Mixture-of-Experts checkpoints


@dataclass(frozen=True)
class VisionConfig:
    """The vision tower: ViT blocks, patch merger and DeepStack mergers."""

    depth: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    out_hidden_size: int
    in_channels: int = 3
    patch_size: int = 16
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    num_position_embeddings: int = 2304
    deepstack_visual_indexes: tuple[int, ...] = ()
    hidden_act: str = "gelu_pytorch_tanh"
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        """Per-head width of vision attention."""
        return self.hidden_size // self.num_heads

    @property
    def patch_dim(self) -> int:
        """Values per flattened patch row (channels * temporal * patch * patch)."""
        return self.in_channels * self.temporal_patch_size * self.patch_size**2


@dataclass(frozen=True)
class TextConfig:
    """The Qwen3 text decoder with interleaved MRoPE."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 5_000_000.0
    mrope_section: tuple[int, int, int] = (24, 20, 20)
    attention_bias: bool = False
    hidden_act: str = "silu"
    max_position_embeddings: int = 262144
    # Mixture of experts (Qwen3-VL-MoE); num_experts 0 means every layer has the dense SwiGLU MLP.
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    decoder_sparse_step: int = 1
    mlp_only_layers: tuple[int, ...] = ()
    norm_topk_prob: bool = True

    def is_sparse_layer(self, index: int) -> bool:
        """Whether decoder layer `index` has the sparse expert block instead of the dense MLP."""
        return (self.num_experts > 0 and index not in self.mlp_only_layers
                and (index + 1) % self.decoder_sparse_step == 0)


@dataclass(frozen=True)
class Qwen3VLConfig:
    """The whole model: both towers plus the token ids that tie them together."""

    text: TextConfig
    vision: VisionConfig
    image_token_id: int = 151655
    video_token_id: int = 151656
    vision_start_token_id: int = 151652
    vision_end_token_id: int = 151653
    tie_word_embeddings: bool = False
    source: str = field(default="<dict>", compare=False)


def load_config(folder: str | Path) -> Qwen3VLConfig:
    """Read `folder/config.json` into a Qwen3VLConfig."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ConfigError(f"{path}: not found (a Qwen3-VL checkpoint folder needs config.json)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: invalid JSON ({error})") from error
    check_field_types(raw, str(path))
    try:
        config = parse_config(raw, source=str(path))
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as error:  # a shape the checks missed
        raise ConfigError(f"{path}: unusable value ({type(error).__name__}: {error})") from error
    return check_config_values(config)


def parse_config(raw: dict[str, Any], source: str = "<dict>") -> Qwen3VLConfig:
    """Normalise a config.json dict (transformers 4.57 or 5.x spelling)."""
    for key in ("text_config", "vision_config"):
        if not isinstance(raw.get(key), dict):
            raise ConfigError(f"{source}: field '{key}' is missing; is this a Qwen3-VL checkpoint?")
    text_raw, vision_raw = raw["text_config"], raw["vision_config"]
    tie = raw.get("tie_word_embeddings", text_raw.get("tie_word_embeddings", False))
    return Qwen3VLConfig(
        text=_parse_text(text_raw, source, sparse=is_moe_config(raw)),
        vision=_parse_vision(vision_raw, source),
        image_token_id=int(raw.get("image_token_id", 151655)),
        video_token_id=int(raw.get("video_token_id", 151656)),
        vision_start_token_id=int(raw.get("vision_start_token_id", 151652)),
        vision_end_token_id=int(raw.get("vision_end_token_id", 151653)),
        tie_word_embeddings=bool(tie),
        source=source,
    )


def is_moe_config(raw: dict[str, Any]) -> bool:
    """Whether a config.json dict describes Qwen3-VL-MoE (30B-A3B, 235B-A22B), by its model_type."""
    text_type = raw.get("text_config", {}).get("model_type")
    return raw.get("model_type") == MOE_MODEL_TYPE or text_type == f"{MOE_MODEL_TYPE}_text"


def _require(raw: dict, key: str, where: str) -> Any:
    if key not in raw:
        raise ConfigError(f"{where}: field '{key}' is missing")
    return raw[key]


def _rope_fields(text_raw: dict, where: str) -> tuple[float, tuple[int, int, int]]:
    """(rope_theta, mrope_section) from `rope_parameters` (5.x) or `rope_scaling` + `rope_theta` (4.57)."""
    params = text_raw.get("rope_parameters") or text_raw.get("rope_scaling") or {}
    theta = params.get("rope_theta", text_raw.get("rope_theta", 5_000_000.0))
    section = params.get("mrope_section", (24, 20, 20))
    if len(section) != 3:
        raise ConfigError(f"{where}: mrope_section must have 3 entries (t, h, w), got {section!r}")
    rope_type = params.get("rope_type", params.get("type", "default"))
    if rope_type not in ("default", "mrope"):
        raise ConfigError(f"{where}: rope_type {rope_type!r} is not supported (only 'default')")
    return float(theta), tuple(int(s) for s in section)


def _parse_text(raw: dict, source: str, sparse: bool = False) -> TextConfig:
    where = f"{source} text_config"
    heads = int(_require(raw, "num_attention_heads", where))
    hidden = int(_require(raw, "hidden_size", where))
    theta, section = _rope_fields(raw, where)
    return TextConfig(
        vocab_size=int(_require(raw, "vocab_size", where)),
        hidden_size=hidden,
        intermediate_size=int(_require(raw, "intermediate_size", where)),
        num_hidden_layers=int(_require(raw, "num_hidden_layers", where)),
        num_attention_heads=heads,
        num_key_value_heads=int(raw.get("num_key_value_heads") or heads),
        head_dim=int(raw.get("head_dim") or hidden // heads),
        rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
        rope_theta=theta,
        mrope_section=section,
        attention_bias=bool(raw.get("attention_bias", False)),
        hidden_act=str(raw.get("hidden_act", "silu")),
        max_position_embeddings=int(raw.get("max_position_embeddings", 262144)),
        **(_moe_fields(raw, where) if sparse else {}),
    )


def _moe_fields(raw: dict, where: str) -> dict[str, Any]:
    """The expert settings of a Qwen3-VL-MoE text_config (`num_experts`, or `num_local_experts` as
    transformers 5.x writes it)."""
    experts = raw.get("num_experts", raw.get("num_local_experts"))
    if experts is None:
        raise ConfigError(f"{where}: field 'num_experts' is missing (model_type {MOE_MODEL_TYPE!r})")
    fields = {
        "num_experts": int(experts),
        "num_experts_per_tok": int(_require(raw, "num_experts_per_tok", where)),
        "moe_intermediate_size": int(_require(raw, "moe_intermediate_size", where)),
        "decoder_sparse_step": int(raw.get("decoder_sparse_step", 1)),
        "mlp_only_layers": tuple(int(i) for i in raw.get("mlp_only_layers") or ()),
        "norm_topk_prob": bool(raw.get("norm_topk_prob", True)),
    }
    if fields["decoder_sparse_step"] < 1:
        raise ConfigError(f"{where}: decoder_sparse_step must be >= 1, got {fields['decoder_sparse_step']}")
    if not 0 < fields["num_experts_per_tok"] <= fields["num_experts"]:
        raise ConfigError(f"{where}: num_experts_per_tok must be between 1 and num_experts "
                          f"({fields['num_experts']}), got {fields['num_experts_per_tok']}")
    return fields


def _parse_vision(raw: dict, source: str) -> VisionConfig:
    where = f"{source} vision_config"
    rope = raw.get("rope_parameters") or {}
    return VisionConfig(
        depth=int(_require(raw, "depth", where)),
        hidden_size=int(_require(raw, "hidden_size", where)),
        intermediate_size=int(_require(raw, "intermediate_size", where)),
        num_heads=int(_require(raw, "num_heads", where)),
        out_hidden_size=int(_require(raw, "out_hidden_size", where)),
        in_channels=int(raw.get("in_channels", raw.get("in_chans", 3))),
        patch_size=int(raw.get("patch_size", 16)),
        temporal_patch_size=int(raw.get("temporal_patch_size", 2)),
        spatial_merge_size=int(raw.get("spatial_merge_size", 2)),
        num_position_embeddings=int(raw.get("num_position_embeddings", 2304)),
        deepstack_visual_indexes=tuple(int(i) for i in raw.get("deepstack_visual_indexes", ())),
        hidden_act=str(raw.get("hidden_act", "gelu_pytorch_tanh")),
        rope_theta=float(rope.get("rope_theta", 10000.0)),
    )


# ----------------------------------------------------------------------------- checks of user files
# Numeric fields we read, by section ("" is the top level): a wrong type is named before parsing.
INT_FIELDS = {
    "": ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"),
    "text_config": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                    "num_key_value_heads", "head_dim", "max_position_embeddings"),
    "vision_config": ("depth", "hidden_size", "intermediate_size", "num_heads", "out_hidden_size", "in_channels",
                      "patch_size", "temporal_patch_size", "spatial_merge_size", "num_position_embeddings"),
}
FLOAT_FIELDS = {"text_config": ("rms_norm_eps", "rope_theta")}


def check_field_types(raw: Any, source: str) -> None:
    """ConfigError naming the first field whose JSON type cannot be what config.json means by it."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object, got {type(raw).__name__}")
    for section, names in INT_FIELDS.items():
        values = raw if not section else raw.get(section)
        if section and values is not None and not isinstance(values, dict):
            raise ConfigError(f"{source}: field '{section}' must be an object, got {type(values).__name__}")
        for name in names:
            value = (values or {}).get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{source}: field '{_path(section, name)}' must be an integer, got {value!r:.80}")
    for section, names in FLOAT_FIELDS.items():
        for name in names:
            value = (raw.get(section) or {}).get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ConfigError(f"{source}: field '{_path(section, name)}' must be a number, got {value!r:.80}")
    text = raw.get("text_config") or {}
    for key in ("rope_parameters", "rope_scaling"):
        if text.get(key) is not None and not isinstance(text[key], dict):
            raise ConfigError(f"{source}: field 'text_config.{key}' must be an object, got {type(text[key]).__name__}")
    vision = raw.get("vision_config") or {}
    indexes = vision.get("deepstack_visual_indexes", [])
    if not isinstance(indexes, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in indexes):
        raise ConfigError(f"{source}: field 'vision_config.deepstack_visual_indexes' must be a list of integers, "
                          f"got {indexes!r:.80}")


def check_config_values(config: Qwen3VLConfig) -> Qwen3VLConfig:
    """The config itself, or a ConfigError naming the first size, head count or id that cannot work."""
    text, vision, source = config.text, config.vision, config.source
    positive = [("text_config", text, ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                       "num_attention_heads", "num_key_value_heads", "head_dim")),
                ("vision_config", vision, ("depth", "hidden_size", "intermediate_size", "num_heads",
                                           "out_hidden_size", "in_channels", "patch_size", "temporal_patch_size",
                                           "spatial_merge_size", "num_position_embeddings"))]
    for section, values, names in positive:
        for name in names:
            if getattr(values, name) < 1:
                raise ConfigError(f"{source}: field '{section}.{name}' must be at least 1, got {getattr(values, name)}")
    if text.num_attention_heads % text.num_key_value_heads:
        raise ConfigError(f"{source}: text_config.num_attention_heads ({text.num_attention_heads}) must be a multiple "
                          f"of num_key_value_heads ({text.num_key_value_heads})")
    if vision.hidden_size % vision.num_heads:
        raise ConfigError(f"{source}: vision_config.hidden_size ({vision.hidden_size}) must be a multiple of "
                          f"num_heads ({vision.num_heads})")
    if text.rms_norm_eps <= 0 or text.rope_theta <= 0 or vision.rope_theta <= 0:
        raise ConfigError(f"{source}: rms_norm_eps and rope_theta must be positive")
    bad = [i for i in vision.deepstack_visual_indexes if not 0 <= i < vision.depth]
    if bad:
        raise ConfigError(f"{source}: vision_config.deepstack_visual_indexes {bad} lie outside the "
                          f"{vision.depth} vision blocks")
    for name in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
        if not 0 <= getattr(config, name) < text.vocab_size:
            raise ConfigError(f"{source}: field '{name}' ({getattr(config, name)}) is not an id of the "
                              f"{text.vocab_size}-token vocabulary")
    return config


def _path(section: str, name: str) -> str:
    return f"{section}.{name}" if section else name
