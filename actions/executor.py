"""The Executor seam: something that performs screen-space actions."""
from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

from actions.schemas import recheck


@runtime_checkable
class Executor(Protocol):
    """Performs one action whose coordinates are already integer pointer pixels."""

    def execute(self, action: Any) -> None:
        """Carry out the action; terminate and answer do nothing, wait sleeps."""
        ...


class DryRunExecutor:
    """Records every action it is given and touches no desktop."""

    def __init__(self, sleep: bool = False):
        """sleep: honour `wait` actions with a real sleep (off: runs stay fast)."""
        self.executed: list[Any] = []
        self._sleep = sleep

    def execute(self, action: Any) -> None:
        """Record the action (and sleep for `wait` when asked to)."""
        recheck(action)  # the same guard as a real executor, so tests meet it too
        self.executed.append(action)
        if self._sleep and action.action == "wait":
            time.sleep(float(action.time))
