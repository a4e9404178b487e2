"""Model profiles of the http policy: what to send a served model and how to read its replies.

A profile fixes the system prompt and tools, the first user turn, the image grid the model's
processor resizes to (its patch × merge factor), the parser of its replies and the coordinate system
its numbers are in. The conversation shape itself (instruction, screenshots, feedback, history) is the
local policy's, from agent/policies/prompt.py.

| profile  | models                                           | parser | coordinates                 |
|----------|--------------------------------------------------|--------|-----------------------------|
| qwen3vl  | Qwen3-VL (2B … 235B-A22B, Instruct / Thinking)   | qwen   | 0–1000 grid                 |
| uitars15 | UI-TARS-1.5-7B, other Qwen2.5-VL-based GUI models | uitars | pixels of the resized image |
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from agent.policies.prompt import SYSTEM_PROMPT, conversation_tools, first_step_text


@dataclass(frozen=True)
class Profile:
    """How one model family is prompted and read."""

    name: str
    models: str
    """Which models the profile is meant for (README table)."""
    output_format: str
    """actions.parse format: qwen | uitars."""
    coordinates: str
    """grid1000 | grid999 | pixels (of the resized screenshot sent)."""
    factor: int
    """Screenshot sides are resized to multiples of this (vision patch × merge)."""
    min_pixels: int
    """The model processor's lower pixel bound (smart_resize)."""
    system: str | None
    """System message text; the chat template adds the tools after it."""
    tools: Callable[[], list[dict]] = field(default=lambda: [])
    """OpenAI-shape tools sent with every request (rendered into the system turn by the server's template)."""
    first_text: Callable[[str], str] = first_step_text
    """Text of the first user turn, from the task instruction."""
    tool_choice: str | None = None
    """Sent as `tool_choice` when tools are sent: "none" keeps vLLM from requiring its tool parser."""


UITARS_PROMPT = """You are a GUI agent. You get a task and screenshots of a computer screen, and you answer with \
the next action to take.

## Output format
Thought: one short paragraph of reasoning
Action: one action call

## Action space
click(start_box='(x,y)')
left_double(start_box='(x,y)')
right_single(start_box='(x,y)')
drag(start_box='(x1,y1)', end_box='(x2,y2)')
hotkey(key='ctrl c')
type(content='text')  # end with \\n to press Enter
scroll(start_box='(x,y)', direction='down or up or right or left')
wait()
finished(content='xxx')

## Note
- Coordinates are pixels of the screenshot as you see it.
- Write the Thought in English.

## User instruction
"""


def uitars_first_text(instruction: str) -> str:
    """UI-TARS reads its action space and the instruction from the first user turn."""
    return UITARS_PROMPT + first_step_text(instruction)


PROFILES: dict[str, Profile] = {
    "qwen3vl": Profile(
        name="qwen3vl", models="Qwen3-VL (2B … 235B-A22B, Instruct / Thinking)",
        output_format="qwen", coordinates="grid1000", factor=32, min_pixels=65_536,
        system=SYSTEM_PROMPT, tools=conversation_tools, tool_choice="none",
    ),
    "uitars15": Profile(
        name="uitars15", models="UI-TARS-1.5-7B and other Qwen2.5-VL-based GUI models",
        output_format="uitars", coordinates="pixels", factor=28, min_pixels=3_136,
        system=None, first_text=uitars_first_text,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called `name`; ValueError naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown --profile {name!r}; known profiles: {', '.join(PROFILES)}") from None
