"""`agent validate PATH...`: check task files and suite files, report every one, exit 0 only when all pass."""
from __future__ import annotations

from pathlib import Path

import typer

from agent.bench.suite import is_suite_file, validate_suite
from agent.tasks import TASK_SUFFIXES, ValidationReport, validate_paths


def validate_command(paths: list[Path]) -> int:
    """Print one line per file (and its problems); 0 when every file is valid, 2 otherwise."""
    problems = validate_inputs(paths)
    for line in problems.report_lines():
        typer.echo(line)
    return 0 if problems.ok else 2


def validate_inputs(paths: list[Path]) -> ValidationReport:
    """Task files through agent.tasks, suite files (in a `suites` folder) through agent.bench.suite."""
    report = ValidationReport()
    for given in map(Path, paths):
        files = sorted(p for p in given.rglob("*") if p.is_file() and p.suffix in TASK_SUFFIXES) if given.is_dir() else [given]
        suites = [p for p in files if is_suite_file(p)]
        tasks = [p for p in files if p not in suites]
        if not suites:
            report.results += validate_paths([given]).results
            continue
        if tasks:
            report.results += validate_paths(tasks).results
        report.results += [(p, validate_suite(p)) for p in suites]
    return report
