"""Replay policy: repeats the raw model outputs of a recorded run, read as the recording says (format, coordinates)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import PolicyUnavailable
from agent.policies.base import Reply
from agent.policies.scripted import ScriptedPolicy
from agent.settings import PolicySettings
from agent.trace import StepRecord, read_run

if TYPE_CHECKING:
    from agent.tasks import Task


def recorded_steps(run_dir: Path) -> list[StepRecord]:
    """Every readable step of a run folder, in step order."""
    run = read_run(run_dir)
    if run.meta is None and not run.steps:
        raise PolicyUnavailable(f"{run_dir} is not a run folder (no meta.json or steps.jsonl)")
    if not run.steps:
        raise PolicyUnavailable(f"{run_dir} has no recorded steps to replay")
    return sorted(run.steps, key=lambda s: s.step)


def recorded_reply(step: StepRecord) -> Reply:
    """The step's output read the way the original run read it.

    Steps written before the Reply contract carry no format or coordinates: those runs parsed with
    `auto` (parse's default) and mapped from the 0–1000 grid, so the replay does the same.
    """
    coordinates = step.coordinates or "grid1000"
    size = tuple(step.image_size) if step.image_size else None
    if coordinates == "pixels" and size is None:
        raise PolicyUnavailable(f"step {step.step} of the recording says coordinates 'pixels' but records no "
                                "image_size (the resized screenshot's [w, h]); the trace is damaged")
    return Reply(step.model_output, output_format=step.output_format or "auto", coordinates=coordinates,
                 image_size=size)


class ReplayPolicy(ScriptedPolicy):
    """A scripted policy whose script is a recorded run, each output read as the recording says."""

    name = "replay"

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir).resolve()
        steps = recorded_steps(self.run_dir)
        self.replies = [recorded_reply(step) for step in steps]
        super().__init__([step.model_output for step in steps])
        meta = read_run(self.run_dir).meta
        self.recorded_run_id = meta.run_id if meta else None
        self.recorded_task_id = meta.task_id if meta else None
        self.recorded_task_sha256 = getattr(meta, "task_sha256", None) if meta else None

    def reply(self, index: int) -> Reply:
        """The recorded output with the recorded format, coordinate space and image size."""
        return self.replies[index]

    def describe(self) -> dict[str, Any]:
        """What was replayed: the recording's folder, run id, task and task-file hash."""
        return {"policy": self.name, "recording": str(self.run_dir), "recording_run_id": self.recorded_run_id,
                "recording_task_id": self.recorded_task_id, "recording_task_sha256": self.recorded_task_sha256,
                "script_steps": len(self.outputs)}


def build(settings: PolicySettings, task: "Task") -> ReplayPolicy:
    if settings.recording is None:
        raise PolicyUnavailable("--policy replay needs --recording RUN_DIR (a folder under runs/)")
    if not Path(settings.recording).is_dir():
        raise PolicyUnavailable(f"--recording {settings.recording}: no such run folder")
    return ReplayPolicy(settings.recording)
