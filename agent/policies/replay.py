"""Replay policy: repeats the raw model outputs of a recorded run."""
from __future__ import annotations

from pathlib import Path

from agent.policies.base import PolicyUnavailable
from agent.policies.scripted import ScriptedPolicy
from agent.trace import read_run


def recorded_outputs(run_dir: Path) -> list[str]:
    """The model outputs of every readable step of a run folder, in step order."""
    run = read_run(run_dir)
    if run.meta is None and not run.steps:
        raise PolicyUnavailable(f"{run_dir} is not a run folder (no meta.json or steps.jsonl)")
    if not run.steps:
        raise PolicyUnavailable(f"{run_dir} has no recorded steps to replay")
    return [step.model_output for step in sorted(run.steps, key=lambda s: s.step)]


class ReplayPolicy(ScriptedPolicy):
    """A scripted policy whose script is a recorded run."""

    name = "replay"

    def __init__(self, run_dir: Path):
        super().__init__(recorded_outputs(Path(run_dir)))
        self.run_dir = Path(run_dir)
