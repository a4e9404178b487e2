"""`agent task from-run RUN_DIR -o TASK.yaml`: a successful run becomes a task whose reference is what it did."""
from __future__ import annotations

import sys
from pathlib import Path

from agent.errors import ExportError
from agent.export import task_from_run
from agent.tasks import write_text_atomic


def from_run_command(run_dir: Path, out: Path) -> int:
    """Build the task, then write it (never over an existing file); notes go to stderr."""
    out = Path(out)
    if out.exists():
        raise ExportError(f"-o {out}: already exists; give a new file name (nothing is overwritten)")
    if not out.absolute().parent.is_dir():
        raise ExportError(f"-o {out}: its folder {out.absolute().parent} does not exist")
    if not Path(run_dir).is_dir():
        raise ExportError(f"{run_dir}: no such run folder")
    text, notes = task_from_run(Path(run_dir), out)
    write_text_atomic(out, text)
    for note in notes:
        print(note, file=sys.stderr)
    print(f"wrote {out}: check it with `agent validate {out}`, play it with `agent run {out} --policy scripted`")
    return 0
