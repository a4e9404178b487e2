"""The Qwen3-VL tool-call reader on the shapes real model output takes."""
from __future__ import annotations

import pytest

from actions import ParseError, parse


def tool_call(arguments: str) -> str:
    """A well-formed Qwen3-VL tool call around an arguments JSON text."""
    return f'<tool_call>\n{{"name": "computer_use", "arguments": {arguments}}}\n</tool_call>'


CLICK = tool_call('{"action": "left_click", "coordinate": [512, 300]}')


def only_action(text: str) -> dict:
    parsed = parse(text)
    assert parsed.format == "qwen"
    assert len(parsed.actions) == 1
    return parsed.actions[0].model_dump(mode="json")


def test_well_formed_call():
    parsed = parse(CLICK)
    assert parsed.thought is None
    assert [a.model_dump(mode="json") for a in parsed.actions] == [
        {"action": "left_click", "coordinate": [512, 300]}
    ]


def test_thought_and_action_lines_before_the_call():
    text = (
        "Thought: The Edit menu is in the top bar; I will open it.\n"
        "Action: Click on the Edit menu.\n" + CLICK
    )
    parsed = parse(text)
    assert parsed.thought == "The Edit menu is in the top bar; I will open it.\nAction: Click on the Edit menu."
    assert parsed.actions[0].coordinate == (512, 300)


def test_calls_inside_reasoning_are_never_parsed():
    reasoning = "Maybe " + tool_call('{"action": "key", "keys": ["alt", "f4"]}') + " no, that closes it."
    text = f"<think>\n{reasoning}\n</think>\n\n{CLICK}"
    parsed = parse(text)
    assert [a.action for a in parsed.actions] == ["left_click"]
    assert "alt" in parsed.reasoning


def test_reasoning_without_opening_tag_as_the_chat_template_leaves_it():
    parsed = parse("I should click the File menu first.\n</think>\n" + CLICK)
    assert parsed.reasoning == "I should click the File menu first."
    assert parsed.actions[0].action == "left_click"


def test_call_only_inside_reasoning_is_an_error():
    text = "<think>I could " + CLICK + "</think>\nLet me think more."
    with pytest.raises(ParseError, match="after </think>"):
        parse(text)


def test_unclosed_reasoning_is_an_error():
    with pytest.raises(ParseError, match="never closed"):
        parse("<think>The button is at " + CLICK)


def test_missing_closing_tag():
    assert only_action('<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "hi"}}') == {
        "action": "type", "text": "hi",
    }


def test_json_in_code_fences_without_tags():
    text = 'I will type the name.\n```json\n{"name": "computer_use", "arguments": {"action": "type", "text": "notes.txt"}}\n```'
    parsed = parse(text)
    assert parsed.thought == "I will type the name."
    assert parsed.actions[0].text == "notes.txt"


def test_code_fence_inside_the_tags():
    text = '<tool_call>\n```json\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["enter"]}}\n```\n</tool_call>'
    assert only_action(text) == {"action": "key", "keys": ["enter"]}


def test_doubled_braces():
    text = '<tool_call>\n{{"name": "computer_use", "arguments": {{"action": "left_click", "coordinate": [10, 20]}}}}\n</tool_call>'
    assert only_action(text) == {"action": "left_click", "coordinate": [10, 20]}


def test_single_quotes_and_trailing_commas():
    text = "<tool_call>\n{'name': 'computer_use', 'arguments': {'action': 'scroll', 'pixels': -5,},}\n</tool_call>"
    assert only_action(text) == {"action": "scroll", "pixels": -5}


def test_fullwidth_punctuation_outside_strings_only():
    text = "<tool_call>\n｛“name”：“computer_use”，“arguments”：｛“action”：“type”，“text”：“你好，世界”｝｝\n</tool_call>"
    assert only_action(text) == {"action": "type", "text": "你好，世界"}


