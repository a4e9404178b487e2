"""What the local and http policies say to Qwen3-VL: the computer_use tool, the instruction, and step feedback.

The system turn follows Qwen's computer-use recipe: a short system text plus the `computer_use`
function schema passed as the chat template's `tools`, so the checkpoint's own template writes the
<tools></tools> block. The schema is agent/data/computer_use_tool.json, parsed without changing key
order, so the template's `tojson` renders it as Qwen's reference does.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

TOOL_FILE = Path(__file__).resolve().parents[1] / "data" / "computer_use_tool.json"
SYSTEM_PROMPT = "You are a helpful assistant."
NEXT_STEP_TEXT = "This is the screen after your last action."


@lru_cache(maxsize=1)
def _tool_text() -> str:
    return TOOL_FILE.read_text(encoding="utf-8")


def computer_use_tool() -> dict:
    """The computer_use function schema, exactly as shipped in agent/data/computer_use_tool.json."""
    try:
        return json.loads(_tool_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{TOOL_FILE}: not valid JSON ({error})") from error


def conversation_tools() -> list[dict]:
    """The tools list every policy sends: computer_use in the OpenAI shape {"type": "function", "function": …}.

    That is what OpenAI-compatible servers (vLLM, SGLang, `agent serve`) hand to the chat template, and
    what Qwen's own function-calling prompt writes, so the local and the http policy render the same
    system turn.
    """
    return [{"type": "function", "function": computer_use_tool()}]


def first_step_text(instruction: str) -> str:
    """The text of the first user turn (it precedes the first screenshot)."""
    if not instruction.strip():
        raise ValueError("the task instruction is empty")
    return instruction.strip()


def next_step_text(error: str | None) -> str:
    """The text after each later screenshot; a parse/exec error of the previous reply is shown first."""
    if not error:
        return NEXT_STEP_TEXT
    return (
        f"Your previous reply could not be carried out: {error}\n"
        "Answer with exactly one <tool_call> holding a computer_use action. " + NEXT_STEP_TEXT
    )
