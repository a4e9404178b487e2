"""Defaults defined once, and the settings of one run that are not the policy's.

Every module that needs a default (the CLI, the policies, the runner, the bench) imports it from here.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "Qwen/Qwen3-VL-2B-Instruct"
DEFAULT_MAX_PIXELS = 1280 * 800
DEFAULT_HISTORY_IMAGES = 3
DEFAULT_DROP_CHUNK = 2
DEFAULT_MAX_NEW_TOKENS = 512


class SettingsError(ValueError):
    """A setting the person gave is out of range; the message names the flag and the value."""


@dataclass(frozen=True)
class RunSettings:
    """How one run is driven, apart from the policy: step limit, live desktop, settle time."""

    max_steps: int | None = None  # None: the task's own limit
    live: bool = False  # the person's own display (pyautogui FAILSAFE on)
    settle_s: float | None = None  # None: the task's own settle time

    def __post_init__(self) -> None:
        if self.max_steps is not None and self.max_steps < 1:
            raise SettingsError(f"--max-steps must be at least 1, got {self.max_steps}")
        if self.settle_s is not None and self.settle_s < 0:
            raise SettingsError(f"settle time must be >= 0 seconds, got {self.settle_s}")


def require_positive(flag: str, value: int | None) -> None:
    """SettingsError naming the flag when value is given and below 1."""
    if value is not None and value < 1:
        raise SettingsError(f"{flag} must be at least 1, got {value}")
