"""`agent bench` on real sandboxes: the core suite, wrong answers, interrupt + resume, two benches at once."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.bench.progress import Progress
from agent.bench.results import read_bench
from agent.bench.runner import BenchOptions, run_bench
from agent.bench.suite import folder_suite, load_suite
from agent.policies import POLICIES, PolicyEntry
from agent.policies.base import Reply
from agent.settings import PolicySettings, RunSettings
from agent.trace import list_runs, read_run
from tests.helpers import REPO, WAIT, task_copy

pytestmark = pytest.mark.desktop

CALL = '<tool_call>\n{{"name": "computer_use", "arguments": {}}}\n</tool_call>'


class WrongPolicy:
    """Answers wrongly, each task its own way: claims success, babbles, or dawdles."""

    name = "test-wrong"

    def __init__(self, task_id: str):
        self.task_id = task_id

    def start(self, instruction: str) -> None:
        pass

    def next(self, observation, history) -> Reply:
        if self.task_id.startswith("claims"):
            return Reply(CALL.format('{"action": "terminate", "status": "success"}'))
        if self.task_id.startswith("babbles"):
            return Reply("I think the settings are somewhere. Let me look around.")
        return Reply(CALL.format('{"action": "wait", "time": 0.1}'))

    def describe(self) -> dict:
        return {"policy": self.name}

    def close(self) -> None:
        pass


def build_wrong(settings, task) -> WrongPolicy:
    """The builder of the test-only policy "test-wrong" (added to the table by the `wrong_policy` fixture)."""
    return WrongPolicy(task.id)


@pytest.fixture
def wrong_policy(monkeypatch):
    """`--policy test-wrong` for one test: a row in the policy table that points at build_wrong."""
    monkeypatch.setitem(POLICIES, "test-wrong", PolicyEntry(f"{__name__}:build_wrong", "answers wrongly (tests only)", ()))


def bench_in_process(suite, out: Path, policy: str = "scripted", parallel: int = 2, max_steps=None):
    options = BenchOptions(suite=suite, policy=PolicySettings(name=policy), settings=RunSettings(max_steps=max_steps),
                           out=out, parallel=parallel)
    return run_bench(options, threading.Event(), Progress(0, stream=io.StringIO()))


def why_not(out: Path, entry) -> str:
    """One line per run that did not succeed: task, repeat, status, message and the checks that failed."""
    failed = []
    if entry.run_dir and (result := read_run(out / entry.run_dir).result) is not None:
        failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.passed]
    return f"{entry.task_id} #{entry.repeat}: {entry.status} ({entry.message}) {'; '.join(failed)} → {entry.run_dir}"


def test_core_suite_with_the_scripted_policy_passes_every_task(tmp_path):
    # This test is where every shipped task's reference solution is proven: the core suite is every file in
    # tasks/, and each must succeed with --policy scripted. A failure names each failing task, its status,
    # message and failed checks. (tests/e2e/test_cli_runs.py drives `agent run` itself on open_settings.)
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "bench", "tasks/suites/core.yaml", "--policy", "scripted",
                           "--parallel", "2", "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert (out / "bench.json").is_file(), proc.stderr[-3000:]
    record = read_bench(out)
    failing = [why_not(out, e) for e in record.runs if e.status != "success"]
    missing = [f"{task} #{repeat}: never ran" for task, repeat in record.planned
               if (task, repeat) not in {e.key for e in record.runs}]
    assert not failing + missing, "tasks whose reference solution did not succeed:\n" + "\n".join(failing + missing)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tasks = load_suite(REPO / "tasks/suites/core.yaml").task_files
    assert record.complete and len(record.runs) == len(tasks) == record.summary["finished"]
    assert record.summary["success_rate"] == 1.0 and record.summary["pass_at_k"]["pass@1"] == 1.0
    assert record.parallel == 2 and record.machine["cpus"] and record.versions["python"] and record.ended_at
    assert record.suite["name"] == "core" and record.policy["name"] == "scripted"
    for e in record.runs:
        run = read_run(out / e.run_dir)
        assert run.result.status == "success" and e.steps == run.result.steps > 0 and e.duration_s > 0
    assert "running:" in proc.stderr and "success 100.0%" in proc.stdout


def test_a_policy_that_answers_wrong_fails_every_task_with_the_right_status(tmp_path, wrong_policy):
    tasks = tmp_path / "tasks"
    for name in ("claims", "babbles", "dawdles"):
        task_copy(tasks, "open_settings", name, max_steps=4)
    task_copy(tasks, "open_settings", "zz_cannot_start",
              sandbox={"apps": ["no-such-app-anywhere"], "wait_windows": ["Mousepad$"], "timeout": 3})
    record = bench_in_process(folder_suite(tasks), tmp_path / "bench", policy="test-wrong")
    statuses = {e.task_id: e.status for e in record.runs}
    assert statuses == {"claims": "failure", "babbles": "error", "dawdles": "max_steps", "zz_cannot_start": "error"}
    broken = next(e for e in record.runs if e.task_id == "zz_cannot_start")
    assert broken.run_dir is None and "could not start" in broken.message
    assert record.complete and record.summary["success_rate"] == 0.0


def test_an_interrupted_bench_resumes_without_redoing_finished_runs(tmp_path):
    tasks = tmp_path / "tasks"
    task_copy(tasks, "open_settings", "a_first")
    task_copy(tasks, "open_settings", "b_slow", reference=[WAIT] * 6, max_steps=8, settle_s=0.2,
              checks={"items": [{"command": "true"}]})
    task_copy(tasks, "open_settings", "c_last")
    out = tmp_path / "bench"
    command = [sys.executable, "-m", "agent.cli", "bench", str(tasks), "--policy", "scripted", "--out", str(out)]
    proc = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "running: b_slow#1" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    first = read_bench(out)
    assert {e.task_id: e.status for e in first.runs} == {"a_first": "success", "b_slow": "aborted"}
    assert not first.complete and first.summary["aborted"] == 1
    aborted = read_run(out / first.runs[1].run_dir)
    assert aborted.result.status == "aborted"

    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    final = read_bench(out)
    assert final.complete and [e.status for e in final.runs] == ["success"] * 3
    assert final.runs[0].model_dump() == first.runs[0].model_dump()  # the finished run was not redone
    names = [p.name for p in list_runs(out / "runs")]
    assert sum("a_first" in n for n in names) == 1 and sum("b_slow" in n for n in names) == 2


def test_two_benches_in_one_process_each_drive_their_own_displays(tmp_path):
    display_before = os.environ.get("DISPLAY")
    suites = {}
    for side, sources in (("left", ("save_note", "open_settings")), ("right", ("uppercase_text", "open_settings"))):
        for source in sources:
            task_copy(tmp_path / side, source, f"{side}_{source}")
        suites[side] = folder_suite(tmp_path / side)
    records = {}
    threads = [threading.Thread(target=lambda s=side: records.__setitem__(s, bench_in_process(suites[s], tmp_path / f"out-{s}")))
               for side in suites]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for side, record in records.items():
        assert [e.status for e in record.runs] == ["success", "success"], [(e.task_id, e.message) for e in record.runs]
    assert len(records) == 2 and os.environ.get("DISPLAY") == display_before
    bench_json = json.loads((tmp_path / "out-left" / "bench.json").read_text())
    assert {r["task_id"] for r in bench_json["runs"]} == {"left_save_note", "left_open_settings"}
