"""Response bodies in the OpenAI chat-completion shape: whole replies, SSE chunks, Hermes tool calls."""
from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
MAX_TOOL_CALLS = 16


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def hermes_tool_calls(text: str) -> list[dict[str, Any]]:
    """`<tool_call>{"name": …, "arguments": {…}}</tool_call>` blocks as OpenAI tool_calls (invalid ones skipped)."""
    calls = []
    for match in _TOOL_CALL.finditer(text):
        try:
            body = json.loads(match.group(1).strip())
        except ValueError:
            continue
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            continue
        arguments = body.get("arguments", {})
        calls.append({"id": "call_" + secrets.token_hex(8), "type": "function",
                      "function": {"name": body["name"], "arguments": json.dumps(arguments, ensure_ascii=False)}})
        if len(calls) >= MAX_TOOL_CALLS:
            break
    return calls


def finish_reason(stop_reason: str, tool_calls: list) -> str:
    if tool_calls:
        return "tool_calls"
    return "length" if stop_reason == "max_new_tokens" else "stop"


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> dict[str, Any]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens}}


def completion_body(id: str, model: str, text: str, tool_calls: list, finish: str, usage_: dict) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage_}


def chunk(id: str, model: str, delta: dict[str, Any] | None, finish: str | None = None,
          usage_: dict | None = None) -> dict[str, Any]:
    """One `chat.completion.chunk`; delta None gives the usage-only chunk (empty choices)."""
    body: dict[str, Any] = {"id": id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                            "choices": [] if delta is None else
                            [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
    if usage_ is not None:
        body["usage"] = usage_
    return body


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event line pair."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode("utf-8")


def models_body(name: str, created: int) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": name, "object": "model", "created": created, "owned_by": "agent-serve"}]}
