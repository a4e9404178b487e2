"""The settings of a run, defined once: which policy decides and how (PolicySettings), and how the run
is driven apart from the policy (RunSettings).

Each field's `help` is its documentation and, for the flags `agent run` and `agent bench` share, its
`--help` line too: `agent/cli.py` turns the fields of PolicySettings into those flags. The loop's own
knobs live with the loop (`agent.loop.LoopConfig`); a served model's with `agent serve`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import SettingsError

DEFAULT_MODEL = "Qwen/Qwen3-VL-2B-Instruct"
DEFAULT_MAX_PIXELS = 1280 * 800
DEFAULT_HISTORY_IMAGES = 3
DEFAULT_DROP_CHUNK = 2
DEFAULT_MAX_NEW_TOKENS = 512


def _doc(help: str, flag: str | None = None) -> dict[str, Any]:
    """A field's documentation; `flag` when its command-line flag is not `--<field-name>`."""
    return {"help": help, "flag": flag}


@dataclass
class PolicySettings:
    """Everything that picks and configures a policy: the flags `agent run` and `agent bench` share."""

    name: str = field(default="local", metadata=_doc("Who decides the actions: {policies}.", flag="--policy"))
    model: str = field(default=DEFAULT_MODEL, metadata=_doc(
        "Hub id or local folder of a Qwen3-VL checkpoint (local policy)."))
    device: str = field(default="auto", metadata=_doc("cpu, cuda, cuda:1 … (auto: cuda when available)."))
    dtype: str = field(default="auto", metadata=_doc("float32, bfloat16, float16 (auto: bf16 on CUDA, fp32 on CPU)."))
    max_pixels: int = field(default=DEFAULT_MAX_PIXELS, metadata=_doc(
        "Pixel budget of each screenshot sent to the model (>= 1)."))
    history_images: int = field(default=DEFAULT_HISTORY_IMAGES, metadata=_doc(
        "Screenshots kept in the model's context (>= 1)."))
    max_new_tokens: int = field(default=DEFAULT_MAX_NEW_TOKENS, metadata=_doc(
        "Longest reply the model may write per step (>= 1; sent as max_tokens by the http policy)."))
    recording: Path | None = field(default=None, metadata=_doc("Run folder whose outputs the replay policy repeats."))
    endpoint: str | None = field(default=None, metadata=_doc(
        "OpenAI-compatible server for --policy http (http://host:8000/v1)."))
    api_key_env: str | None = field(default=None, metadata=_doc(
        "NAME of the environment variable holding the API key (http)."))  # the name, never the key itself
    profile: str = field(default="qwen3vl", metadata=_doc("Model profile for --policy http: qwen3vl, uitars15."))
    temperature: float = field(default=0.0, metadata=_doc("Sampling temperature of model policies (0: greedy)."))

    def __post_init__(self) -> None:
        require_positive("--max-pixels", self.max_pixels)
        require_positive("--history-images", self.history_images)
        require_positive("--max-new-tokens", self.max_new_tokens)
        if self.temperature < 0:
            raise SettingsError(f"--temperature must be >= 0, got {self.temperature}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy (paths as strings)."""
        data = asdict(self)
        data["recording"] = str(self.recording) if self.recording else None
        return data


def flag_of(name: str) -> str:
    """The command-line flag of a PolicySettings field: `--max-pixels` for max_pixels, `--policy` for name."""
    declared = PolicySettings.__dataclass_fields__[name].metadata.get("flag")
    return declared or "--" + name.replace("_", "-")


@dataclass(frozen=True)
class RunSettings:
    """How one run is driven, apart from the policy."""

    max_steps: int | None = field(default=None, metadata=_doc("Override the task's step limit (>= 1)."))
    live: bool = field(default=False, metadata=_doc(
        "Drive the current X11 display instead of a sandbox (pyautogui's FAILSAFE stays on)."))
    settle_s: float | None = field(default=None, metadata=_doc(
        "Seconds to wait after actions before the next screenshot (None: the task's own)."))

    def __post_init__(self) -> None:
        if self.max_steps is not None and self.max_steps < 1:
            raise SettingsError(f"--max-steps must be at least 1, got {self.max_steps}")
        if self.settle_s is not None and self.settle_s < 0:
            raise SettingsError(f"settle time must be >= 0 seconds, got {self.settle_s}")


def require_positive(flag: str, value: int | None) -> None:
    """SettingsError naming the flag when value is given and below 1."""
    if value is not None and value < 1:
        raise SettingsError(f"{flag} must be at least 1, got {value}")
