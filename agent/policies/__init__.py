"""Policies: whatever decides the next action (a model, a script, a recording), behind one table.

`POLICIES` maps each `--policy NAME` to the function that builds it, as "module:function", with the
PolicySettings fields it reads and a one-line description. A policy module is imported only when its
policy is built, so `agent --help` and `--policy scripted` never load torch. A new backend is one
module with a `build(settings, task)` function and one line here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from agent.errors import PolicyUnavailable
from agent.policies.base import Observation, Policy, Reply, Turn
from agent.settings import PolicySettings, flag_of

if TYPE_CHECKING:
    from agent.tasks import Task

__all__ = ["POLICIES", "PolicyEntry", "Observation", "Policy", "Reply", "Turn", "build", "describe", "names",
           "ignored_flag_warnings"]


@dataclass(frozen=True)
class PolicyEntry:
    """One row of the table: where the builder is, what it reads, what it is."""

    builder: str
    """"module:function" taking (PolicySettings, Task) and returning a Policy."""
    help: str
    """One line for `--help` and error messages."""
    uses: tuple[str, ...] | None
    """The PolicySettings fields the builder reads (None: not declared, so no warnings)."""


MODEL_FLAGS = ("max_pixels", "history_images", "max_new_tokens", "temperature")
POLICIES: dict[str, PolicyEntry] = {
    "http": PolicyEntry("agent.policies.http:build",
                        "any OpenAI-compatible server (--endpoint, --model, --profile, --api-key-env)",
                        ("endpoint", "model", "profile", "api_key_env", *MODEL_FLAGS)),
    "local": PolicyEntry("agent.policies.local:build", "Qwen3-VL in this process (--model, --device, --dtype)",
                         ("model", "device", "dtype", *MODEL_FLAGS)),
    "replay": PolicyEntry("agent.policies.replay:build", "the model outputs of a recorded run (--recording RUN_DIR)",
                          ("recording",)),
    "scripted": PolicyEntry("agent.policies.scripted:build", "the task's reference solution (no model)", ()),
}


def names() -> list[str]:
    """The policy names, sorted."""
    return sorted(POLICIES)


def build(settings: PolicySettings, task: "Task") -> Policy:
    """The policy settings.name names, built for task; PolicyUnavailable names the known ones."""
    entry = POLICIES.get(settings.name)
    if entry is None:
        raise PolicyUnavailable(f"unknown policy {settings.name!r}; known policies: {', '.join(names())}")
    module, _, function = entry.builder.partition(":")
    return getattr(importlib.import_module(module), function)(settings, task)


def ignored_flag_warnings(name: str, given: Iterable[str]) -> list[str]:
    """One warning per PolicySettings field in given (set on the command line) that policy `name` does not read."""
    entry = POLICIES.get(name)
    if entry is None or entry.uses is None:  # build() reports an unknown name
        return []
    uses = f"it uses: {', '.join(map(flag_of, entry.uses))}" if entry.uses else "it uses no policy flags"
    return [f"warning: {flag_of(field)} is ignored by --policy {name} ({uses})"
            for field in given if field != "name" and field not in entry.uses]


def describe(policy: Policy) -> dict[str, Any]:
    """policy.describe() when the policy has one, else just its name."""
    method = getattr(policy, "describe", None)
    return dict(method()) if callable(method) else {"policy": getattr(policy, "name", "?")}
