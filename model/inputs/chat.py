"""Chat prompts: render messages with the checkpoint's Jinja template, tokenize, expand image pads.

Messages are OpenAI/transformers style: {"role": "user", "content": [{"type": "image"},
{"type": "text", "text": "..."}]}. The template writes one <|image_pad|> per image; after
tokenizing, each is widened to that image's token count (grid t*h*w / merge**2), which is what
transformers' Qwen3VLProcessor produces. Widening ids instead of text avoids tokenizing thousands
of pad strings for a screenshot. A video part ({"type": "video"}) renders
<|vision_start|><|video_pad|><|vision_end|>; that whole wrapper becomes, per frame group, "<t seconds>"
<|vision_start|> pads <|vision_end|> (model.inputs.video), so every group is wrapped exactly once.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:
    from model.inputs.tokenizer import Tokenizer
    from model.inputs.video import PreparedVideo

# Names a message's reasoning may come under; transformers copies it to the first two.
REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


def render_chat(template: str, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None,
                add_generation_prompt: bool = True, **variables: Any) -> str:
    """Prompt text of `messages` (and `tools`) under a chat template, as transformers renders it.

    Unlike transformers, the generation prompt ("<|im_start|>assistant\\n") is added by default.
    """
    if tools is not None:
        for index, tool in enumerate(tools):
            if not isinstance(tool, Mapping):
                raise TypeError(f"tools[{index}] must be a JSON schema dict, got {type(tool).__name__}")
    chat = [_with_reasoning_aliases(message, index) for index, message in enumerate(template_data(list(messages)))]
    try:
        return compile_template(template).render(
            messages=chat,
            tools=template_data(list(tools) if tools is not None else None),
            documents=None,
            add_generation_prompt=add_generation_prompt,
            **template_data(variables),
        )
    except Exception as error:  # untrusted template code: a syntax error, raise_exception, a bad filter call ...
        from model.errors import ChatTemplateError

        line = f" (line {error.lineno})" if getattr(error, "lineno", None) else ""
        raise ChatTemplateError(f"the checkpoint's chat template failed{line}: "
                                f"{type(error).__name__}: {str(error)[:300]}") from error


def encode_chat(tokenizer: "Tokenizer", messages: Sequence[Mapping[str, Any]], image_token_counts: Sequence[int] = (),
                tools: Sequence[Mapping[str, Any]] | None = None, add_generation_prompt: bool = True,
                videos: Sequence["PreparedVideo"] = (), **variables: Any) -> list[int]:
    """Prompt ids for `messages`, with the i-th <|image_pad|> widened to image_token_counts[i] ids and
    the i-th <|video_pad|> replaced by video_placeholder_ids(videos[i])."""
    from model.inputs.tokenizer import require_chat_template

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
    from model.inputs.video import timestamp_text

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
        raise ValueError(f"the prompt has {len(positions)} video placeholders but {len(placeholders)} videos were given")
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
        raise ValueError(f"the prompt has {len(positions)} image placeholders but {len(counts)} images were given")
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


@lru_cache(maxsize=16)
def compile_template(template: str) -> Any:
    """Compile a chat template in a sandbox with the environment transformers gives templates.

    Same options (trim_blocks, lstrip_blocks, loop controls) and the same extras: a `tojson` filter
    that keeps non-ASCII text and Python's default separators, raise_exception, strftime_now, and a
    namespace that refuses underscore attributes. Templates are untrusted code from the hub.
    """
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = _strftime_now
    environment.globals["namespace"] = _safe_namespace_class()
    environment.globals["dict"] = _plain_dict
    return environment.from_string(template)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    """JSON text without HTML escaping (Jinja's own tojson escapes <, >, &, ')."""
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise_exception(message: str) -> None:
    """Lets a template reject its input with a message."""
    import jinja2

    raise jinja2.exceptions.TemplateError(message)


def _strftime_now(format: str) -> str:
    """Current local time formatted by strftime, for templates that print today's date."""
    return datetime.now().strftime(format)


def _plain_dict(*args: Any, **kwargs: Any) -> dict:
    """`dict(...)` for templates without exposing the dict type itself."""
    return dict(*args, **kwargs)


@lru_cache(maxsize=1)
def _safe_namespace_class() -> type:
    """A jinja2 Namespace that refuses attribute names starting with '_' (no dunder access)."""
    import jinja2
    from jinja2.utils import Namespace

    def check(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(f"chat templates cannot set namespace attribute {name!r}")

    class SafeNamespace(Namespace):
        def __init__(*args: Any, **kwargs: Any) -> None:  # same signature trick as Namespace
            self, rest = args[0], args[1:]
            for name in dict(*rest, **kwargs):
                check(name)
            Namespace.__init__(self, *rest, **kwargs)

        def __setitem__(self, name: str, value: Any) -> None:
            check(name)
            Namespace.__setitem__(self, name, value)

    return SafeNamespace


def template_data(value: Any) -> Any:
    """A copy of `value` made of plain JSON types only; other objects (images...) become "<TypeName>".

    The sandbox cannot know which methods of rich objects are dangerous, and templates only test
    whether media keys exist, so this never changes what a template renders.
    """
    if value is None or type(value) in (str, int, float, bool):
        return value
    for base in (bool, str, int, float):  # subclasses such as enums or numpy scalars, back to the base
        if isinstance(value, base):
            return base(value)
    if isinstance(value, Mapping):
        return {template_data(key): template_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [template_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(template_data(item) for item in value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        return template_data(value.item())  # numpy / torch scalars
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: template_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(getattr(value, "model_dump", None)):  # pydantic models
        return template_data(value.model_dump())
    return f"<{type(value).__name__}>"


def _with_reasoning_aliases(message: Any, index: int) -> dict[str, Any]:
    """Check a message is a dict and expose its reasoning under every name templates read."""
    if not isinstance(message, dict):
        raise TypeError(f"messages[{index}] must be a dict with 'role' and 'content', got {type(message).__name__}")
    reasoning = next((message[key] for key in REASONING_FIELDS if message.get(key) is not None), None)
    if reasoning is None:
        return message
    return {"thinking": reasoning, **message, "reasoning_content": reasoning}
