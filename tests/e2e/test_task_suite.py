"""The shipped task suite rejects wrong solutions: for every task, a plausible mistake run end to end.

Each variant is the task's reference solution with one realistic error (a step left out, a wrong
value typed, an unsaved document, an answer that is off by one), played through `agent run
--policy scripted` in a real sandbox. The task's checks must call it a failure. (The references
themselves run in tests/agent/bench/test_bench_runs.py, as the core suite; each passed three runs in a row
when it was written.)
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Callable

import pytest
import yaml

from tests.helpers import REPO

TASKS = REPO / "tasks"

TERMINATE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


def call(**arguments) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}, ensure_ascii=False) + "\n</tool_call>"


def stop_after(count: int) -> Callable[[list[str]], list[str]]:
    """Keep the first `count` steps, then claim success."""
    return lambda steps: steps[:count] + [TERMINATE]


def without(index: int) -> Callable[[list[str]], list[str]]:
    """Leave out one step."""
    return lambda steps: steps[:index] + steps[index + 1:]


def replace(index: int, **arguments) -> Callable[[list[str]], list[str]]:
    """Do something else at one step."""
    return lambda steps: steps[:index] + [call(**arguments)] + steps[index + 1:]


# task id -> (the mistake, how the reference is changed)
WRONG = {
    "calc_keyboard_expression": ("no parentheses: 17+8*4 = 49", replace(0, action="type", text="17+8*4=")),
    "calc_to_editor": ("never pastes the result", stop_after(2)),
    "calculate_product": ("never copies the result", stop_after(6)),
    "dialog_name_entry": ("accents dropped", replace(0, action="type", text="Zoe Angstrom")),
    "dialog_volume_scale": ("slider left at 50", without(0)),
    "doc_bold_title": ("heading not made bold", without(2)),
    "edit_todo": ("never saves", stop_after(7)),
    "fm_new_folder": ("misspelt name", replace(4, action="type", text="Invoice")),
    "fm_open_in_editor": ("never saves", stop_after(5)),
    "fm_rename_file": ("wrong new name", replace(3, action="type", text="final.text")),
    "image_browse": ("stops one picture early", stop_after(1)),
    "mousepad_delete_line": ("leaves an empty line", without(2)),
    "mousepad_drag_replace": ("wrong case", replace(1, action="type", text="Blue")),
    "mousepad_middle_paste": ("no middle click", without(1)),
    "mousepad_scroll_fix": ("does not scroll, edits the wrong line", without(1)),
    "open_settings": ("opens the menu only", stop_after(1)),
    "replace_word": ("never saves", stop_after(8)),
    "save_note": ("sentence without its full stop",
                  replace(1, action="type", text="The quick brown fox jumps over the lazy dog")),
    "sheet_far_column": ("does not scroll, fills the wrong column", without(0)),
    "sheet_sum_column": ("types the number instead of a formula", replace(0, action="type", text="12\n30\n42\n")),
    "sheet_total_row": ("never saves", stop_after(2)),
    "terminal_count_errors": ("off by one", replace(1, action="answer", text="4")),
    "terminal_make_notes": ("no final line break",
                            replace(0, action="type", text="mkdir -p notes && printf 'alpha\\nbeta' > notes/list.txt\n")),
    "terminal_open_editor": ("never saves", stop_after(3)),
    "terminal_unicode_greeting": ("non-ASCII text replaced",
                                  replace(1, action="type", text="Grusse aus Koln - ni hao (ok) <done>\n")),
    "uppercase_text": ("never saves", stop_after(4)),
}

TASK_IDS = sorted(path.stem for path in TASKS.glob("*.yaml"))


def test_every_shipped_task_has_a_wrong_variant():
    assert sorted(WRONG) == TASK_IDS


def _needs(task: dict) -> list[str]:
    return [app for app in ["Xvfb", "openbox", "xdotool", *task.get("applications", [])] if shutil.which(app) is None]


@pytest.mark.desktop
@pytest.mark.slow
@pytest.mark.parametrize("task_id", TASK_IDS)
def test_the_checks_reject_a_wrong_solution(task_id, tmp_path):
    task = yaml.safe_load((TASKS / f"{task_id}.yaml").read_text(encoding="utf-8"))
    missing = _needs(task)
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (./install.sh installs them)")
    mistake, change = WRONG[task_id]
    task["reference"] = change(task["reference"])
    task["max_steps"] = max(task["max_steps"], len(task["reference"]))
    variant = tmp_path / f"{task_id}.yaml"
    variant.write_text(yaml.safe_dump(task, allow_unicode=True, sort_keys=False), encoding="utf-8")
    shutil.copytree(TASKS / "fixtures", tmp_path / "fixtures")  # `from:` paths are relative to the task file
    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "run", str(variant), "--policy", "scripted",
                           "--runs-dir", str(runs)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))
    assert runs.is_dir(), proc.stderr[-2000:]
    [run_dir] = [path for path in runs.iterdir() if path.is_dir()]
    result = json.loads((run_dir / "result.json").read_text())
    assert proc.returncode == 1 and result["status"] == "failure", (mistake, result, proc.stderr[-2000:])
    assert any(not check["passed"] for check in result["checks"])
