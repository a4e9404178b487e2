"""The agent loop: capture → policy → parse → map to screen → execute → record, until done.

Everything around it (the desktop, the checks, result.json) is agent/run.py; this file is only the step
cycle, so it can be read in one sitting. Its seams are typed where they are used: a `Policy` decides,
a `ScreenSource` captures, an `Executor` acts, a `TraceWriter` records.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal, Protocol

from actions import CoordinateError, Executor, FailSafeTriggered, ParseError, coordinate_system, parse, to_screen
from agent.errors import AgentError
from agent.policies.base import Observation, Policy, Turn
from agent.trace import StepError, StepRecord, TraceWriter, now_iso

if TYPE_CHECKING:  # type names only
    from PIL.Image import Image

    from actions import ScreenGeometry

EndReason = Literal["terminate", "answer", "max_steps", "aborted", "error"]


class ScreenSource(Protocol):
    """What the loop captures from: agent.desktop.Screen, or a synthetic screen in tests."""

    def capture(self) -> tuple["Image", "ScreenGeometry"]:
        """The screenshot and where it sits on the pointer's screen."""


@dataclass
class LoopConfig:
    """How long to run and how patient to be."""

    max_steps: int
    """Steps at most; the run ends with max_steps after the last."""
    settle_s: float = 0.5
    """Seconds to wait after actions so the next screenshot shows their effect."""
    max_consecutive_errors: int = 3
    """Parse/exec failures in a row before the run gives up with `error`."""
    failsafe: bool = False
    """Live desktop: keep targets off the corners that trigger pyautogui's FAILSAFE."""


@dataclass
class LoopOutcome:
    """Why the loop stopped."""

    reason: EndReason
    steps: int
    message: str = ""
    terminate_status: str | None = None  # "success"/"failure" when the model terminated
    answer: str | None = None  # the answer's text when the model answered (what the checks compare)


class Aborted(AgentError):
    """The person stopped the run (Ctrl-C, SIGTERM, pyautogui FAILSAFE)."""


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def _is_failsafe(exc: BaseException) -> bool:
    # pyautogui is imported lazily by the executor; match its own exception by name.
    return isinstance(exc, FailSafeTriggered) or type(exc).__name__ == "FailSafeException"


def run_loop(policy: Policy, screen: ScreenSource, executor: Executor, trace: TraceWriter, instruction: str,
             config: LoopConfig, abort: threading.Event | None = None,
             on_step: Callable[[StepRecord], None] | None = None) -> LoopOutcome:
    """Drive the desktop until the policy terminates/answers, the step limit, an abort or an error."""
    abort = abort or threading.Event()
    history: list[Turn] = []
    failures = 0
    policy.start(instruction)
    try:
        for step in range(config.max_steps):
            if abort.is_set():
                raise Aborted("abort requested")
            record, outcome = _one_step(policy, screen, executor, trace, history, step, config)
            trace.step(record)
            if on_step:
                on_step(record)
            history.append(Turn(record.model_output, record.error.message if record.error else None))
            failures = failures + 1 if record.error else 0
            if outcome:
                return outcome
            if failures >= config.max_consecutive_errors:
                return LoopOutcome("error", trace.count, f"{failures} failed steps in a row: {record.error.message}")
        return LoopOutcome("max_steps", trace.count, f"step limit {config.max_steps} reached")
    except (KeyboardInterrupt, Aborted) as exc:
        return LoopOutcome("aborted", trace.count, str(exc) or "interrupted (Ctrl-C)")


def _one_step(policy, screen, executor, trace, history, step, config) -> tuple[StepRecord, LoopOutcome | None]:
    started, timings = now_iso(), {}
    t = time.perf_counter()
    image, geometry = screen.capture()
    shot = trace.screenshot_path(step)
    image.save(shot, compress_level=1)
    timings["capture"] = _ms(t)

    t = time.perf_counter()
    reply = policy.next(Observation(image, geometry, step), history)
    timings["model"] = _ms(t)
    record = StepRecord(step=step, started_at=started, ended_at=started, screenshot=shot.name,
                        model_output=reply.text, counters=reply.counters, output_format=reply.output_format,
                        coordinates=reply.coordinates,
                        image_size=list(reply.image_size) if reply.image_size else None)
    if reply.error is not None:  # the model call failed: a step error, the run goes on
        record.error = StepError(kind="policy", message=reply.error)
        record.timings_ms, record.ended_at = timings, now_iso()
        return record, None
    outcome = None
    try:
        parsed = parse(reply.text, reply.output_format)
        record.thought, record.notes = parsed.thought, list(parsed.notes)
        record.actions = [a.model_dump(mode="json") for a in parsed.actions]
        system = coordinate_system(reply.coordinates, reply.image_size)
        t = time.perf_counter()
        for action in parsed.actions:
            pixel_action = to_screen(action, geometry, system, failsafe=config.failsafe)
            executor.execute(pixel_action)
            record.executed.append(pixel_action.model_dump(mode="json"))
            outcome = outcome or _ending(action, step)
        timings["execute"] = _ms(t)
        if not outcome and parsed.actions:
            time.sleep(config.settle_s)
    except ParseError as exc:
        record.error = StepError(kind="parse", message=str(exc))
    except CoordinateError as exc:
        record.error = StepError(kind="exec", message=str(exc))
    except Exception as exc:
        record.error = StepError(kind="exec", message=f"{type(exc).__name__}: {exc}")
        if _is_failsafe(exc):  # the person's kill switch: keep the step, stop the run
            outcome = LoopOutcome("aborted", step + 1, "pyautogui FAILSAFE: mouse moved to a screen corner")
    record.timings_ms, record.ended_at = timings, now_iso()
    return record, outcome


def _ending(action, step: int) -> LoopOutcome | None:
    """terminate and answer end the run; every other action lets it go on."""
    kind = action.action
    if kind == "terminate":
        return LoopOutcome("terminate", step + 1, f"model terminated: {action.status}", action.status)
    if kind == "answer":
        return LoopOutcome("answer", step + 1, f"model answered: {action.text}", answer=action.text)
    return None
