"""Task files: the YAML schema, loading with errors that name file and field, and `agent validate`.

A task says what desktop to build (SandboxSpec), what to ask the policy (instruction), how to tell
success (CheckSpec) and how a correct run looks (reference: model outputs, one per step).

Placeholders: paths and commands in `sandbox.apps`, `sandbox.setup`, the keys of `sandbox.files`,
`checks` paths and check commands may contain `{workdir}` (the sandbox's private temporary folder)
and `{home}` (the fresh HOME inside it, `{workdir}/home`). Only these two names are replaced, so
other braces (shell, regexes) pass through untouched. A relative path is taken relative to `{home}`.
The instruction is shown to the policy as written (no placeholders). In the sandbox, `files` are
written first, then `setup` runs to completion, then `apps` start and `wait_windows` are awaited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from agent.tasks.checks import (  # noqa: F401  (re-exported: the check models are part of the task schema)
    AnswerCheck,
    Check,
    CheckSpec,
    CommandCheck,
    FileCheck,
    NoWindowCheck,
    WindowCheck,
    _check_regex,
    _Strict,
    inside_sandbox,
)
from agent.tasks.yaml_reader import YamlReadError, read_task_yaml

TASK_SUFFIXES = (".yaml", ".yml")


class TaskError(ValueError):
    """A task file could not be read; the message names the file and the field or YAML line."""


def expand(text: str, workdir: Path | str, home: Path | str) -> str:
    """Replace `{workdir}` and `{home}` (and nothing else) in a path or command."""
    return text.replace("{workdir}", str(workdir)).replace("{home}", str(home))


def resolve_path(text: str, workdir: Path | str, home: Path | str) -> Path:
    """Expand placeholders; a relative result is taken relative to home."""
    path = Path(expand(text, workdir, home))
    return path if path.is_absolute() else Path(home) / path


class FileCopy(_Strict):
    """A file copied byte for byte from beside the task file (pictures, documents, spreadsheets)."""

    source: str = Field(alias="from", description="Path relative to the task file's folder, e.g. fixtures/photo.png.")

    @field_validator("source")
    @classmethod
    def _beside_the_task(cls, value: str) -> str:
        path = Path(value)
        if path.is_absolute() or ".." in path.parts or not value.strip():
            raise ValueError(f"{value!r} must be a relative path inside the task file's folder (no '..')")
        return value


class SandboxSpec(_Strict):
    """The desktop a task runs on."""

    width: int = Field(1280, ge=320, le=7680, description="Screen width in pixels.")
    height: int = Field(800, ge=240, le=4320, description="Screen height in pixels.")
    apps: list[str] = Field(default_factory=list, description="Shell commands started in the background after setup.")
    setup: list[str] = Field(default_factory=list, description="Shell commands run to completion before the apps start.")
    files: dict[str, Union[str, FileCopy]] = Field(
        default_factory=dict,
        description="Files to create before setup: path -> text content, or {from: fixtures/x.png} beside the task file.",
    )
    allow_outside_paths: bool = Field(
        False, description="Let `files` keys and file checks use absolute or '..' paths outside the sandbox.",
    )
    wait_windows: list[str] = Field(
        default_factory=list, description="Title regexes of windows that must be visible before the task starts."
    )
    timeout: float = Field(30.0, gt=0, le=600, description="Seconds allowed for setup and for each window to appear.")

    # The folder of the task file the spec was loaded from (fixtures are copied from there).
    _base_dir: Path | None = PrivateAttr(None)

    @field_validator("wait_windows")
    @classmethod
    def _regexes_compile(cls, value: list[str]) -> list[str]:
        return [_check_regex(v) for v in value]

    @model_validator(mode="after")
    def _files_stay_inside(self) -> "SandboxSpec":
        if not self.allow_outside_paths:
            for key in self.files:
                if not inside_sandbox(key):
                    raise ValueError(f"files key {key!r} leaves the sandbox (absolute or '..'); use a path "
                                     "relative to {home}, or set allow_outside_paths: true")
        return self

    @property
    def base_dir(self) -> Path | None:
        """The task file's folder, when the spec came from a file."""
        return self._base_dir


