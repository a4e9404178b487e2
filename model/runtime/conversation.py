"""A conversation as the Session holds it, and its rendering into prompt token ids.

User turns keep their screenshots preprocessed (pixel rows, grid, content digest), so an image is
resized and normalised once however many turns it stays. Assistant turns keep the token ids the model
generated: the chat template renders the conversation with a sentinel where each assistant reply goes,
and those ids are spliced in, so a reply is never re-tokenised from its text (re-tokenising can give
different ids and would break reuse of the KV cache that holds the generated ones).

A video is kept as its frame groups, each an ImageEntry of grid (1, h, w): the vision tower attends
within a group only, and positions place each group like an image, so a group is encoded, cached and
matched exactly like a screenshot. Rendering writes each group's timestamp text around its pads.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Callable, Sequence, Union

import torch

from model.errors import InputError
from model.inputs.chat import collapse_video_wrappers, video_placeholder_ids
from model.inputs.video import PreparedVideo
from model.runtime.encoder_cache import image_digest
from model.runtime.prefix import ImageSpan


@dataclass
class ImageEntry:
    """One screenshot of a user turn, preprocessed once."""

    pixel_values: torch.Tensor
    """Patch rows [patches, 3*2*16*16] in merge-block order."""
    grid_thw: tuple[int, int, int]
    """Patch grid (t, h, w) before merging."""
    digest: str
    """Content digest (model.runtime.encoder_cache.image_digest)."""
    n_tokens: int
    """Pad tokens the image occupies in the prompt."""
    dropped: bool = False
    """True once the history policy replaced it by a text marker."""


@dataclass
class VideoEntry:
    """One video of a user turn, preprocessed once, as frame groups placed like images."""

    groups: list[ImageEntry]
    """Per frame group: its patch rows, grid (1, h, w), digest and pad-token count."""
    timestamps: list[float]
    """Seconds of each group, written "<t seconds>" before its pads."""

    @classmethod
    def from_prepared(cls, video: PreparedVideo) -> "VideoEntry":
        """Split a preprocessed video into frame groups and fingerprint each."""
        _, h, w = video.grid_thw
        groups = []
        for index in range(video.groups):
            rows = video.group_rows(index)
            groups.append(ImageEntry(rows, (1, h, w), image_digest(rows, (1, h, w)), video.tokens_per_group))
        return cls(groups, list(video.timestamps))


@dataclass(frozen=True)
class VideoTokens:
    """Token ids a video's rendering needs."""

    pad: int
    """<|video_pad|>"""
    vision_start: int
    """<|vision_start|>"""
    vision_end: int
    """<|vision_end|>"""


@dataclass
class UserTurn:
    """Images, videos and text in the order the user sent them."""

    parts: list[Union[ImageEntry, VideoEntry, str]]
    """ImageEntry, VideoEntry or text, in order."""


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
    """Token ids with every image pad expanded to the image's token count (and video pads to timestamped groups)."""
    spans: list[ImageSpan]
    """Where each present image's (or video frame group's) pad tokens are, in order."""
    images: list[ImageEntry]
    """Present images and video frame groups, in the order of `spans`."""

    def pixel_values(self) -> torch.Tensor:
        """All present images' patch rows, concatenated [sum_patches, 1536]."""
        return torch.cat([image.pixel_values for image in self.images])

    def grid_thw(self) -> torch.Tensor:
        """Patch grids of the present images [n_images, 3]."""
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

    def present_media(self) -> list[Union[ImageEntry, VideoEntry]]:
        """Screenshots still in the conversation and every video, in prompt order."""
        return [part for turn in self.turns if isinstance(turn, UserTurn) for part in turn.parts
                if isinstance(part, VideoEntry) or (isinstance(part, ImageEntry) and not part.dropped)]

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
                elif isinstance(part, VideoEntry):
                    content.append({"type": "video"})
                elif part.dropped:
                    content.append({"type": "text", "text": self.marker})
                else:
                    content.append({"type": "image"})
            messages.append({"role": "user", "content": content})
        return messages

    def render(self, render_template: TemplateRenderer, encode: TextEncoder, image_pad_id: int,
               video: VideoTokens | None = None) -> RenderedPrompt:
        """Prompt ids for the next assistant reply: template text, stored reply ids spliced in.
        `video` is needed when the conversation holds videos."""
        nonce = secrets.token_hex(8)
        text = render_template(self.chat_messages(lambda i: f"\x00{nonce}:{i}\x00"), self.tools)
        pieces = re.split(f"\x00{nonce}:(\\d+)\x00", text)  # text, reply index, text, reply index, ...
        replies = [turn for turn in self.turns if isinstance(turn, AssistantTurn)]
        media = self.present_media()
        slots = _Slots(media, encode, image_pad_id, video)
        for index, piece in enumerate(pieces):
            if index % 2:
                slots.input_ids.extend(replies[int(piece)].token_ids)
            else:
                slots.append_text(encode(piece))
        if slots.used != len(media):
            raise InputError(f"the chat template rendered {slots.used} image/video slots for {len(media)} "
                             "images and videos")
        return RenderedPrompt(slots.input_ids, slots.spans, slots.entries)


class _Slots:
    """Prompt ids under construction: text ids, with each image or video slot filled by the next medium."""

    def __init__(self, media: list, encode: TextEncoder, image_pad_id: int, video: VideoTokens | None):
        self.media, self.encode, self.image_pad_id, self.video = media, encode, image_pad_id, video
        self.input_ids: list[int] = []
        self.spans: list[ImageSpan] = []
        self.entries: list[ImageEntry] = []  # one per span: an image, or a video's frame group
        self.used = 0

    def append_text(self, ids: list[int]) -> None:
        """Append text ids, expanding each image pad and each video pad (with its wrapper, see
        model.inputs.chat.collapse_video_wrappers)."""
        if self.video is not None:
            ids = collapse_video_wrappers(ids, self.video.pad, self.video.vision_start, self.video.vision_end)
        for token in ids:
            if token == self.image_pad_id:
                self._place(self._next(ImageEntry, "image"), self.image_pad_id)
            elif self.video is not None and token == self.video.pad:
                self._append_video(self._next(VideoEntry, "video"))
            else:
                self.input_ids.append(token)

    def _next(self, kind: type, name: str):
        if self.used >= len(self.media):
            raise InputError(f"the chat template rendered more image/video slots than the {len(self.media)} "
                             "images and videos")
        part = self.media[self.used]
        if not isinstance(part, kind):
            raise InputError(f"the chat template rendered a {name} slot where slot {self.used + 1} holds "
                             f"{'a video' if isinstance(part, VideoEntry) else 'an image'}")
        self.used += 1
        return part

    def _place(self, entry: ImageEntry, pad_id: int) -> None:
        self.spans.append(ImageSpan(len(self.input_ids), entry.n_tokens, entry.digest))
        self.entries.append(entry)
        self.input_ids.extend([pad_id] * entry.n_tokens)

    def _append_video(self, video: VideoEntry) -> None:
        """Per frame group: "<t seconds>", <|vision_start|>, its pads, <|vision_end|>."""
        tokens = self.video
        ids = video_placeholder_ids(self.encode, video.timestamps, video.groups[0].n_tokens, tokens.pad,
                                    tokens.vision_start, tokens.vision_end)
        starts = [i for i, token in enumerate(ids) if token == tokens.pad and (i == 0 or ids[i - 1] != tokens.pad)]
        base = len(self.input_ids)
        self.input_ids.extend(ids)
        for start, group in zip(starts, video.groups):
            self.spans.append(ImageSpan(base + start, group.n_tokens, group.digest))
            self.entries.append(group)
