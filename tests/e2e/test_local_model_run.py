"""`agent run` with the local Qwen3-VL policy on a tiny random checkpoint, in a real sandbox."""
from __future__ import annotations

import pytest

from agent.trace import list_runs, read_run
from tests.e2e.test_cli_runs import NEEDS_DESKTOP, agent


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    pytest.importorskip("transformers", reason="the tiny checkpoint is built with transformers (dev extra)")
    from model.testing.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", preset="merge2")


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_random_model_garbage_becomes_parse_errors_and_the_run_ends_cleanly(tiny_checkpoint, tmp_path):
    proc = agent("run", "tasks/open_settings.yaml", "--model", str(tiny_checkpoint), "--device", "cpu",
                 "--dtype", "float32", "--max-pixels", str(320 * 200), "--history-images", "2",
                 "--max-steps", "6", "--max-new-tokens", "24", "--runs-dir", str(tmp_path), timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out, out[-3000:]
    (run_dir,) = list_runs(tmp_path)
    run = read_run(run_dir)
    assert run.meta.policy == "local" and run.meta.model == str(tiny_checkpoint)
    # three unparseable replies in a row stop the run with status error, every step kept
    assert run.result.status == "error" and len(run.steps) == 3 and run.problems == []
    assert all(s.error.kind == "parse" and s.executed == [] for s in run.steps)
    first, *later = [s.counters for s in run.steps]
    assert first["prompt_tokens"] > 0 and first["images_encoded"] == 1 and first["cached_tokens"] == 0
    # later turns reuse the cached history and compute only the new turn; the new screenshot is
    # encoded, or served from the encoder cache when the screen did not change (nothing was executed)
    assert all(0 < c["cached_tokens"] and c["computed_tokens"] < c["prompt_tokens"] / 4 for c in later)
    assert all(c["images_encoded"] + c["images_from_cache"] >= 1 for c in later)
    assert all(step.counters["generated_tokens"] <= 24 for step in run.steps)


def test_local_qwen3_vl_is_the_default_policy():
    help_text = " ".join(agent("run", "--help", env={"COLUMNS": "240"}).stdout.split())
    assert "[default: local]" in help_text and "Qwen/Qwen3-VL-2B-Instruct" in help_text
