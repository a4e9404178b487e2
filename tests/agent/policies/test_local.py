"""LocalPolicy: the agent's model backend, a Session with the computer_use tool, on a tiny checkpoint."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from actions.coords import ScreenGeometry
from agent.errors import PolicyUnavailable
from agent.policies.base import Observation, Turn
from agent.policies.local import LocalPolicy
from agent.policies.prompt import computer_use_tool
from tests.helpers import REPO
from tests.model.runtime.session_helpers import screenshot

STEPS = 5


def run_policy(policy: LocalPolicy, steps: int, error: str | None = None) -> list:
    """Drive the policy like the loop does: one screenshot per step, each reply recorded with `error`."""
    history, replies = [], []
    for step in range(steps):
        image = screenshot(100 + step, (192, 128))
        reply = policy.next(Observation(image, ScreenGeometry.flat(*image.size), step), history)
        history.append(Turn(reply.text, error))
        replies.append(reply)
    return replies


def test_steps_reuse_the_cache_and_report_counters(ours):
    policy = LocalPolicy("tiny", loaded=ours, max_pixels=192 * 128, history_images=2, max_new_tokens=8)
    policy.start("Open the settings of the text editor.")
    replies = run_policy(policy, STEPS, error="no <tool_call> found in the reply")
    counters = [reply.counters for reply in replies]
    for name in ("prompt_tokens", "cached_tokens", "computed_tokens", "generated_tokens", "images_encoded",
                 "images_from_cache", "vision_ms", "prefill_ms", "decode_ms"):
        assert all(name in c for c in counters), name
    assert counters[0]["cached_tokens"] == 0
    for c in counters[1:]:
        assert c["cached_tokens"] > c["computed_tokens"]  # the system prompt and earlier steps are reused
        assert c["images_encoded"] == 1
    assert max(c["images"] for c in counters) <= 3  # history_images=2, dropped two at a time
    prompt = ours.tokenizer.decode(policy.session.render().input_ids)
    assert json.dumps(computer_use_tool(), ensure_ascii=False) in prompt  # the tool, via the template
    assert "Open the settings of the text editor." in prompt
    # each step after the first shows the previous step's parse error
    assert prompt.count("no <tool_call> found in the reply") == STEPS - 1
    policy.close()


def test_start_begins_a_new_conversation(ours):
    policy = LocalPolicy("tiny", loaded=ours, max_pixels=192 * 128, max_new_tokens=4)
    policy.start("first task")
    run_policy(policy, 2)
    policy.start("second task")
    first = run_policy(policy, 1)[0].counters
    prompt = ours.tokenizer.decode(policy.session.render().input_ids)
    assert "second task" in prompt and "first task" not in prompt
    assert first["images"] == 1
    assert first["cached_tokens"] == 0  # a new KV cache, but the shared encoder cache holds the first task's screenshot
    assert (first["images_encoded"], first["images_from_cache"]) == (0, 1)


def test_missing_folder_names_the_alternatives(tmp_path):
    with pytest.raises(PolicyUnavailable, match="--policy scripted") as error:
        LocalPolicy(str(tmp_path / "no-such-checkpoint"))
    assert "--policy replay --recording RUN_DIR" in str(error.value)


def test_uncached_hub_model_offline_names_the_alternatives(tmp_path):
    code = ("from agent.policies.local import LocalPolicy\n"
            "from agent.errors import PolicyUnavailable\n"
            "try:\n    LocalPolicy('Qwen/Qwen3-VL-2B-Instruct')\n"
            "except PolicyUnavailable as error:\n    print('UNAVAILABLE', error)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("UNAVAILABLE"), out.stderr
    assert "Qwen/Qwen3-VL-2B-Instruct" in out.stdout and "--policy scripted" in out.stdout


class ChangingScreen:
    """A synthetic 192x128 desktop whose picture changes at every capture."""

    def __init__(self):
        self.captures = 0

    def capture(self):
        image = screenshot(200 + self.captures, (192, 128))
        self.captures += 1
        return image, ScreenGeometry.flat(*image.size)


def test_agent_loop_records_parse_errors_and_counters(ours, tmp_path):
    from actions import DryRunExecutor
    from agent.loop import LoopConfig, run_loop
    from agent.trace import RunMeta, TraceWriter, now_iso, read_run

    policy = LocalPolicy("tiny", loaded=ours, max_pixels=192 * 128, history_images=2, max_new_tokens=8)
    meta = RunMeta(run_id="local-tiny", task_id="t", instruction="Open the settings.", policy="local",
                   max_steps=6, started_at=now_iso())
    trace = TraceWriter(tmp_path, meta)
    outcome = run_loop(policy, ChangingScreen(), DryRunExecutor(), trace, "Open the settings.",
                       LoopConfig(max_steps=6, settle_s=0, max_consecutive_errors=4))
    steps = read_run(trace.dir).steps
    # a random model writes no tool call: each step is a parse error, and the run stops cleanly
    assert outcome.reason == "error" and len(steps) == 4
    assert all(step.error is not None and step.error.kind == "parse" for step in steps)
    assert all(step.counters["prompt_tokens"] > 0 and "decode_ms" in step.counters for step in steps)
    assert all(step.counters["cached_tokens"] > 0 for step in steps[1:])
    # the session showed the model each parse error in the following user turn
    prompt = ours.tokenizer.decode(policy.session.render().input_ids)
    assert steps[2].error.message in prompt