class Task(_Strict):
    """One task: a desktop, an instruction, success checks and a reference solution."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short name (lowercase, digits, _ and -).")
    instruction: str = Field(min_length=1, description="What the policy is asked to do.")
    sandbox: SandboxSpec = Field(default_factory=SandboxSpec, description="The desktop to build.")
    difficulty: Literal["easy", "medium", "hard"] | None = Field(
        None, description="easy: a few steps in one app; medium: a dialog or a menu path; hard: 10+ steps or two apps.",
    )
    applications: list[str] = Field(
        default_factory=list, description="Programs the task needs (e.g. mousepad, gnumeric); the sandbox checks they are installed.",
    )
    max_steps: int = Field(15, ge=1, le=500, description="Step limit of a run.")
    settle_s: float = Field(1.0, ge=0, le=60, description="Seconds to wait after each action before the next screenshot.")
    checks: CheckSpec = Field(description="Success checks run after the last step.")
    reference: list[str] = Field(
        default_factory=list,
        description="A correct run as model outputs (Qwen3-VL <tool_call> text, 0-1000 grid), one per step.",
    )

    @model_validator(mode="after")
    def _reference_fits(self) -> "Task":
        if len(self.reference) > self.max_steps:
            raise ValueError(f"reference has {len(self.reference)} steps but max_steps is {self.max_steps}")
        return self

    @model_validator(mode="after")
    def _file_checks_stay_inside(self) -> "Task":
        self.checks._allow_outside_paths = self.sandbox.allow_outside_paths
        if not self.sandbox.allow_outside_paths:
            for index, item in enumerate(self.checks.items):
                if isinstance(item, FileCheck) and not inside_sandbox(item.path):
                    raise ValueError(f"checks.items[{index}].path {item.path!r} leaves the sandbox (absolute or "
                                     "'..'); use a path relative to {home}, or set sandbox.allow_outside_paths: true")
        return self


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


def _read_yaml(path: Path) -> Any:
    try:  # bounded: size, file type, encoding, nesting and alias expansion (agent.task_yaml)
        return read_task_yaml(path)
    except YamlReadError as exc:
        raise TaskError(str(exc)) from None


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
    data = _read_yaml(path)
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


def reference_problems(task: Task) -> list[str]:
    """Why the reference solution is unusable: a step that does not parse, a point off the
    0-1000 grid, or no final terminate. Empty when the actions package is not importable."""
    try:  # lazy: actions is a sibling package, only needed when a reference is checked
        from actions import CoordinateError, ParseError, ScreenGeometry, parse, to_screen
    except ImportError:
        return []
    geometry = ScreenGeometry.flat(task.sandbox.width, task.sandbox.height)
    problems: list[str] = []
    last: list[str] = []
    for index, text in enumerate(task.reference):
        try:
            actions = parse(text, "qwen").actions  # as --policy scripted reads it
            for action in actions:
                to_screen(action, geometry)  # raises when a coordinate is off the grid
        except (ParseError, CoordinateError) as exc:
            problems.append(f"reference[{index}]: {exc}")
            continue
        last = [action.action for action in actions]
    if task.reference and not problems and not {"terminate", "answer"} & set(last):
        problems.append(f"reference[{len(task.reference) - 1}]: the last step must be a terminate or answer action")
    return problems


@dataclass
class ValidationReport:
    """The outcome of `agent validate`: one entry per task file."""

    results: list[tuple[Path, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file validated."""
        return bool(self.results) and all(error is None for _, error in self.results)

    def report_lines(self) -> list[str]:
        """`ok PATH` or `error PATH: reason` for each file."""
        return [f"ok {path}" if error is None else f"error {error}" for path, error in self.results]


def _task_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TASK_SUFFIXES)
    return [path]


def validate_paths(paths: list[Path]) -> ValidationReport:
    """Validate task files and folders of them (walked for *.yaml / *.yml)."""
    report = ValidationReport()
    for given in paths:
        given = Path(given)
        if not given.exists():
            report.results.append((given, f"{given}: no such file or folder"))
            continue
        files = _task_files(given)
        if not files:
            report.results.append((given, f"{given}: no *.yaml or *.yml task files in this folder"))
        for path in files:
            report.results.append((path, _validate_one(path)))
    return report


UNCHECKABLE = "could not be checked (a bug in agent validate; please report it)"


def _validate_one(path: Path) -> str | None:
    try:
        task = load_task(path)
    except TaskError as exc:
        return str(exc)
    except Exception as exc:  # one file must never stop the others from being checked
        return f"{path}: {UNCHECKABLE}: {type(exc).__name__}: {str(exc)[:200]}"
    from agent.tasks.files import fixture_problems

    problems = reference_problems(task) + fixture_problems(task.sandbox)
    return f"{path}: " + "; ".join(problems) if problems else None
