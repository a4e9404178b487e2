"""`agent run --policy http` against `agent serve` (both real commands, in child processes) in a real sandbox."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest

from agent.trace import list_runs, read_run
from tests.e2e.test_cli_runs import NEEDS_DESKTOP, REPO, agent

STARTUP_S = 120


@contextmanager
def agent_serve(*args: str):
    """`agent serve … --port 0` in a child process; yields its base URL; always stopped."""
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "serve", "--port", "0", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found, lines = threading.Event(), []

    def read():
        for line in proc.stderr:
            lines.append(line)
            if re.search(r"on (http://127\.0\.0\.1:\d+/v1)", line):
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not found.wait(STARTUP_S):
            raise AssertionError("agent serve did not start:\n" + "".join(lines)[-2000:])
        yield re.search(r"on (http://127\.0\.0\.1:\d+/v1)", "".join(lines)).group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from model.testing.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", preset="merge2", seed=5)


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_http_policy_runs_a_task_against_agent_serve(tiny_checkpoint, tmp_path):
    with agent_serve("--model", str(tiny_checkpoint), "--served-model-name", "tiny", "--device", "cpu",
                     "--dtype", "float32") as url:
        proc = agent("run", "tasks/open_settings.yaml", "--policy", "http", "--endpoint", url, "--model", "tiny",
                     "--max-pixels", str(320 * 200), "--history-images", "2", "--max-steps", "4",
                     "--max-new-tokens", "16", "--runs-dir", str(tmp_path), timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out, out[-3000:]
    (run_dir,) = list_runs(tmp_path)
    run = read_run(run_dir)
    assert run.meta.policy == "http"
    settings = run.meta.policy_settings
    assert settings["endpoint"] == url and settings["profile"] == "qwen3vl" and settings["model"] == "tiny"
    # a random model writes no tool call: three parse errors in a row end the run, every step kept
    assert run.result.status == "error" and len(run.steps) == 3
    assert all(s.error.kind == "parse" and s.output_format == "qwen" for s in run.steps)
    first, *later = [s.counters for s in run.steps]
    assert first["cached_tokens"] == 0
    assert all(c["cached_tokens"] > c["computed_tokens"] for c in later)  # the server kept the conversation


def test_run_with_http_refuses_bad_settings_before_any_desktop(tmp_path):
    for extra, words in (((), "--endpoint"), (("--endpoint", "ftp://x"), "http://"),
                         (("--endpoint", "http://127.0.0.1:9/v1", "--profile", "nope"), "qwen3vl, uitars15")):
        proc = agent("run", "tasks/open_settings.yaml", "--policy", "http", *extra, "--runs-dir", str(tmp_path))
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
    assert list_runs(tmp_path) == []


def test_serve_refuses_to_start_badly():
    proc = agent("serve", "--model", "/nonexistent/ckpt")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "no such checkpoint" in proc.stderr
    assert "--policy" not in proc.stderr  # the run command's alternatives mean nothing to serve
    proc = agent("serve", "--model", "x", "--host", "0.0.0.0")
    assert proc.returncode == 2 and "--allow-remote" in proc.stderr
    proc = agent("serve", "--model", "x", "--api-key-env", "SURELY_UNSET_VAR_123")
    assert proc.returncode == 2 and "SURELY_UNSET_VAR_123" in proc.stderr
