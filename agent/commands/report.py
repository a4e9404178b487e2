"""`agent report RUN_DIR`: one self-contained HTML file of a run, or a bench's scoreboard with a page per run."""
from __future__ import annotations

from pathlib import Path

import typer

from agent.bench.results import is_bench_dir
from agent.report import write_bench_report, write_report


def report_command(path: Path, output: Path | None) -> int:
    """Write the page(s) and print where the main one is."""
    write = write_bench_report if is_bench_dir(path) else write_report
    typer.echo(str(write(path, output)))
    return 0
