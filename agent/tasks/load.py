"""Reading a task file: bounded YAML, then the schema, with every error naming the file and the field."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.errors import TaskError
from agent.tasks.schema import Task
from agent.tasks.yaml_reader import read_task_yaml


def _field_path(loc: tuple[Any, ...]) -> str:
    """('checks', 'items', 0, 'file', 'path') -> 'checks.items[0].path' (union tags dropped)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("window", "no_window", "file", "command", "answer", "str", "FileCopy"):
            continue  # the discriminator tag is not a key the author wrote
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _describe_error(error: dict[str, Any]) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "missing":
        message = "field required"
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return f"{_field_path(tuple(error['loc']))}: {message}"


def task_from_data(data: Any, source: str) -> Task:
    """Validate already-parsed YAML data; errors name `source` and every bad field path."""
    if data is None:
        raise TaskError(f"{source}: expected a mapping of task fields, but the file is empty "
                        "(only comments or blank lines); a task needs at least id, instruction and checks")
    if not isinstance(data, dict):
        raise TaskError(f"{source}: expected a mapping of task fields, got {type(data).__name__}")
    try:
        return Task.model_validate(data)
    except ValidationError as exc:
        lines = [_describe_error(e) for e in exc.errors()]
        raise TaskError(f"{source}: " + "; ".join(lines)) from None


def load_task(path: Path | str) -> Task:
    """Read and validate one task file, raising TaskError naming the file and field path."""
    path = Path(path)
    data = read_task_yaml(path)  # bounded: size, type, encoding, nesting, aliases; a YamlReadError is a TaskError
    refuse_comment_cuts(path.read_text(encoding="utf-8"), str(path))  # the file just parsed: bounded
    task = task_from_data(data, str(path))
    task.sandbox._base_dir = path.resolve().parent
    return task


def refuse_comment_cuts(text: str, source: str) -> None:
    """TaskError when an unquoted text value is followed by ` #` on its line: YAML read the rest as a
    comment, so the value (a command, a title, a typed text) was silently cut short there."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return  # reported by the loader
    stack = [root] if root is not None else []
    cuts: list[tuple[int, str, str]] = []
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias: the same node again
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(value for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.ScalarNode) and node.style is None and node.tag == "tag:yaml.org,2002:str":
            end = node.end_mark.index
            newline = text.find("\n", end)  # not `in text[end:]`: a slice per scalar is quadratic
            rest = text[end : newline if newline != -1 else len(text)]
            if re.match(r"[ \t]+#", rest):
                cuts.append((node.end_mark.line + 1, node.value, rest.strip()))
    if cuts:
        line, value, comment = min(cuts)
        raise TaskError(
            f"{source}: line {line}: the value {value!r} is followed by {comment[:80]!r}, which YAML reads as "
            "a comment, so the value was cut at ' #'; put the whole value in quotes if the # belongs to it, "
            f"or move the comment to its own line" + (f" ({len(cuts) - 1} more such lines)" if len(cuts) > 1 else "")
        )
