"""Follow a run folder while the loop writes it: read only what was appended since the last poll.

steps.jsonl grows by whole lines; a line without its newline may be half-written, so it is held
back until it is complete — or, once result.json exists (nothing more will come), reported as a
truncated last line. The state is kept as an `agent.trace.LoadedRun` so the screens treat a
followed run and a loaded one alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from agent.trace import LoadedRun, RunMeta, RunResult, StepRecord
from agent.trace.damage import checked_geometry, clip
from agent.trace.reader import step_problems

MISSING_RESULT = "result.json is missing: the run is still going or was killed"


@dataclass
class FollowUpdate:
    """What one poll found."""

    new_steps: list[StepRecord]
    meta_changed: bool
    finished: bool


class RunFollower:
    """Incremental reader of one run folder; `run` holds everything read so far."""

    def __init__(self, run_dir: Path):
        self.run = LoadedRun(path=Path(run_dir), problems=[MISSING_RESULT])
        self._offset = 0  # bytes of steps.jsonl consumed (whole lines only)
        self._line_number = 0
        self._partial = b""
        self._result_unreadable = False
        self._steps_unreadable = False

    @property
    def finished(self) -> bool:
        """True once result.json has been seen (read, or found unreadable)."""
        return self.run.result is not None or self._result_unreadable

    def poll(self) -> FollowUpdate:
        """Read new meta, steps and result; never raises for damaged content."""
        meta_changed = self.run.meta is None and self._read_meta()
        new_steps = self._read_new_steps()
        finished = False
        if not self.finished and (self.run.path / "result.json").exists():
            self._read_result()
            finished = True
            new_steps += self._read_new_steps()  # lines written just before the result
            self._report_truncated_tail()
        return FollowUpdate(new_steps=new_steps, meta_changed=meta_changed, finished=finished)

    def _read_meta(self) -> bool:
        path = self.run.path / "meta.json"
        if not path.exists():
            return False
        try:
            self.run.meta = RunMeta.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError, OSError):
            return False  # may be mid-rename on some filesystems: try again next poll
        checked_geometry(self.run.meta, self.run.problems)
        if self.run.meta.unknown_fields():
            self.run.problems.append(f"meta.json has unknown fields: {', '.join(self.run.meta.unknown_fields())}")
        return True

    def _read_new_steps(self) -> list[StepRecord]:
        path = self.run.path / "steps.jsonl"
        try:
            with open(path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []  # not written yet
        except OSError as exc:  # a folder, no permission: say so once
            if not self._steps_unreadable:
                self.run.problems.append(f"steps.jsonl is unreadable: {exc.strerror or exc}")
                self._steps_unreadable = True
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        steps = [s for s in (self._parse_line(line) for line in lines) if s is not None]
        self.run.steps.extend(steps)
        return steps

    def _parse_line(self, line: bytes) -> StepRecord | None:
        self._line_number += 1
        if not line.strip():
            return None
        try:
            step = StepRecord.model_validate_json(line.decode("utf-8", errors="replace"))
        except (ValidationError, ValueError) as exc:
            self.run.problems.append(f"steps.jsonl line {self._line_number} is unreadable: {clip(str(exc).splitlines()[0])}")
            return None
        self.run.problems.extend(step_problems(step, self.run.path))
        return step

    def _read_result(self) -> None:
        path = self.run.path / "result.json"
        try:
            self.run.result = RunResult.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError, OSError) as exc:
            # Written atomically, so a bad file stays bad: report it once and stop looking.
            self.run.problems.append(f"result.json is unreadable: {clip((str(exc) or type(exc).__name__).splitlines()[0])}")
            self._drop_missing_result()
            self._result_unreadable = True
            return
        self._drop_missing_result()
        if self.run.result.unknown_fields():
            self.run.problems.append(f"result.json has unknown fields: {', '.join(self.run.result.unknown_fields())}")

    def _drop_missing_result(self) -> None:
        self.run.problems[:] = [p for p in self.run.problems if p != MISSING_RESULT]

    def _report_truncated_tail(self) -> None:
        if self._partial.strip():
            self.run.problems.append("steps.jsonl last line (truncated?) is unreadable: no newline at end")
            self._partial = b""
