"""Traces: the run folder the loop writes and the viewer, the report and replay read.

runs/<run-id>/meta.json      RunMeta, written at start
runs/<run-id>/steps.jsonl    one StepRecord per line, appended, flushed and fsynced as each step ends
runs/<run-id>/step_NNNN.png  the screenshot each step saw
runs/<run-id>/result.json    RunResult, written last and atomically (tmp file + rename)
"""
from agent.trace.reader import LoadedRun, is_run_dir, list_runs, read_run
from agent.trace.records import (
    CheckOutcome,
    GeometryRecord,
    RunMeta,
    RunResult,
    StepError,
    StepRecord,
    new_run_id,
    now_iso,
)
from agent.trace.writer import TraceWriter, write_json_atomic

__all__ = ["CheckOutcome", "GeometryRecord", "LoadedRun", "RunMeta", "RunResult", "StepError", "StepRecord",
           "TraceWriter", "is_run_dir", "list_runs", "new_run_id", "now_iso", "read_run", "write_json_atomic"]
