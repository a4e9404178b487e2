"""The model contract: a Reply says how to read it; the loop maps and the viewer draws with what it says."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from actions import CoordinateError, DryRunExecutor, ScreenGeometry, coordinate_system
from agent.loop import LoopConfig, run_loop
from agent.policies.base import Reply
from agent.trace import RunMeta, StepRecord, TraceWriter, new_run_id, now_iso, read_run
from agent.trace.drawing import model_space, plan_marks


def test_coordinate_systems_by_name():
    assert (coordinate_system(None).width, coordinate_system("grid1000").width) == (1000, 1000)
    assert coordinate_system("grid999").height == 999
    pixels = coordinate_system("pixels", (1288, 728))
    assert (pixels.width, pixels.height) == (1288, 728)
    with pytest.raises(CoordinateError, match="resized image size"):
        coordinate_system("pixels")
    with pytest.raises(CoordinateError, match="grid1000, grid999, pixels"):
        coordinate_system("grid1024")


def test_a_pixels_reply_must_say_its_image_size():
    with pytest.raises(ValueError, match="image_size"):
        Reply("x", coordinates="pixels")


class OnePolicy:
    """Answers with fixed replies, one per step."""

    name = "fixed"

    def __init__(self, replies):
        self.replies = list(replies)

    def start(self, instruction):
        pass

    def next(self, observation, history):
        return self.replies.pop(0)

    def close(self):
        pass


def run(tmp_path, replies):
    meta = RunMeta(run_id=new_run_id("c"), task_id="c", instruction="x", policy="fixed", max_steps=len(replies),
                   started_at=now_iso())
    trace = TraceWriter(tmp_path, meta)

    class Screen:
        def capture(self):
            return Image.new("RGB", (800, 600)), ScreenGeometry.flat(800, 600)

    outcome = run_loop(OnePolicy(replies), Screen(), DryRunExecutor(), trace, "x",
                       LoopConfig(max_steps=len(replies), settle_s=0))
    return outcome, read_run(trace.dir).steps


CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [400, 300]}}\n</tool_call>'


def test_the_loop_parses_and_maps_with_what_the_reply_says(tmp_path):
    replies = [Reply(CLICK), Reply(CLICK, coordinates="grid999"),
               Reply(CLICK, output_format="qwen", coordinates="pixels", image_size=(400, 300)),
               Reply("Thought: x\nAction: click(start_box='(100,150)')", output_format="uitars",
                     coordinates="pixels", image_size=(400, 300)),
               Reply(CLICK, output_format="uitars")]
    outcome, steps = run(tmp_path, replies)
    executed = [s.executed[0]["coordinate"] if s.executed else None for s in steps]
    assert executed[:4] == [[320, 180], [320, 180], [799, 599], [200, 300]]
    assert steps[4].error.kind == "parse"  # a qwen call read as UI-TARS text is not an action
    assert [(s.output_format, s.coordinates) for s in steps][2] == ("qwen", "pixels")
    assert steps[2].image_size == [400, 300]


def test_a_failed_model_call_is_a_policy_error_and_the_run_goes_on(tmp_path):
    outcome, steps = run(tmp_path, [Reply("", error="model call failed: connection refused"), Reply(CLICK)])
    assert steps[0].error.kind == "policy" and "connection refused" in steps[0].error.message
    assert steps[1].error is None and steps[1].executed
    assert outcome.reason == "max_steps"


def record(**fields) -> StepRecord:
    return StepRecord(step=0, started_at="t", ended_at="t",
                      actions=[{"action": "left_click", "coordinate": [200, 150]}], **fields)


def test_the_viewer_draws_parsed_actions_in_the_recorded_space():
    size = (800, 600)
    grid = plan_marks(record(), None, size)[0][0].points[0]
    pixels = plan_marks(record(coordinates="pixels", image_size=[400, 300]), None, size)[0][0].points[0]
    assert grid == (160.0, 90.0) and pixels == (400.0, 300.0)
    old = StepRecord.model_validate(json.loads(record().model_dump_json(exclude={"coordinates", "image_size"})))
    assert model_space(old) == (1000, 1000)  # traces written before the fields existed: the 0–1000 grid
    assert model_space(record(coordinates="pixels")) == (1000, 1000)  # damaged: no size, fall back
