"""`agent serve` refuses bad requests in the OpenAI error shape, queues with 503, and keeps conversations apart."""
from __future__ import annotations

import threading

import httpx
import pytest

from agent.serve.engine import Outcome
from tests.agent.serve.serve_helpers import running_server
from tests.agent.serve.test_openai_client import data_url, user


def post(url: str, body, headers=None, **kwargs) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else None
    return httpx.post(f"{url}/chat/completions", json=None if content is not None else body, content=content,
                      headers=headers, timeout=120, **kwargs)


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert "Traceback" not in response.text
    return error


def ask(url: str, messages, **extra) -> dict:
    response = post(url, {"model": "tiny", "messages": messages, "max_tokens": 4, "temperature": 0, **extra})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("body, param, words", [
    (b"{not json", None, "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, None, "nested too deeply"),
    ({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages[0].content[0].text", "must be a string"),
    ({"model": "tiny"}, "messages", "non-empty list"),
    ({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}]},
     "messages[0].content[0]", "base64"),
    ({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}]}]},
     "messages[0].content[0]", "not a readable image"),
    ({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}]}]},
     "messages[0].content[0]", "remote image URLs"),
    ({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "/etc/hostname"}}]}]},
     "messages[0].content[0]", "--allow-local-images"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]},
     "messages", "last message"),
    ({"model": "tiny", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role", "role"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, "temperature", "number"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens", "between"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "n": 3}, "n", "n=1"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}},
     "response_format", "not supported"),
])
def test_bad_requests_get_400_naming_the_field(served, body, param, words):
    url, _ = served
    error = error_of(post(url, body), 400)
    assert error["param"] == param and words in error["message"]


def test_unknown_model_and_route_are_404(served):
    url, _ = served
    error = error_of(post(url, {"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}), 404)
    assert error["code"] == "model_not_found" and "tiny" in error["message"]
    error_of(httpx.get(f"{url}/completions"), 404)


def test_api_key_is_required_when_configured(loaded):
    with running_server(loaded, api_key="s3cret") as (url, _):
        assert httpx.get(url.replace("/v1", "/health")).status_code == 200
        error_of(httpx.get(f"{url}/models"), 401)
        error_of(httpx.get(f"{url}/models", headers={"Authorization": "Bearer nope"}), 401)
        ok = httpx.get(f"{url}/models", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["data"][0]["id"] == "tiny"


def test_local_images_only_with_the_flag(loaded, tmp_path):
    from PIL import Image

    path = tmp_path / "shot.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(path)
    message = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"file://{path}"}},
                                            {"type": "text", "text": "hi"}]}]
    with running_server(loaded, allow_local_images=True) as (url, _):
        assert ask(url, message)["usage"]["prompt_tokens"] > 4


def test_a_full_queue_answers_503(loaded, monkeypatch):
    serving, release = threading.Event(), threading.Event()
    with running_server(loaded, queue_size=1) as (url, server):
        def slow(job):
            serving.set()
            release.wait(60)
            return "done", Outcome("ok", "stop_token", 1, 0, 1)

        engine = server.config.engine
        monkeypatch.setattr(engine, "_serve", slow)
        body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}
        answers = []

        def send():
            answers.append(post(url, body).status_code)

        first = threading.Thread(target=send)
        first.start()
        assert serving.wait(60)  # the engine is busy with the first request
        second = threading.Thread(target=send)
        second.start()
        for _ in range(500):  # bounded wait until the second one sits in the queue
            if engine.jobs.full():
                break
            threading.Event().wait(0.02)
        error = error_of(post(url, body), 503)
        assert error["code"] == "queue_full"
        release.set()
        for worker in (first, second):
            worker.join(60)
        assert answers == [200, 200]


def test_interleaved_conversations_keep_their_own_cache(served):
    url, server = served
    a = [user("Task A.", 10)]
    b = [user("Task B.", 20)]
    first_a = ask(url, a)
    first_b = ask(url, b)
    a += [{"role": "assistant", "content": first_a["choices"][0]["message"]["content"]}, user("next", 11)]
    b += [{"role": "assistant", "content": first_b["choices"][0]["message"]["content"]}, user("next", 21)]
    second_a, second_b = ask(url, a), ask(url, b)
    assert second_a["usage"]["prompt_tokens_details"]["cached_tokens"] >= first_a["usage"]["prompt_tokens"]
    assert second_b["usage"]["prompt_tokens_details"]["cached_tokens"] >= first_b["usage"]["prompt_tokens"]


def test_a_reply_edited_by_the_client_is_rendered_as_text(served):
    url, _ = served
    messages = [user("Task C.", 30)]
    first = ask(url, messages)
    messages += [{"role": "assistant", "content": "something else entirely"}, user("next", 31)]
    second = ask(url, messages)
    cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert first["usage"]["prompt_tokens"] - 5 <= cached < second["usage"]["prompt_tokens"]


def test_pool_of_one_evicts_and_no_cache_rereads(loaded):
    with running_server(loaded, pool_size=1) as (url, server):
        a, b = [user("Task A.", 40)], [user("Task B.", 41)]
        reply_a = ask(url, a)
        ask(url, b)  # takes the only slot
        a += [{"role": "assistant", "content": reply_a["choices"][0]["message"]["content"]}, user("next", 42)]
        again = ask(url, a)
        assert again["usage"]["prompt_tokens_details"]["cached_tokens"] < reply_a["usage"]["prompt_tokens"]
        assert len(server.config.engine.pool.sessions) == 1
    with running_server(loaded, no_cache=True) as (url, server):
        messages = [user("Task D.", 50)]
        reply = ask(url, messages)
        messages += [{"role": "assistant", "content": reply["choices"][0]["message"]["content"]}, user("n", 51)]
        assert ask(url, messages)["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


def test_kv_budget_limits_the_pool_and_refuses_what_cannot_fit(loaded):
    text = loaded.config.text
    per_token = 2 * text.num_hidden_layers * text.num_key_value_heads * text.head_dim * 4  # float32
    budget_tokens = (1 << 20) // per_token
    with running_server(loaded, kv_budget_mib=1) as (url, server):
        error = error_of(post(url, {"model": "tiny", "max_tokens": 4,
                                    "messages": [{"role": "user", "content": "x " * budget_tokens}]}), 400)
        assert error["code"] == "context_length_exceeded"
        pool = server.config.engine.pool
        for seed in range(3):  # each conversation holds over a third of the budget
            ask(url, [{"role": "user", "content": f"{seed} " + "y " * (budget_tokens // 3)}])
            assert pool.kv_bytes() <= 1 << 20
        assert len(pool.sessions) < 3


def big_user(text: str, seed: int) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text},
                                        {"type": "image_url", "image_url": {"url": data_url(seed, (256, 256))}}]}


def test_dropping_the_oldest_screenshot_continues_the_same_conversation(loaded):
    with running_server(loaded) as (url, server):
        messages = [big_user("Task E.", 70)]
        for seed in (71, 72):
            reply = ask(url, messages)
            messages += [{"role": "assistant", "content": reply["choices"][0]["message"]["content"]},
                         big_user("next", seed)]
        last = ask(url, messages)["choices"][0]["message"]["content"]
        messages[0]["content"][1] = {"type": "text", "text": "[earlier screenshot omitted]"}  # the client drops it
        messages += [{"role": "assistant", "content": last}, {"role": "user", "content": "go on"}]
        dropped = ask(url, messages)
        pool = server.config.engine.pool
        assert len(pool.sessions) == 1  # served in place: the stale copy is not kept beside it
        assert 0 < dropped["usage"]["prompt_tokens_details"]["cached_tokens"] < 64  # the text before the image
