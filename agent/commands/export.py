"""`agent export RUN_DIR_OR_BENCH... -o DATASET`: traces as supervised fine-tuning data (agent/export/)."""
from __future__ import annotations

from pathlib import Path

from agent.export import ExportOptions, export_dataset


def export_command(paths: list[Path], out: Path, options: ExportOptions) -> int:
    """Write the dataset and print what it holds; an ExportError (exit 2) leaves nothing behind."""
    summary = export_dataset(paths, out, options)
    print("\n".join(summary.lines()))
    return 0
