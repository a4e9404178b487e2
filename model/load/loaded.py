"""A loaded checkpoint: the Qwen3VL module and everything that travels with it.

`model.load.loader.from_pretrained` returns one LoadedModel; a Session, single-turn generation and the
local policy take it whole. The nn.Module itself carries only weights and config.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from model.inputs.image import ProcessorConfig
from model.inputs.tokenizer import Tokenizer
from model.load.config import Qwen3VLConfig
from model.load.generation_config import GenerationConfig
from model.nn.qwen3vl import Qwen3VL


@dataclass
class LoadedModel:
    """The module, its tokenizer (with the chat template), its image preprocessing and its generation defaults."""

    model: Qwen3VL
    """Weights and forward passes (vision encoder, decoder, LM head)."""
    tokenizer: Tokenizer
    """tokenizer.json, special-token ids and the chat template."""
    processor_config: ProcessorConfig
    """preprocessor_config.json: pixel budget, patch and merge sizes, normalisation."""
    generation_defaults: GenerationConfig
    """generation_config.json, with <|im_end|> always among the stop ids."""
    folder: Path | None = None
    """Where the checkpoint was read from (None for a model assembled in memory)."""

    @property
    def config(self) -> Qwen3VLConfig:
        """The model's configuration."""
        return self.model.config

    @property
    def device(self) -> torch.device:
        """Where the weights live."""
        return self.model.device

    @property
    def dtype(self) -> torch.dtype:
        """The weights' dtype."""
        return self.model.dtype
