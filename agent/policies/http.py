"""The http policy: any OpenAI-compatible /v1/chat/completions server (vLLM, SGLang, `agent serve`, …).

It builds the conversation the local policy builds (agent/policies/prompt.py: system turn with the
computer_use tool, the instruction before the first screenshot, feedback after each later one) and
keeps it append-only, replacing the oldest screenshots by a marker in chunks (model/runtime/history.py), so a
server's prefix cache (token ids + image content) hits on every step. Screenshots are resized here
to the pixel budget with the model's own smart_resize and sent as base64 PNG data URLs. The reply
is read from `tool_calls` when the server parsed them, else from the text; the profile says how to
parse it and which coordinate system its numbers are in.
"""
from __future__ import annotations

import base64
import io
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Sequence

from PIL import Image

from agent.errors import ModelCallError, PolicyUnavailable
from agent.policies.base import Observation, Reply, Turn
from agent.policies.http_client import ChatClient, RetryPolicy
from agent.policies.profiles import Profile, get_profile
from agent.policies.prompt import next_step_text
from agent.settings import (
    DEFAULT_DROP_CHUNK,
    DEFAULT_HISTORY_IMAGES,
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_MAX_PIXELS,
    PolicySettings,
)
from model import HistoryPolicy, drop_oldest, smart_resize, to_rgb

if TYPE_CHECKING:
    from PIL.Image import Image

    from agent.tasks import Task



def api_key_from(env_name: str | None, environ=os.environ) -> str | None:
    """The key in the named environment variable; PolicyUnavailable when the variable is empty."""
    if not env_name:
        return None
    key = environ.get(env_name, "").strip()
    if not key:
        raise PolicyUnavailable(f"--api-key-env {env_name}: that environment variable is not set or empty")
    return key


def resize_screenshot(image: "Image", factor: int, min_pixels: int, max_pixels: int) -> "Image":
    """The screenshot as the model's processor would resize it (smart_resize, bicubic), in RGB."""
    rgb = to_rgb(image)
    height, width = smart_resize(rgb.height, rgb.width, factor, min(min_pixels, max_pixels), max_pixels)
    return rgb.resize((width, height), resample=Image.Resampling.BICUBIC)


def png_data_url(image: "Image") -> str:
    """A base64 PNG data URL of the image (lossless, so the server sees exactly these pixels)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def hermes_text(tool_calls: Sequence[dict]) -> str:
    """Server-parsed tool calls written back as Qwen's <tool_call> blocks (what the model emitted)."""
    blocks = []
    for call in tool_calls:
        function = call.get("function") or {}
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                pass  # keep the text: the parser reports what is wrong with it
        body = json.dumps({"name": function.get("name"), "arguments": arguments}, ensure_ascii=False)
        blocks.append(f"<tool_call>\n{body}\n</tool_call>")
    return "\n".join(blocks)


def reply_text(message: dict[str, Any]) -> tuple[str, str]:
    """(visible text to keep in the conversation, reasoning) of a response message."""
    content = message.get("content") or ""
    if isinstance(content, list):  # some servers answer with content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str):
        raise ModelCallError(f"the reply's content is {type(content).__name__}, not text")
    calls = message.get("tool_calls") or []
    if calls and "<tool_call>" not in content:
        content = "\n".join(part for part in (content.strip(), hermes_text(calls)) if part)
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    return content, reasoning if isinstance(reasoning, str) else ""


def usage_counters(usage: Any) -> dict[str, float]:
    """Step counters from a response's `usage` (cached tokens when the server reports them)."""
    if not isinstance(usage, dict):
        return {}
    counters: dict[str, float] = {}
    for ours, theirs in (("prompt_tokens", "prompt_tokens"), ("generated_tokens", "completion_tokens")):
        if isinstance(usage.get(theirs), (int, float)):
            counters[ours] = usage[theirs]
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), (int, float)):
        counters["cached_tokens"] = details["cached_tokens"]
        if "prompt_tokens" in counters:
            counters["computed_tokens"] = counters["prompt_tokens"] - details["cached_tokens"]
    return counters


