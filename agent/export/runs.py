"""Which runs an export reads, and the refusal of a damaged one.

A path may be one run folder, a bench folder (its bench.json names its runs) or a folder of runs.
A run that is exported or turned into a task must be whole: meta.json, every step and its screenshot,
and result.json readable; anything less is an ExportError naming the run and what is wrong, before
anything is written.
"""
from __future__ import annotations

from pathlib import Path

from agent.bench.results import is_bench_dir, read_bench
from agent.errors import BenchError, ExportError
from agent.trace import LoadedRun, is_run_dir, list_runs, read_run

MAX_PROBLEMS_SHOWN = 3


def runs_of(paths: list[Path]) -> list[Path]:
    """The run folders named by `paths` (runs, benches, folders of runs), in order, each once."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            raise ExportError(f"{path}: no such run or bench folder")
        if is_run_dir(path):
            found.append(path)
        elif is_bench_dir(path):
            found.extend(_bench_runs(path))
        elif list_runs(path):
            found.extend(sorted(list_runs(path)))
        else:
            raise ExportError(f"{path}: neither a run folder (meta.json, steps.jsonl) nor a bench folder "
                              "(bench.json) nor a folder of runs")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _bench_runs(bench_dir: Path) -> list[Path]:
    try:
        record = read_bench(bench_dir)
    except BenchError as error:
        raise ExportError(str(error)) from None
    runs = []
    for entry in record.runs:
        if entry.run_dir is None:
            continue  # the task could not start: nothing was recorded
        path = (bench_dir / entry.run_dir)
        if not path.resolve().is_relative_to(bench_dir.resolve()) or not is_run_dir(path):
            raise ExportError(f"{bench_dir}/bench.json: run {entry.task_id} #{entry.repeat} names "
                              f"{entry.run_dir!r}, which is not a run folder inside the bench")
        runs.append(path)
    return runs


def intact_run(path: Path) -> LoadedRun:
    """The run, read whole; ExportError naming the run and its damage otherwise."""
    run = read_run(path)
    damage = [p for p in run.problems if "unknown fields" not in p]  # a newer writer's extra fields are fine
    if run.meta is None and "meta.json is missing" not in " ".join(damage):
        damage.insert(0, "meta.json is unreadable")
    if damage:
        shown = "; ".join(damage[:MAX_PROBLEMS_SHOWN]) + (f" (and {len(damage) - MAX_PROBLEMS_SHOWN} more)"
                                                           if len(damage) > MAX_PROBLEMS_SHOWN else "")
        raise ExportError(f"{path}: the run folder is damaged: {shown}")
    return run
