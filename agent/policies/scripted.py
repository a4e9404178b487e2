"""Scripted policy: plays back the task's reference solution, one model output per step."""
from __future__ import annotations

from typing import Sequence

from agent.policies.base import Observation, Reply, Turn

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
            return Reply(GIVE_UP)
        text = self.outputs[self._next]
        self._next += 1
        return Reply(text)

    def close(self) -> None:
        """Nothing to release."""
