"""The http policy against `agent serve` answers exactly as the local policy, through the real loop.

Both drive the same synthetic screens through agent.loop.run_loop; every step's reply must match
token for token, the prompts must have the same length (the same conversation), and from step 2 on the
server must report that it served the earlier conversation from its KV cache.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from actions import DryRunExecutor, ScreenGeometry
from agent.loop import LoopConfig, run_loop
from agent.policies.http import HttpPolicy
from agent.policies.local import LocalPolicy
from agent.trace import RunMeta, TraceWriter, new_run_id, now_iso, read_run
from tests.agent.serve.serve_helpers import running_server

STEPS = 6
MAX_PIXELS = 192 * 128
INSTRUCTION = "Open the preferences of the text editor."


class ChangingScreen:
    """A different synthetic screenshot at every capture (200x150, like a small desktop)."""

    def __init__(self):
        self.count = 0
        self.geometry = ScreenGeometry.flat(200, 150)

    def capture(self):
        rng = np.random.default_rng(self.count)
        self.count += 1
        return Image.fromarray(rng.integers(0, 256, size=(150, 200, 3), dtype=np.uint8)), self.geometry


def drive(policy, runs_dir):
    """Run the real loop for STEPS steps (random replies fail to parse: every step is fed back)."""
    meta = RunMeta(run_id=new_run_id("eq"), task_id="eq", instruction=INSTRUCTION, policy=policy.name,
                   max_steps=STEPS, started_at=now_iso())
    trace = TraceWriter(runs_dir, meta)
    run_loop(policy, ChangingScreen(), DryRunExecutor(), trace, INSTRUCTION,
             LoopConfig(max_steps=STEPS, settle_s=0, max_consecutive_errors=STEPS + 1))
    return read_run(trace.dir).steps


def test_http_policy_through_serve_equals_local_policy(loaded, tmp_path):
    local = LocalPolicy("tiny", loaded=loaded, max_pixels=MAX_PIXELS, history_images=2, max_new_tokens=12)
    local_steps = drive(local, tmp_path / "local")
    local_replies = [t.token_ids for t in local.session.conversation.turns if hasattr(t, "token_ids")]

    with running_server(loaded) as (url, server):
        remote = HttpPolicy(url, "tiny", max_pixels=MAX_PIXELS, history_images=2, max_new_tokens=12,
                            min_pixels=loaded.processor_config.min_pixels)
        remote.check()
        http_steps = drive(remote, tmp_path / "http")
        remote.close()
        [session] = server.config.engine.pool.sessions  # one conversation, continued every step
        served_replies = [t.token_ids for t in session.conversation.turns if hasattr(t, "token_ids")]

    assert len(local_steps) == len(http_steps) == STEPS
    assert [s.model_output for s in http_steps] == [s.model_output for s in local_steps]
    assert served_replies == local_replies  # token for token, not just the same text
    assert [s.counters["prompt_tokens"] for s in http_steps] == [s.counters["prompt_tokens"] for s in local_steps]
    assert http_steps[0].counters["cached_tokens"] == 0
    for step in http_steps[1:]:
        assert step.counters["cached_tokens"] > 0
    # the history policy dropped screenshots in chunks on both sides, and the server kept up
    assert max(s.counters["cached_tokens"] for s in http_steps) > http_steps[1].counters["cached_tokens"]
    for step in http_steps:
        assert (step.output_format, step.coordinates, step.image_size) == ("qwen", "grid1000", [160, 128])
