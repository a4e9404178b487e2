"""The Policy seam: the loop hands over what the screen shows and gets model text back."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, Sequence

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


OutputFormat = Literal["qwen", "uitars", "auto"]
Coordinates = Literal["grid1000", "grid999", "pixels"]


@dataclass
class Reply:
    """The policy's answer for one step, and how to read it.

    `output_format` picks the parser (actions.parse), `coordinates` the model space its numbers are in;
    "pixels" means pixels of the resized screenshot the model saw, whose size `image_size` (w, h) gives.
    `error` set means the model call failed (server down, timeout): the loop records a policy error
    for the step and goes on.
    """

    text: str
    counters: dict[str, float] = field(default_factory=dict)
    output_format: OutputFormat = "auto"
    coordinates: Coordinates = "grid1000"
    image_size: tuple[int, int] | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.coordinates == "pixels" and self.image_size is None:
            raise ValueError("Reply(coordinates='pixels') needs image_size, the (w, h) the model saw")



class Policy(Protocol):
    """Anything that turns observations into model text, one step at a time."""

    name: str

    def start(self, instruction: str) -> None:
        """Begin a new task with this instruction (resets any conversation state)."""

    def next(self, observation: Observation, history: Sequence[Turn]) -> Reply:
        """Return the model text for this step; history holds every earlier step of this run."""

    def close(self) -> None:
        """Release resources (model weights, caches)."""
