"""A conversation as the Session holds it, and its rendering into prompt token ids.

User turns keep their screenshots preprocessed (pixel rows, grid, content digest), so an image is
resized and normalised once however many turns it stays. Assistant turns keep the token ids the model
generated: the chat template renders the conversation with a sentinel where each assistant reply goes,
and those ids are spliced in, so a reply is never re-tokenised from its text (re-tokenising can give
different ids and would break reuse of the KV cache that holds the generated ones).
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence, Union

from model.prefix import ImageSpan

if TYPE_CHECKING:
    import torch


@dataclass
class ImageEntry:
    """One screenshot of a user turn, preprocessed once."""

    pixel_values: "torch.Tensor"
    """Patch rows [patches, 3*2*16*16] in merge-block order."""
    grid_thw: tuple[int, int, int]
    """Patch grid (t, h, w) before merging."""
    digest: str
    """Content digest (model.encoder_cache.image_digest)."""
    n_tokens: int
    """Pad tokens the image occupies in the prompt."""
    dropped: bool = False
    """True once the history policy replaced it by a text marker."""


@dataclass
class UserTurn:
    """Images and text in the order the user sent them."""

    parts: list[Union[ImageEntry, str]]
    """ImageEntry or text, in order."""


@dataclass
class AssistantTurn:
    """A reply kept as generated ids (its trailing stop token excluded: the template closes the turn)."""

    token_ids: list[int]
    """Generated ids of the reply."""
    text: str
    """Decoded text, for display only."""


@dataclass
class RenderedPrompt:
    """Prompt token ids of the whole conversation and the images whose pad tokens they hold."""

    input_ids: list[int]
    """Token ids with every image pad expanded to the image's token count."""
    spans: list[ImageSpan]
    """Where each present image's pad tokens are, in order."""
    images: list[ImageEntry]
    """Present images, in the order of `spans`."""

    def pixel_values(self) -> "torch.Tensor":
        """All present images' patch rows, concatenated [sum_patches, 1536]."""
        import torch

        return torch.cat([image.pixel_values for image in self.images])

    def grid_thw(self) -> "torch.Tensor":
        """Patch grids of the present images [n_images, 3]."""
        import torch

        return torch.tensor([image.grid_thw for image in self.images], dtype=torch.long)


# Renders chat messages (OpenAI style) with tools through the checkpoint's template into text.
TemplateRenderer = Callable[[list[dict], Sequence[dict]], str]
# Turns text (special tokens recognised) into token ids, without adding any.
TextEncoder = Callable[[str], list[int]]


@dataclass
class Conversation:
    """System prompt, tools, and the turns so far."""

    system: str | None = None
    """System message text (rendered before the tools by Qwen's template)."""
    tools: list[dict] = field(default_factory=list)
    """Function schemas given to the template's `tools`."""
    turns: list[Union[UserTurn, AssistantTurn]] = field(default_factory=list)
    """User and assistant turns in order."""
    marker: str = "[earlier screenshot omitted]"
    """Text rendered in place of a dropped screenshot."""

    def images(self) -> list[ImageEntry]:
        """Every screenshot ever sent, dropped ones included, oldest first."""
        return [part for turn in self.turns if isinstance(turn, UserTurn) for part in turn.parts
                if isinstance(part, ImageEntry)]

    def present_images(self) -> list[ImageEntry]:
        """Screenshots still in the conversation, oldest first."""
        return [image for image in self.images() if not image.dropped]

    def chat_messages(self, sentinel: Callable[[int], str]) -> list[dict]:
        """The turns as chat-template messages; assistant turn i becomes the text `sentinel(i)`."""
        messages: list[dict] = []
        if self.system is not None:
            messages.append({"role": "system", "content": self.system})
        replies = 0
        for turn in self.turns:
            if isinstance(turn, AssistantTurn):
                messages.append({"role": "assistant", "content": sentinel(replies)})
                replies += 1
                continue
            content = []
            for part in turn.parts:
                if isinstance(part, str):
                    content.append({"type": "text", "text": part})
                elif part.dropped:
                    content.append({"type": "text", "text": self.marker})
                else:
                    content.append({"type": "image"})
            messages.append({"role": "user", "content": content})
        return messages

    def render(self, render_template: TemplateRenderer, encode: TextEncoder, image_pad_id: int) -> RenderedPrompt:
        """Prompt ids for the next assistant reply: template text, stored reply ids spliced in."""
        nonce = secrets.token_hex(8)
        text = render_template(self.chat_messages(lambda i: f"\x00{nonce}:{i}\x00"), self.tools)
        pieces = re.split(f"\x00{nonce}:(\\d+)\x00", text)  # text, reply index, text, reply index, ...
        replies = [turn for turn in self.turns if isinstance(turn, AssistantTurn)]
        images = self.present_images()
        input_ids: list[int] = []
        spans: list[ImageSpan] = []
        for index, piece in enumerate(pieces):
            if index % 2:
                input_ids.extend(replies[int(piece)].token_ids)
            else:
                _append_text(input_ids, spans, encode(piece), images, image_pad_id)
        if len(spans) != len(images):
            raise ValueError(f"the chat template rendered {len(spans)} image slots for {len(images)} images")
        return RenderedPrompt(input_ids, spans, images)


def _append_text(input_ids: list[int], spans: list[ImageSpan], ids: list[int], images: list[ImageEntry],
                 image_pad_id: int) -> None:
    """Append text ids, expanding each image pad to the next image's token count."""
    for token in ids:
        if token != image_pad_id:
            input_ids.append(token)
            continue
        if len(spans) >= len(images):
            raise ValueError(f"the chat template rendered more image slots than the {len(images)} images")
        image = images[len(spans)]
        spans.append(ImageSpan(len(input_ids), image.n_tokens, image.digest))
        input_ids.extend([image_pad_id] * image.n_tokens)
