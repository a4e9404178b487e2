"""Writing a run folder: meta.json first, each step appended and fsynced as it ends, result.json last.

Every finished step survives a SIGKILL; JSON files are replaced atomically (tmp file + rename).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent.trace.damage import writer_identity
from agent.trace.records import RunMeta, RunResult, StepRecord


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class TraceWriter:
    """Appends a run to its folder; every finished step survives a SIGKILL."""

    def __init__(self, runs_dir: Path, meta: RunMeta, reserved: bool = False):
        """reserved: the (empty) run folder was already created for this run id."""
        self.dir = Path(runs_dir) / meta.run_id
        self.dir.mkdir(parents=True, exist_ok=reserved)
        if meta.writer_pid is None:
            meta = meta.model_copy(update=writer_identity())
        write_json_atomic(self.dir / "meta.json", meta.model_dump(mode="json"))
        self._steps = open(self.dir / "steps.jsonl", "a", encoding="utf-8")
        self.count = 0

    def screenshot_path(self, step: int) -> Path:
        """Where step N's screenshot goes."""
        return self.dir / f"step_{step:04d}.png"

    def step(self, record: StepRecord) -> None:
        """Append one step and force it to disk."""
        self._steps.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
        self._steps.flush()
        os.fsync(self._steps.fileno())
        self.count += 1

    def finish(self, result: RunResult) -> None:
        """Write result.json atomically and close the step log."""
        self._steps.close()
        write_json_atomic(self.dir / "result.json", result.model_dump(mode="json"))
