"""A reference step from what was done on the screen: executed actions in pixels → Qwen3-VL text on the grid.

The one way a run (`agent task from-run`) or a person's recording (`agent record`) becomes reference
steps: each action's pointer pixels are mapped back onto the 0–1000 grid through the screen geometry
(actions.coords.from_screen) and written as the canonical tool call, after the step's thought.
"""
from __future__ import annotations

from typing import Any, Sequence

from actions import ScreenGeometry, action_from_dict, from_screen, render


def reference_step(executed: Sequence[dict[str, Any] | Any], geometry: ScreenGeometry,
                   thought: str | None = None) -> str:
    """`Thought: …` (when given) and one <tool_call> per action, coordinates on the 0–1000 grid.

    ValueError (pydantic's ValidationError is one) when an action is not a valid computer_use action."""
    actions = [action_from_dict(a) if isinstance(a, dict) else a for a in executed]
    calls = [render(from_screen(action, geometry)) for action in actions]
    head = f"Thought: {thought.strip()}\n" if thought and thought.strip() else ""
    return head + "\n".join(calls)
