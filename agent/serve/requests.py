"""Reading a /v1/chat/completions body: every field checked, every error a 400 that names the field.

Images arrive as `image_url` parts holding base64 data URLs; a local file path (or file:// URL) is
read only when the server was started with --allow-local-images. Remote URLs are never fetched.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from PIL import Image

from agent.serve.errors import bad_request
from model import to_rgb

MAX_MESSAGES = 2048
MAX_IMAGES = 64
MAX_IMAGE_PIXELS = 40_000_000  # decoded size limit per image (decompression bombs)
MAX_STOP_STRINGS = 16
MAX_NEW_TOKENS_LIMIT = 32_768


@dataclass(frozen=True)
class ImageInput:
    """One decoded image and a digest of its bytes (to find it again without decoding)."""

    image: Any  # PIL.Image.Image, RGB
    key: str


@dataclass
class UserMessage:
    parts: list[Union[str, ImageInput]]


@dataclass
class AssistantMessage:
    text: str


@dataclass
class RawMessage:
    """A text-only message the chat template renders as given (tool results, assistant tool_calls)."""

    message: dict[str, Any]


Message = Union[UserMessage, AssistantMessage, RawMessage]


@dataclass
class Sampling:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass
class ChatRequest:
    model: str
    system: str | None
    tools: list[dict]
    messages: list[Message]
    sampling: Sampling = field(default_factory=Sampling)
    stream: bool = False
    include_usage: bool = False
    tool_choice: Any = None

    def image_count(self) -> int:
        return sum(isinstance(p, ImageInput) for m in self.messages if isinstance(m, UserMessage) for p in m.parts)


def parse_request(body: Any, allow_local_images: bool = False) -> ChatRequest:
    """A checked ChatRequest from the decoded JSON body; ApiError(400) naming the first bad field."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' must be a non-empty string", "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise bad_request("'messages' must be a non-empty list", "messages")
    if len(raw_messages) > MAX_MESSAGES:
        raise bad_request(f"at most {MAX_MESSAGES} messages per request, got {len(raw_messages)}", "messages")
    system = None
    if isinstance(raw_messages[0], dict) and raw_messages[0].get("role") in ("system", "developer"):
        system = _text_only(raw_messages[0].get("content"), "messages[0].content")
        raw_messages = raw_messages[1:]
        offset = 1
    else:
        offset = 0
    messages = [_message(m, i + offset, allow_local_images) for i, m in enumerate(raw_messages)]
    if not messages or isinstance(messages[-1], AssistantMessage) or _is_assistant(messages[-1]):
        raise bad_request("the last message must be from the user (or a tool result); continuing an "
                          "assistant message is not supported", "messages")
    request = ChatRequest(model=model, system=system, tools=_tools(body.get("tools")), messages=messages,
                          sampling=_sampling(body), stream=_bool(body, "stream"),
                          tool_choice=body.get("tool_choice"))
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise bad_request("'stream_options' must be an object", "stream_options")
        request.include_usage = bool(options.get("include_usage", False))
    if request.image_count() > MAX_IMAGES:
        raise bad_request(f"at most {MAX_IMAGES} images per request, got {request.image_count()}", "messages")
    return request


def _is_assistant(message: Message) -> bool:
    return isinstance(message, RawMessage) and message.message.get("role") == "assistant"


def _bool(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"'{name}' must be true or false, got {value!r}", name)
    return value


def _message(raw: Any, index: int, allow_local_images: bool) -> Message:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise bad_request(f"{where} must be an object with 'role' and 'content'", where)
    role = raw.get("role")
    if role == "user":
        return UserMessage(_user_parts(raw.get("content"), f"{where}.content", allow_local_images))
    if role == "assistant":
        text = _text_only(raw.get("content"), f"{where}.content", allow_none=True) or ""
        calls = raw.get("tool_calls")
        if calls:
            if not isinstance(calls, list):
                raise bad_request(f"{where}.tool_calls must be a list", f"{where}.tool_calls")
            return RawMessage({"role": "assistant", "content": text, "tool_calls": calls})
        return AssistantMessage(text)
    if role == "tool":
        return RawMessage({"role": "tool", "content": _text_only(raw.get("content"), f"{where}.content")})
    if role in ("system", "developer"):
        raise bad_request(f"{where}: a system message is only accepted as the first message", f"{where}.role")
    raise bad_request(f"{where}.role must be system, user, assistant or tool, got {role!r}", f"{where}.role")


