"""A bench as a task × repeat grid: one row per task, one cell per repeat, pass rate, flakiness, medians.

Plain data, no Textual: the viewer's bench screen and the HTML bench report both draw from it.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

from agent.bench.results import BenchRecord, RunEntry
from agent.bench.summary import flakiness

# status → (symbol, meaning); a planned repeat without an entry has not run yet
SYMBOLS = {"success": "✓", "failure": "✗", "max_steps": "↻", "error": "!", "aborted": "⊘", "done": "○",
           "gave_up": "⌀"}
MEANINGS = {"success": "success", "failure": "checks failed", "max_steps": "step limit", "error": "error",
            "aborted": "aborted (redone on resume)", "done": "no checks: the model said done",
            "gave_up": "no checks: the model gave up"}
NOT_RUN = "·"


@dataclass
class TaskRow:
    """One task of a bench: its entry per repeat and the numbers over its finished runs."""

    task_id: str
    cells: dict[int, RunEntry | None] = field(default_factory=dict)  # repeat → entry (None: not run yet)

    @property
    def finished(self) -> list[RunEntry]:
        """Runs that count (an aborted run waits to be redone)."""
        return [e for e in self.cells.values() if e is not None and e.status != "aborted"]

    @property
    def successes(self) -> int:
        return sum(e.status == "success" for e in self.finished)

    @property
    def rate(self) -> float | None:
        """Share of finished runs that succeeded; None before any finished."""
        return self.successes / len(self.finished) if self.finished else None

    @property
    def flakiness(self) -> float:
        """Share of runs on the minority outcome (agent.bench.summary.flakiness): 0 when every repeat agrees."""
        return flakiness(self.successes, len(self.finished))

    @property
    def median_steps(self) -> float | None:
        return statistics.median(e.steps for e in self.finished) if self.finished else None

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(e.duration_s for e in self.finished) if self.finished else None

    def first_run(self) -> RunEntry | None:
        """The lowest repeat that has a run folder (what selecting the whole row opens)."""
        return next((e for _, e in sorted(self.cells.items()) if e is not None and e.run_dir), None)


def task_rows(record: BenchRecord) -> tuple[list[TaskRow], list[int]]:
    """(rows in plan order, the repeat numbers that are columns) of a bench record."""
    keys = [(str(task), int(repeat)) for task, repeat in record.planned] + [e.key for e in record.runs]
    repeats = sorted({repeat for _, repeat in keys} | set(range(1, record.repeats + 1)))
    rows: dict[str, TaskRow] = {}
    for task, _ in keys:
        rows.setdefault(task, TaskRow(task, {repeat: None for repeat in repeats}))
    for entry in record.runs:
        rows[entry.task_id].cells[entry.repeat] = entry
    return list(rows.values()), repeats


# sort name → (key, largest first by default); ties keep task-id order
SORTS: dict[str, tuple[Callable[[TaskRow], Any], bool]] = {
    "task": (lambda r: r.task_id, False),
    "pass": (lambda r: -1.0 if r.rate is None else r.rate, False),  # worst first
    "flaky": (lambda r: r.flakiness, True),  # most flaky first
    "steps": (lambda r: -1.0 if r.median_steps is None else r.median_steps, True),
    "seconds": (lambda r: -1.0 if r.median_seconds is None else r.median_seconds, True),
}


def sorted_rows(rows: list[TaskRow], by: str, reverse: bool) -> list[TaskRow]:
    """Rows ordered by one of SORTS (a stable sort over task-id order, so ties read alphabetically)."""
    return sorted(sorted(rows, key=lambda r: r.task_id), key=SORTS[by][0], reverse=reverse)


def symbol(entry: RunEntry | None) -> str:
    return NOT_RUN if entry is None else SYMBOLS.get(entry.status, "?")


def pass_text(row: TaskRow) -> str:
    """'1/2 50%' (successes / finished runs, rate); '—' before any run finished."""
    if row.rate is None:
        return "—"
    return f"{row.successes}/{len(row.finished)} {100 * row.rate:.0f}%"


def number_text(value: float | None, digits: int | None = None) -> str:
    """A median for a cell: `digits` decimals, or a whole number as such and halves with one decimal."""
    if value is None:
        return "—"
    if digits is not None:
        return f"{value:.{digits}f}"
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def legend() -> str:
    """One line saying what each cell symbol means."""
    return "  ".join(f"{SYMBOLS[s]} {MEANINGS[s]}" for s in SYMBOLS) + f"  {NOT_RUN} not run yet"


def cell_detail(row: TaskRow, repeat: int) -> str:
    """What one cell stands for, in words."""
    entry = row.cells.get(repeat)
    if entry is None:
        return f"{row.task_id} #{repeat}: not run yet"
    text = f"{row.task_id} #{repeat}: {entry.status}, {entry.steps} steps, {entry.duration_s:.1f} s"
    return text + (f" — {entry.message}" if entry.message else "")
