"""Generation settings, with defaults read from a checkpoint's generation_config.json."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class GenerationConfig:
    """How to pick tokens and when to stop."""

    max_new_tokens: int = 256  # hard limit on generated tokens
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0  # nucleus sampling mass (1.0 keeps all)
    top_k: int = 0  # keep the k most likely tokens (0 keeps all)
    seed: int | None = None  # seeds the sampler's torch.Generator
    stop_strings: tuple[str, ...] = ()  # stop once the text contains one of these (text is cut before it)
    stop_token_ids: tuple[int, ...] = ()  # stop on these ids (<|im_end|>, eos) besides the tokenizer's

    def with_overrides(self, **changes) -> "GenerationConfig":
        """A copy with the given fields replaced; None values leave a field unchanged."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def validate(self) -> "GenerationConfig":
        """Raise ValueError naming the first out-of-range field."""
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        return self


def load_generation_defaults(folder: str | Path) -> GenerationConfig:
    """GenerationConfig from folder/generation_config.json (greedy, no extra stops when absent).
    do_sample false means greedy whatever the temperature says."""
    path = Path(folder) / "generation_config.json"
    if not path.is_file():
        return GenerationConfig()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: invalid JSON ({error})") from error
    eos = raw.get("eos_token_id")
    eos_ids = tuple(eos) if isinstance(eos, list) else (() if eos is None else (eos,))
    sampling = bool(raw.get("do_sample", False))
    return GenerationConfig(
        max_new_tokens=int(raw.get("max_new_tokens", 256)),
        temperature=float(raw.get("temperature", 1.0)) if sampling else 0.0,
        top_p=float(raw.get("top_p", 1.0)) if sampling else 1.0,
        top_k=int(raw.get("top_k", 0) or 0) if sampling else 0,
        stop_token_ids=tuple(int(i) for i in eos_ids),
    ).validate()

