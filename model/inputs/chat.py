"""Chat prompts as token ids: render messages with the checkpoint's template, tokenize, expand media pads.

Messages are OpenAI/transformers style: {"role": "user", "content": [{"type": "image"},
{"type": "text", "text": "..."}]}. The template writes one <|image_pad|> per image; after
tokenizing, each is widened to that image's token count (grid t*h*w / merge**2), which is what
transformers' Qwen3VLProcessor produces. Widening ids instead of text avoids tokenizing thousands
of pad strings for a screenshot. A video part ({"type": "video"}) renders
<|vision_start|><|video_pad|><|vision_end|>; that whole wrapper becomes, per frame group, "<t seconds>"
<|vision_start|> pads <|vision_end|> (model.inputs.video), so every group is wrapped exactly once.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from model.errors import InputError
from model.inputs.chat_template import render_chat
from model.inputs.tokenizer import Tokenizer, require_chat_template
from model.inputs.video import PreparedVideo, timestamp_text


def encode_chat(tokenizer: Tokenizer, messages: Sequence[Mapping[str, Any]], image_token_counts: Sequence[int] = (),
                tools: Sequence[Mapping[str, Any]] | None = None, add_generation_prompt: bool = True,
                videos: Sequence[PreparedVideo] = (), **variables: Any) -> list[int]:
    """Prompt ids for `messages`, with the i-th <|image_pad|> widened to image_token_counts[i] ids and
    the i-th <|video_pad|> replaced by video_placeholder_ids(videos[i])."""
    text = render_chat(require_chat_template(tokenizer), messages, tools, add_generation_prompt,
                       **{**tokenizer.template_variables(), **variables})
    ids = expand_image_pads(tokenizer.encode(text), tokenizer.special.image_pad, image_token_counts)
    special = tokenizer.special
    placeholders = [video_placeholder_ids(tokenizer.encode, video.timestamps, video.tokens_per_group,
                                          special.video_pad, special.vision_start, special.vision_end)
                    for video in videos]
    ids = collapse_video_wrappers(ids, special.video_pad, special.vision_start, special.vision_end)
    return expand_video_pads(ids, special.video_pad, placeholders)


def collapse_video_wrappers(ids: Sequence[int], pad: int, vision_start: int, vision_end: int) -> list[int]:
    """`ids` with each <|vision_start|><|video_pad|><|vision_end|> the template wrote reduced to the bare
    <|video_pad|>: the frame groups that replace it bring their own start and end markers.

    This is Qwen3VLProcessor's expansion as the model was released with (transformers 4.57) and again
    from transformers 5.25; some 5.x releases in between kept the outer pair, wrapping the groups twice.
    A pad the template left unwrapped is kept as it is.
    """
    out: list[int] = []
    index = 0
    while index < len(ids):
        if list(ids[index:index + 3]) == [vision_start, pad, vision_end]:
            out.append(pad)
            index += 3
        else:
            out.append(ids[index])
            index += 1
    return out


def video_placeholder_ids(encode: Callable[[str], list[int]], timestamps: Sequence[float], tokens_per_group: int,
                          pad: int, vision_start: int, vision_end: int) -> list[int]:
    """What one <|video_pad|> of the template becomes: per frame group its timestamp text ("<3.5
    seconds>"), then <|vision_start|>, the group's pad tokens and <|vision_end|> (Qwen3VLProcessor's
    expansion; the text sits between special tokens, so encoding it alone gives the in-context ids)."""
    ids: list[int] = []
    for seconds in timestamps:
        ids.extend(encode(timestamp_text(seconds)))
        ids.append(vision_start)
        ids.extend([pad] * tokens_per_group)
        ids.append(vision_end)
    return ids


def expand_video_pads(ids: Sequence[int], video_pad_id: int, placeholders: Sequence[Sequence[int]]) -> list[int]:
    """Replace the i-th `video_pad_id` in `ids` by placeholders[i]."""
    positions = [i for i, token in enumerate(ids) if token == video_pad_id]
    if len(positions) != len(placeholders):
        raise InputError(f"the prompt has {len(positions)} video placeholders but {len(placeholders)} videos were given")
    out: list[int] = []
    start = 0
    for position, placeholder in zip(positions, placeholders):
        out.extend(ids[start:position])
        out.extend(placeholder)
        start = position + 1
    out.extend(ids[start:])
    return out


def expand_image_pads(ids: Sequence[int], image_pad_id: int, counts: Sequence[int]) -> list[int]:
    """Replace the i-th `image_pad_id` in `ids` by counts[i] copies of it."""
    positions = [i for i, token in enumerate(ids) if token == image_pad_id]
    if len(positions) != len(counts):
        raise InputError(f"the prompt has {len(positions)} image placeholders but {len(counts)} images were given")
    out: list[int] = []
    start = 0
    for position, count in zip(positions, counts):
        if count <= 0:
            raise ValueError(f"an image must take at least one token, got {count}")
        out.extend(ids[start:position])
        out.extend([image_pad_id] * count)
        start = position + 1
    out.extend(ids[start:])
    return out


def message_images(messages: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The "image" value of every image part, in prompt order (what the template counts as images)."""
    found = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            found.extend(part.get("image") for part in content if isinstance(part, Mapping) and _is_image_part(part))
    return found


def _is_image_part(part: Mapping[str, Any]) -> bool:
    """Whether a content part is an image, by the same test the Qwen template applies."""
    return "image" in part or "image_url" in part or part.get("type") == "image"
