"""examples/bench/bench_serve.py runs end to end (tiny sizes) and writes a table-shaped JSON."""
from __future__ import annotations

import json



def test_bench_serve_smoke(tmp_path, capsys):
    import bench_serve  # examples/bench/ is on pytest's pythonpath (pyproject.toml)

    out = tmp_path / "bench.json"
    assert bench_serve.main(["--turns", "3", "--width", "160", "--height", "128", "--max-pixels", str(160 * 128),
                             "--new-tokens", "3", "--preset", "merge2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["turns"]
    assert [row["turn"] for row in rows] == [1, 2, 3]
    assert rows[0]["cached"]["cached_tokens"] == 0
    for row in rows[1:]:
        assert row["cached"]["cached_tokens"] > row["cached"]["prompt_tokens"] // 2  # the cached server reuses
        assert row["reread"]["cached_tokens"] == 0  # the baseline computes everything every turn
    assert result["summary"]["reread_cached_tokens"] == 0
    assert "speedup" in capsys.readouterr().out
