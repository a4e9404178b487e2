"""bench.json: what was scored, with what, and every (task, repeat)'s outcome; written atomically.

benchmarks/<bench-id>/bench.json
    suite, policy (its settings), run settings, versions, machine, started_at / ended_at, shard,
    runs: one entry per (task, repeat) that ran — status, steps, duration, tokens, cached ratio,
    run folder (relative to the bench folder) — and the summary of agent.bench.summary.
"""
from __future__ import annotations

import json
import os
import platform
import socket
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.bench.summary import bench_summary
from agent.errors import BenchError
from agent.trace import now_iso, read_run, write_json_atomic
from agent.trace.records import Status

BENCH_FILE = "bench.json"
FINISHED = ("success", "failure", "max_steps", "error", "done", "gave_up")  # a resumed bench does not redo these

EntryStatus = Status  # a run's status (agent.trace.records): the one list



class RunEntry(BaseModel):
    """One (task, repeat) of a bench."""

    model_config = ConfigDict(extra="allow")

    task_id: str
    task_file: str
    repeat: int = Field(ge=1)
    status: EntryStatus
    steps: int = 0
    duration_s: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    cached_ratio: float | None = None  # cached / prompt tokens over the run; None without model counters
    run_dir: str | None = None  # relative to the bench folder; None when the task could not start
    message: str = ""
    started_at: str | None = None
    ended_at: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.task_id, self.repeat


class BenchRecord(BaseModel):
    """The whole bench.json."""

    model_config = ConfigDict(extra="allow")

    bench_id: str
    suite: dict[str, Any]
    policy: dict[str, Any]  # PolicySettings.as_dict(): what picks and configures the policy
    policy_settings: dict[str, Any] = Field(default_factory=dict)  # the policy's own describe()
    run_settings: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    machine: dict[str, Any] = Field(default_factory=dict)
    shard: str | None = None
    repeats: int = 1
    planned: list[list[Any]] = Field(default_factory=list)  # [task_id, repeat] pairs this bench covers
    parallel: int = 1
    started_at: str = Field(default_factory=now_iso)
    ended_at: str | None = None
    complete: bool = False
    runs: list[RunEntry] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)


def machine() -> dict[str, Any]:
    """Where the bench ran."""
    return {"host": socket.gethostname(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def entry_from_run(task_id: str, task_file: str, repeat: int, run_dir: Path, bench_dir: Path) -> RunEntry:
    """A RunEntry from a finished (or aborted) run folder: status, steps, duration, token totals."""
    run = read_run(run_dir)
    counters = [step.counters for step in run.steps]
    prompt = int(sum(c.get("prompt_tokens", 0) for c in counters))
    cached = int(sum(c.get("cached_tokens", 0) for c in counters))
    result = run.result
    return RunEntry(
        task_id=task_id, task_file=task_file, repeat=repeat,
        status=result.status if result else "aborted", steps=result.steps if result else len(run.steps),
        duration_s=result.duration_s if result else 0.0, prompt_tokens=prompt, cached_tokens=cached,
        generated_tokens=int(sum(c.get("generated_tokens", 0) for c in counters)),
        cached_ratio=round(cached / prompt, 4) if prompt else None,
        run_dir=os.path.relpath(run_dir, bench_dir), message=result.message if result else "no result.json",
        started_at=run.meta.started_at if run.meta else None, ended_at=result.ended_at if result else None,
    )


def read_bench(path: Path) -> BenchRecord:
    """bench.json of a bench folder (or the file itself); BenchError naming it when unreadable."""
    path = Path(path)
    file = path / BENCH_FILE if path.is_dir() else path
    if not file.is_file():
        raise BenchError(f"{path}: no {BENCH_FILE} here (not a bench folder)")
    try:
        return BenchRecord.model_validate_json(file.read_text(encoding="utf-8"))
    except (ValidationError, ValueError, OSError) as exc:
        raise BenchError(f"{file}: unreadable: {str(exc).splitlines()[0]}") from None


def is_bench_dir(path: Path) -> bool:
    """A folder holding bench.json."""
    return (Path(path) / BENCH_FILE).is_file()


class BenchWriter:
    """Holds the record in memory and rewrites bench.json atomically after every change (thread-safe)."""

    def __init__(self, bench_dir: Path, record: BenchRecord):
        self.dir = Path(bench_dir)
        self.record = record
        self._lock = threading.Lock()

    def add(self, entry: RunEntry) -> None:
        """Record one run (replacing an earlier entry of the same task and repeat) and save."""
        with self._lock:
            self.record.runs = [e for e in self.record.runs if e.key != entry.key] + [entry]
            self._save()

    def finish(self, complete: bool) -> None:
        """Stamp the end time and completeness, and save."""
        with self._lock:
            self.record.ended_at, self.record.complete = now_iso(), complete
            self._save()

    def save(self) -> None:
        with self._lock:
            self._save()

    def _save(self) -> None:
        order = {tuple(key): index for index, key in enumerate(self.record.planned)}
        self.record.runs.sort(key=lambda e: (order.get(e.key, len(order)), e.task_id, e.repeat))
        self.record.summary = bench_summary(self.record.runs, self.record.planned)
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dir / BENCH_FILE, json.loads(self.record.model_dump_json()))
