"""Wall time of a whole suite at several --parallel values, in one process, with the scripted policy.

Each setting runs the suite once (`agent bench` in-process: its own sandboxes, its own bench folder in
a temporary directory). The table shows wall time, the ratio to --parallel 1 measured in the same
run (ratios hold on a noisy shared machine, absolute seconds do not), and the success rate; the JSON
goes to bench_results/bench_suite.json.

    .venv/bin/python examples/bench/bench_suite.py [--suite tasks/suites/core.yaml] [--parallel 1 2 4]
        [--out bench_results/bench_suite.json]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path


def time_bench(suite_path: Path, parallel: int, workdir: Path) -> dict:
    """Run the suite once at this parallelism; wall seconds and the outcome."""
    from agent.bench.progress import Progress
    from agent.bench.runner import BenchOptions, run_bench
    from agent.bench.suite import load_bench_input
    from agent.settings import PolicySettings, RunSettings

    options = BenchOptions(suite=load_bench_input(suite_path), policy=PolicySettings(name="scripted"),
                           settings=RunSettings(), out=workdir / f"parallel-{parallel}", parallel=parallel)
    began = time.perf_counter()
    record = run_bench(options, threading.Event(), Progress(0, stream=io.StringIO()))
    wall = time.perf_counter() - began
    return {"parallel": parallel, "wall_s": round(wall, 2), "runs": len(record.runs),
            "success_rate": record.summary["success_rate"],
            "run_seconds_sum": round(sum(e.duration_s for e in record.runs), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path("tasks/suites/core.yaml"))
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=Path("bench_results/bench_suite.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        for parallel in args.parallel:
            rows.append(time_bench(args.suite, parallel, Path(tmp)))
            print(f"--parallel {parallel}: {rows[-1]['wall_s']:.1f}s", file=sys.stderr, flush=True)
    base = rows[0]["wall_s"]
    print(f"{'parallel':>8}  {'wall s':>7}  {'vs first':>8}  {'runs':>4}  {'success':>7}  {'sum of run s':>12}")
    for row in rows:
        row["ratio_to_first"] = round(row["wall_s"] / base, 3)
        print(f"{row['parallel']:>8}  {row['wall_s']:>7.1f}  {row['ratio_to_first']:>8.2f}  {row['runs']:>4}  "
              f"{100 * (row['success_rate'] or 0):>6.0f}%  {row['run_seconds_sum']:>12.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"suite": str(args.suite), "policy": "scripted", "rows": rows,
                                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}}, indent=2))
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