def test_several_calls_in_one_message():
    text = (
        "Select all, then copy.\n"
        + tool_call('{"action": "key", "keys": ["ctrl", "a"]}')
        + "\n"
        + tool_call('{"action": "key", "keys": ["ctrl", "c"]}')
    )
    parsed = parse(text)
    assert [a.keys for a in parsed.actions] == [["ctrl", "a"], ["ctrl", "c"]]
    assert parsed.thought == "Select all, then copy."


def test_two_objects_in_one_block():
    text = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "a"}}\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["enter"]}}\n</tool_call>'
    assert [a.action for a in parse(text).actions] == ["type", "key"]


def test_prose_with_no_call_is_an_error_not_a_guess():
    text = "I think I should click on the Edit menu at (512, 300) and then choose Preferences."
    with pytest.raises(ParseError, match="no tool call found"):
        parse(text)


def test_degenerate_repetition_is_collapsed_and_the_cut_off_tail_dropped():
    text = "I will click OK.\n" + (CLICK + "\n") * 60 + '<tool_call>\n{"name": "computer_use", "argum'
    parsed = parse(text)
    assert [a.model_dump(mode="json") for a in parsed.actions] == [
        {"action": "left_click", "coordinate": [512, 300]}
    ]
    assert any("collapsed" in note for note in parsed.notes)
    assert any("unfinished" in note for note in parsed.notes)


def test_repeated_thought_lines_are_collapsed():
    text = "I will click OK.\n" * 200 + CLICK
    assert parse(text).thought == "I will click OK."


def test_a_short_run_of_identical_calls_is_kept():
    down = tool_call('{"action": "key", "keys": ["down"]}')
    assert len(parse(down + down).actions) == 2


def test_arguments_given_as_a_json_string():
    text = '<tool_call>\n{"name": "computer_use", "arguments": "{\\"action\\": \\"wait\\", \\"time\\": 2}"}\n</tool_call>'
    assert only_action(text) == {"action": "wait", "time": 2}


def test_action_aliases_and_null_noise():
    text = tool_call('{"action": "click", "coordinate": [1, 2], "text": null, "keys": []}')
    assert only_action(text) == {"action": "left_click", "coordinate": [1, 2]}


@pytest.mark.parametrize(
    "arguments, message",
    [
        ('{"action": "left_click"}', "invalid left_click call: 'coordinate' is required"),
        ('{"action": "fly", "coordinate": [1, 2]}', "unknown action 'fly'"),
        ('{"action": "key", "keys": ["ctrl", "hyper"]}', "unknown key 'hyper'"),
        ('{"action": "terminate", "status": "done"}', "'status' must be 'success' or 'failure'"),
        ('{"action": "left_click", "coordinate": [1, 2], "text": "x"}', "'text' is not a parameter of left_click"),
    ],
)
def test_invalid_calls_give_messages_the_model_can_act_on(arguments, message):
    with pytest.raises(ParseError) as caught:
        parse(tool_call(arguments))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_tool_name_is_named():
    with pytest.raises(ParseError, match="unknown tool 'browser'"):
        parse('<tool_call>{"name": "browser", "arguments": {"action": "left_click", "coordinate": [1, 2]}}</tool_call>')


def test_broken_json_is_a_parse_error():
    with pytest.raises(ParseError, match="not valid JSON"):
        parse('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1, </tool_call>')


def test_parse_error_is_a_value_error():
    assert issubclass(ParseError, ValueError)


def test_markup_inside_typed_text_stays_text():
    text = tool_call('{"action": "type", "text": "</think> <tool_call> ``` {{x}} </tool_call>"}')
    assert only_action(text) == {"action": "type", "text": "</think> <tool_call> ``` {{x}} </tool_call>"}


def test_runaway_output_beyond_the_limit_is_ignored_with_a_note():
    from actions.parsing import MAX_TEXT_CHARS

    parsed = parse(CLICK + "\n" + "la " * MAX_TEXT_CHARS)
    assert parsed.actions[0].coordinate == (512, 300)
    assert any("ignored" in note for note in parsed.notes)
