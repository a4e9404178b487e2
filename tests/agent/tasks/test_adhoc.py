"""Ad-hoc tasks from an instruction, `checks: none`, and task files written back (whole, or fields in place)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.errors import InstructionError, TaskError
from agent.tasks import (
    instruction_or_file,
    instruction_task,
    load_task,
    parse_task_text,
    replace_fields,
    task_from_data,
    task_yaml,
)
from agent.tasks.adhoc import MAX_INSTRUCTION_CHARS, task_id_for
from tests.helpers import REPO

SHIPPED = sorted((REPO / "tasks").glob("*.yaml"))


@pytest.mark.parametrize("argument,kind", [
    ("Open the settings window of Mousepad", "instruction"),
    ("open", "instruction"),
    ("tasks/open_settings.yaml", "file"),
    ("nosuch.yaml", "file"),            # a missing task file is still a file: load_task names it
    ("some/dir/task", "file"),          # path-shaped, no spaces
    ("Click Save/Open in the toolbar", "instruction"),  # a slash among words
    ("", "instruction"),                 # refused by check_instruction, not read as the folder '.'
])
def test_an_argument_is_a_task_file_or_an_instruction(argument, kind):
    assert instruction_or_file(argument)[0] == kind


def test_an_instruction_becomes_a_task_without_checks_and_the_apps_it_names():
    task = instruction_task("  Open the settings window of Mousepad  ", ["mousepad", "xterm -e true"])
    assert task.instruction == "Open the settings window of Mousepad"
    assert task.id == "open-the-settings-window-of-mousepad" and task.checks is None and not task.checked
    assert task.sandbox.apps == ["mousepad", "xterm -e true"] and task.sandbox.wait_windows == ["."]
    assert task.applications == ["mousepad", "xterm"] and task.reference == []


def test_without_apps_the_desktop_is_empty_and_nothing_is_awaited():
    task = instruction_task("Look around", [])
    assert task.sandbox.apps == [] and task.sandbox.wait_windows == []


@pytest.mark.parametrize("text,message", [
    ("", "the instruction is empty"),
    (" \n\t ", "the instruction is empty"),
    ("x" * (MAX_INSTRUCTION_CHARS + 1), f"at most {MAX_INSTRUCTION_CHARS:,}"),
    ("open\x00it", "control character U+0000"),
])
def test_bad_instructions_are_refused_with_one_message(text, message):
    with pytest.raises(InstructionError, match=re.escape(message)):
        instruction_task(text, [])


@pytest.mark.parametrize("app,message", [
    ("nosuchprogram-24 --flag", "no program 'nosuchprogram-24'"),
    ("", "--app is empty"),
    ("mousepad 'unclosed", "cannot read it as a shell command"),
    ("/nonexistent/bin/app", "no program '/nonexistent/bin/app'"),
    ("LANG=C", "names no program"),
])
def test_an_app_that_does_not_exist_is_named_before_any_desktop_starts(app, message):
    with pytest.raises(InstructionError, match=message):
        instruction_task("Do it", [app])


def test_task_ids_are_valid_for_any_instruction():
    assert task_id_for("Öffne die Einstellungen!") == "offne-die-einstellungen"
    assert task_id_for("漢字だけ") == "instruction"
    for text in ("A" * 300, "1 2 3", "--x--"):
        task_from_data({"id": task_id_for(text), "instruction": "x", "checks": "none"}, "t")


def test_checks_none_opts_out_but_an_empty_checks_is_a_mistake():
    assert task_from_data({"id": "t", "instruction": "x", "checks": "none"}, "t.yaml").checks is None
    with pytest.raises(TaskError, match="checks: is empty; give checks.items, or write `checks: none`"):
        task_from_data({"id": "t", "instruction": "x", "checks": None}, "t.yaml")
    with pytest.raises(TaskError, match="checks: field required"):
        task_from_data({"id": "t", "instruction": "x"}, "t.yaml")


def test_an_ad_hoc_task_file_reads_back_as_the_same_task(tmp_path):
    task = instruction_task("Type hello into the editor", ["mousepad"])
    text = task_yaml(task, header="written by a test\nsecond line")
    assert text.startswith("# written by a test\n# second line\n") and "checks: none" in text
    path = tmp_path / "adhoc.yaml"
    path.write_text(text)
    assert load_task(path).model_dump() == task.model_dump()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_task_reads_back_unchanged_from_its_rendering(path):
    task = load_task(path)
    again = parse_task_text(task_yaml(task), "rendered", path.parent)
    assert again.model_dump() == task.model_dump()


def test_replacing_fields_keeps_every_other_byte_and_reads_back(tmp_path):
    original = (REPO / "tasks/open_settings.yaml").read_text()
    steps = ["Thought: two\nlines\n<tool_call>\n{}\n</tool_call>", "short"]
    text = replace_fields(original, {"reference": steps, "max_steps": 11}, "t.yaml")
    head, tail = original.split("max_steps:")[0], original.split("max_steps: 8")[1].split("reference:")[0]
    assert text.startswith(head) and tail in text  # comments and layout before and between are kept
    assert "# Open Mousepad's preferences" in text
    task = parse_task_text(text, "t.yaml", tmp_path)
    assert task.reference == steps and task.max_steps == 11


def test_replacing_a_field_the_file_lacks_appends_it():
    text = replace_fields("id: t\ninstruction: x\nchecks: none", {"reference": ["a"]}, "t.yaml")
    assert text == "id: t\ninstruction: x\nchecks: none\nreference:\n- a\n"


def test_replacing_fields_of_a_file_that_is_not_a_mapping_names_it():
    with pytest.raises(TaskError, match="t.yaml: expected a mapping"):
        replace_fields("- a\n- b\n", {"reference": []}, "t.yaml")
    with pytest.raises(TaskError, match="t.yaml: not valid YAML"):
        replace_fields("a: [\n", {"reference": []}, "t.yaml")


def test_written_task_text_keeps_a_hash_inside_a_value(tmp_path):
    task = instruction_task("Find the line # 3 and delete it", [])
    path = Path(tmp_path) / "t.yaml"
    path.write_text(task_yaml(task))
    assert load_task(path).instruction == "Find the line # 3 and delete it"
