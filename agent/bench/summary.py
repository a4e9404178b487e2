"""A bench's numbers: success rate with its spread over repeats, pass@k, flaky tasks, per-task medians.

Only finished runs count (an aborted run is waiting to be redone); a task that could not start counts
as a failed run with status `error`.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from math import comb
from typing import Any, Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one task from n runs with c successes: P(at least one of k drawn succeeds)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} runs, got {n}")
    return 1.0 - comb(n - c, k) / comb(n, k)


def flakiness(successes: int, runs: int) -> float:
    """Share of runs on the minority outcome: 0 when every run agrees, 0.5 at most; a task is flaky above 0."""
    return min(successes, runs - successes) / runs if runs else 0.0


def _finished(entries: Iterable[Any]) -> list[Any]:
    return [e for e in entries if e.status != "aborted"]


def _per_task(entries: Sequence[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for entry in entries:
        grouped[entry.task_id].append(entry)
    return grouped


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None, "min": None, "max": None}
    return {"mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "min": round(min(values), 4), "max": round(max(values), 4)}


def bench_summary(entries: Sequence[Any], planned: Sequence[Sequence[Any]] = ()) -> dict[str, Any]:
    """JSON-ready summary of RunEntry-like objects (task_id, repeat, status, steps, duration_s)."""
    done = _finished(entries)
    tasks = _per_task(done)
    repeats = sorted({e.repeat for e in done})
    per_repeat = []
    for repeat in repeats:
        runs = [e for e in done if e.repeat == repeat]
        per_repeat.append(sum(e.status == "success" for e in runs) / len(runs))
    most = max((len(runs) for runs in tasks.values()), default=0)
    pass_k = {}
    for k in range(1, most + 1):
        eligible = [runs for runs in tasks.values() if len(runs) >= k]
        values = [pass_at_k(len(r), sum(e.status == "success" for e in r), k) for r in eligible]
        pass_k[f"pass@{k}"] = round(statistics.fmean(values), 4)
    return {
        "planned": len(planned), "finished": len(done),
        "aborted": sum(e.status == "aborted" for e in entries),
        "statuses": dict(Counter(e.status for e in done)),
        "success_rate": round(sum(e.status == "success" for e in done) / len(done), 4) if done else None,
        "success_rate_over_repeats": _spread(per_repeat),
        "pass_at_k": pass_k,
        "flaky": sorted(t for t, runs in tasks.items() if flakiness(sum(e.status == "success" for e in runs), len(runs))),
        "tasks": {task: _task_line(runs) for task, runs in tasks.items()},
    }


def _task_line(runs: list[Any]) -> dict[str, Any]:
    wins = sum(e.status == "success" for e in runs)
    return {"runs": len(runs), "successes": wins, "rate": round(wins / len(runs), 4),
            "statuses": [e.status for e in sorted(runs, key=lambda e: e.repeat)],
            "median_steps": statistics.median(e.steps for e in runs),
            "median_seconds": round(statistics.median(e.duration_s for e in runs), 2)}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The printed summary: rate ± spread, pass@k, flaky tasks, then one line per task."""
    spread = summary["success_rate_over_repeats"]
    rate = f"success {_pct(summary['success_rate'])}"
    if spread["mean"] is not None and spread["std"]:
        rate += f"  (per repeat {_pct(spread['mean'])} ± {_pct(spread['std'])}, range {_pct(spread['min'])}–{_pct(spread['max'])})"
    lines = [f"{summary['finished']}/{summary['planned']} runs finished"
             + (f", {summary['aborted']} aborted" if summary["aborted"] else ""), rate]
    if summary["pass_at_k"]:
        lines.append("  ".join(f"{k} {_pct(v)}" for k, v in summary["pass_at_k"].items()))
    lines.append(f"flaky: {', '.join(summary['flaky']) or 'none'}")
    unchecked = {s: n for s, n in summary.get("statuses", {}).items() if s in ("done", "gave_up")}
    if unchecked:
        lines.append(f"no checks: {sum(unchecked.values())} runs of tasks without checks ("
                     + ", ".join(f"{s} {n}" for s, n in unchecked.items()) + ") count as not successful")
    width = max((len(t) for t in summary["tasks"]), default=4)
    lines.append(f"{'task':<{width}}  runs  pass  median steps  median s  statuses")
    for task, line in summary["tasks"].items():
        lines.append(f"{task:<{width}}  {line['runs']:>4}  {line['successes']:>4}  {line['median_steps']:>12}  "
                     f"{line['median_seconds']:>8}  {' '.join(line['statuses'])}")
    return lines
