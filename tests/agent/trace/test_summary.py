"""One-line texts of runs and steps."""
from __future__ import annotations

import pytest

from agent.trace import read_run
from agent.trace.summary import describe_action, format_duration, run_summary


@pytest.mark.parametrize(
    "action, text",
    [
        ({"action": "left_click", "coordinate": [500, 300]}, "left_click (500, 300)"),
        ({"action": "type", "text": "a\nb"}, "type 'a\\nb'"),
        ({"action": "key", "keys": ["ctrl", "alt", "t"]}, "key ctrl+alt+t"),
        ({"action": "scroll", "pixels": 3, "coordinate": [1, 2]}, "scroll 3 at (1, 2)"),
        ({"action": "wait", "time": 2}, "wait 2s"),
        ({"action": "answer", "text": "x" * 60}, "answer '" + "x" * 38 + "…"),
        ({"action": "left_click"}, "left_click (?)"),
        ({}, "?"),
    ],
)
def test_describe_action(action, text):
    assert describe_action(action) == text


def test_format_duration():
    assert [format_duration(s) for s in (None, 4.25, 185, 3725)] == ["-", "4.2s", "3m05s", "1h02m"]


def test_summaries_of_recorded_runs(runs):
    success = run_summary(read_run(runs["success"]))
    assert (success.task, success.model, success.status, success.steps, success.duration_s) == (
        "open_settings", "local:Qwen3-VL-2B-Instruct", "success", 3, 6.5)
    crashed = run_summary(read_run(runs["crashed"]))
    # No result: the duration runs from the start to the end of the last whole step.
    assert crashed.status_label == "killed ⚠" and crashed.damaged and crashed.duration_s == 3.5
