"""Helpers for the session tests: synthetic screenshots and from-scratch transformers runs."""
from __future__ import annotations

import json

from tests.helpers import REPO

TOOL = json.loads((REPO / "agent" / "data" / "computer_use_tool.json").read_text())
# Small screenshots of varying shapes (merge2 preset: 32-pixel factor, 4..12 image tokens each).
SIZES = [(64, 64), (128, 96), (96, 64), (128, 64), (64, 96), (96, 96), (128, 96), (64, 64)]


def screenshot(turn: int, size: tuple[int, int] = (96, 64)):
    """A deterministic RGB image that differs from every other turn's."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(turn)
    return Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))


def reference_inputs(model, prompt) -> dict:
    """transformers inputs for a rendered prompt: ids, mask, image rows, grids, and which ids are image pads."""
    import torch

    ids = torch.tensor([prompt.input_ids])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
              "mm_token_type_ids": (ids == model.config.image_token_id).int()}
    if prompt.images:
        inputs.update(pixel_values=prompt.pixel_values(), image_grid_thw=prompt.grid_thw())
    return inputs


def reference_logits(model, prompt):
    """Last-token logits [vocab] of a from-scratch transformers forward over the whole prompt."""
    import torch

    with torch.inference_mode():
        out = model(**reference_inputs(model, prompt))
    return out.logits[0, -1].float()


def reference_greedy(model, prompt, max_new_tokens: int, suppress: list[int]) -> list[int]:
    """Greedy ids from transformers generate over the whole prompt (its stop tokens from the checkpoint),
    never producing the `suppress` ids (the session masks vision placeholders the same way)."""
    import torch

    with torch.inference_mode():
        out = model.generate(**reference_inputs(model, prompt), max_new_tokens=max_new_tokens, do_sample=False,
                             suppress_tokens=suppress)
    return out[0, len(prompt.input_ids):].tolist()
