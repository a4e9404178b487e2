"""The numbers of a bench (success rate and spread, pass@k, flaky tasks), compare and merge."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.bench.compare import compare, merge
from agent.bench.results import BenchRecord, BenchWriter, RunEntry, read_bench
from agent.bench.summary import bench_summary, pass_at_k, summary_lines
from agent.errors import BenchError
from tests.helpers import REPO


def entry(task: str, repeat: int, status: str, steps: int = 3, seconds: float = 2.0, run_dir: str | None = None):
    return RunEntry(task_id=task, task_file=f"{task}.yaml", repeat=repeat, status=status, steps=steps,
                    duration_s=seconds, run_dir=run_dir or f"runs/{task}-{repeat}")


def bench(folder: Path, runs: list[RunEntry], **extra) -> Path:
    planned = [[e.task_id, e.repeat] for e in runs]
    record = BenchRecord(bench_id=folder.name, suite={"name": "s"}, policy={"name": "scripted"},
                         planned=planned, runs=runs, complete=True, **extra)
    BenchWriter(folder, record).save()
    return folder


def test_pass_at_k_matches_its_definition():
    assert pass_at_k(3, 0, 1) == 0.0 and pass_at_k(3, 3, 2) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - (3 * 2) / (4 * 3))  # 1 - C(3,2)/C(4,2)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_summary_has_rate_spread_pass_at_k_flaky_and_medians():
    runs = [entry("a", 1, "success", 2), entry("a", 2, "success", 4), entry("a", 3, "success", 9),
            entry("b", 1, "failure"), entry("b", 2, "success"), entry("b", 3, "max_steps"),
            entry("c", 1, "error"), entry("c", 2, "failure"), entry("c", 3, "aborted")]
    summary = bench_summary(runs, [[e.task_id, e.repeat] for e in runs])
    assert summary["finished"] == 8 and summary["aborted"] == 1
    assert summary["success_rate"] == pytest.approx(4 / 8, abs=1e-4)
    spread = summary["success_rate_over_repeats"]
    # repeat 1: a only (1/3); repeat 2: a, b (2/3); repeat 3: a of a, b (c aborted, not counted) (1/2)
    assert spread["min"] == pytest.approx(1 / 3, abs=1e-4) and spread["max"] == pytest.approx(2 / 3, abs=1e-4)
    assert spread["mean"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3, abs=1e-4)
    assert spread["std"] > 0
    assert summary["flaky"] == ["b"]
    assert summary["tasks"]["a"]["median_steps"] == 4
    assert summary["pass_at_k"]["pass@1"] == pytest.approx((1 + 1 / 3 + 0) / 3, abs=1e-4)
    assert summary["pass_at_k"]["pass@3"] == pytest.approx(1.0, abs=1e-4)  # a and b only (c has 2 finished runs)
    assert any("flaky: b" in line for line in summary_lines(summary))


def test_runs_without_checks_are_finished_but_never_successes():
    from agent.bench.results import FINISHED
    from agent.bench.scoreboard import MEANINGS, SYMBOLS

    runs = [entry("adhoc", 1, "done"), entry("adhoc", 2, "gave_up"), entry("t", 1, "success")]
    summary = bench_summary(runs, [[e.task_id, e.repeat] for e in runs])
    assert summary["finished"] == 3 and summary["success_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["statuses"] == {"done": 1, "gave_up": 1, "success": 1}
    assert any(line.startswith("no checks: 2 runs of tasks without checks (done 1, gave_up 1)")
               for line in summary_lines(summary))
    assert {"done", "gave_up"} <= set(FINISHED)  # a resumed bench does not redo them
    assert SYMBOLS["done"] != SYMBOLS["success"] and "no checks" in MEANINGS["done"]


def test_compare_names_fixed_broken_and_the_rate_difference(tmp_path):
    a = bench(tmp_path / "a", [entry("x", 1, "success"), entry("y", 1, "failure"), entry("z", 1, "success"),
                               entry("only_a", 1, "success")])
    b = bench(tmp_path / "b", [entry("x", 1, "success"), entry("y", 1, "success"), entry("z", 1, "error")])
    result = compare(read_bench(a), read_bench(b))
    assert result.fixed == ["y"] and result.broke == ["z"] and result.only_a == ["only_a"]
    assert result.difference == pytest.approx(2 / 3 - 3 / 4, abs=1e-3)
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "bench", "compare", str(a), str(b)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "fixed (1): y" in proc.stdout and "broke (1): z" in proc.stdout
    assert "-8.3 points" in proc.stdout


def test_merge_joins_shards_and_rewrites_run_folders(tmp_path):
    one = bench(tmp_path / "one", [entry("x", 1, "success"), entry("x", 2, "failure")], shard="1/2")
    two = bench(tmp_path / "two", [entry("y", 1, "success"), entry("y", 2, "success")], shard="2/2")
    merged = merge([one, two], tmp_path / "all")
    assert read_bench(tmp_path / "all").summary["finished"] == 4
    assert merged.shard is None and merged.summary["flaky"] == ["x"]
    assert (tmp_path / "all" / merged.runs[0].run_dir).resolve() == (one / "runs/x-1").resolve()
    with pytest.raises(BenchError, match="also in another"):
        merge([one, one], tmp_path / "twice")


def test_merge_of_some_slices_says_which_are_missing_and_is_not_complete(tmp_path):
    one = bench(tmp_path / "one", [entry("x", 1, "success")], shard="1/3")
    three = bench(tmp_path / "three", [entry("z", 1, "success")], shard="3/3")
    merged = merge([one, three], tmp_path / "all")
    assert merged.complete is False and read_bench(tmp_path / "all").complete is False
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "bench", "merge", str(one), str(three), "-o",
                           str(tmp_path / "again")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "slices 2/3 are missing" in proc.stderr
    other_cut = bench(tmp_path / "other", [entry("y", 1, "success")], shard="2/4")
    with pytest.raises(BenchError, match="not slices of one cut"):
        merge([one, other_cut], tmp_path / "mixed")
    whole = bench(tmp_path / "whole", [entry("y", 1, "success")])
    with pytest.raises(BenchError, match="not a slice"):
        merge([one, whole], tmp_path / "mixed")


def test_merge_refuses_benches_of_other_settings(tmp_path):
    one = bench(tmp_path / "one", [entry("x", 1, "success")])
    other = bench(tmp_path / "two", [entry("y", 1, "success")], run_settings={"max_steps": 3})
    with pytest.raises(BenchError, match="run settings"):
        merge([one, other], tmp_path / "all")
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "bench", "merge", str(one), str(other), "-o",
                           str(tmp_path / "all")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "run settings" in proc.stderr and "Traceback" not in proc.stderr


def test_a_folder_without_bench_json_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "bench", "compare", str(tmp_path), str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "bench.json" in proc.stderr and "Traceback" not in proc.stderr


def test_the_progress_line_counts_done_passed_running_and_estimates_the_rest():
    import io

    from agent.bench.progress import Progress

    stream = io.StringIO()
    progress = Progress(4, stream=stream)
    progress.started("a#1")
    progress.started("b#1")
    progress.finished("a#1", "success")
    line = progress.line()
    assert line.startswith("[1/4] passed 1 · running: b#1 · elapsed 0:0") and "ETA" in line and "ETA ?" not in line
    progress.finished("b#1", "failure")
    assert progress.line().startswith("[2/4] passed 1 · running: -")
    assert "success   a#1" in stream.getvalue() and "failure   b#1" in stream.getvalue()
