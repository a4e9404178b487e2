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


class ConfigError(ValueError):
    """config.json is missing, malformed, or not a Qwen3-VL configuration."""


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
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: invalid JSON ({error})") from error
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], source: str = "<dict>") -> Qwen3VLConfig:
    """Normalise a config.json dict (transformers 4.57 or 5.x spelling)."""
    for key in ("text_config", "vision_config"):
        if not isinstance(raw.get(key), dict):
            raise ConfigError(f"{source}: field '{key}' is missing; is this a Qwen3-VL checkpoint?")
    text_raw, vision_raw = raw["text_config"], raw["vision_config"]
    tie = raw.get("tie_word_embeddings", text_raw.get("tie_word_embeddings", False))
    return Qwen3VLConfig(
        text=_parse_text(text_raw, source),
        vision=_parse_vision(vision_raw, source),
        image_token_id=int(raw.get("image_token_id", 151655)),
        video_token_id=int(raw.get("video_token_id", 151656)),
        vision_start_token_id=int(raw.get("vision_start_token_id", 151652)),
        vision_end_token_id=int(raw.get("vision_end_token_id", 151653)),
        tie_word_embeddings=bool(tie),
        source=source,
    )


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


def _parse_text(raw: dict, source: str) -> TextConfig:
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
    )


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