def _text_only(content: Any, where: str, allow_none: bool = False) -> str | None:
    if content is None and allow_none:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise bad_request(f"{where}[{i}] must be a text part here", f"{where}[{i}]")
            texts.append(part["text"])
        return "".join(texts)
    raise bad_request(f"{where} must be a string or a list of text parts", where)


def _user_parts(content: Any, where: str, allow_local_images: bool) -> list[Union[str, ImageInput]]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list) or not content:
        raise bad_request(f"{where} must be a string or a non-empty list of parts", where)
    parts: list[Union[str, ImageInput]] = []
    for i, part in enumerate(content):
        here = f"{where}[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
        elif kind == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if not isinstance(url, str):
                raise bad_request(f"{here}.image_url.url must be a string", f"{here}.image_url")
            parts.append(load_image(url, here, allow_local_images))
        elif kind == "text":
            raise bad_request(f"{here}.text must be a string", f"{here}.text")
        else:
            raise bad_request(f"{here}: parts must be {{'type': 'text'}} or {{'type': 'image_url'}}, got "
                              f"{str(kind)[:40]!r}", here)
    return parts


def load_image(url: str, where: str, allow_local_images: bool) -> ImageInput:
    """A data URL (or, when allowed, a local path) decoded into an RGB image."""
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        if ";base64" not in header or not header[5:].startswith("image/"):
            raise bad_request(f"{where}: data URLs must be data:image/...;base64,...", where)
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(f"{where}: the data URL is not valid base64", where) from None
    elif url.startswith(("http://", "https://")):
        raise bad_request(f"{where}: remote image URLs are not fetched; send a base64 data URL", where)
    else:
        if not allow_local_images:
            raise bad_request(f"{where}: local image paths need `agent serve --allow-local-images`; "
                              "send a base64 data URL", where)
        path = Path(url[len("file://"):] if url.startswith("file://") else url)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise bad_request(f"{where}: cannot read {path}: {error.strerror}", where) from None
    return ImageInput(_decode(data, where), hashlib.sha256(data).hexdigest())


def _decode(data: bytes, where: str) -> Any:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise bad_request(f"{where}: image of {image.width}x{image.height} pixels is too large", where)

            return to_rgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise bad_request(f"{where}: not a readable image", where) from None


def _tools(raw: Any) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise bad_request("'tools' must be a list of objects", "tools")
    for i, tool in enumerate(raw):
        if tool.get("type") == "function" and not isinstance(tool.get("function"), dict):
            raise bad_request(f"tools[{i}].function must be an object", f"tools[{i}]")
    return raw


def _number(body: dict, name: str, kind: type, low: float, high: float) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise bad_request(f"'{name}' must be a{'n integer' if kind is int else ' number'}, got {value!r}", name)
    if not low <= value <= high:
        raise bad_request(f"'{name}' must be between {low} and {high}, got {value}", name)
    return kind(value)


def _sampling(body: dict) -> Sampling:
    n = body.get("n", 1)
    if n not in (1, None):
        raise bad_request("only n=1 is supported", "n")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise bad_request("logprobs are not supported", "logprobs")
    response_format = body.get("response_format")
    if response_format not in (None, {"type": "text"}):
        raise bad_request("'response_format' other than text is not supported (no constrained decoding)",
                          "response_format")
    for name in ("frequency_penalty", "presence_penalty"):
        if body.get(name) not in (None, 0, 0.0):
            raise bad_request(f"'{name}' is not supported (only 0)", name)
    max_tokens = _number(body, "max_completion_tokens", int, 1, MAX_NEW_TOKENS_LIMIT)
    if max_tokens is None:
        max_tokens = _number(body, "max_tokens", int, 1, MAX_NEW_TOKENS_LIMIT)
    top_k = _number(body, "top_k", int, -1, 1_000_000)
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if not all(isinstance(s, str) and s for s in stops) or len(stops) > MAX_STOP_STRINGS:
        raise bad_request(f"'stop' must be a string or up to {MAX_STOP_STRINGS} non-empty strings", "stop")
    return Sampling(max_tokens=max_tokens, temperature=_number(body, "temperature", float, 0, 2),
                    top_p=_number(body, "top_p", float, 1e-9, 1), top_k=None if top_k in (None, -1) else top_k,
                    seed=_number(body, "seed", int, -(2**63), 2**63 - 1), stop=stops)
