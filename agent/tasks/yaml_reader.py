"""Reading a task file's YAML safely: size, type, encoding, nesting and alias expansion are bounded.

A task file may come from anywhere; whatever it holds, reading it ends in data or in one
YamlReadError whose message names the file and says what is wrong and how to fix it, never a hang,
a MemoryError or a RecursionError.
"""
from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from agent.errors import YamlReadError

MAX_TASK_BYTES = 1 << 20  # 1 MiB: a task with inline files is a few KiB
MAX_DEPTH = 64  # nesting of mappings/lists after aliases are resolved
MAX_VALUES = 200_000  # values after aliases are expanded (a "billion laughs" file stops here)



def _read_bytes(path: Path) -> bytes:
    """The file's bytes: a regular file of at most MAX_TASK_BYTES (a FIFO or device is never opened)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise YamlReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise YamlReadError(f"{path}: is a folder, not a task file (agent validate takes folders)")
    if not stat.S_ISREG(info.st_mode):
        raise YamlReadError(f"{path}: not a regular file (a pipe, socket or device); give a .yaml task file")
    if info.st_size > MAX_TASK_BYTES:
        raise YamlReadError(f"{path}: {info.st_size:,} bytes is too large for a task file (at most {MAX_TASK_BYTES:,})")
    try:
        with open(path, "rb") as f:
            return f.read(MAX_TASK_BYTES + 1)  # it may have grown since stat()
    except OSError as exc:
        raise YamlReadError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text (a BOM is allowed); binary files and other encodings are named as such."""
    if len(data) > MAX_TASK_BYTES:
        raise YamlReadError(f"{path}: too large for a task file (at most {MAX_TASK_BYTES:,} bytes)")
    if b"\x00" in data:
        raise YamlReadError(f"{path}: a binary file (it holds NUL bytes), not a YAML task file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlReadError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save the file as UTF-8"
        ) from None


def _parse(path: Path, text: str) -> Any:
    """yaml.safe_load with its errors (including too-deep nesting) turned into YamlReadError."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlReadError(f"{path}: malformed YAML at {where}: {problem}") from None
    except RecursionError:
        raise YamlReadError(f"{path}: nested too deeply to be a task file (at most {MAX_DEPTH} levels)") from None


def _check_shape(path: Path, data: Any) -> None:
    """Refuse data nested deeper than MAX_DEPTH or expanding to more than MAX_VALUES values.

    Walked with an explicit stack: aliases make the data a graph, possibly a cyclic one, whose
    expanded size is what the schema validation would walk.
    """
    stack = [(data, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise YamlReadError(
                f"{path}: expands to more than {MAX_VALUES:,} values (YAML aliases referring to each other?)"
            )
        if depth > MAX_DEPTH:
            raise YamlReadError(
                f"{path}: nested more than {MAX_DEPTH} levels deep (or a YAML alias refers to itself); "
                "a task file needs a few levels"
            )
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1) for item in value)


def read_task_yaml(path: Path) -> Any:
    """The data of one task file; YamlReadError naming the file for anything that is not task YAML."""
    path = Path(path)
    data = _parse(path, _decode(path, _read_bytes(path)))
    _check_shape(path, data)
    return data
