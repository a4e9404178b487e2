"""examples/bench/gpu_check.py: a clear exit 2 without CUDA, and its comparisons checked on CPU in float32."""
from __future__ import annotations

import os
import subprocess
import sys

import gpu_check  # examples/bench/ is on pytest's pythonpath (pyproject.toml)
import pytest
import torch

from tests.helpers import REPO


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_cuda_it_stops_with_exit_2():
    done = subprocess.run([sys.executable, "examples/bench/gpu_check.py"], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: gpu_check needs a CUDA GPU")


@pytest.mark.parametrize("backend", gpu_check.backends_here("cpu", "float32"))
def test_the_comparisons_pass_on_cpu_in_float32(tiny_checkpoint, backend):
    """The same checks the GPU run makes, on CPU: every row ok, float32 logits and all tokens agree."""
    rows = gpu_check.check_backend(tiny_checkpoint("merge2"), "cpu", "float32", backend)
    assert [row["check"] for row in rows] == ["single turn"] + [f"session turn {t}" for t in range(1, gpu_check.TURNS + 1)]
    for row in rows:
        assert row["ok"], row
        agreeing, produced = row["tokens_agree"].split("/")
        assert agreeing == produced  # float32: every greedy token equal
        assert row["logit_rel_error"] is None or row["logit_rel_error"] < 1e-4
    assert all(row["cached_tokens"] > 0 for row in rows[2:])  # later turns reuse the cache
    table = gpu_check.markdown(rows)
    assert table.count("\n") == len(rows) + 1 and f"| {backend} |" in table


def test_backends_on_cpu_are_the_two_forced_chunk_paths():
    assert gpu_check.backends_here("cpu", "float32") == ["sdpa_mask", "lse_split"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_turns_follow_transformers_on_cuda(tiny_checkpoint, dtype):
    """On CUDA, every backend there (flash when installed, sdpa with the bottom-right mask) stays within
    half-precision rounding of transformers, turn after turn."""
    for backend in gpu_check.backends_here("cuda", dtype):
        rows = gpu_check.check_backend(tiny_checkpoint("merge2"), "cuda", dtype, backend)
        assert all(row["ok"] for row in rows), gpu_check.markdown(rows)
