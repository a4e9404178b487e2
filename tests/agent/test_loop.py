"""The step cycle with small real parts: a synthetic screen, a scripted policy, the dry-run executor."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from PIL import Image

from actions import DryRunExecutor, FailSafeTriggered, ScreenGeometry
from agent.errors import PolicyUnavailable
from agent.loop import LoopConfig, run_loop
from agent.policies.base import Reply
from agent.policies.profiles import PROFILES
from agent.policies.replay import ReplayPolicy
from agent.policies.scripted import ScriptedPolicy
from agent.trace import RunMeta, TraceWriter, new_run_id, now_iso, read_run
from tests.helpers import REPO


def call(arguments: dict) -> str:
    return f'<tool_call>\n{json.dumps({"name": "computer_use", "arguments": arguments})}\n</tool_call>'


CLICK = "Thought: the menu is at the top.\n" + call({"action": "left_click", "coordinate": [500, 250]})
DONE = call({"action": "terminate", "status": "success"})
PROSE = "I think I should click the Edit menu now."


class SyntheticScreen:
    """A fixed 800x600 screenshot on a monitor at (-800, 0) — a second monitor left of the primary."""

    def __init__(self):
        self.geometry = ScreenGeometry(screenshot_width=800, screenshot_height=600, logical_width=800,
                                       logical_height=600, offset_x=-800, offset_y=0)

    def capture(self):
        return Image.new("RGB", (800, 600), (40, 90, 160)), self.geometry


class RecordingPolicy(ScriptedPolicy):
    """A scripted policy that also keeps the history it was shown at each step."""

    def __init__(self, outputs, on_next=None):
        super().__init__(outputs)
        self.seen = []
        self.on_next = on_next

    def next(self, observation, history):
        self.seen.append([(t.model_output, t.error) for t in history])
        if self.on_next:
            self.on_next(len(self.seen))
        return super().next(observation, history)


def writer(tmp_path: Path) -> TraceWriter:
    meta = RunMeta(run_id=new_run_id("t"), task_id="t", instruction="do it", policy="scripted",
                   max_steps=10, started_at=now_iso())
    return TraceWriter(tmp_path, meta)


def run(tmp_path, outputs, max_steps=10, executor=None, abort=None, policy=None, errors=3):
    trace = writer(tmp_path)
    policy = policy or RecordingPolicy(outputs)
    executor = executor or DryRunExecutor()
    outcome = run_loop(policy, SyntheticScreen(), executor, trace, "do it",
                       LoopConfig(max_steps=max_steps, settle_s=0, max_consecutive_errors=errors), abort)
    return outcome, trace, policy, executor


def test_click_then_terminate_maps_to_screen_and_records_every_step(tmp_path):
    outcome, trace, _, executor = run(tmp_path, [CLICK, DONE])
    assert (outcome.reason, outcome.terminate_status, outcome.steps) == ("terminate", "success", 2)
    steps = read_run(trace.dir).steps
    assert [s.step for s in steps] == [0, 1]
    assert steps[0].actions == [{"action": "left_click", "coordinate": [500, 250]}]
    # grid 500/1000 of 800 px = 400, monitor offset -800 → -400; 250/1000 of 600 = 150
    assert steps[0].executed[0]["coordinate"] == [-400, 150]
    assert steps[0].thought == "the menu is at the top."
    assert (trace.dir / steps[0].screenshot).exists()
    assert set(steps[0].timings_ms) >= {"capture", "model", "execute"}
    assert [(a.action, a.coordinate) for a in executor.executed[:1]] == [("left_click", (-400, 150))]


def test_parse_error_is_shown_to_the_policy_on_the_next_step(tmp_path):
    outcome, trace, policy, _ = run(tmp_path, [PROSE, CLICK, DONE])
    assert outcome.reason == "terminate"
    steps = read_run(trace.dir).steps
    assert steps[0].error.kind == "parse" and steps[0].executed == []
    previous_output, previous_error = policy.seen[1][0]
    assert previous_output == PROSE and previous_error == steps[0].error.message


def test_consecutive_parse_errors_end_the_run_with_error(tmp_path):
    outcome, trace, _, executor = run(tmp_path, [PROSE] * 5, errors=3)
    assert outcome.reason == "error" and outcome.steps == 3
    assert executor.executed == []


def test_a_good_step_resets_the_failure_count(tmp_path):
    outcome, *_ = run(tmp_path, [PROSE, PROSE, CLICK, PROSE, PROSE, DONE], errors=3)
    assert outcome.reason == "terminate"


def test_an_answer_ends_the_run_and_carries_its_exact_text(tmp_path):
    text = "model answered: 42\nsecond line"  # the text is a field, never re-read from the message
    outcome, *_ = run(tmp_path, [CLICK, call({"action": "answer", "text": text}), CLICK])
    assert (outcome.reason, outcome.steps, outcome.answer) == ("answer", 2, text)
    terminated, *_ = run(tmp_path, [DONE])
    assert terminated.answer is None


def test_step_limit(tmp_path):
    outcome, trace, *_ = run(tmp_path, [CLICK] * 10, max_steps=4)
    assert outcome.reason == "max_steps" and len(read_run(trace.dir).steps) == 4


def test_out_of_range_coordinate_is_an_exec_error_not_a_click(tmp_path):
    bad = call({"action": "left_click", "coordinate": [1500, 20]})
    outcome, trace, _, executor = run(tmp_path, [bad, DONE])
    first = read_run(trace.dir).steps[0]
    assert first.error.kind == "exec" and "1500" in first.error.message
    assert [a.action for a in executor.executed] == ["terminate"]


def test_abort_event_and_ctrl_c_end_with_aborted_and_keep_steps(tmp_path):
    abort = threading.Event()
    policy = RecordingPolicy([CLICK] * 10, on_next=lambda n: n == 3 and abort.set())
    outcome, trace, *_ = run(tmp_path, [], abort=abort, policy=policy)
    assert outcome.reason == "aborted" and len(read_run(trace.dir).steps) == 3

    def interrupt(n):
        if n == 2:
            raise KeyboardInterrupt
    policy = RecordingPolicy([CLICK] * 10, on_next=interrupt)
    outcome, trace, *_ = run(tmp_path, [], policy=policy)
    assert outcome.reason == "aborted" and len(read_run(trace.dir).steps) == 1


class UITarsLikePolicy:
    """Replies as the http policy does under --profile uitars15: UI-TARS text, pixels of the resized screenshot."""

    name = "http"

    def __init__(self, texts, image_size=(812, 616)):  # 800x600 resized to multiples of 28
        self.texts, self.image_size = list(texts), image_size
        profile = PROFILES["uitars15"]
        self.contract = {"output_format": profile.output_format, "coordinates": profile.coordinates}

    def start(self, instruction):
        pass

    def next(self, observation, history):
        return Reply(self.texts.pop(0), image_size=self.image_size, **self.contract)

    def close(self):
        pass


def test_a_replay_of_a_uitars_http_trace_maps_coordinates_as_the_original_run(tmp_path):
    texts = ["Thought: the menu.\nAction: click(start_box='(406,154)')",
             "Thought: drag it.\nAction: drag(start_box='(28,56)', end_box='(784,588)')",
             "Thought: done.\nAction: finished(content='ok')"]
    original, first, _, first_exec = run(tmp_path / "a", [], policy=UITarsLikePolicy(texts))
    replayed, second, _, second_exec = run(tmp_path / "b", [], policy=ReplayPolicy(first.dir))
    recorded, replay = read_run(first.dir).steps, read_run(second.dir).steps
    assert [s.executed for s in replay] == [s.executed for s in recorded] and recorded[0].executed
    assert first_exec.executed == second_exec.executed
    # (406, 154) of 812x616 is half the width and a quarter of the height: x 400 - 800 (monitor offset), y 150
    assert recorded[0].executed[0]["coordinate"] == [-400, 150]
    assert [(s.output_format, s.coordinates, s.image_size) for s in replay] == [("uitars", "pixels", [812, 616])] * 3
    assert (original.reason, original.steps) == (replayed.reason, replayed.steps)


def test_replay_of_a_trace_without_the_contract_fields_reads_it_as_the_old_loop_did(tmp_path):
    _, trace, *_ = run(tmp_path / "a", [CLICK, DONE])
    steps = trace.dir / "steps.jsonl"
    old = [json.loads(line) for line in steps.read_text().splitlines()]
    for record in old:
        for name in ("output_format", "coordinates", "image_size"):
            record.pop(name, None)
    steps.write_text("".join(json.dumps(record) + "\n" for record in old))
    policy = ReplayPolicy(trace.dir)
    reply = policy.next(None, [])
    assert (reply.output_format, reply.coordinates, reply.image_size) == ("auto", "grid1000", None)
    _, again, *_ = run(tmp_path / "b", [], policy=ReplayPolicy(trace.dir))
    assert read_run(again.dir).steps[0].executed[0]["coordinate"] == [-400, 150]
    old[0]["coordinates"] = "pixels"  # damaged: pixels without the size they are pixels of
    steps.write_text("".join(json.dumps(record) + "\n" for record in old))
    with pytest.raises(PolicyUnavailable, match="step 0 .* image_size"):
        ReplayPolicy(trace.dir)


def test_scripted_references_are_qwen_calls_on_the_1000_grid(tmp_path):
    policy = ScriptedPolicy([CLICK])
    first, give_up = policy.next(None, []), policy.next(None, [])
    assert [(r.output_format, r.coordinates) for r in (first, give_up)] == [("qwen", "grid1000")] * 2
    _, trace, *_ = run(tmp_path, [CLICK, DONE])
    assert {(s.output_format, s.coordinates) for s in read_run(trace.dir).steps} == {("qwen", "grid1000")}


class FailSafeException(Exception):
    """Stands in for pyautogui's exception of that name (matched by name: pyautogui loads lazily)."""


