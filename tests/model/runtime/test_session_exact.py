"""A cached multi-turn Session gives, every turn, the logits and greedy tokens of a from-scratch
transformers run over the whole conversation (float32, tiny random checkpoint)."""
from __future__ import annotations

import pytest
import torch

from model.errors import KVBudgetError
from model.runtime.history import HistoryPolicy
from model.runtime.session import Session
from model.runtime.vision_guard import NoVisionTokens, vision_token_ids
from tests.model.runtime.session_helpers import SIZES, reference_greedy, reference_logits, screenshot

NEW_TOKENS = 6
SYSTEM = "You are a helpful assistant."


def greedy(model, max_new_tokens: int = NEW_TOKENS):
    """Greedy decoding with the checkpoint's stop ids (the ones transformers' generate uses too)."""
    return model.generation_defaults.with_overrides(temperature=0.0, max_new_tokens=max_new_tokens)


def run_turn(session, reference, turn: int, text: str | None = None):
    """Add a screenshot turn, check prefill logits and greedy tokens against transformers; return counters."""
    session.add_user(text or f"step {turn}: what next?", images=[screenshot(turn, SIZES[turn % len(SIZES)])])
    state = session.prefill(reserve=NEW_TOKENS)
    expected = reference_logits(reference, state.prompt)
    torch.testing.assert_close(state.logits, expected, atol=2e-5, rtol=1e-4)
    reply = session.decode(state, greedy(session.loaded))
    expected_ids = reference_greedy(reference, state.prompt, NEW_TOKENS, vision_token_ids(session.tokenizer))
    assert reply.token_ids == expected_ids, f"turn {turn}"
    return state, reply


def test_every_turn_equals_a_full_transformers_run(ours, reference):
    session = Session(ours, system=SYSTEM, history=HistoryPolicy(keep_images=None))
    previous_cache = 0
    for turn in range(7):
        state, reply = run_turn(session, reference, turn)
        counters = reply.counters
        assert counters.images == turn + 1 and counters.images_encoded == 1
        assert counters.cached_tokens == previous_cache  # everything the cache held is reused
        assert counters.computed_tokens == counters.prompt_tokens - counters.cached_tokens
        if turn:
            assert counters.computed_tokens < counters.prompt_tokens / 2
        assert counters.kv_cache_tokens == counters.prompt_tokens + counters.generated_tokens - 1
        previous_cache = counters.kv_cache_tokens


def test_history_truncation_stays_exact_and_rebuilds_only_every_chunk(ours, reference):
    policy = HistoryPolicy(keep_images=2, drop_chunk=2)
    session = Session(ours, system=SYSTEM, history=policy)
    rebuilds, previous, previous_cache_tokens = [], None, 0
    for turn in range(8):
        state, reply = run_turn(session, reference, turn)
        counters = reply.counters
        assert counters.images <= policy.max_images
        if counters.images_dropped:
            rebuilds.append(turn)
            assert policy.marker in ours.tokenizer.decode(state.prompt.input_ids)
            # rebuilt from the first changed token, the <|vision_start|> of the oldest screenshot the
            # previous turn still had; the kept older screenshot comes from the encoder cache
            assert counters.cached_tokens == previous.prompt.spans[0].start - 1
            assert (counters.images_encoded, counters.images_from_cache) == (1, 1)
        else:  # nothing dropped: everything the cache held is reused (nothing on the first turn)
            assert counters.cached_tokens == previous_cache_tokens
            assert counters.images_from_cache == 0
        previous, previous_cache_tokens = state, counters.kv_cache_tokens
    assert rebuilds == [3, 5, 7]


