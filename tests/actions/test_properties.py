"""Property tests: parsing never fails with anything but ParseError; render → parse is lossless."""
from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions import ParseError, action_from_dict, parse, render
from actions.keys import NAMED_KEYS
from actions.schemas import MAX_COORDINATE, MAX_SCROLL, MAX_TYPE_CHARS, MAX_WAIT_S

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Fragments of real model output, so random text reaches the parsers' deeper paths.
FRAGMENTS = [
    "<tool_call>", "</tool_call>", "<think>", "</think>", "{", "}", "{{", "[", "]", '"', "'", ",", ":",
    '"name": "computer_use"', '"arguments": ', '"action": "left_click"', '"coordinate": [', "```json\n",
    "```", "Action: ", "Thought: ", "click(start_box='", "(1,2)", "<point>3 4</point>", "hotkey(key='",
    "type(content='", "scroll(", "direction='down'", ")", "｛", "：", "，", "1e999", "-", "NaN", "\\",
]
model_like_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=30).map("".join)

def bounded_numbers(limit: float) -> st.SearchStrategy:
    """Ints and finite floats in [-limit, limit], the edges included."""
    return st.one_of(
        st.integers(min_value=-int(limit), max_value=int(limit)),
        st.floats(min_value=-limit, max_value=limit, allow_nan=False, allow_infinity=False),
    )


numbers = bounded_numbers(MAX_COORDINATE)
points = st.tuples(numbers, numbers).map(list)
# Text an action may carry that looks like markup to the parser (it must stay text).
MARKERS = ["<think>", "</think>", "<THINK>", "<tool_call>", "</tool_call>", "```", "{{", "}}", "\\", '"', "'",
           "Action: click(start_box='(1,2)')"]
tricky_text = st.lists(st.one_of(st.sampled_from(MARKERS), st.text(max_size=5)), min_size=1, max_size=8).map("".join)
texts = st.one_of(st.text(min_size=1), tricky_text).filter(bool).map(lambda t: t[:MAX_TYPE_CHARS])
key_names = st.sampled_from(sorted(NAMED_KEYS) + list("abcxyz0123456789+-=/.,;[]"))

arguments = st.one_of(
    st.builds(lambda keys: {"action": "key", "keys": keys}, st.lists(key_names, min_size=1, max_size=4)),
    st.builds(lambda text: {"action": "type", "text": text}, texts),
    st.builds(lambda text: {"action": "answer", "text": text}, st.one_of(st.just(""), texts)),
    st.builds(
        lambda name, point: {"action": name, "coordinate": point},
        st.sampled_from(["mouse_move", "left_click", "right_click", "middle_click", "double_click",
                         "triple_click", "left_click_drag"]),
        points,
    ),
    st.builds(
        lambda end, start: {"action": "left_click_drag", "coordinate": end, "start_coordinate": start},
        points, points,
    ),
    st.builds(
        lambda name, pixels, where: {"action": name, "pixels": pixels, **({"coordinate": where} if where else {})},
        st.sampled_from(["scroll", "hscroll"]), bounded_numbers(MAX_SCROLL), st.one_of(st.none(), points),
    ),
    st.builds(lambda t: {"action": "wait", "time": t}, st.floats(min_value=0, max_value=MAX_WAIT_S)),
    st.builds(lambda s: {"action": "terminate", "status": s}, st.sampled_from(["success", "failure"])),
)


@SETTINGS
@given(st.one_of(st.text(), model_like_text), st.sampled_from(["auto", "qwen", "uitars"]))
def test_arbitrary_text_raises_nothing_but_parse_error(text, fmt):
    try:
        parsed = parse(text, fmt)
    except ParseError as exc:
        assert str(exc)
        return
    assert parsed.actions
    for action in parsed.actions:
        for value in action.model_dump().values():
            if isinstance(value, float):
                assert math.isfinite(value)


@SETTINGS
@given(arguments)
def test_every_action_survives_render_then_parse(args):
    action = action_from_dict(args)
    parsed = parse(render(action))
    assert parsed.actions == [action]
    assert parsed.actions[0].model_dump(mode="json") == action.model_dump(mode="json")


@SETTINGS
@given(st.lists(arguments, min_size=1, max_size=3), st.text(alphabet=st.characters(blacklist_characters="<{`"), max_size=40))
def test_thought_plus_several_calls_survive(args_list, thought):
    actions = [action_from_dict(a) for a in args_list]
    text = thought + "\n" + "\n".join(render(a) for a in actions)
    assert parse(text).actions == actions
