"""The checkpoint's chat template as code: compiled in a sandbox, rendered, checked once at load.

Templates are untrusted Jinja from the hub. They run in jinja2's immutable sandbox with the
environment transformers gives them (trim_blocks, lstrip_blocks, loop controls, tojson,
raise_exception, strftime_now, namespace) and see only plain JSON data. Any failure inside a template
is a ChatTemplateError; turning rendered text into prompt ids is model.inputs.chat.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from functools import lru_cache
from typing import Any, Mapping, Sequence

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from model.errors import ChatTemplateError

# Names a message's reasoning may come under; transformers copies it to the first two.
REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
# A conversation shaped like the agent's: system prompt with a tool, an image, an assistant reply.
CHECK_TOOL = {"type": "function", "function": {"name": "check", "description": "d", "parameters": {"type": "object"}}}
CHECK_MESSAGES = [{"role": "system", "content": "s"},
                  {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "u"}]},
                  {"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}]


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
        line = f" (line {error.lineno})" if getattr(error, "lineno", None) else ""
        raise ChatTemplateError(f"the checkpoint's chat template failed{line}: "
                                f"{type(error).__name__}: {str(error)[:300]}") from error


def check_template(template: str) -> None:
    """ChatTemplateError when the template does not compile, or fails on a conversation shaped like the
    agent's (system prompt with a tool, an image, an assistant reply, another user turn)."""
    render_chat(template, CHECK_MESSAGES, [CHECK_TOOL])


@lru_cache(maxsize=16)
def compile_template(template: str) -> Any:
    """Compile a chat template in a sandbox with the environment transformers gives templates.

    Same options (trim_blocks, lstrip_blocks, loop controls) and the same extras: a `tojson` filter
    that keeps non-ASCII text and Python's default separators, raise_exception, strftime_now, and a
    namespace that refuses underscore attributes.
    """
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = _strftime_now
    environment.globals["namespace"] = SafeNamespace
    environment.globals["dict"] = _plain_dict
    return environment.from_string(template)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    """JSON text without HTML escaping (Jinja's own tojson escapes <, >, &, ')."""
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise_exception(message: str) -> None:
    """Lets a template reject its input with a message."""
    raise jinja2.exceptions.TemplateError(message)


def _strftime_now(format: str) -> str:
    """Current local time formatted by strftime, for templates that print today's date."""
    return datetime.now().strftime(format)


def _plain_dict(*args: Any, **kwargs: Any) -> dict:
    """`dict(...)` for templates without exposing the dict type itself."""
    return dict(*args, **kwargs)


def _refuse_private(name: Any) -> None:
    """SecurityError for namespace attribute names starting with '_' (no dunder access)."""
    if isinstance(name, str) and name.startswith("_"):
        raise jinja2.exceptions.SecurityError(f"chat templates cannot set namespace attribute {name!r}")


class SafeNamespace(Namespace):
    """jinja2's Namespace, refusing attribute names that start with '_'."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # same signature trick as Namespace
        self, rest = args[0], args[1:]
        for name in dict(*rest, **kwargs):
            _refuse_private(name)
        Namespace.__init__(self, *rest, **kwargs)

    def __setitem__(self, name: str, value: Any) -> None:
        _refuse_private(name)
        Namespace.__setitem__(self, name, value)


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
