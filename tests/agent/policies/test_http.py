"""The http policy against scripted servers: vLLM-shaped replies, the conversation it sends, failures."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from actions import DryRunExecutor, ScreenGeometry, parse
from agent.errors import PolicyUnavailable
from agent.loop import LoopConfig, run_loop
from agent.policies.base import Observation, Turn
from agent.policies.http import HttpPolicy
from agent.policies.http_client import RetryPolicy
from agent.policies.prompt import conversation_tools
from agent.trace import RunMeta, TraceWriter, new_run_id, now_iso, read_run
from tests.agent.policies.fake_server import Answer, Script, fake_server, free_port_nobody_listens_on

VLLM = json.loads((Path(__file__).resolve().parent / "vllm_responses.json").read_text())
SCREEN = (1280, 800)


def shot(seed: int = 0, size=SCREEN) -> Image.Image:
    return Image.new("RGB", size, (seed * 40 % 256, 90, 160))


def policy(url: str, sleeps: list | None = None, **options) -> HttpPolicy:
    options.setdefault("retry", RetryPolicy(attempts=3, backoff_s=0.01))
    made = HttpPolicy(url, options.pop("model", "served-model"), sleep=(sleeps.append if sleeps is not None else None),
                      **options)
    made.start("Open the preferences.")
    return made


def step(p: HttpPolicy, index: int, history: list, size=SCREEN):
    return p.next(Observation(shot(index, size), ScreenGeometry.flat(*size), index), history)


def sent_image(part: dict) -> Image.Image:
    url = part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_vllm_text_reply_usage_and_the_request_sent():
    script = Script(chat=[Answer(200, VLLM["text_reply"])])
    with fake_server(script) as url:
        p = policy(url, max_pixels=640 * 400, max_new_tokens=77)
        reply = step(p, 0, [])
    assert reply.error is None and "<tool_call>" in reply.text
    assert (reply.output_format, reply.coordinates, reply.image_size) == ("qwen", "grid1000", (640, 384))
    assert reply.counters == {"prompt_tokens": 3172, "generated_tokens": 43, "cached_tokens": 3056,
                              "computed_tokens": 116, "retries": 0}
    body = script.requests[-1]["json"]
    assert body["model"] == "served-model" and body["max_tokens"] == 77 and body["temperature"] == 0.0
    assert body["tools"] == conversation_tools() and body["tool_choice"] == "none"
    system, user = body["messages"]
    assert system == {"role": "system", "content": "You are a helpful assistant."}
    assert user["content"][0] == {"type": "text", "text": "Open the preferences."}
    assert sent_image(user["content"][1]).size == (640, 384)  # smart_resize: multiples of 32 within budget
    assert parse(reply.text).actions[0].coordinate == (296, 224)


def test_server_parsed_tool_calls_become_the_reply_text():
    with fake_server(Script(chat=[Answer(200, VLLM["hermes_tool_call"])])) as url:
        reply = step(policy(url), 0, [])
    assert reply.text.startswith("Thought: Type the file name.\n<tool_call>")
    [action] = parse(reply.text, reply.output_format).actions
    assert (action.action, action.text) == ("type", "note.txt")
    assert "cached_tokens" not in reply.counters  # vLLM sent prompt_tokens_details: null


def test_reasoning_comes_before_the_answer():
    with fake_server(Script(chat=[Answer(200, VLLM["thinking_reply"])])) as url:
        reply = step(policy(url), 0, [])
    parsed = parse(reply.text)
    assert parsed.actions[0].action == "terminate" and "dialog is open" in reply.text.split("</think>")[0]


def test_the_history_is_append_only_and_drops_screenshots_in_chunks():
    script = Script(chat=[Answer(200, VLLM["text_reply"])])
    with fake_server(script) as url:
        p = policy(url, max_pixels=320 * 200, history_images=2)
        history = []
        for index in range(5):
            reply = step(p, index, history)
            history.append(Turn(reply.text, "bad click" if index == 1 else None))
    bodies = [r["json"]["messages"] for r in script.requests]
    for before, after in zip(bodies, bodies[1:]):
        assert len(after) == len(before) + 2 and after[len(before)]["role"] == "assistant"
    images = [[part["type"] for m in msgs if m["role"] == "user" for part in m["content"] if part["type"] != "text"
               or part["text"] == "[earlier screenshot omitted]"] for msgs in bodies]
    # keep 2, drop 2 at a time: 1, 2, 3 screenshots, then the oldest two leave together
    assert [row.count("image_url") for row in images] == [1, 2, 3, 2, 3]
    assert bodies[3][1]["content"][1] == {"type": "text", "text": "[earlier screenshot omitted]"}
    assert "bad click" in bodies[2][-1]["content"][1]["text"]  # the step-1 error is fed back at step 2


def test_retries_on_503_and_429_then_succeeds():
    script = Script(chat=[Answer(503, {"error": {"message": "loading"}}),
                          Answer(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
                          Answer(200, VLLM["text_reply"])])
    sleeps = []
    with fake_server(script) as url:
        reply = step(policy(url, sleeps), 0, [])
    assert reply.error is None and reply.counters["retries"] == 2
    assert sleeps == [0.01, 0.0]  # backoff, then the server's Retry-After
    assert len([r for r in script.requests if r["method"] == "POST"]) == 3


def test_a_server_that_keeps_failing_gives_a_step_error_not_an_exception():
    with fake_server(Script(chat=[Answer(500, b"<html>boom</html>")])) as url:
        reply = step(policy(url, []), 0, [])
    assert reply.error.startswith("model call failed") and "500" in reply.error and "gave up after 3" in reply.error


def test_server_down_and_timeouts_are_step_errors(capsys):
    down = policy(f"http://127.0.0.1:{free_port_nobody_listens_on()}", [])
    assert "cannot reach" in step(down, 0, []).error
    down.check()  # an unreachable server is left to the steps, not refused at start …
    warning = capsys.readouterr().err  # … but the person hears about it before the desktop starts
    assert warning.startswith("warning: cannot reach http://127.0.0.1:") and "--endpoint" in warning
    with fake_server(Script(chat=[Answer(200, VLLM["text_reply"], delay_s=5)])) as url:
        slow = policy(url, [], timeout_s=0.3, retry=RetryPolicy(attempts=2, backoff_s=0))
        assert "did not answer in time" in step(slow, 0, []).error


def test_401_is_not_retried_and_names_the_key_variable():
    script = Script(chat=[Answer(401, {"error": {"message": "Invalid API key"}})])
    with fake_server(script) as url:
        p = policy(url, [], api_key_env="MY_KEY", environ={"MY_KEY": "sk-secret-123"})
        reply = step(p, 0, [])
        assert "401" in reply.error and "--api-key-env" in reply.error and "sk-secret-123" not in reply.error
        assert "sk-secret-123" not in json.dumps(p.describe())
    posts = [r for r in script.requests if r["method"] == "POST"]
    assert len(posts) == 1 and posts[0]["headers"]["Authorization"] == "Bearer sk-secret-123"


def test_unknown_model_names_what_the_server_serves():
    script = Script(chat=[Answer(404, VLLM["model_not_found"])], models=Answer(200, VLLM["models"]))
    with fake_server(script) as url:
        reply = step(policy(url, [], model="Qwen/Qwen3-VL-2B"), 0, [])
        assert "Qwen/Qwen3-VL-8B-Instruct" in reply.error
        with pytest.raises(PolicyUnavailable, match="Qwen/Qwen3-VL-8B-Instruct"):
            policy(url, model="Qwen/Qwen3-VL-2B").check()
    with fake_server(Script(models=Answer(401, {"error": {"message": "no key"}}))) as url:
        with pytest.raises(PolicyUnavailable, match="401"):
            policy(url).check()


@pytest.mark.parametrize("body, words", [(b"not json at all", "not JSON"), ({"id": "x"}, "choices[0]"),
                                         ({"choices": [{"index": 0}]}, "choices[0].message"),
                                         ({"choices": [{"message": {"content": 42}}]}, "not text")])
def test_malformed_bodies_are_step_errors(body, words):
    with fake_server(Script(chat=[Answer(200, body)])) as url:
        assert words in step(policy(url, []), 0, []).error


def test_missing_key_variable_stops_before_the_run():
    with pytest.raises(PolicyUnavailable, match="NOPE_KEY"):
        HttpPolicy("http://127.0.0.1:9/v1", "m", api_key_env="NOPE_KEY", environ={})
    with pytest.raises(PolicyUnavailable, match="profile"):
        HttpPolicy("http://127.0.0.1:9/v1", "m", profile="gpt")


def run_through_loop(url: str, steps: int, tmp_path: Path, **options):
    p = policy(url, [], **options)
    meta = RunMeta(run_id=new_run_id("h"), task_id="h", instruction="x", policy="http", max_steps=steps,
                   started_at=now_iso())
    trace = TraceWriter(tmp_path, meta)

    class Screen:
        def capture(self):
            return shot(0, (200, 150)), ScreenGeometry.flat(200, 150)

    executor = DryRunExecutor()
    outcome = run_loop(p, Screen(), executor, trace, "Open the preferences.",
                       LoopConfig(max_steps=steps, settle_s=0, max_consecutive_errors=3))
    return outcome, read_run(trace.dir).steps, executor, p


def test_the_loop_survives_a_failed_call_and_resumes_the_conversation(tmp_path):
    script = Script(chat=[Answer(503, {"error": {"message": "overloaded"}}), Answer(200, VLLM["text_reply"])])
    with fake_server(script) as url:
        outcome, steps, _, _ = run_through_loop(url, 2, tmp_path, retry=RetryPolicy(attempts=1))
    assert outcome.reason == "max_steps"
    assert steps[0].error.kind == "policy" and "503" in steps[0].error.message
    assert steps[1].error is None and steps[1].executed
    second = script.requests[-1]["json"]["messages"]
    assert [m["role"] for m in second] == ["system", "user"]  # the failed turn was not kept
    assert second[1]["content"][0]["text"] == "Open the preferences."


def test_a_dead_server_ends_the_run_cleanly_after_three_failed_steps(tmp_path):
    outcome, steps, _, _ = run_through_loop(f"http://127.0.0.1:{free_port_nobody_listens_on()}", 8, tmp_path,
                                            retry=RetryPolicy(attempts=1))
    assert outcome.reason == "error" and len(steps) == 3
    assert all(s.error.kind == "policy" for s in steps)


def test_uitars_profile_maps_pixels_of_the_resized_screenshot(tmp_path):
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content":
             "Thought: the button.\nAction: click(start_box='(84,56)')"}, "finish_reason": "stop"}]}
    script = Script(chat=[Answer(200, reply)])
    with fake_server(script) as url:
        outcome, steps, executor, p = run_through_loop(url, 1, tmp_path, profile="uitars15")
    body = script.requests[-1]["json"]
    assert "tools" not in body and body["messages"][0]["role"] == "user"  # UI-TARS: no system turn, no tools
    assert "Action space" in body["messages"][0]["content"][0]["text"]
    assert steps[0].image_size == [196, 140] and steps[0].coordinates == "pixels"  # 200x150 → multiples of 28
    assert steps[0].output_format == "uitars"
    # (84, 56) of 196x140 is 3/7 and 2/5 of the screen: x = floor(84 * 200 / 196) = 85, y = 60
    assert steps[0].executed[0]["coordinate"] == [85, 60]
    assert p.describe()["profile"] == "uitars15"
