"""Schemas: each action validates exactly its fields; keys fold onto one canonical set."""
from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from actions import action_from_dict, render
from actions.keys import canonical_key, split_chord


@pytest.mark.parametrize(
    "arguments",
    [
        {"action": "key", "keys": ["ctrl", "s"]},
        {"action": "type", "text": "héllo wörld"},
        {"action": "mouse_move", "coordinate": [10, 20]},
        {"action": "left_click", "coordinate": [10, 20]},
        {"action": "left_click_drag", "coordinate": [10, 20]},
        {"action": "right_click", "coordinate": [10, 20]},
        {"action": "middle_click", "coordinate": [10, 20]},
        {"action": "double_click", "coordinate": [10, 20]},
        {"action": "triple_click", "coordinate": [10, 20]},
        {"action": "scroll", "pixels": -5},
        {"action": "hscroll", "pixels": 3},
        {"action": "wait", "time": 1.5},
        {"action": "terminate", "status": "success"},
        {"action": "answer", "text": "42"},
    ],
)
def test_every_action_round_trips_its_arguments(arguments):
    action = action_from_dict(arguments)
    assert action.action == arguments["action"]
    assert action.model_dump(mode="json") == arguments
    assert render(action).startswith('<tool_call>\n{"name": "computer_use", "arguments": {"action": ')


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"action": "left_click"}, "coordinate"),
        ({"action": "left_click", "coordinate": [1]}, "coordinate"),
        ({"action": "left_click", "coordinate": [1, 2, 3]}, "coordinate"),
        ({"action": "left_click", "coordinate": [1, math.inf]}, "coordinate"),
        ({"action": "left_click", "coordinate": [1, math.nan]}, "coordinate"),
        ({"action": "left_click", "coordinate": [True, 2]}, "coordinate"),
        ({"action": "key", "keys": []}, "keys"),
        ({"action": "key"}, "keys"),
        ({"action": "type", "text": ""}, "text"),
        ({"action": "scroll"}, "pixels"),
        ({"action": "scroll", "pixels": math.inf}, "pixels"),
        ({"action": "wait", "time": -1}, "time"),
        ({"action": "terminate", "status": "done"}, "status"),
        ({"action": "terminate"}, "status"),
        ({"action": "answer"}, "text"),
        ({"action": "left_click", "coordinate": [1, 2], "text": "x"}, "text"),
    ],
)
def test_invalid_fields_are_rejected_by_name(arguments, field):
    with pytest.raises(ValidationError) as caught:
        action_from_dict(arguments)
    assert field in str(caught.value)


def test_optional_fields_are_left_out_of_the_arguments():
    scroll = action_from_dict({"action": "scroll", "pixels": 2, "coordinate": [5, 6]})
    assert scroll.model_dump(mode="json") == {"action": "scroll", "pixels": 2, "coordinate": [5, 6]}
    drag = action_from_dict({"action": "left_click_drag", "coordinate": [5, 6]})
    assert "start_coordinate" not in drag.model_dump(mode="json")


@pytest.mark.parametrize(
    "spelling, canonical",
    [
        ("Control", "ctrl"), ("CTRL", "ctrl"), ("ctrl_l", "ctrl"), ("Return", "enter"), ("ENTER", "enter"),
        ("win", "super"), ("cmd", "super"), ("Meta", "super"), ("Super_L", "super"), ("Escape", "esc"),
        ("Page Up", "pageup"), ("PgUp", "pageup"), ("page_down", "pagedown"), ("ArrowUp", "up"),
        ("Left Arrow", "left"), ("F5", "f5"), ("f12", "f12"), ("Del", "delete"), ("A", "a"),
        ("1", "1"), ("/", "/"), (" ", "space"), ("Space", "space"), ("option", "alt"), ("BackSpace", "backspace"),
    ],
)
def test_key_spellings_fold_to_one_name(spelling, canonical):
    assert canonical_key(spelling) == canonical


@pytest.mark.parametrize("name", ["hyper", "ctrl+s", "é", "f25", ""])
def test_unknown_key_error_names_it(name):
    with pytest.raises(ValueError, match="unknown key"):
        canonical_key(name)


def test_key_chords_are_split_and_normalised():
    assert split_chord("ctrl++") == ["ctrl", "+"]
    assert split_chord("+") == ["+"]
    key = action_from_dict({"action": "key", "keys": ["Control+Shift+T"]})
    assert key.keys == ["ctrl", "shift", "t"]
    assert action_from_dict({"action": "key", "keys": "alt+F4"}).keys == ["alt", "f4"]


def test_unknown_key_in_an_action_is_named_in_the_error():
    with pytest.raises(ValidationError, match="unknown key 'hyper'"):
        action_from_dict({"action": "key", "keys": ["ctrl", "hyper"]})
