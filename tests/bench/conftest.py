"""Shared helpers for the bench tests: small suites of real task files, and a skip rule for desktop tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DESKTOP_TOOLS = ("Xvfb", "xauth", "openbox", "xdotool", "mousepad", "galculator", "xclip")
WAIT = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}\n</tool_call>'


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip @pytest.mark.desktop tests here, naming what is missing, on machines without the tools."""
    missing = [tool for tool in DESKTOP_TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"bench desktop test needs {', '.join(missing)} (./install.sh installs them)")
    for item in items:
        if item.get_closest_marker("desktop") and Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


def task_copy(folder: Path, source: str, task_id: str, **changes) -> Path:
    """A copy of tasks/<source>.yaml with a new id and some fields changed, written into folder."""
    data = yaml.safe_load((REPO / "tasks" / f"{source}.yaml").read_text())
    data.update(id=task_id, **changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
