"""A MoE checkpoint through everything above the model: the multi-turn Session (each turn equal to a
from-scratch transformers Qwen3VLMoeForConditionalGeneration run), the local policy, and `agent run`."""
from __future__ import annotations

import pytest
import torch

from model.load.loader import from_pretrained
from model.runtime.history import HistoryPolicy
from model.runtime.session import Session
from model.runtime.vision_guard import vision_token_ids
from tests.e2e.test_cli_runs import NEEDS_DESKTOP, agent
from tests.model.runtime.session_helpers import reference_greedy, reference_logits, screenshot

NEW_TOKENS = 6
SIZES = [(64, 64), (128, 96), (96, 64), (128, 64), (64, 96)]


@pytest.fixture(scope="module")
def moe_folder(tiny_checkpoint):
    return tiny_checkpoint("moe", seed=3)


@pytest.fixture(scope="module")
def loaded(moe_folder):
    return from_pretrained(moe_folder, device="cpu", dtype="float32")


def test_every_session_turn_equals_a_full_transformers_run(loaded, moe_folder):
    from transformers import Qwen3VLMoeForConditionalGeneration

    reference = Qwen3VLMoeForConditionalGeneration.from_pretrained(moe_folder, dtype=torch.float32).eval()
    session = Session(loaded, system="You are a helpful assistant.", history=HistoryPolicy(keep_images=2, drop_chunk=2))
    greedy = loaded.generation_defaults.with_overrides(temperature=0.0, max_new_tokens=NEW_TOKENS)
    replies = []
    for turn, size in enumerate(SIZES):
        session.add_user(f"step {turn}: what next?", images=[screenshot(turn, size)])
        state = session.prefill(reserve=NEW_TOKENS)
        torch.testing.assert_close(state.logits, reference_logits(reference, state.prompt), atol=2e-5, rtol=1e-4)
        reply = session.decode(state, greedy)
        expected = reference_greedy(reference, state.prompt, NEW_TOKENS, vision_token_ids(loaded.tokenizer))
        assert reply.token_ids == expected, f"turn {turn}"
        replies.append(reply.counters)
    assert all(c.cached_tokens > c.computed_tokens for c in replies[1:3])  # the history is reused
    assert any(c.images_dropped for c in replies)  # and a screenshot drop rebuilt the cache, still exact


def test_local_policy_steps_on_a_moe_checkpoint(loaded):
    from actions.coords import ScreenGeometry
    from agent.policies.base import Observation, Turn
    from agent.policies.local import LocalPolicy

    policy = LocalPolicy("tiny-moe", loaded=loaded, max_pixels=192 * 128, history_images=2, max_new_tokens=8)
    policy.start("Open the settings of the text editor.")
    history, counters = [], []
    for step in range(3):
        image = screenshot(200 + step, (192, 128))
        reply = policy.next(Observation(image, ScreenGeometry.flat(*image.size), step), history)
        history.append(Turn(reply.text, "no <tool_call> found in the reply"))
        counters.append(reply.counters)
    assert counters[0]["cached_tokens"] == 0 and counters[0]["images_encoded"] == 1
    assert all(c["cached_tokens"] > c["computed_tokens"] > 0 for c in counters[1:])
    assert all(0 < c["generated_tokens"] <= 8 for c in counters)
    policy.close()


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_agent_run_with_a_moe_checkpoint_ends_cleanly(moe_folder, tmp_path):
    from agent.trace import list_runs, read_run

    proc = agent("run", "tasks/open_settings.yaml", "--model", str(moe_folder), "--device", "cpu",
                 "--dtype", "float32", "--max-pixels", str(320 * 200), "--history-images", "2",
                 "--max-steps", "4", "--max-new-tokens", "24", "--runs-dir", str(tmp_path), timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out, out[-3000:]
    (run_dir,) = list_runs(tmp_path)
    run = read_run(run_dir)
    assert run.meta.policy == "local" and run.meta.model == str(moe_folder)
    assert run.result.status in ("error", "max_steps", "failure") and run.steps and run.problems == []
    first, *later = [s.counters for s in run.steps]
    assert first["prompt_tokens"] > 0 and first["images_encoded"] == 1 and first["cached_tokens"] == 0
    assert all(0 < c["cached_tokens"] and c["computed_tokens"] < c["prompt_tokens"] / 4 for c in later)
