"""The official `openai` client against `agent serve`: images, tools, streaming and non-streaming."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

openai = pytest.importorskip("openai", reason="the openai client is a dev dependency (pip install -e '.[dev]')")

from agent.policies.prompt import conversation_tools  # noqa: E402
from agent.serve.engine import Outcome  # noqa: E402
from tests.agent.serve.serve_helpers import running_server  # noqa: E402


def data_url(seed: int, size=(96, 64)) -> str:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def user(text: str, seed: int) -> dict:
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url(seed)}},
                                        {"type": "text", "text": text}]}


@pytest.fixture
def client(served):
    url, _ = served
    with openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120) as client:
        yield client


def test_models_lists_the_served_model(client):
    assert [m.id for m in client.models.list().data] == ["tiny"]


def test_image_and_tools_non_streaming_then_cached_second_turn(client):
    messages = [{"role": "system", "content": "You are a helpful assistant."}, user("What is on screen?", 1)]
    first = client.chat.completions.create(model="tiny", messages=messages, tools=conversation_tools(),
                                           max_tokens=6, temperature=0)
    choice = first.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert first.usage.completion_tokens >= 1
    bare = client.chat.completions.create(model="tiny", messages=messages, max_tokens=1, temperature=0)
    assert first.usage.prompt_tokens > bare.usage.prompt_tokens + 100  # the tool schema went into the prompt

    messages += [{"role": "assistant", "content": choice.message.content}, user("And now?", 2)]
    second = client.chat.completions.create(model="tiny", messages=messages, tools=conversation_tools(),
                                            max_tokens=6, temperature=0)
    assert second.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens


def test_streaming_gives_the_same_text_as_non_streaming(client):
    messages = [user("Describe the screen.", 3)]
    whole = client.chat.completions.create(model="tiny", messages=messages, max_tokens=10, temperature=0)
    stream = client.chat.completions.create(model="tiny", messages=messages, max_tokens=10, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens > 0  # same prompt as the request before


def test_seeded_sampling_is_repeatable_and_honoured(client):
    messages = [user("Anything.", 4)]
    runs = [client.chat.completions.create(model="tiny", messages=messages, max_tokens=12, temperature=1.5,
                                           top_p=0.95, seed=7).choices[0].message.content for _ in range(2)]
    greedy = client.chat.completions.create(model="tiny", messages=messages, max_tokens=12,
                                            temperature=0).choices[0].message.content
    assert runs[0] == runs[1]
    assert runs[0] != greedy
    assert len(greedy) > 4
    stop = greedy[2:4]
    stopped = client.chat.completions.create(model="tiny", messages=messages, max_tokens=12, temperature=0, stop=[stop])
    assert stopped.choices[0].message.content == greedy[:greedy.index(stop)]


TOOL_REPLY = ('Thought: the menu.\n<tool_call>\n{"name": "computer_use", "arguments": '
              '{"action": "left_click", "coordinate": [10, 20]}}\n</tool_call>')


def scripted_engine(server, text: str, monkeypatch):
    """Make the engine answer `text` (as a model that writes a tool call would), streaming it in pieces."""
    engine = server.config.engine

    def serve(job):
        if job.request.stream:
            for piece in (text[:10], text[10:]):
                job.events.put(("text", piece))
        return "done", Outcome(text, "stop_token", 50, 0, 30)

    monkeypatch.setattr(engine, "_serve", serve)


def test_tool_calls_come_back_parsed_and_as_text(loaded, monkeypatch):
    with running_server(loaded) as (url, server):
        scripted_engine(server, TOOL_REPLY, monkeypatch)
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        tools = conversation_tools()
        reply = client.chat.completions.create(model="tiny", messages=[user("Click.", 5)], tools=tools)
        message = reply.choices[0].message
        assert message.content == TOOL_REPLY and reply.choices[0].finish_reason == "tool_calls"
        [call] = message.tool_calls
        assert call.function.name == "computer_use"
        assert json.loads(call.function.arguments) == {"action": "left_click", "coordinate": [10, 20]}

        chunks = list(client.chat.completions.create(model="tiny", messages=[user("Click.", 5)], tools=tools,
                                                     stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        calls = [t for c in chunks for t in (c.choices[0].delta.tool_calls or [])]
        assert text == TOOL_REPLY and [t.function.name for t in calls] == ["computer_use"]
        assert chunks[-1].choices[0].finish_reason == "tool_calls"

        none = client.chat.completions.create(model="tiny", messages=[user("Click.", 5)], tools=tools,
                                              tool_choice="none")
        assert none.choices[0].message.tool_calls is None and none.choices[0].message.content == TOOL_REPLY
        client.close()
