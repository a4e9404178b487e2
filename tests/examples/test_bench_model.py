"""examples/bench/bench_model.py: the table's speedup arithmetic (no timing asserted)."""
from __future__ import annotations


def test_bench_table_reports_speedups_in_the_right_direction():
    from bench_model import table

    ours = {"vision_ms": 100.0, "prefill_ms": 50.0, "decode_tokens_per_s": 30.0,
            "vision_ms_best": 90.0, "prefill_ms_best": 40.0, "decode_tokens_per_s_best": 33.0}
    reference = {"vision_ms": 200.0, "prefill_ms": 25.0, "decode_tokens_per_s": 10.0,
                 "vision_ms_best": 90.0, "prefill_ms_best": 40.0, "decode_tokens_per_s_best": 11.0}
    lines = table(ours, reference).splitlines()
    # Columns: median speedup, paired (= median without per-run values), best-run speedup.
    assert lines[1].split()[-3:] == ["2.00x", "2.00x", "1.00x"]  # half the time: twice as fast
    assert lines[2].split()[-3:] == ["0.50x", "0.50x", "1.00x"]  # twice the time: half as fast
    assert lines[3].split()[-3:] == ["3.00x", "3.00x", "3.00x"]  # tokens/s: higher is better


def test_paired_speedup_is_the_median_of_run_by_run_ratios():
    from bench_model import speedups

    # Load drifts up during the runs; ours is 10% faster in two of three back-to-back pairs, while the
    # medians (of runs that met different load) say ours is slower.
    ours = {"vision_ms": 300.0, "vision_ms_best": 90.0, "vision_ms_runs": [90.0, 300.0, 900.0]}
    reference = {"vision_ms": 250.0, "vision_ms_best": 100.0, "vision_ms_runs": [100.0, 250.0, 1000.0]}
    median, paired, best = speedups(ours, reference, "vision_ms", higher_is_better=False)
    assert round(median, 2) == 0.83 and round(paired, 2) == 1.11 and round(best, 2) == 1.11
    tokens = {"decode_tokens_per_s": 1.0, "decode_tokens_per_s_best": 1.0, "decode_tokens_per_s_runs": [2.0, 4.0, 8.0]}
    theirs = {"decode_tokens_per_s": 1.0, "decode_tokens_per_s_best": 1.0, "decode_tokens_per_s_runs": [1.0, 4.0, 2.0]}
    assert speedups(tokens, theirs, "decode_tokens_per_s", higher_is_better=True)[1] == 2.0
