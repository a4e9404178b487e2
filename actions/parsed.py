"""The result of parsing one model message, and the clean-up shared by every parser."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from actions.errors import ParseError
from actions.schemas import Action

MAX_ACTIONS = 16  # more distinct calls than this in one message is runaway generation
MAX_IDENTICAL_RUN = 3  # a longer run of the same call is degenerate repetition, kept once
MAX_THOUGHT_CHARS = 4000

_THOUGHT_LABEL = re.compile(r"^\s*(?:thought|thinking|reasoning|思考)\s*[:：]\s*", re.IGNORECASE)


class Parsed(BaseModel):
    """Thought and actions read from one model message."""

    thought: str | None = Field(None, description="Free text the model wrote before its action(s).")
    actions: list[Action] = Field(description="One or more actions, in model coordinates.")
    format: Literal["qwen", "uitars"] = Field(description="Which parser read the message.")
    reasoning: str | None = Field(None, description="The <think> block, if any (never parsed for calls).")
    notes: list[str] = Field(default_factory=list, description="Repairs made (repetition collapsed, …).")


def clean_thought(text: str) -> str | None:
    """Strip a 'Thought:' label and repeated lines; None when nothing is left."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        if not lines or line.strip() != lines[-1].strip():
            lines.append(line)
    thought = _THOUGHT_LABEL.sub("", "\n".join(lines)).strip()
    if len(thought) > MAX_THOUGHT_CHARS:
        thought = thought[:MAX_THOUGHT_CHARS] + "…"
    return thought or None


def collapse_repeats(actions: list[Any], notes: list[str]) -> list[Any]:
    """Keep one copy of any run of more than MAX_IDENTICAL_RUN identical consecutive actions."""
    result: list[Any] = []
    index = 0
    while index < len(actions):
        end = index
        while end + 1 < len(actions) and actions[end + 1] == actions[index]:
            end += 1
        run = end - index + 1
        if run > MAX_IDENTICAL_RUN:
            notes.append(f"collapsed {run} identical {actions[index].action} calls into one")
            result.append(actions[index])
        else:
            result.extend(actions[index : end + 1])
        index = end + 1
    if len(result) > MAX_ACTIONS:
        raise ParseError(
            f"{len(result)} calls in one message (at most {MAX_ACTIONS}); send one action at a time"
        )
    return result
