"""Suite files: loading, globs, defaults, errors naming file and field, and `agent validate` on them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.bench.plan import parse_shard, plan_jobs, still_to_do
from agent.bench.results import RunEntry
from agent.bench.suite import folder_suite, load_bench_input, load_suite, load_tasks
from agent.errors import ShardError, SuiteError
from tests.helpers import REPO, task_copy


def write_suite(folder: Path, **data) -> Path:
    (folder / "suites").mkdir(parents=True, exist_ok=True)
    path = folder / "suites" / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", **data}))
    return path


def test_core_suite_holds_every_shipped_task():
    suite = load_suite(REPO / "tasks/suites/core.yaml")
    shipped = sorted(p.resolve() for p in (REPO / "tasks").glob("*.yaml"))
    assert sorted(p.resolve() for p in suite.task_files) == shipped
    assert [task.id for _, task in load_tasks(suite)]  # every one loads


def test_globs_are_relative_to_the_suite_and_defaults_override_tasks(tmp_path):
    task_copy(tmp_path, "open_settings", "alpha")
    task_copy(tmp_path, "open_settings", "beta")
    suite = load_suite(write_suite(tmp_path, tasks=["../*.yaml", "../alpha.yaml"],
                                   defaults={"max_steps": 5, "width": 1024, "height": 768}, repeats=3))
    assert [p.name for p in suite.task_files] == ["alpha.yaml", "beta.yaml"]  # no duplicate
    tasks = [task for _, task in load_tasks(suite)]
    assert [t.max_steps for t in tasks] == [5, 5]
    assert {(t.sandbox.width, t.sandbox.height) for t in tasks} == {(1024, 768)}
    assert suite.repeats == 3


@pytest.mark.parametrize("data, field", [
    ({"tasks": ["../*.yaml"], "repeat": 2}, "repeat"),
    ({"tasks": ["../*.yaml"], "repeats": 0}, "repeats"),
    ({"tasks": []}, "tasks"),
    ({"tasks": ["../nothing-*.yaml"]}, "tasks[0]"),
    ({"tasks": ["../missing.yaml"]}, "tasks[0]"),
    ({"tasks": ["../*.yaml"], "defaults": {"max_step": 3}}, "defaults.max_step"),
])
def test_a_bad_suite_names_file_and_field(tmp_path, data, field):
    task_copy(tmp_path, "open_settings", "alpha")
    path = write_suite(tmp_path, **data)
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    assert str(path) in str(error.value) and field in str(error.value)


def test_a_broken_task_fails_validation_but_a_bench_keeps_it_as_an_error(tmp_path):
    task_copy(tmp_path, "open_settings", "alpha")
    (tmp_path / "broken.yaml").write_text("id: broken\ninstruction: [unclosed\n")
    suite = folder_suite(tmp_path)
    with pytest.raises(SuiteError, match="broken.yaml"):
        load_tasks(suite)
    loaded = load_tasks(suite, strict=False)
    assert isinstance(loaded[1][1], SuiteError) and loaded[0][1].id == "alpha"


def test_a_folder_of_tasks_is_a_suite_and_a_missing_path_is_an_error(tmp_path):
    task_copy(tmp_path, "open_settings", "alpha")
    assert load_bench_input(tmp_path).name == tmp_path.name
    with pytest.raises(SuiteError, match="no such suite"):
        load_bench_input(tmp_path / "nope.yaml")


def test_agent_validate_checks_suites_beside_tasks(tmp_path):
    task_copy(tmp_path, "open_settings", "alpha")
    write_suite(tmp_path, tasks=["../*.yaml"], repeat=2)
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "validate", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "ok " in proc.stdout and "s.yaml" in proc.stdout and "repeat" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_shards_are_disjoint_deterministic_and_cover_the_suite(tmp_path):
    for name in "abcde":
        task_copy(tmp_path, "open_settings", name)
    tasks = load_tasks(folder_suite(tmp_path))
    slices = [plan_jobs(tasks, 2, (i, 3)) for i in (1, 2, 3)]
    keys = [job.key for jobs in slices for job in jobs]
    assert sorted(keys) == sorted(job.key for job in plan_jobs(tasks, 2)) and len(set(keys)) == len(keys)
    assert [j.key for j in plan_jobs(tasks, 2, (2, 3))] == [j.key for j in slices[1]]
    assert {j.task_id for j in slices[0]} == {"a", "d"}  # every repeat of a task stays in its slice


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_a_bad_shard_is_an_error_naming_it(text):
    with pytest.raises(ShardError, match=text):
        parse_shard(text)


def test_resume_skips_finished_runs_and_rerun_failed_retries_failures(tmp_path):
    for name in "ab":
        task_copy(tmp_path, "open_settings", name)
    jobs = plan_jobs(load_tasks(folder_suite(tmp_path)), 1)
    done = [RunEntry(task_id="a", task_file="a.yaml", repeat=1, status="success"),
            RunEntry(task_id="b", task_file="b.yaml", repeat=1, status="failure")]
    assert still_to_do(jobs, done, rerun_failed=False) == []
    assert [j.task_id for j in still_to_do(jobs, done, rerun_failed=True)] == ["b"]
    aborted = [done[0], RunEntry(task_id="b", task_file="b.yaml", repeat=1, status="aborted")]
    assert [j.task_id for j in still_to_do(jobs, aborted, rerun_failed=False)] == ["b"]
