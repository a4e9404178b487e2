"""Policy registry: name → factory, so a new backend is one file that calls `register`.

Registering must not import torch or transformers: factories import what they need when called.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from agent.policies.base import PolicyUnavailable
from agent.settings import (
    DEFAULT_HISTORY_IMAGES, DEFAULT_MAX_NEW_TOKENS, DEFAULT_MAX_PIXELS, DEFAULT_MODEL, SettingsError,
    require_positive,
)

if TYPE_CHECKING:
    from agent.policies.base import Policy
    from agent.tasks.schema import Task

# Modules that register a built-in policy when imported (no heavy imports at module level).
BUILTIN_MODULES = ("agent.policies.local", "agent.policies.scripted", "agent.policies.replay",
                   "agent.policies.http")


@dataclass
class PolicySettings:
    """Everything that picks and configures a policy (the flags `agent run` and `agent bench` share)."""

    name: str = "local"
    model: str = DEFAULT_MODEL
    device: str = "auto"
    dtype: str = "auto"
    max_pixels: int = DEFAULT_MAX_PIXELS
    history_images: int = DEFAULT_HISTORY_IMAGES
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    recording: Path | None = None
    endpoint: str | None = None
    api_key_env: str | None = None  # the NAME of an environment variable, never the key itself
    profile: str = "qwen3vl"
    temperature: float = 0.0

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


Factory = Callable[[PolicySettings, "Task"], "Policy"]


@dataclass(frozen=True)
class _Entry:
    factory: Factory
    help: str
    uses: tuple[str, ...] | None  # the PolicySettings fields the factory reads (None: not declared)


_REGISTRY: dict[str, _Entry] = {}
_loaded = False


def register(name: str, factory: Factory, help: str, uses: Iterable[str] | None = None) -> None:
    """Make `--policy NAME` build policies with factory(settings, task), which reads the fields in uses."""
    _REGISTRY[name] = _Entry(factory, help, None if uses is None else tuple(uses))


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def names() -> list[str]:
    """Registered policy names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def help_text(name: str) -> str:
    """The one-line description a policy registered with."""
    _load_builtins()
    return _REGISTRY[name].help


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def ignored_flag_warnings(name: str, given: Iterable[str]) -> list[str]:
    """One warning per field in given (set on the command line) that policy name does not read."""
    _load_builtins()
    entry = _REGISTRY.get(name)
    if entry is None or entry.uses is None:  # build() reports an unknown name
        return []
    uses = f"it uses: {', '.join(map(_flag, entry.uses))}" if entry.uses else "it uses no policy flags"
    return [f"warning: {_flag(field)} is ignored by --policy {name} ({uses})"
            for field in given if field != "name" and field not in entry.uses]


def build(settings: PolicySettings, task: "Task") -> "Policy":
    """The policy settings.name names, built for task; PolicyUnavailable names the known ones."""
    _load_builtins()
    entry = _REGISTRY.get(settings.name)
    if entry is None:
        known = ", ".join(names())
        raise PolicyUnavailable(f"unknown policy {settings.name!r}; known policies: {known}")
    return entry.factory(settings, task)


def describe(policy: "Policy") -> dict[str, Any]:
    """policy.describe() when the policy has one, else just its name."""
    method = getattr(policy, "describe", None)
    return dict(method()) if callable(method) else {"policy": getattr(policy, "name", "?")}
