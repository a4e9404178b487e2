"""Canonical text of an action: what a well-behaved Qwen3-VL writes."""
from __future__ import annotations

import json
from typing import Any

TOOL_NAME = "computer_use"


def tool_call_json(action: Any) -> str:
    """The `{"name": "computer_use", "arguments": {...}}` object of one action, as one line."""
    call = {"name": TOOL_NAME, "arguments": action.model_dump(mode="json")}
    return json.dumps(call, ensure_ascii=False)


def render(action: Any) -> str:
    """`<tool_call>\\n{...}\\n</tool_call>` for one action, as the Qwen chat template writes tool calls."""
    return f"<tool_call>\n{tool_call_json(action)}\n</tool_call>"
