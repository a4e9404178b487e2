"""Every action's size is bounded: the schema says how, the model is told, executors check again."""
from __future__ import annotations

import pytest

from actions import DryRunExecutor, ExecutionError, ParseError, PyAutoGUIExecutor, action_from_dict, parse
from actions.schemas import (
    MAX_ANSWER_CHARS,
    MAX_COORDINATE,
    MAX_KEYS,
    MAX_SCROLL,
    MAX_TYPE_CHARS,
    MAX_WAIT_S,
    LeftClick,
    Scroll,
    Type,
    Wait,
)


def _call(arguments: str) -> str:
    return f'<tool_call>{{"name": "computer_use", "arguments": {arguments}}}</tool_call>'


# (arguments as the model wrote them, words the error must contain so the model can correct itself)
OVER_THE_LIMIT = {
    "scroll 1e300": ('{"action": "scroll", "pixels": 1e300}', ["pixels", f"{MAX_SCROLL}", "scroll again"]),
    "scroll -1000": ('{"action": "scroll", "pixels": -1000}', ["pixels", f"-{MAX_SCROLL}"]),
    "hscroll huge int": ('{"action": "hscroll", "pixels": ' + "9" * 400 + "}", ["pixels", f"{MAX_SCROLL}"]),
    "too many keys": ('{"action": "key", "keys": ' + str(["a"] * 5000).replace("'", '"') + "}",
                      ["keys", f"at most {MAX_KEYS}", "several key actions"]),
    "too many keys in one chord": ('{"action": "key", "keys": ["' + "+".join(["a"] * 50) + '"]}', [f"at most {MAX_KEYS}"]),
    "long type text": ('{"action": "type", "text": "' + "x" * (MAX_TYPE_CHARS + 1) + '"}',
                       ["text", f"{MAX_TYPE_CHARS + 1} characters", f"at most {MAX_TYPE_CHARS}", "several type"]),
    "long answer": ('{"action": "answer", "text": "' + "x" * (MAX_ANSWER_CHARS + 1) + '"}', ["text", f"{MAX_ANSWER_CHARS}"]),
    "wait an hour": ('{"action": "wait", "time": 3600}', ["time", f"{MAX_WAIT_S:g}", "seconds"]),
    "negative wait": ('{"action": "wait", "time": -1}', ["time", "between 0"]),
    "coordinate 1e300": ('{"action": "left_click", "coordinate": [1e300, 5]}', ["x", f"{MAX_COORDINATE}"]),
    "drag start far away": ('{"action": "left_click_drag", "coordinate": [1, 2], "start_coordinate": [1, -1e9]}',
                            ["y", f"-{MAX_COORDINATE}"]),
}


@pytest.mark.parametrize("case", OVER_THE_LIMIT)
def test_an_action_over_its_limit_is_a_parse_error_the_model_can_act_on(case):
    arguments, words = OVER_THE_LIMIT[case]
    with pytest.raises(ParseError) as caught:
        parse(_call(arguments))
    message = str(caught.value)
    assert all(word in message for word in words), message
    assert len(message) < 400, "the message is fed back to the model: it must stay short"


AT_THE_LIMIT = [
    {"action": "scroll", "pixels": MAX_SCROLL},
    {"action": "hscroll", "pixels": -MAX_SCROLL},
    {"action": "key", "keys": ["ctrl", "alt", "shift", "super", "a", "b", "c", "d"][:MAX_KEYS]},
    {"action": "type", "text": "y" * MAX_TYPE_CHARS},
    {"action": "answer", "text": "z" * MAX_ANSWER_CHARS},
    {"action": "wait", "time": MAX_WAIT_S},
    {"action": "left_click", "coordinate": [MAX_COORDINATE, -MAX_COORDINATE]},
]


@pytest.mark.parametrize("arguments", AT_THE_LIMIT, ids=lambda a: a["action"])
def test_an_action_at_its_limit_is_accepted(arguments):
    assert action_from_dict(arguments).model_dump(mode="json") == arguments


# Actions that never went through validation: built with model_construct, or plain dicts.
UNCHECKED = {
    "scroll": Scroll.model_construct(action="scroll", pixels=10**300, coordinate=None),
    "type": Type.model_construct(action="type", text="x" * (MAX_TYPE_CHARS * 10)),
    "wait": Wait.model_construct(action="wait", time=10**9),
    "click": LeftClick.model_construct(action="left_click", coordinate=(10**12, 0)),
    "dict": {"action": "scroll", "pixels": 1e300},
}


@pytest.mark.parametrize("case", UNCHECKED)
def test_the_dry_run_executor_checks_again_before_acting(case):
    executor = DryRunExecutor(sleep=True)
    with pytest.raises(ExecutionError, match="refusing"):
        executor.execute(UNCHECKED[case])
    assert executor.executed == []


@pytest.mark.parametrize("case", UNCHECKED)
def test_the_pyautogui_executor_checks_again_before_touching_the_desktop(case):
    # No display is opened: the check is the first thing execute() does, so a bare instance is enough.
    executor = PyAutoGUIExecutor.__new__(PyAutoGUIExecutor)
    with pytest.raises(ExecutionError, match="refusing"):
        executor.execute(UNCHECKED[case])
