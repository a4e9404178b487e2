"""Keep vision placeholder tokens out of generated replies.

In a conversation <|image_pad|>, <|video_pad|>, <|vision_start|> and <|vision_end|> mean "an image goes
here"; only the chat template may place them. A reply containing one (a random checkpoint does write
them) would make the next render misplace images, so the decode loop sees the model through
NoVisionTokens, which masks those ids out of every logits row. The tests and the benchmark pass the
same ids to transformers' generate as `suppress_tokens`, so both sides pick from the same candidates.
"""
from __future__ import annotations

import torch


class NoVisionTokens:
    """The model as the decode loop sees it (device and forward), its logits without vision placeholders."""

    def __init__(self, model, tokenizer):
        """Wrap `model` (a Qwen3VL); `tokenizer` names the placeholder ids."""
        self.model = model
        self.banned = torch.tensor(vision_token_ids(tokenizer), device=model.device)

    @property
    def device(self):
        """The wrapped model's device."""
        return self.model.device

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        """A copy of logits [..., vocab] with the vision placeholder ids set to -inf."""
        return logits.index_fill(-1, self.banned, float("-inf"))

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        """Forward of the wrapped model, masked."""
        return self.mask(self.model(*args, **kwargs))


def vision_token_ids(tokenizer) -> list[int]:
    """Ids that only the chat template may place: image/video pads and vision start/end markers."""
    special = tokenizer.special
    return sorted({special.image_pad, special.video_pad, special.vision_start, special.vision_end})
