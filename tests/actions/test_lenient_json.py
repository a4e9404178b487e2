"""The forgiving JSON reader: what it accepts, and that it fails with its own error."""
from __future__ import annotations

import pytest

from actions.lenient_json import MAX_DEPTH, JSONSyntaxError, loads, read_value


@pytest.mark.parametrize(
    "text, value",
    [
        ('{"a": [1, 2,],}', {"a": [1, 2]}),
        ("{'a': 'it\\'s'}", {"a": "it's"}),
        ("{action: 'wait', time: 2, ok: True, none: None}", {"action": "wait", "time": 2, "ok": True, "none": None}),
        ("｛“a”：［１，２］｝", {"a": [1, 2]}),
        ('{"text": "你好，世界：［x］"}', {"text": "你好，世界：［x］"}),
        ('{"text": "line one\nline two"}', {"text": "line one\nline two"}),
        ('{{"a": {{"b": 1}}}}', {"a": {"b": 1}}),
        ('{{"a": {"b": 1}}}', {"a": {"b": 1}}),
        ('{"a": {{"b": 1}}}', {"a": {"b": 1}}),
        ("{{}}", {}),
        ('{"a": +.5}', {"a": 0.5}),
        ('{"s": "\\u00e9\\q"}', {"s": "éq"}),
    ],
)
def test_accepted_mistakes(text, value):
    assert loads(text) == value


@pytest.mark.parametrize(
    "text",
    ['{"a": 1', '{"a": "open', "[" * (MAX_DEPTH + 5) + "1,]" + "]" * (MAX_DEPTH + 4), "[" * 100_000, '{"a": 1} trailing', '{"a": 1e999}x',
     "{: 1}", '{"a": 1 "b": 2}', "{'a': 1" + "0" * 60 + "}"],
)
def test_rejected_text_raises_its_own_error(text):
    with pytest.raises(JSONSyntaxError):
        loads(text)


def test_read_value_reports_where_the_value_ends():
    value, end = read_value('xx {"a": "}"} tail', 3)
    assert value == {"a": "}"} and end == len('xx {"a": "}"}')


def test_doubled_braces_leave_strings_alone():
    assert loads('{{"t": "{{keep}}"}}') == {"t": "{{keep}}"}
    assert loads('｛｛"a": {{"b": [1]}}｝｝') == {"a": {"b": [1]}}
