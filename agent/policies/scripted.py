"""Scripted policy: plays back the task's reference solution, one model output per step."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from agent.errors import PolicyUnavailable
from agent.policies.base import Observation, Reply, Turn
from agent.settings import PolicySettings

if TYPE_CHECKING:
    from agent.tasks import Task

GIVE_UP = (
    "The script has no steps left.\n"
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "failure"}}\n</tool_call>'
)


class ScriptedPolicy:
    """Returns pre-written outputs in order; after the last one it terminates with failure."""

    name = "scripted"

    def __init__(self, outputs: Sequence[str]):
        self.outputs = list(outputs)
        self._next = 0

    def start(self, instruction: str) -> None:
        """Rewind to the first output."""
        self._next = 0

    def next(self, observation: Observation, history: Sequence[Turn]) -> Reply:
        """The next scripted output, whatever the screen shows."""
        if self._next >= len(self.outputs):
            return Reply(GIVE_UP, output_format="qwen", coordinates="grid1000")
        self._next += 1
        return self.reply(self._next - 1)

    def reply(self, index: int) -> Reply:
        """Output `index` and how to read it: task references are Qwen tool calls on the 0–1000 grid."""
        return Reply(self.outputs[index], output_format="qwen", coordinates="grid1000")

    def describe(self) -> dict[str, Any]:
        """What decides this policy's behaviour: the script's length (its text is the task's)."""
        return {"policy": self.name, "script_steps": len(self.outputs)}

    def close(self) -> None:
        """Nothing to release."""


def build(settings: PolicySettings, task: "Task") -> ScriptedPolicy:
    if not task.reference:
        raise PolicyUnavailable(f"task {task.id!r} has no reference solution for --policy scripted")
    return ScriptedPolicy(task.reference)
