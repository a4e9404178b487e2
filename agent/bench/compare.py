"""`agent bench compare A B` and `agent bench merge DIR...`: set two benches side by side, or join shards."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.bench.results import BenchRecord, BenchWriter, RunEntry, read_bench
from agent.errors import BenchError


def task_verdicts(record: BenchRecord) -> dict[str, str]:
    """Per task: 'pass' (every finished repeat succeeded), 'fail' (none did) or 'flaky'."""
    verdicts: dict[str, list[bool]] = {}
    for entry in record.runs:
        if entry.status != "aborted":
            verdicts.setdefault(entry.task_id, []).append(entry.status == "success")
    return {task: "pass" if all(v) else "fail" if not any(v) else "flaky" for task, v in verdicts.items()}


@dataclass
class Comparison:
    """What changed from bench A to bench B."""

    rate_a: float | None
    rate_b: float | None
    fixed: list[str] = field(default_factory=list)  # not passing in A, passing in B
    broke: list[str] = field(default_factory=list)  # passing in A, not passing in B
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # other verdict changes
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)

    @property
    def difference(self) -> float | None:
        """Success rate of B minus A (fraction; None when either has no finished run)."""
        if self.rate_a is None or self.rate_b is None:
            return None
        return round(self.rate_b - self.rate_a, 4)

    def as_dict(self) -> dict[str, Any]:
        return {"rate_a": self.rate_a, "rate_b": self.rate_b, "difference": self.difference,
                "fixed": self.fixed, "broke": self.broke, "changed": [list(c) for c in self.changed],
                "only_a": self.only_a, "only_b": self.only_b}

    def lines(self, a: str, b: str) -> list[str]:
        pct = lambda v: "—" if v is None else f"{100 * v:.1f}%"  # noqa: E731
        diff = self.difference
        out = [f"A {a}: success {pct(self.rate_a)}", f"B {b}: success {pct(self.rate_b)}",
               f"difference B − A: {'—' if diff is None else f'{100 * diff:+.1f} points'}",
               f"fixed ({len(self.fixed)}): {', '.join(self.fixed) or 'none'}",
               f"broke ({len(self.broke)}): {', '.join(self.broke) or 'none'}"]
        out += [f"changed: {task} {va} → {vb}" for task, va, vb in self.changed]
        if self.only_a:
            out.append(f"only in A: {', '.join(self.only_a)}")
        if self.only_b:
            out.append(f"only in B: {', '.join(self.only_b)}")
        return out


def compare(a: BenchRecord, b: BenchRecord) -> Comparison:
    """Fixed, broke and changed tasks, and the success-rate difference."""
    va, vb = task_verdicts(a), task_verdicts(b)
    result = Comparison(a.summary.get("success_rate"), b.summary.get("success_rate"))
    for task in sorted(va.keys() & vb.keys()):
        before, after = va[task], vb[task]
        if before != "pass" and after == "pass":
            result.fixed.append(task)
        elif before == "pass" and after != "pass":
            result.broke.append(task)
        elif before != after:
            result.changed.append((task, before, after))
    result.only_a, result.only_b = sorted(va.keys() - vb.keys()), sorted(vb.keys() - va.keys())
    return result


def merge(dirs: list[Path], out: Path) -> BenchRecord:
    """One bench.json in `out` from shard folders of the same bench; run folders stay where they are."""
    records = [read_bench(d) for d in dirs]
    first = records[0]
    for directory, record in zip(dirs[1:], records[1:]):
        for what in ("policy", "run_settings"):
            if getattr(record, what) != getattr(first, what):
                raise BenchError(f"{directory}: other {what.replace('_', ' ')} than {dirs[0]}; only slices of one bench merge")
        if record.suite.get("name") != first.suite.get("name"):
            raise BenchError(f"{directory}: suite {record.suite.get('name')!r}, not {first.suite.get('name')!r}")
    missing = missing_slices(dirs, records)
    runs: dict[tuple[str, int], RunEntry] = {}
    planned: list[list[Any]] = []
    for directory, record in zip(dirs, records):
        for entry in record.runs:
            if entry.key in runs:
                raise BenchError(f"{directory}: task {entry.task_id} repeat {entry.repeat} is also in another folder")
            if entry.run_dir:
                entry = entry.model_copy(update={"run_dir": os.path.relpath(Path(directory) / entry.run_dir, out)})
            runs[entry.key] = entry
        planned += [k for k in record.planned if k not in planned]
    merged = first.model_copy(update={
        "bench_id": Path(out).resolve().name, "shard": None, "planned": planned, "runs": list(runs.values()),
        "started_at": min(r.started_at for r in records),
        "ended_at": max((r.ended_at for r in records if r.ended_at), default=None),
        "complete": (all(r.complete for r in records) and not missing
                     and len({tuple(k) for k in planned}) == len(runs)),
        "merged_from": [str(Path(d).resolve()) for d in dirs], "missing_shards": missing,
    })
    if Path(out).exists() and not Path(out).is_dir():
        raise BenchError(f"-o {out} is a file; pass a folder for the merged bench")
    BenchWriter(out, merged).save()
    return merged


def missing_slices(dirs: list[Path], records: list[BenchRecord]) -> list[str]:
    """The `--shard I/N` slices absent from a merge of slices ([] when none is missing or none is a slice).

    Slices cut with different N (or a slice with a whole bench) overlap unpredictably: a BenchError.
    """
    shards = {str(d): r.shard for d, r in zip(dirs, records)}
    if not any(shards.values()):
        return []
    counts = {shard.split("/")[1] if shard else "whole bench" for shard in shards.values()}
    if len(counts) > 1:
        listed = ", ".join(f"{d} ({shard or 'not a slice'})" for d, shard in shards.items())
        raise BenchError(f"these are not slices of one cut: {listed}; merge the I/N slices of one N")
    count = int(counts.pop())
    present = {int(shard.split("/")[0]) for shard in shards.values()}
    return [f"{i}/{count}" for i in range(1, count + 1) if i not in present]
