"""Session verbs a server and a policy use instead of reaching into a Session: settings, fork, adopt,
cached_prefix, kv_tokens/kv_bytes, reset."""
from __future__ import annotations

import dataclasses

import pytest

from model.runtime.conversation import Conversation, UserTurn
from model.runtime.history import HistoryPolicy
from model.runtime.session import Session
from model.runtime.settings import SessionSettings
from tests.model.runtime.session_helpers import screenshot

SYSTEM = "You are a helpful assistant."
REPLY = dict(max_new_tokens=3, temperature=0.0)


def config(loaded):
    return loaded.generation_defaults.with_overrides(**REPLY)


def test_settings_come_from_one_object_and_keyword_overrides(merge2_loaded):
    settings = SessionSettings(history=HistoryPolicy(keep_images=2), max_pixels=96 * 64, prefill_chunk=64)
    session = Session(merge2_loaded, settings=settings, max_kv_tokens=500)
    assert session.settings == dataclasses.replace(settings, max_kv_tokens=500)
    assert Session(merge2_loaded).settings == SessionSettings()  # the defaults live in SessionSettings only
    with pytest.raises(ValueError, match="on_budget must be 'drop' or 'error'"):
        Session(merge2_loaded, on_budget="shrug")
    with pytest.raises(TypeError):
        Session(merge2_loaded, max_pixel=1)  # a misspelt knob is an error, not ignored


def test_fork_is_a_new_conversation_sharing_the_encoder_cache(merge2_loaded):
    session = Session(merge2_loaded, system=SYSTEM, tools=[{"type": "function", "function": {"name": "f"}}],
                      max_pixels=96 * 64)
    session.add_user("first", images=[screenshot(1)])
    session.generate(config(merge2_loaded))
    twin = session.fork()
    assert twin.settings == session.settings and twin.kv_tokens == 0 and twin.conversation.turns == []
    assert (twin.conversation.system, twin.conversation.tools) == (session.conversation.system,
                                                                    session.conversation.tools)
    twin.add_user("again", images=[screenshot(1)])
    counters = twin.generate(config(merge2_loaded)).counters
    assert counters.cached_tokens == 0  # its own, empty KV cache
    assert (counters.images_encoded, counters.images_from_cache) == (0, 1)  # the shared encoder cache
    assert session.kv_tokens > 0  # the original keeps its conversation and cache
    assert len(session.conversation.turns) == 2


def test_adopt_and_cached_prefix(merge2_loaded):
    session = Session(merge2_loaded, system=SYSTEM)
    assert session.cached_prefix(session.conversation) == 0 and session.kv_tokens == 0 and session.kv_bytes == 0
    image = session.prepare_image(screenshot(2))
    session.adopt(Conversation(system=SYSTEM, turns=[UserTurn([image, "what is this?"])]))
    reply = session.generate(config(merge2_loaded))
    held, current = session.kv_tokens, session.conversation
    assert held == reply.counters.kv_cache_tokens and session.kv_bytes > 0
    resent = Conversation(system=SYSTEM, turns=list(current.turns) + [UserTurn(["and now?"])])
    assert session.cached_prefix(resent) == held  # everything cached is a prefix of the resent history
    other = Conversation(system="Another system prompt.", turns=[UserTurn([image, "what is this?"])])
    assert 0 < session.cached_prefix(other) < held  # only the tokens before the system text match
    # asking changes nothing
    assert session.conversation is current and len(current.turns) == 2 and session.kv_tokens == held
    session.adopt(resent)
    counters = session.generate(config(merge2_loaded)).counters
    assert counters.cached_tokens == held and counters.images_encoded == 0


def test_reset_keeps_settings_and_encoder_cache(merge2_loaded):
    session = Session(merge2_loaded, system=SYSTEM, max_pixels=96 * 64)
    session.add_user("hi", images=[screenshot(3)])
    session.generate(config(merge2_loaded))
    session.reset()
    assert session.kv_tokens == 0 and session.conversation.turns == [] and session.conversation.system == SYSTEM
    session.add_user("hi", images=[screenshot(3)])
    counters = session.generate(config(merge2_loaded)).counters
    assert counters.cached_tokens == 0 and counters.images_from_cache == 1
