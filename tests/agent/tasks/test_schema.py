"""Task files: schema, error messages that name file/field/line, and `validate_paths`."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from agent.errors import TaskError
from agent.tasks import expand, load_task, resolve_path, task_from_data, validate_paths
from agent.tasks.checks import CommandCheck, FileCheck, WindowCheck
from agent.tasks.validate import reference_problems
from tests.helpers import REPO

TASKS = REPO / "tasks"

TERMINATE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'
CLICK = 'Thought: click.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 500]}}\n</tool_call>'


def minimal(**overrides):
    """The smallest valid task as YAML data, with fields replaced."""
    data = {
        "id": "demo",
        "instruction": "Do the thing.",
        "checks": {"items": [{"title": "Demo"}]},
        "reference": [CLICK, TERMINATE],
    }
    data.update(overrides)
    return data


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_minimal_task_gets_defaults():
    task = task_from_data(minimal(), "demo.yaml")
    assert (task.sandbox.width, task.sandbox.height) == (1280, 800)
    assert task.checks.mode == "all" and isinstance(task.checks.items[0], WindowCheck)
    assert task.max_steps == 15 and task.settle_s == 1.0


def test_each_check_kind_is_told_by_its_key():
    checks = {"mode": "any", "items": [
        {"title": "^A$"},
        {"path": "{home}/x.txt", "contains": "x"},
        {"command": "true", "timeout": 3},
    ]}
    task = task_from_data(minimal(checks=checks), "demo.yaml")
    assert [type(item) for item in task.checks.items] == [WindowCheck, FileCheck, CommandCheck]
    assert task.checks.items[2].timeout == 3


def test_typo_in_nested_field_names_file_and_path(tmp_path):
    path = write(tmp_path, "typo.yaml", """\
        id: typo
        instruction: Open it.
        sandbox:
          apps: [mousepad]
          wiat_windows: [Mousepad]
        checks:
          items:
            - title: Mousepad
        """)
    with pytest.raises(TaskError) as caught:
        load_task(path)
    assert str(caught.value) == f"{path}: sandbox.wiat_windows: unknown field"


def test_missing_and_bad_fields_are_listed_with_paths():
    data = minimal(max_steps=0)
    del data["instruction"]
    data["checks"] = {"items": [{"path": "a.txt", "equals": "x", "contains": "y"}, {"equals": "z"}]}
    with pytest.raises(TaskError) as caught:
        task_from_data(data, "bad.yaml")
    message = str(caught.value)
    assert message.startswith("bad.yaml: ")
    assert "instruction: field required" in message
    assert "max_steps: Input should be greater than or equal to 1" in message
    assert "checks.items[0]: give exactly one of equals, contains, matches (got ['equals', 'contains'])" in message
    assert ("checks.items[1]: a check needs one of the keys title (window), no_title (no such window), "
            "path (file), command (command) or answer") in message


def test_bad_regex_and_wrong_type_are_named():
    data = minimal(checks={"items": [{"title": "(unclosed"}]}, sandbox={"wait_windows": "Mousepad", "width": "wide"})
    with pytest.raises(TaskError) as caught:
        task_from_data(data, "re.yaml")
    message = str(caught.value)
    assert "checks.items[0].title: not a valid regular expression" in message
    assert "sandbox.wait_windows: Input should be a valid list" in message
    assert "sandbox.width: Input should be a valid integer" in message


def test_bad_id_and_overlong_reference_are_rejected():
    with pytest.raises(TaskError, match=r"id: String should match pattern"):
        task_from_data(minimal(id="Has Spaces"), "id.yaml")
    with pytest.raises(TaskError, match=r"reference has 2 steps but max_steps is 1"):
        task_from_data(minimal(max_steps=1), "steps.yaml")


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "broken.yaml", """\
        id: broken
        instruction: fine
        checks:
          items: [ {title: a}
        max_steps: 3
        """)
    with pytest.raises(TaskError, match=rf"^{path}: malformed YAML at line \d+, column \d+"):
        load_task(path)
    tab = write(tmp_path, "tab.yaml", "id: x\n\tinstruction: y\n")
    with pytest.raises(TaskError, match=r"malformed YAML at line 2, column 1"):
        load_task(tab)


def test_top_level_must_be_a_mapping_and_file_must_exist(tmp_path):
    with pytest.raises(TaskError, match=r"list\.yaml: expected a mapping of task fields, got list"):
        load_task(write(tmp_path, "list.yaml", "- a\n- b\n"))
    with pytest.raises(TaskError, match=r"missing\.yaml: cannot read"):
        load_task(tmp_path / "missing.yaml")


def test_placeholders_expand_only_workdir_and_home():
    assert expand("cd {workdir} && ls {home}/a {x} ${HOME}", "/w", "/w/home") == "cd /w && ls /w/home/a {x} ${HOME}"
    assert resolve_path("notes/a.txt", "/w", "/w/home") == Path("/w/home/notes/a.txt")
    assert resolve_path("{workdir}/a", "/w", "/w/home") == Path("/w/a")


def test_validate_paths_walks_folders_and_reports_each_file(tmp_path):
    good = tmp_path / "suite" / "good.yml"
    good.parent.mkdir()
    good.write_text(yaml.safe_dump(minimal()))
    bad = tmp_path / "suite" / "nested" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text(yaml.safe_dump(minimal(instructions="typo")))
    (tmp_path / "suite" / "notes.txt").write_text("not a task")
    missing = tmp_path / "nope.yaml"
    report = validate_paths([tmp_path / "suite", missing])
    assert not report.ok
    assert report.report_lines() == [
        f"ok {good}",
        f"error {bad}: instructions: unknown field",
        f"error {missing}: no such file or folder",
    ]


def test_reference_steps_must_parse_stay_on_the_grid_and_end_with_terminate():
    task = task_from_data(minimal(reference=["I will click somewhere.", CLICK.replace("500, 500", "500, 1200"), CLICK]), "r.yaml")
    problems = reference_problems(task)
    assert problems[0].startswith("reference[0]: ")
    assert problems[1].startswith("reference[1]: ") and "1200" in problems[1]
    assert len(problems) == 2
    unfinished = task_from_data(minimal(reference=[CLICK]), "r.yaml")
    assert reference_problems(unfinished) == ["reference[0]: the last step must be a terminate or answer action"]
    assert reference_problems(task_from_data(minimal(), "r.yaml")) == []


def test_validate_reports_reference_problems(tmp_path):
    path = tmp_path / "noterm.yaml"
    path.write_text(yaml.safe_dump(minimal(reference=[CLICK])))
    assert validate_paths([path]).report_lines() == [
        f"error {path}: reference[0]: the last step must be a terminate or answer action"
    ]


def test_every_shipped_task_validates():
    report = validate_paths(sorted(TASKS.glob("*.yaml")))  # suites/ holds suite files, checked by agent.bench
    assert report.ok, "\n".join(report.report_lines())
    names = {Path(line.split()[1]).name for line in report.report_lines()}
    assert "open_settings.yaml" in names and len(names) >= 5


def test_open_settings_checks_the_preferences_window():
    task = load_task(TASKS / "open_settings.yaml")
    assert task.sandbox.apps == ["mousepad"]
    assert [check.title for check in task.checks.items] == ["^Mousepad Preferences$"]
    assert len(task.reference) >= 2


# -- schema parts added for the 24-task suite ------------------------------------------------
def test_new_check_kinds_are_told_by_their_keys():
    from agent.tasks.checks import AnswerCheck, NoWindowCheck

    items = [{"no_title": "Dialog"}, {"answer": "^42$"}, {"command": "echo 1", "equals": "1", "status": 0}]
    task = task_from_data(minimal(checks={"items": items}), "t.yaml")
    assert [type(item) for item in task.checks.items] == [NoWindowCheck, AnswerCheck, CommandCheck]
    assert task.checks.items[2].equals == "1"


def test_command_check_takes_at_most_one_stdout_condition():
    with pytest.raises(TaskError, match=r"checks.items\[0\]: give at most one of equals, contains, matches"):
        task_from_data(minimal(checks={"items": [{"command": "true", "equals": "a", "matches": "b"}]}), "t.yaml")


def test_difficulty_and_applications():
    task = task_from_data(minimal(difficulty="hard", applications=["xterm", "mousepad"]), "t.yaml")
    assert task.difficulty == "hard" and task.applications == ["xterm", "mousepad"]
    with pytest.raises(TaskError, match="difficulty: Input should be 'easy', 'medium' or 'hard'"):
        task_from_data(minimal(difficulty="trivial"), "t.yaml")


@pytest.mark.parametrize("key", ["/etc/cron.d/x", "../escape.txt", "{home}/../../x", "{workdir}/../x", "a/../../b"])
def test_files_keys_that_leave_the_sandbox_are_refused(key):
    with pytest.raises(TaskError, match="leaves the sandbox"):
        task_from_data(minimal(sandbox={"files": {key: "x"}}), "t.yaml")
    allowed = task_from_data(minimal(sandbox={"files": {key: "x"}, "allow_outside_paths": True}), "t.yaml")
    assert key in allowed.sandbox.files


def test_file_checks_outside_the_sandbox_need_the_opt_in():
    outside = {"checks": {"items": [{"path": "/etc/passwd", "contains": "root"}]}}
    with pytest.raises(TaskError, match=r"checks.items\[0\].path '/etc/passwd' leaves the sandbox"):
        task_from_data(minimal(**outside), "t.yaml")
    task = task_from_data(minimal(**outside, sandbox={"allow_outside_paths": True}), "t.yaml")
    assert task.checks.allow_outside_paths


def test_files_can_copy_fixtures_from_beside_the_task_file(tmp_path):
    from agent.tasks.files import write_task_files

    (tmp_path / "fixtures").mkdir()
    blob = bytes(range(256)) * 4  # not text: copied byte for byte
    (tmp_path / "fixtures" / "blob.bin").write_bytes(blob)
    data = minimal(sandbox={"files": {"Pictures/blob.bin": {"from": "fixtures/blob.bin"}, "note.txt": "hi"}})
    path = tmp_path / "task.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    task = load_task(path)
    workdir = tmp_path / "box"
    (workdir / "home").mkdir(parents=True)
    write_task_files(task.sandbox, workdir, workdir / "home")
    assert (workdir / "home" / "Pictures" / "blob.bin").read_bytes() == blob
    assert (workdir / "home" / "note.txt").read_text() == "hi"


def test_a_missing_or_escaping_fixture_is_reported_by_validate(tmp_path):
    data = minimal(sandbox={"files": {"a.png": {"from": "fixtures/none.png"}}})
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    [(_, error)] = validate_paths([tmp_path / "t.yaml"]).results
    assert "fixture" in error and "none.png does not exist" in error
    with pytest.raises(TaskError, match="relative path inside the task file's folder"):
        task_from_data(minimal(sandbox={"files": {"a.png": {"from": "../secret"}}}), "t.yaml")


def test_an_unquoted_hash_that_cut_a_value_says_to_quote_it(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent("""\
        id: demo
        instruction: Do it.
        sandbox:
          setup:
            - echo '#' >> notes.txt # adds a heading
        checks:
          items:
            - title: Demo
        reference: []
        """), encoding="utf-8")
    with pytest.raises(TaskError) as caught:
        load_task(path)
    message = str(caught.value)
    assert f"{path}: line 5:" in message and "put the whole value in quotes" in message
    assert "echo '#' >> notes.txt" in message


def test_comments_on_their_own_lines_and_after_numbers_are_accepted(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("# a task\nid: demo\ninstruction: 'Do it # now'\nmax_steps: 5  # enough\n"
                    "checks:\n  items:\n    - title: Demo\n", encoding="utf-8")
    task = load_task(path)
    assert task.instruction == "Do it # now" and task.max_steps == 5


# -- the shipped suite -----------------------------------------------------------------------
ACTION_KINDS = {"key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
                "double_click", "triple_click", "scroll", "hscroll", "wait", "terminate", "answer"}


def shipped_tasks():
    return [load_task(path) for path in sorted(TASKS.glob("*.yaml"))]


def test_the_suite_has_24_tasks_on_6_applications_with_difficulty():
    tasks = shipped_tasks()
    assert len(tasks) >= 24
    assert all(task.difficulty and task.applications for task in tasks)
    assert len({app for task in tasks for app in task.applications}) >= 6


def test_the_suite_covers_every_action_kind():
    from actions import parse

    used = {action.action for task in shipped_tasks() for text in task.reference for action in parse(text).actions}
    assert used == ACTION_KINDS


def test_at_least_four_tasks_span_two_applications_or_ten_steps():
    long_or_wide = [task.id for task in shipped_tasks() if len(task.applications) >= 2 or len(task.reference) >= 10]
    assert len(long_or_wide) >= 4, long_or_wide
