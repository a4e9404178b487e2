"""Suites: a named list of task files (paths or globs), defaults for them, and how often to repeat.

tasks/suites/core.yaml:
    name: core
    description: every shipped task
    tasks: ["../*.yaml"]          # relative to the suite file; globs allowed
    defaults: {max_steps: 20}     # max_steps, settle_s, width, height override each task's own
    repeats: 1

A suite file lives in a folder named `suites` (that is how `agent validate` tells it from a task).
`agent bench` also takes a folder of task files: the folder is the suite.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from agent.errors import SuiteError, TaskError
from agent.tasks import TASK_SUFFIXES, StrictModel, load_task


class SuiteDefaults(StrictModel):
    """Settings applied to every task of the suite (each overrides the task's own value)."""

    max_steps: int | None = Field(None, ge=1, le=500, description="Step limit of each run.")
    settle_s: float | None = Field(None, ge=0, le=60, description="Seconds to wait after each action.")
    width: int | None = Field(None, ge=320, le=7680, description="Sandbox screen width.")
    height: int | None = Field(None, ge=240, le=4320, description="Sandbox screen height.")


class SuiteFile(StrictModel):
    """The YAML schema of a suite file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Short name of the suite.")
    description: str = Field("", description="What the suite measures.")
    tasks: list[str] = Field(min_length=1, description="Task files or globs, relative to the suite file.")
    defaults: SuiteDefaults = Field(default_factory=SuiteDefaults, description="Overrides for every task.")
    repeats: int = Field(1, ge=1, le=100, description="Runs of each task (pass@k needs k <= repeats).")


@dataclass
class Suite:
    """A loaded suite: resolved task files in suite order."""

    name: str
    source: Path
    task_files: list[Path]
    description: str = ""
    defaults: SuiteDefaults = field(default_factory=SuiteDefaults)
    repeats: int = 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description for bench.json."""
        return {"name": self.name, "description": self.description, "source": str(self.source),
                "tasks": [str(p) for p in self.task_files], "defaults": self.defaults.model_dump(exclude_none=True),
                "repeats": self.repeats}


def is_suite_file(path: Path) -> bool:
    """A YAML file inside a folder named `suites`."""
    return path.suffix in TASK_SUFFIXES and "suites" in path.resolve().parent.parts[-1:]


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise SuiteError(f"{path}: not valid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _field(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _expand(pattern: str, base: Path, where: str, source: Path) -> list[Path]:
    full = os.path.normpath(pattern if Path(pattern).is_absolute() else str(base / pattern))
    if glob.has_magic(pattern):
        found = [Path(p) for p in sorted(glob.glob(full, recursive=True))]
        found = [p for p in found if p.is_file() and p.suffix in TASK_SUFFIXES and not is_suite_file(p)]
        if not found:
            raise SuiteError(f"{source}: {where}: {pattern!r} matches no task file")
        return found
    path = Path(full)
    if not path.is_file():
        raise SuiteError(f"{source}: {where}: {pattern!r}: no such task file")
    return [path]


def load_suite(path: Path | str) -> Suite:
    """Read and check a suite file; SuiteError naming file and field on any problem."""
    path = Path(path)
    data = _read(path)
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite file is a mapping with name, tasks, defaults, repeats")
    try:
        spec = SuiteFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SuiteError(f"{path}: {_field(first['loc'])}: {first['msg']}") from None
    files: list[Path] = []
    for index, pattern in enumerate(spec.tasks):
        for found in _expand(pattern, path.parent, f"tasks[{index}]", path):
            if found.resolve() not in [f.resolve() for f in files]:
                files.append(found)
    return Suite(name=spec.name, source=path, task_files=files, description=spec.description,
                 defaults=spec.defaults, repeats=spec.repeats)


def folder_suite(folder: Path) -> Suite:
    """Every task file directly in a folder, as a suite named after the folder."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix in TASK_SUFFIXES)
    if not files:
        raise SuiteError(f"{folder}: no *.yaml task files in this folder")
    return Suite(name=Path(folder).resolve().name, source=Path(folder), task_files=files,
                 description=f"every task file in {folder}")


def load_bench_input(path: Path | str) -> Suite:
    """A suite file, or a folder of task files."""
    path = Path(path)
    if path.is_dir():
        return folder_suite(path)
    if not path.exists():
        raise SuiteError(f"{path}: no such suite file or task folder")
    return load_suite(path)


def load_tasks(suite: Suite, strict: bool = True) -> list[tuple[Path, Any]]:
    """(file, Task with the suite's defaults applied) for every task.

    strict: SuiteError on a broken task file or a shared id; otherwise a broken file comes back as
    (file, SuiteError) so a bench can record it and go on with the others.
    """
    loaded: list[tuple[Path, Any]] = []
    seen: dict[str, Path] = {}
    for file in suite.task_files:
        try:
            task = apply_defaults(load_task(file), suite.defaults)
            if task.id in seen:
                raise SuiteError(f"{suite.source}: tasks {seen[task.id]} and {file} share the id {task.id!r}")
        except (TaskError, SuiteError) as exc:
            error = exc if isinstance(exc, SuiteError) else SuiteError(f"{suite.source}: task {file}: {exc}")
            if strict:
                raise error from None
            loaded.append((file, error))
            continue
        seen[task.id] = file
        loaded.append((file, task))
    return loaded


def apply_defaults(task: Any, defaults: SuiteDefaults) -> Any:
    """The task with the suite's overrides (step limit, settle time, screen size)."""
    update: dict[str, Any] = {}
    if defaults.max_steps is not None:
        update["max_steps"] = max(defaults.max_steps, len(task.reference))
    if defaults.settle_s is not None:
        update["settle_s"] = defaults.settle_s
    screen = {k: v for k, v in (("width", defaults.width), ("height", defaults.height)) if v is not None}
    if screen:
        update["sandbox"] = task.sandbox.model_copy(update=screen)
    return task.model_copy(update=update) if update else task


def validate_suite(path: Path) -> str | None:
    """None when the suite and every task it names load; else the first problem, naming file and field."""
    try:
        suite = load_suite(path)
        load_tasks(suite)
    except SuiteError as exc:
        return str(exc)
    return None
