"""Plain helpers shared by tests in several folders: the repository root and copies of shipped tasks."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

WAIT = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}\n</tool_call>'


def task_copy(folder: Path, source: str, task_id: str, **changes) -> Path:
    """A copy of tasks/<source>.yaml with a new id and some fields changed, written into folder."""
    data = yaml.safe_load((REPO / "tasks" / f"{source}.yaml").read_text())
    data.update(id=task_id, **changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
