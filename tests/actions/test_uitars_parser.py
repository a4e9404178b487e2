"""The UI-TARS reader maps its calls onto the computer_use schemas; `auto` picks the reader."""
from __future__ import annotations

import pytest

from actions import ParseError, parse


def dumped(text: str, fmt: str = "auto") -> list[dict]:
    parsed = parse(text, fmt)
    assert parsed.format == "uitars"
    return [a.model_dump(mode="json") for a in parsed.actions]


def test_thought_and_click_with_a_plain_point():
    text = "Thought: The Edit menu is at the top left. I'll open it.\nAction: click(start_box='(235,512)')"
    parsed = parse(text)
    assert parsed.format == "uitars"
    assert parsed.thought == "The Edit menu is at the top left. I'll open it."
    assert dumped(text) == [{"action": "left_click", "coordinate": [235, 512]}]


@pytest.mark.parametrize(
    "argument",
    ["'<|box_start|>(235,512)<|box_end|>'", "'<point>235 512</point>'", "'[225,502,245,522]'", '"(235, 512)"'],
)
def test_point_notations(argument):
    assert dumped(f"Action: click(start_box={argument})") == [{"action": "left_click", "coordinate": [235, 512]}]


def test_point_parameter_of_ui_tars_1_5():
    assert dumped("Action: left_double(point='<point>10 20</point>')") == [
        {"action": "double_click", "coordinate": [10, 20]}
    ]


def test_right_click_hover_and_drag():
    text = (
        "Action: right_single(start_box='(1,2)')\n\nhover(start_box='(3,4)')\n\n"
        "drag(start_box='(10,20)', end_box='(300,400)')"
    )
    assert dumped(text) == [
        {"action": "right_click", "coordinate": [1, 2]},
        {"action": "mouse_move", "coordinate": [3, 4]},
        {"action": "left_click_drag", "coordinate": [300, 400], "start_coordinate": [10, 20]},
    ]


def test_hotkey_with_spaces_or_plus():
    assert dumped("Action: hotkey(key='ctrl shift t')") == [{"action": "key", "keys": ["ctrl", "shift", "t"]}]
    assert dumped("Action: hotkey(key='Ctrl+S')") == [{"action": "key", "keys": ["ctrl", "s"]}]


def test_type_unescapes_quotes_and_newlines():
    text = "Action: type(content='It\\'s done\\n')"
    assert dumped(text) == [{"action": "type", "text": "It's done\n"}]


def test_type_with_commas_and_parentheses_inside_the_quotes():
    assert dumped("Action: type(content='f(a, b)')") == [{"action": "type", "text": "f(a, b)"}]


@pytest.mark.parametrize(
    "direction, expected",
    [
        ("down", {"action": "scroll", "pixels": -5, "coordinate": [500, 400]}),
        ("up", {"action": "scroll", "pixels": 5, "coordinate": [500, 400]}),
        ("left", {"action": "hscroll", "pixels": -5, "coordinate": [500, 400]}),
        ("right", {"action": "hscroll", "pixels": 5, "coordinate": [500, 400]}),
    ],
)
def test_scroll_directions(direction, expected):
    assert dumped(f"Action: scroll(start_box='(500,400)', direction='{direction}')") == [expected]


def test_wait_finished_and_call_user():
    assert dumped("Action: wait()") == [{"action": "wait", "time": 5}]
    assert dumped("Action: finished()") == [{"action": "terminate", "status": "success"}]
    assert dumped("Action: finished(content='The file is saved.')") == [
        {"action": "answer", "text": "The file is saved."},
        {"action": "terminate", "status": "success"},
    ]
    assert dumped("Action: call_user()") == [{"action": "terminate", "status": "failure"}]


def test_reasoning_block_is_set_aside():
    text = "<think>click(start_box='(9,9)') maybe</think>\nThought: ok\nAction: click(start_box='(1,2)')"
    assert dumped(text) == [{"action": "left_click", "coordinate": [1, 2]}]


def test_prose_mentioning_click_is_not_a_call():
    with pytest.raises(ParseError, match="no action found"):
        parse("Thought: I will click (the OK button) soon.", "uitars")


def test_missing_point_is_named():
    with pytest.raises(ParseError, match="start_box"):
        parse("Action: click()", "uitars")


def test_bad_scroll_direction_is_named():
    with pytest.raises(ParseError, match="'sideways'"):
        parse("Action: scroll(start_box='(1,2)', direction='sideways')")


def test_unterminated_quote_is_a_parse_error():
    with pytest.raises(ParseError, match="never closed"):
        parse("Action: type(content='abc")


def test_auto_prefers_qwen_when_both_styles_appear():
    text = (
        "Thought: click it\nAction: click(start_box='(1,2)')\n"
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [7, 8]}}\n</tool_call>'
    )
    parsed = parse(text)
    assert parsed.format == "qwen"
    assert parsed.actions[0].coordinate == (7, 8)


def test_explicit_format_is_honoured_and_unknown_format_rejected():
    assert parse("Action: click(start_box='(1,2)')", "uitars").format == "uitars"
    with pytest.raises(ParseError, match="no tool call"):
        parse("Action: click(start_box='(1,2)')", "qwen")
    with pytest.raises(ParseError, match="unknown format 'claude'"):
        parse("Action: click(start_box='(1,2)')", "claude")


def test_auto_falls_back_to_ui_tars_when_json_is_only_typed_text():
    text = """Thought: fill in the field\nAction: type(content='{"action": 1}')"""
    assert dumped(text) == [{"action": "type", "text": '{"action": 1}'}]
