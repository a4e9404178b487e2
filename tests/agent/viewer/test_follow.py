"""RunFollower: reading a run folder while it is written."""
from __future__ import annotations

from pathlib import Path

from agent.trace import RunResult, TraceWriter
from agent.viewer.follow import RunFollower
from tests.agent.trace.recorded_runs import meta, step


def test_follower_picks_up_appended_steps_and_the_result(tmp_path: Path):
    writer = TraceWriter(tmp_path, meta("20261101-130000-live-dddd", "live", 13))
    follower = RunFollower(writer.dir)
    first = follower.poll()
    assert first.meta_changed and first.new_steps == [] and not follower.finished

    step(writer, 0, 13, "one")
    step(writer, 1, 13, "two")
    assert [s.model_output for s in follower.poll().new_steps] == ["one", "two"]
    assert follower.poll().new_steps == []

    step(writer, 2, 13, "three")
    writer.finish(RunResult(status="success", steps=3, duration_s=5, ended_at="2026-11-01T13:00:05+00:00"))
    last = follower.poll()
    assert [s.model_output for s in last.new_steps] == ["three"] and last.finished
    assert follower.run.status == "success" and follower.run.problems == []


def test_half_written_line_waits_until_complete(tmp_path: Path):
    writer = TraceWriter(tmp_path, meta("20261101-130000-live-eeee", "live", 13))
    record = step(writer, 0, 13, "whole")
    line = record.model_copy(update={"step": 1, "model_output": "late"}).model_dump_json()
    follower = RunFollower(writer.dir)
    with open(writer.dir / "steps.jsonl", "a", encoding="utf-8") as f:
        f.write(line[:30])
        f.flush()
        assert [s.model_output for s in follower.poll().new_steps] == ["whole"]
        f.write(line[30:] + "\n")
    assert [s.model_output for s in follower.poll().new_steps] == ["late"]
    assert not any("unreadable" in p for p in follower.run.problems)


def test_crashed_run_reports_damage(runs):
    follower = RunFollower(runs["crashed"])
    follower.poll()
    problems = " | ".join(follower.run.problems)
    assert len(follower.run.steps) == 2 and not follower.finished
    assert "gpu_temp_c" in problems and "step_0001.png is missing" in problems and "still going" in problems


def test_truncated_tail_is_reported_once_the_run_ended(runs):
    (runs["crashed"] / "result.json").write_text('{"status": "error", "steps": 2, "duration_s": 4, "ended_at": "x"}')
    follower = RunFollower(runs["crashed"])
    follower.poll()
    assert follower.finished and follower.run.status == "error"
    assert any("truncated" in p for p in follower.run.problems)
    assert not any("still going" in p for p in follower.run.problems)


def test_unreadable_result_is_damage_not_a_crash(runs):
    (runs["crashed"] / "result.json").write_text("{not json")
    follower = RunFollower(runs["crashed"])
    follower.poll()
    follower.poll()
    assert follower.finished and follower.run.result is None
    assert sum("result.json is unreadable" in p for p in follower.run.problems) == 1
