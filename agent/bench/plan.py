"""What a bench runs: one job per (task, repeat), a deterministic shard of them, minus what is done."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.bench.results import FINISHED, RunEntry
from agent.errors import ShardError


@dataclass(frozen=True)
class Job:
    """One run to do."""

    task_id: str
    task_file: Path
    task: Any  # agent.tasks.Task with the suite's defaults applied, or the error that kept it from loading
    repeat: int

    @property
    def key(self) -> tuple[str, int]:
        return self.task_id, self.repeat


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'2/4' → (2, 4); None → None; ShardError naming the value otherwise."""
    if text is None:
        return None
    parts = text.split("/")
    try:
        index, count = (int(p) for p in parts)
    except ValueError:
        raise ShardError(f"--shard {text!r}: write I/N, e.g. 1/4 (the first of four slices)") from None
    if not (count >= 1 and 1 <= index <= count):
        raise ShardError(f"--shard {text!r}: I must be between 1 and N, and N at least 1")
    return index, count


def plan_jobs(tasks: list[tuple[Path, Any]], repeats: int, shard: tuple[int, int] | None = None) -> list[Job]:
    """Jobs in suite order, repeat-major (every task once, then every task again, …).

    A shard takes every N-th task of the suite (all its repeats), so slices are disjoint, together
    cover the suite, and do not depend on the machine or on timing.
    """
    chosen = tasks if shard is None else [t for i, t in enumerate(tasks) if i % shard[1] == shard[0] - 1]
    return [Job(_task_id(file, task), file, task, repeat) for repeat in range(1, repeats + 1) for file, task in chosen]


def _task_id(file: Path, task: Any) -> str:
    """The task's id; a task file that did not load (task is its error) goes by its file name."""
    return file.stem if isinstance(task, Exception) else task.id


def still_to_do(jobs: list[Job], done: list[RunEntry], rerun_failed: bool) -> list[Job]:
    """Jobs without a finished entry (with rerun_failed: also those whose entry is not a success)."""
    keep = {e.key for e in done if e.status in FINISHED and (e.status == "success" or not rerun_failed)}
    return [job for job in jobs if job.key not in keep]
