"""A task's `sandbox.files`: text written, fixtures copied from beside the task file, all inside the sandbox.

Keys are paths relative to {home} (or under {home} / {workdir}); unless the task sets
`allow_outside_paths: true`, a key that resolves outside the sandbox's workdir (through '..', an
absolute path or a symlink) is refused before anything is written.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from agent.errors import TaskFileError
from agent.tasks.schema import FileCopy, SandboxSpec, resolve_path


def contained(path: Path, workdir: Path) -> bool:
    """True when path (symlinks resolved) lies inside workdir."""
    return path.resolve().is_relative_to(workdir.resolve())


def write_task_files(spec: SandboxSpec, workdir: Path, home: Path) -> None:
    """Write text files and copy fixtures; TaskFileError naming the key on any problem."""
    for key, content in spec.files.items():
        path = resolve_path(key, workdir, home)
        if not spec.allow_outside_paths and not contained(path, workdir):
            raise TaskFileError(f"sandbox.files key {key!r} resolves to {path}, outside the sandbox")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, FileCopy):
                shutil.copyfile(_fixture(content.source, spec.base_dir, key), path)
            else:
                path.write_text(content, encoding="utf-8")
        except OSError as exc:
            raise TaskFileError(f"sandbox.files key {key!r}: cannot write {path}: {exc.strerror or exc}") from None


def _fixture(source: str, base_dir: Path | None, key: str) -> Path:
    """The fixture file beside the task file, checked to exist and to stay in that folder."""
    if base_dir is None:
        raise TaskFileError(f"sandbox.files key {key!r} copies {source!r}, but the task was not loaded from a file")
    path = base_dir / source
    if not contained(path, base_dir):
        raise TaskFileError(f"sandbox.files key {key!r}: {source!r} leaves the task file's folder {base_dir}")
    if not path.is_file():
        raise TaskFileError(f"sandbox.files key {key!r}: fixture {path} does not exist")
    return path


def fixture_problems(spec: SandboxSpec) -> list[str]:
    """Missing or escaping fixtures of a loaded task, for `agent validate`."""
    problems = []
    for key, content in spec.files.items():
        if isinstance(content, FileCopy) and spec.base_dir is not None:
            try:
                _fixture(content.source, spec.base_dir, key)
            except TaskFileError as exc:
                problems.append(str(exc))
    return problems