class HttpPolicy:
    """Drives the agent with a model behind an OpenAI-compatible chat endpoint."""

    name = "http"

    def __init__(self, endpoint: str, model: str, profile: str = "qwen3vl", api_key_env: str | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS, history_images: int = DEFAULT_HISTORY_IMAGES,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = 0.0,
                 drop_chunk: int = DEFAULT_DROP_CHUNK, min_pixels: int | None = None, timeout_s: float = 300.0,
                 retry: RetryPolicy = RetryPolicy(), environ=os.environ, sleep=None):
        """`min_pixels`: the model processor's lower bound (default: the profile's)."""
        try:
            self.profile: Profile = get_profile(profile)
            self.client = ChatClient(endpoint, api_key_from(api_key_env, environ), timeout_s, retry,
                                     **({"sleep": sleep} if sleep else {}))
        except ValueError as error:
            raise PolicyUnavailable(str(error)) from error
        self.endpoint, self.model, self.api_key_env = endpoint, model, api_key_env
        self.max_pixels, self.max_new_tokens, self.temperature = max_pixels, max_new_tokens, temperature
        self.min_pixels = self.profile.min_pixels if min_pixels is None else min_pixels
        self.history = HistoryPolicy(keep_images=history_images, drop_chunk=drop_chunk)
        self.messages: list[dict[str, Any]] = []
        self.instruction = ""
        self.pending_feedback: str | None = None  # feedback a failed call could not deliver

    # ------------------------------------------------------------------------------ Policy

    def check(self) -> None:
        """Fail before the run when the key is refused or the model is not served (server down is left
        to the steps: the loop survives it)."""
        try:
            served = self.client.list_models()
        except ModelCallError as error:
            if error.status in (401, 403):
                raise PolicyUnavailable(str(error)) from error
            print(f"warning: {error}; starting anyway (every step retries the server; "
                  "check --endpoint if it should be up)", file=sys.stderr, flush=True)
            return
        if served and self.model not in served:
            raise PolicyUnavailable(f"{self.client.base} does not serve model {self.model!r}; "
                                    f"it lists: {', '.join(served)} (pass one with --model)")

    def start(self, instruction: str) -> None:
        """A fresh conversation: the profile's system turn; the instruction comes with step 0."""
        self.instruction = self.profile.first_text(instruction)
        self.messages = [{"role": "system", "content": self.profile.system}] if self.profile.system else []
        self.pending_feedback = None

    def next(self, observation: Observation, history: Sequence[Turn]) -> Reply:
        """Send the conversation with the new screenshot; a failed call is a Reply with `error`."""
        shot = resize_screenshot(observation.image, self.profile.factor, self.min_pixels, self.max_pixels)
        self.messages.append(self._user_turn(shot, history))
        self._apply_history()
        contract = {"output_format": self.profile.output_format, "coordinates": self.profile.coordinates,
                    "image_size": shot.size}
        try:
            body, retries = self.client.chat(self._payload())
            message, usage = _first_message(body), body.get("usage")
            text, reasoning = reply_text(message)
        except ModelCallError as error:
            failed = self.messages.pop()  # the step is retried with the next screenshot
            self.pending_feedback = _feedback_of(failed)
            return Reply("", {}, error=f"model call failed: {error}", **contract)
        self.pending_feedback = None
        self.messages.append({"role": "assistant", "content": text})
        counters = {**usage_counters(usage), "retries": retries}
        shown = f"{reasoning}\n</think>\n\n{text}" if reasoning and "</think>" not in text else text
        return Reply(shown, counters, **contract)

    def describe(self) -> dict[str, Any]:
        """Every setting that changes what this policy answers (the key itself never)."""
        return {"policy": self.name, "endpoint": self.client.base, "model": self.model,
                "profile": self.profile.name, "output_format": self.profile.output_format,
                "coordinates": self.profile.coordinates, "max_pixels": self.max_pixels,
                "min_pixels": self.min_pixels, "history_images": self.history.keep_images,
                "drop_chunk": self.history.drop_chunk, "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature, "api_key_env": self.api_key_env}

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------------------ internals

    def _user_turn(self, shot: "Image", history: Sequence[Turn]) -> dict[str, Any]:
        image = {"type": "image_url", "image_url": {"url": png_data_url(shot)}}
        if not any(m["role"] == "user" for m in self.messages):
            return {"role": "user", "content": [{"type": "text", "text": self.instruction}, image]}
        if self.pending_feedback is not None:
            text = self.pending_feedback
        else:
            text = next_step_text(history[-1].error if history else None)
        return {"role": "user", "content": [image, {"type": "text", "text": text}]}

    def _apply_history(self) -> None:
        """Replace the oldest screenshots by the marker, as the local Session does (in chunks)."""
        parts = [part for message in self.messages if message["role"] == "user"
                 for part in message["content"] if part.get("type") == "image_url"]
        present = [True] * len(parts)
        for index in drop_oldest(present, self.history.images_to_drop(len(parts))):
            parts[index].clear()
            parts[index].update(type="text", text=self.history.marker)

    def _payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model, "messages": self.messages,
                                   "max_tokens": self.max_new_tokens, "temperature": self.temperature}
        tools = self.profile.tools()
        if tools:
            payload["tools"] = tools
            if self.profile.tool_choice:
                payload["tool_choice"] = self.profile.tool_choice
        return payload


def _first_message(body: dict[str, Any]) -> dict[str, Any]:
    """choices[0].message of a chat completion; ModelCallError naming what is missing."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelCallError("the server's answer has no choices[0]")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ModelCallError("the server's answer has no choices[0].message")
    return message


def _feedback_of(user_turn: dict[str, Any]) -> str | None:
    """The text of a user turn that was never answered (None for the first turn: it is rebuilt)."""
    texts = [part["text"] for part in user_turn["content"] if part.get("type") == "text"]
    first = user_turn["content"][0].get("type") == "text"
    return None if first else (texts[-1] if texts else None)


def build(settings: PolicySettings, task: "Task") -> HttpPolicy:
    if not settings.endpoint:
        raise PolicyUnavailable("--policy http needs --endpoint URL (an OpenAI-compatible server, e.g. "
                                "http://127.0.0.1:8000/v1 from `agent serve` or vLLM)")
    policy = HttpPolicy(settings.endpoint, settings.model, settings.profile, settings.api_key_env,
                        max_pixels=settings.max_pixels, history_images=settings.history_images,
                        max_new_tokens=settings.max_new_tokens, temperature=settings.temperature)
    policy.check()
    return policy
