"""`agent bench SUITE`, `agent bench compare A B` and `agent bench merge DIR...`: messages and exit codes.

A bench that cannot start (a bad suite, flag or bench folder) raises a UserError, which agent/cli.py
reports with exit status 2.
"""
from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from agent.bench.compare import compare, merge
from agent.bench.plan import parse_shard
from agent.bench.progress import Progress
from agent.bench.results import read_bench
from agent.bench.runner import BenchOptions, run_bench, stop_on_signals
from agent.bench.suite import load_bench_input
from agent.bench.summary import summary_lines
from agent.errors import BenchError, SettingsError
from agent.settings import PolicySettings, RunSettings


def default_out(suite_name: str) -> Path:
    """benchmarks/<suite>-<UTC time>."""
    return Path("benchmarks") / f"{suite_name}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"


def bench_command(suite_path: Path, policy: PolicySettings, settings: RunSettings, out: Path | None,
                  parallel: int, repeat: int | None, rerun_failed: bool, shard: str | None) -> int:
    """`agent bench SUITE`: 0 when every run finished, 1 when some did not, 130 when stopped."""
    if parallel < 1:
        raise SettingsError(f"--parallel must be at least 1, got {parallel}")
    if repeat is not None and repeat < 1:
        raise SettingsError(f"--repeat must be at least 1, got {repeat}")
    suite = load_bench_input(suite_path)
    out = Path(out) if out is not None else default_out(suite.name)
    if out.exists() and not out.is_dir():
        raise BenchError(f"--out {out} is a file; pass a folder for the bench")
    options = BenchOptions(suite=suite, policy=policy, settings=settings, out=out, parallel=parallel,
                           repeats=repeat, rerun_failed=rerun_failed, shard=parse_shard(shard))
    abort, progress = threading.Event(), Progress(0)
    if policy.name == "local":
        progress.note(f"loading model {policy.model} (device {policy.device}, dtype {policy.dtype}) once for every run …")
    with stop_on_signals(abort, progress):
        record = run_bench(options, abort, progress)
    print("\n".join(summary_lines(record.summary)))
    print(f"bench.json → {options.out / 'bench.json'}")
    if abort.is_set() or not record.complete:
        print(f"stopped: run the same command again to resume ({options.out})", file=sys.stderr)
        return 130 if abort.is_set() else 1
    return 0


def compare_command(a: Path, b: Path, as_json: bool) -> int:
    """`agent bench compare A B`."""
    comparison = compare(read_bench(a), read_bench(b))
    print(json.dumps(comparison.as_dict(), indent=2) if as_json else "\n".join(comparison.lines(str(a), str(b))))
    return 0


def merge_command(dirs: list[Path], out: Path) -> int:
    """`agent bench merge DIR... -o OUT`."""
    record = merge(dirs, out)
    print("\n".join(summary_lines(record.summary)))
    print(f"bench.json → {Path(out) / 'bench.json'}")
    missing = getattr(record, "missing_shards", [])
    if missing:
        print(f"warning: slices {', '.join(missing)} are missing, so the merged bench is incomplete "
              "(complete: false); merge again with their folders", file=sys.stderr, flush=True)
    return 0
