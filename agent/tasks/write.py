"""Writing task files: a Task as YAML text, top-level fields replaced in place, and an atomic write.

`task_yaml` renders a whole task (multi-line texts such as reference steps as `|-` blocks) so that
`load_task` reads back the same Task; `replace_fields` swaps top-level fields of an existing file and
keeps everything else byte for byte (comments included); `write_text_atomic` leaves either the old
file or the whole new one.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from agent.errors import TaskError
from agent.tasks.load import task_from_data
from agent.tasks.schema import NO_CHECKS, Task


class _TaskDumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks, long lines left alone."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_TaskDumper.add_representer(str, _represent_text)


def dump_yaml(data: dict[str, Any]) -> str:
    """A mapping as block YAML with the keys in the given order."""
    return yaml.dump(data, Dumper=_TaskDumper, sort_keys=False, allow_unicode=True, width=1 << 16,
                     default_flow_style=False)


def task_fields(task: Task) -> dict[str, Any]:
    """The task as the fields a file would hold: set fields only, checks as `none` when it has none."""
    data = task.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["checks"] = NO_CHECKS if task.checks is None else task.checks.model_dump(
        mode="json", by_alias=True, exclude_unset=True)
    data.setdefault("reference", [])
    order = list(Task.model_fields)
    return {key: data[key] for key in order if key in data and (key != "reference" or data[key])}


def task_yaml(task: Task, header: str = "", checks_block: str | None = None) -> str:
    """A task file's text: `header` as comment lines, the fields, then `checks_block` (YAML text that
    may carry comments) in place of the checks when given."""
    fields = task_fields(task)
    checks = fields.pop("checks")
    reference = fields.pop("reference", None)
    parts = ["".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()), dump_yaml(fields)]
    if checks_block is not None:
        parts.append(checks_block if checks_block.endswith("\n") else checks_block + "\n")
    elif checks == NO_CHECKS:
        parts.append(f"# No success checks: a run ends done or gave_up, never success.\nchecks: {NO_CHECKS}\n")
    else:
        parts.append(dump_yaml({"checks": checks}))
    if reference:
        parts.append(dump_yaml({"reference": reference}))
    return "".join(parts)


def replace_fields(text: str, fields: dict[str, Any], source: str) -> str:
    """The task file's text with these top-level fields replaced (or appended), everything else kept."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise TaskError(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(root, yaml.MappingNode):
        raise TaskError(f"{source}: expected a mapping of task fields")
    spans = {key.value: (text.rfind("\n", 0, key.start_mark.index) + 1, value.end_mark.index)
             for key, value in root.value if isinstance(key, yaml.ScalarNode)}
    edits = []
    appended = ""
    for name, value in fields.items():
        rendered = dump_yaml({name: value}).rstrip("\n")
        if name in spans:
            edits.append((*spans[name], rendered))
        else:
            appended += rendered + "\n"
    for start, end, rendered in sorted(edits, reverse=True):
        text = text[:start] + rendered + text[end:]
    if appended:
        text = (text if text.endswith("\n") or not text else text + "\n") + appended
    return text


def parse_task_text(text: str, source: str, base_dir: Path) -> Task:
    """The Task a file with this text would load as (schema errors name `source`)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaskError(f"{source}: not valid YAML ({exc})") from None
    task = task_from_data(data, source)
    task.sandbox._base_dir = Path(base_dir).resolve()
    return task


def write_text_atomic(path: Path, text: str) -> None:
    """Write text so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
