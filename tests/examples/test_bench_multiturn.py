"""examples/bench/bench_multiturn.py runs end to end (tiny sizes) and writes a table-shaped JSON."""
from __future__ import annotations

import json



def test_bench_smoke(tmp_path, capsys):
    import bench_multiturn  # examples/bench/ is on pytest's pythonpath (pyproject.toml)

    out = tmp_path / "bench.json"
    assert bench_multiturn.main(["--turns", "3", "--width", "128", "--height", "96", "--new-tokens", "3",
                                 "--history-images", "1", "--drop-chunk", "1", "--repeats", "1",
                                 "--preset", "merge2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    turns = result["turns"]
    assert [row["turn"] for row in turns] == [1, 2, 3]
    assert result["summary"]["all_tokens_match"]
    for row in turns[1:]:
        # the reference re-reads the held conversation; the session computes only what changed
        assert row["reference"]["tokens_computed"] == row["prompt_tokens"]
        assert row["ours"]["tokens_computed"] < row["prompt_tokens"]
        assert row["reference"]["images_encoded"] == 1 and row["ours"]["images_encoded"] == 1
    assert "speedup" in capsys.readouterr().out
