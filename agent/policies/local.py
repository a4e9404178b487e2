"""Local policy: Qwen3-VL running in this process, one multi-turn Session per task.

Every step adds the new screenshot (resized to the pixel budget) as a user turn; the model's own
earlier replies stay in the conversation as the ids it generated, so the KV cache of everything
already seen is reused and only the new screenshot and text are computed. A reply the agent could not
parse or execute is reported back in the next user turn. Old screenshots leave the conversation per
the history policy (keep the newest `history_images`, drop older ones in chunks).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from agent.errors import PolicyUnavailable
from agent.policies.base import Observation, Reply, Turn
from agent.policies.prompt import SYSTEM_PROMPT, conversation_tools, first_step_text, next_step_text
from agent.settings import (
    DEFAULT_DROP_CHUNK,
    DEFAULT_HISTORY_IMAGES,
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_MAX_PIXELS,
    PolicySettings,
)
from model import (
    DeviceError,
    GenerationConfig,
    HistoryPolicy,
    LoadError,
    Session,
    from_pretrained,
    resolve_device_dtype,
)

if TYPE_CHECKING:
    from agent.tasks import Task

ALTERNATIVES = (
    "Alternatives that need no model: `--policy scripted` (the task's reference solution), "
    "`--policy replay --recording RUN_DIR` (a recorded run), or pass a local checkpoint folder with --model."
)


def load_model(model: str, device: str, dtype: str):
    """Load a checkpoint folder or hub id (a model.LoadedModel); any failure becomes
    PolicyUnavailable naming the alternatives."""
    try:
        resolve_device_dtype(device, dtype)  # a wrong --device fails before anything slow, without alternatives
    except DeviceError as error:
        raise PolicyUnavailable(str(error)) from error

    looks_like_path = model.startswith((".", "/", "~")) or Path(model).expanduser().exists()
    if looks_like_path and not Path(model).expanduser().is_dir():
        raise PolicyUnavailable(f"--model {model}: no such checkpoint folder\n{ALTERNATIVES}")
    try:
        return from_pretrained(model, dtype=dtype, device=device)
    except (LoadError, OSError) as error:  # every loader error (config, weights, tokenizer, device) is a LoadError
        raise PolicyUnavailable(f"cannot load model {model!r}: {error}\n{ALTERNATIVES}") from error


class LocalPolicy:
    """Drives the agent with a locally loaded Qwen3-VL through a KV-reusing Session."""

    name = "local"

    def __init__(self, model: str, device: str = "auto", dtype: str = "auto", max_pixels: int = DEFAULT_MAX_PIXELS,
                 history_images: int = DEFAULT_HISTORY_IMAGES, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 drop_chunk: int = DEFAULT_DROP_CHUNK, temperature: float = 0.0, max_kv_tokens: int | None = None,
                 loaded=None, model_lock: threading.Lock | None = None):
        """`loaded`: an already loaded model (model.LoadedModel) to use instead of loading `model`.

        `model_lock`: held around every model call, so several policies can share one loaded model
        (`agent bench --parallel N`): model calls take turns, desktops and settle waits overlap.
        """
        if max_pixels < 1:
            raise ValueError(f"max_pixels must be positive, got {max_pixels}")
        if history_images < 1:
            raise ValueError(f"history_images must be >= 1, got {history_images}")
        self.model_name, self.device, self.dtype = model, device, dtype
        self.temperature, self.max_new_tokens = temperature, max_new_tokens
        self.model_lock = model_lock or threading.Lock()
        self.model = loaded if loaded is not None else load_model(model, device, dtype)
        self.max_pixels, self.history_images, self.drop_chunk = max_pixels, history_images, drop_chunk
        self.min_pixels = min(max_pixels, _min_pixels(self.model))
        self.image_factor = _image_factor(self.model)
        self.max_kv_tokens = max_kv_tokens
        self.generation = self._generation_config(max_new_tokens, temperature)
        self.session = None
        self.instruction = ""

    def _generation_config(self, max_new_tokens: int, temperature: float):
        defaults = getattr(self.model, "generation_defaults", None) or GenerationConfig()
        return defaults.with_overrides(max_new_tokens=max_new_tokens, temperature=temperature).validate()

    def start(self, instruction: str) -> None:
        """Open a fresh conversation: system prompt with the computer_use tool; the instruction comes with step 0."""
        self.instruction = first_step_text(instruction)
        if self.session is not None:  # same settings and encoder cache: screenshots seen before are not encoded again
            self.session = self.session.fork()
        else:
            self.session = Session(
                self.model, system=SYSTEM_PROMPT, tools=conversation_tools(),
                history=HistoryPolicy(keep_images=self.history_images, drop_chunk=self.drop_chunk),
                max_pixels=self.max_pixels, min_pixels=self.min_pixels,
                max_kv_tokens=self.max_kv_tokens,
            )

    def next(self, observation: Observation, history: Sequence[Turn]) -> Reply:
        """Send the new screenshot (and feedback on the previous reply); return the model's reply."""
        if self.session is None:
            raise RuntimeError("LocalPolicy.next called before start(instruction)")
        if not history:
            self.session.add_user(self.instruction, images=[observation.image], text_first=True)
        else:
            self.session.add_user(next_step_text(history[-1].error), images=[observation.image])
        with self.model_lock:
            reply = self.session.generate(self.generation)
        # Qwen3-VL answers computer_use tool calls with coordinates on the 0–1000 grid (the system prompt's tool)
        return Reply(reply.text, counters=reply.counters.as_dict(), output_format="qwen", coordinates="grid1000")

    def describe(self) -> dict[str, Any]:
        """Every setting that changes what this policy answers."""
        return {"policy": self.name, "model": self.model_name, "device": self.device, "dtype": self.dtype,
                "max_pixels": self.max_pixels, "min_pixels": self.min_pixels, "image_factor": self.image_factor,
                "history_images": self.history_images,
                "drop_chunk": self.drop_chunk, "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature, "max_kv_tokens": self.max_kv_tokens}

    def close(self) -> None:
        """Drop the conversation and the weights."""
        self.session = None
        self.model = None


def _min_pixels(model) -> int:
    """The checkpoint's minimum pixel budget (smart_resize's lower bound)."""
    config = getattr(model, "processor_config", None)
    return config.min_pixels if config is not None else 65_536


def _image_factor(model) -> int:
    """Screenshot sides are resized to multiples of this (vision patch × merge)."""
    config = getattr(model, "processor_config", None)
    return config.factor if config is not None else 32


_SHARED: dict[tuple[str, str, str], tuple[Any, threading.Lock]] = {}
_SHARED_LOCK = threading.Lock()


def shared_model(model: str, device: str, dtype: str) -> tuple[Any, threading.Lock]:
    """(loaded model, its call lock), loaded once per process and reused by every later task."""
    key = (model, device, dtype)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = (load_model(model, device, dtype), threading.Lock())
        return _SHARED[key]


def build(settings: PolicySettings, task: "Task") -> LocalPolicy:
    loaded, lock = shared_model(settings.model, settings.device, settings.dtype)
    return LocalPolicy(settings.model, device=settings.device, dtype=settings.dtype,
                       max_pixels=settings.max_pixels, history_images=settings.history_images,
                       max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
                       loaded=loaded, model_lock=lock)