@pytest.mark.parametrize("error", [FailSafeException, FailSafeTriggered])
def test_failsafe_from_the_executor_aborts(tmp_path, error):
    class CornerExecutor(DryRunExecutor):
        def execute(self, action):
            raise error("mouse in corner")

    outcome, trace, *_ = run(tmp_path, [CLICK, DONE], executor=CornerExecutor())
    assert outcome.reason == "aborted" and "FAILSAFE" in outcome.message
    (only,) = read_run(trace.dir).steps
    assert only.error.kind == "exec" and only.executed == []


SLOW_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from actions import DryRunExecutor
    from agent.loop import LoopConfig, run_loop
    from agent.policies.scripted import ScriptedPolicy
    from agent.trace import RunMeta, TraceWriter, now_iso
    from tests.agent.test_loop import CLICK, SyntheticScreen

    class Slow(ScriptedPolicy):
        def next(self, observation, history):
            if observation.step >= 3:
                print("READY", flush=True)
                time.sleep(60)
            return super().next(observation, history)

    meta = RunMeta(run_id="killed", task_id="t", instruction="x", policy="scripted", max_steps=50,
                   started_at=now_iso())
    trace = TraceWriter(Path({runs!r}), meta)
    run_loop(Slow([CLICK] * 50), SyntheticScreen(), DryRunExecutor(), trace, "x", LoopConfig(max_steps=50, settle_s=0))
""")


def test_sigkill_keeps_every_finished_step_readable(tmp_path):
    script = SLOW_RUN.format(runs=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout.readline().strip() == "READY"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    run = read_run(tmp_path / "killed")
    assert [s.step for s in run.steps] == [0, 1, 2]
    assert run.result is None and any("result.json" in p for p in run.problems)
    assert all((run.path / s.screenshot).exists() for s in run.steps)
