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
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

TASK_SUFFIXES = (".yaml", ".yml")


class TaskError(ValueError):
    """A task file could not be read; the message names the file and the field or YAML line."""


class _Strict(BaseModel):
    # A typo'd field must be an error, never silently ignored.
    model_config = ConfigDict(extra="forbid")


def expand(text: str, workdir: Path | str, home: Path | str) -> str:
    """Replace `{workdir}` and `{home}` (and nothing else) in a path or command."""
    return text.replace("{workdir}", str(workdir)).replace("{home}", str(home))


def resolve_path(text: str, workdir: Path | str, home: Path | str) -> Path:
    """Expand placeholders; a relative result is taken relative to home."""
    path = Path(expand(text, workdir, home))
    return path if path.is_absolute() else Path(home) / path


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    return value


class SandboxSpec(_Strict):
    """The desktop a task runs on."""

    width: int = Field(1280, ge=320, le=7680, description="Screen width in pixels.")
    height: int = Field(800, ge=240, le=4320, description="Screen height in pixels.")
    apps: list[str] = Field(default_factory=list, description="Shell commands started in the background after setup.")
    setup: list[str] = Field(default_factory=list, description="Shell commands run to completion before the apps start.")
    files: dict[str, str] = Field(default_factory=dict, description="Files to create before setup: path -> text content.")
    wait_windows: list[str] = Field(
        default_factory=list, description="Title regexes of windows that must be visible before the task starts."
    )
    timeout: float = Field(30.0, gt=0, le=600, description="Seconds allowed for setup and for each window to appear.")

    @field_validator("wait_windows")
    @classmethod
    def _regexes_compile(cls, value: list[str]) -> list[str]:
        return [_check_regex(v) for v in value]


class WindowCheck(_Strict):
    """Success when a visible window's title matches a regex (re.search)."""

    title: str = Field(description="Regex searched in the titles of the currently visible windows.")

    @field_validator("title")
    @classmethod
    def _title_compiles(cls, value: str) -> str:
        return _check_regex(value)

    def describe(self) -> str:
        """Short name used in results."""
        return f"window title ~ {self.title!r}"


class FileCheck(_Strict):
    """Success when a file exists and its text equals, contains or matches the expected value."""

    path: str = Field(description="File to read; may use {workdir} and {home}.")
    equals: str | None = Field(None, description="The whole content must be exactly this text.")
    contains: str | None = Field(None, description="The content must contain this text.")
    matches: str | None = Field(None, description="Regex searched in the content (re.search, multiline).")

    @model_validator(mode="after")
    def _exactly_one_condition(self) -> "FileCheck":
        given = [name for name in ("equals", "contains", "matches") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of equals, contains, matches (got {given or 'none'})")
        if self.matches is not None:
            _check_regex(self.matches)
        return self

    def describe(self) -> str:
        """Short name used in results."""
        for name in ("equals", "contains", "matches"):
            value = getattr(self, name)
            if value is not None:
                return f"file {self.path} {name} {value!r}"
        return f"file {self.path}"


class CommandCheck(_Strict):
    """Success when a shell command exits with status 0."""

    command: str = Field(description="Shell command run in the sandbox environment; may use {workdir} and {home}.")
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds before the command counts as failed.")

    def describe(self) -> str:
        """Short name used in results."""
        return f"command {self.command!r} exits 0"


def _check_kind(item: Any) -> str | None:
    """Which check a YAML mapping is, told by its identifying key."""
    if isinstance(item, BaseModel):
        return {WindowCheck: "window", FileCheck: "file", CommandCheck: "command"}.get(type(item))
    if not isinstance(item, dict):
        return None
    for key, kind in (("title", "window"), ("path", "file"), ("command", "command")):
        if key in item:
            return kind
    return None


Check = Annotated[
    Union[
        Annotated[WindowCheck, Tag("window")],
        Annotated[FileCheck, Tag("file")],
        Annotated[CommandCheck, Tag("command")],
    ],
    Discriminator(
        _check_kind,
        custom_error_type="unknown_check",
        custom_error_message="a check needs one of the keys title (window), path (file) or command (command)",
    ),
]


class CheckSpec(_Strict):
    """How success is decided after the run."""

    mode: Literal["all", "any"] = Field("all", description="all: every check must pass; any: one is enough.")
    items: list[Check] = Field(min_length=1, description="The checks: window, file or command.")


class Task(_Strict):
    """One task: a desktop, an instruction, success checks and a reference solution."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short name (lowercase, digits, _ and -).")
    instruction: str = Field(min_length=1, description="What the policy is asked to do.")
    sandbox: SandboxSpec = Field(default_factory=SandboxSpec, description="The desktop to build.")
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


def _field_path(loc: tuple[Any, ...]) -> str:
    """('checks', 'items', 0, 'file', 'path') -> 'checks.items[0].path' (union tags dropped)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("window", "file", "command"):
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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TaskError(f"{path}: malformed YAML at {where}: {problem}") from None


def task_from_data(data: Any, source: str) -> Task:
    """Validate already-parsed YAML data; errors name `source` and every bad field path."""
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
    return task_from_data(_read_yaml(path), str(path))


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
            actions = parse(text).actions
            for action in actions:
                to_screen(action, geometry)  # raises when a coordinate is off the grid
        except (ParseError, CoordinateError) as exc:
            problems.append(f"reference[{index}]: {exc}")
            continue
        last = [action.action for action in actions]
    if task.reference and not problems and "terminate" not in last:
        problems.append(f"reference[{len(task.reference) - 1}]: the last step must be a terminate action")
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


def _validate_one(path: Path) -> str | None:
    try:
        task = load_task(path)
    except TaskError as exc:
        return str(exc)
    problems = reference_problems(task)
    return f"{path}: " + "; ".join(problems) if problems else None
