"""The Policy seam: the loop hands over what the screen shows and gets model text back."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Sequence

if TYPE_CHECKING:  # PIL and actions are only needed for type names here
    from PIL.Image import Image

    from actions.coords import ScreenGeometry


@dataclass
class Observation:
    """What one step sees: the screenshot and where it sits on the pointer's screen."""

    image: "Image"
    geometry: "ScreenGeometry"
    step: int


@dataclass
class Turn:
    """One earlier step as the policy may want to recall it."""

    model_output: str
    error: str | None = None  # parse/exec error message shown back to the model


@dataclass
class Reply:
    """The policy's answer for one step: raw model text plus optional counters."""

    text: str
    counters: dict[str, float] = field(default_factory=dict)


class PolicyUnavailable(RuntimeError):
    """The policy cannot start (model missing, offline, …); the message says what to do instead."""


class Policy(Protocol):
    """Anything that turns observations into model text, one step at a time."""

    name: str

    def start(self, instruction: str) -> None:
        """Begin a new task with this instruction (resets any conversation state)."""

    def next(self, observation: Observation, history: Sequence[Turn]) -> Reply:
        """Return the model text for this step; history holds every earlier step of this run."""

    def close(self) -> None:
        """Release resources (model weights, caches)."""
