"""`agent report BENCH_DIR -o bench.html`: the scoreboard as one HTML page, each run's report beside it.

bench.html              summary, settings and the task × repeat scoreboard (one row per task, a coloured
                        cell per repeat, pass rate, flakiness, medians); each cell links to
bench_runs/<task>-<k>.html  the run's own `agent report` page (screenshots embedded)
"""
from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment

from agent.bench.results import read_bench
from agent.bench.scoreboard import TaskRow, cell_detail, legend, number_text, pass_text, symbol, task_rows
from agent.bench.summary import summary_lines
from agent.errors import NotARunError
from agent.report.run_report import write_report

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Bench {{ record.bench_id }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #1d1d1f; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
.success { color: #2e7d32; font-weight: bold; } .failure, .error, .max_steps { color: #c62828; font-weight: bold; }
.aborted { color: #b26a00; font-weight: bold; } .cell { text-align: center; } .cell a { text-decoration: none; color: inherit; }
.not_run { color: #999; } .legend { color: #555; } pre { background: #f6f8fa; padding: .5em; white-space: pre-wrap; }
</style></head><body>
<h1>Bench {{ record.bench_id }}</h1>
<p>suite <b>{{ record.suite.name }}</b> · policy <b>{{ record.policy.name }}</b>{% if record.policy.name == "local" %} ({{ record.policy.model }}){% endif %}
{% if record.shard %} · shard {{ record.shard }}{% endif %} · started {{ record.started_at }}{% if record.ended_at %} · ended {{ record.ended_at }}{% endif %}
{% if not record.complete %} · <span class="aborted">incomplete</span>{% endif %}</p>
<h2>Summary</h2><pre>{{ summary }}</pre>
<h2>Scoreboard</h2>
<p class="legend">{{ legend }}</p>
<table><tr><th>task</th>{% for repeat in repeats %}<th>#{{ repeat }}</th>{% endfor %}<th>pass</th><th>flaky</th><th>median steps</th><th>median s</th></tr>
{% for row in rows %}<tr><td>{% if row.link %}<a href="{{ row.link }}">{{ row.task.task_id }}</a>{% else %}{{ row.task.task_id }}{% endif %}</td>
{% for cell in row.cells %}<td class="cell {{ cell.status }}" title="{{ cell.detail }}">{% if cell.link %}<a href="{{ cell.link }}">{{ cell.symbol }}</a>{% else %}{{ cell.symbol }}{% endif %}</td>{% endfor %}
<td>{{ row.pass }}</td><td>{% if row.task.flakiness %}<span class="aborted">flaky</span>{% endif %}</td><td>{{ row.steps }}</td><td>{{ row.seconds }}</td></tr>
{% endfor %}</table>
{% if problems %}<h2>Runs that did not succeed</h2>
<table><tr><th>task</th><th>repeat</th><th>status</th><th>steps</th><th>seconds</th><th>message</th></tr>
{% for entry in problems %}<tr><td>{{ entry.task_id }}</td><td>{{ entry.repeat }}</td><td class="{{ entry.status }}">{{ entry.status }}</td>
<td>{{ entry.steps }}</td><td>{{ "%.1f"|format(entry.duration_s) }}</td><td>{{ entry.message }}</td></tr>
{% endfor %}</table>{% endif %}
<h2>Settings</h2><pre>{{ settings }}</pre>
</body></html>
"""


def write_bench_report(bench_dir: Path, output: Path | None = None) -> Path:
    """Write the bench page (default BENCH_DIR/bench.html) and one run page per run beside it."""
    bench_dir = Path(bench_dir)
    record = read_bench(bench_dir)  # a BenchError names what is wrong with the folder
    target = Path(output) if output is not None else bench_dir / "bench.html"
    if target.is_dir():
        raise NotARunError(f"-o {target} is a folder; name the HTML file to write")
    pages = target.parent / f"{target.stem}_runs"
    links = {}
    for entry in record.runs:
        run_dir = bench_dir / entry.run_dir if entry.run_dir else None
        if run_dir is not None and run_dir.is_dir():
            page = write_report(run_dir, pages / f"{entry.task_id}-{entry.repeat}.html")
            links[entry.key] = f"{pages.name}/{page.name}"
    tasks, repeats = task_rows(record)
    rows = [_row(task, repeats, links) for task in tasks]
    problems = [e for e in record.runs if e.status != "success"]
    settings = json.dumps({"policy": record.policy, "policy_settings": record.policy_settings,
                           "run_settings": record.run_settings, "versions": record.versions,
                           "machine": record.machine}, indent=2)
    html = Environment(autoescape=True).from_string(PAGE).render(
        record=record, rows=rows, repeats=repeats, problems=problems, legend=legend(),
        summary="\n".join(summary_lines(record.summary)), settings=settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target


def _row(task: TaskRow, repeats: list[int], links: dict) -> dict:
    """One scoreboard row for the template: the task links to its first run, each cell to its own."""
    cells = []
    for repeat in repeats:
        entry = task.cells.get(repeat)
        cells.append({"symbol": symbol(entry), "status": entry.status if entry else "not_run",
                      "detail": cell_detail(task, repeat), "link": links.get((task.task_id, repeat))})
    first = task.first_run()
    return {"task": task, "cells": cells, "link": links.get(first.key) if first else None, "pass": pass_text(task),
            "steps": number_text(task.median_steps), "seconds": number_text(task.median_seconds, 1)}