def test_assistant_turns_keep_the_generated_ids(ours, reference):
    session = Session(ours, system=SYSTEM)
    session.add_user("hi", images=[screenshot(0)])
    # ids a tokenizer would never produce for this text: one token per character
    odd_ids = [ours.tokenizer.encode(ch)[0] for ch in "hello world"]
    assert ours.tokenizer.encode("hello world") != odd_ids
    session.add_assistant(odd_ids + [ours.tokenizer.special.im_end])
    session.add_user("and now?", images=[screenshot(1)])
    prompt = session.render().input_ids
    start = next(i for i in range(len(prompt)) if prompt[i:i + len(odd_ids)] == odd_ids)
    assert prompt[start + len(odd_ids)] == ours.tokenizer.special.im_end
    state = session.prefill()
    torch.testing.assert_close(state.logits, reference_logits(reference, state.prompt), atol=2e-5, rtol=1e-4)


def test_repeated_screenshot_is_encoded_once(ours):
    session = Session(ours, system=SYSTEM)
    same = screenshot(5, (96, 64))
    session.add_user("look", images=[same])
    first = session.generate(greedy(ours, 2)).counters
    session.add_user("again", images=[same.copy()])
    second = session.generate(greedy(ours, 2)).counters
    assert (first.images_encoded, first.images_from_cache) == (1, 0)
    assert (second.images_encoded, second.images_from_cache) == (0, 1)


def test_chunked_prefill_gives_the_same_logits(ours):
    logits = []
    for chunk in (8192, 7):
        session = Session(ours, system=SYSTEM, prefill_chunk=chunk)
        session.add_user("two screenshots", images=[screenshot(0, (128, 96)), screenshot(1)])
        logits.append(session.prefill().logits)
    torch.testing.assert_close(logits[0], logits[1], atol=2e-5, rtol=1e-4)


def prompt_lengths(model, turns: int) -> list[int]:
    """Prompt tokens of each turn of the budget conversation without any budget."""
    session = Session(model, system=SYSTEM, history=HistoryPolicy(keep_images=None))
    lengths = []
    for turn in range(turns):
        session.add_user(f"step {turn}", images=[screenshot(turn, (256, 192))])  # 48 tokens each
        lengths.append(session.generate(greedy(model, 4)).counters.prompt_tokens)
    return lengths


@pytest.mark.parametrize("on_budget", ["drop", "error"])
def test_kv_budget_drops_screenshots_or_fails_clearly(ours, on_budget):
    lengths = prompt_lengths(ours, 3)
    budget = lengths[2] + 4 - 1  # the third turn does not fit with all three screenshots
    session = Session(ours, system=SYSTEM, history=HistoryPolicy(keep_images=None, drop_chunk=1),
                      max_kv_tokens=budget, on_budget=on_budget)
    for turn in range(3):
        session.add_user(f"step {turn}", images=[screenshot(turn, (256, 192))])
        if on_budget == "error" and turn == 2:
            with pytest.raises(KVBudgetError, match=f"budget is {budget} tokens"):
                session.prefill(reserve=4)
            return
        reply = session.generate(greedy(ours, 4))
        assert reply.counters.kv_cache_tokens <= budget
    assert (reply.counters.images_dropped, reply.counters.images) == (1, 2)


def test_budget_too_small_for_one_screenshot_fails_clearly(ours):
    session = Session(ours, system=SYSTEM, max_kv_tokens=20)
    session.add_user("step", images=[screenshot(0, (128, 96))])
    with pytest.raises(KVBudgetError, match="1 screenshot"):
        session.prefill()


def test_replies_never_contain_vision_placeholders(ours):
    guarded = NoVisionTokens(ours.model, ours.tokenizer)
    logits = torch.zeros(2, ours.config.text.vocab_size)
    banned = vision_token_ids(ours.tokenizer)
    logits = guarded.mask(logits)
    assert torch.isinf(logits[:, banned]).all() and (logits[:, banned] < 0).all()
    assert ours.tokenizer.special.image_pad in banned and ours.tokenizer.special.im_end not in banned
    assert torch.isfinite(logits).sum() == 2 * (ours.config.text.vocab_size - len(banned))
