"""Task files: schema, error messages that name file/field/line, and `validate_paths`."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from agent.tasks import (
    CommandCheck,
    FileCheck,
    TaskError,
    WindowCheck,
    expand,
    load_task,
    reference_problems,
    resolve_path,
    task_from_data,
    validate_paths,
)

REPO = Path(__file__).resolve().parents[2]
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
    assert "checks.items[1]: a check needs one of the keys title (window), path (file) or command" in message


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
    assert reference_problems(unfinished) == ["reference[0]: the last step must be a terminate action"]
    assert reference_problems(task_from_data(minimal(), "r.yaml")) == []


def test_validate_reports_reference_problems(tmp_path):
    path = tmp_path / "noterm.yaml"
    path.write_text(yaml.safe_dump(minimal(reference=[CLICK])))
    assert validate_paths([path]).report_lines() == [
        f"error {path}: reference[0]: the last step must be a terminate action"
    ]


def test_every_shipped_task_validates():
    report = validate_paths([TASKS])
    assert report.ok, "\n".join(report.report_lines())
    names = {Path(line.split()[1]).name for line in report.report_lines()}
    assert "open_settings.yaml" in names and len(names) >= 5


def test_open_settings_checks_the_preferences_window():
    task = load_task(TASKS / "open_settings.yaml")
    assert task.sandbox.apps == ["mousepad"]
    assert [check.title for check in task.checks.items] == ["^Mousepad Preferences$"]
    assert len(task.reference) >= 2
