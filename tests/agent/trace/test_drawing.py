"""The action drawing shared by the TUI and the report: mapping and what lands on the pixels."""
from __future__ import annotations

import pytest
from PIL import Image

from agent.trace import GeometryRecord, StepRecord
from agent.trace.drawing import annotate_step, executed_to_shot, grid_to_shot, plan_marks, pointer_before

# A 2× HiDPI monitor whose left edge is at x=1920 in the pointer space (second monitor).
HIDPI = GeometryRecord(screenshot_width=400, screenshot_height=300, logical_width=200, logical_height=150, offset_x=1920, offset_y=0)


def make_step(actions=(), executed=()) -> StepRecord:
    return StepRecord(step=0, started_at="t", ended_at="t", actions=list(actions), executed=list(executed))


def is_red(pixel) -> bool:
    r, g, b = pixel[:3]
    return r > 200 and g < 90 and b < 90


def test_executed_pixels_map_through_offset_and_scale():
    assert executed_to_shot([2020, 75], HIDPI, (400, 300)) == (200.0, 150.0)
    # A stored image at half size rescales the same point.
    assert executed_to_shot([2020, 75], HIDPI, (200, 150)) == (100.0, 75.0)


def test_grid_fallback_and_malformed_points():
    assert grid_to_shot([500, 1000], (400, 300)) == (200.0, 300.0)
    assert grid_to_shot(["a", 1], (400, 300)) is None
    assert executed_to_shot([1, 2, 3], HIDPI, (400, 300)) is None


def test_click_marker_is_drawn_at_the_executed_point():
    image = Image.new("RGB", (400, 300), (128, 128, 128))
    step = make_step(
        actions=[{"action": "left_click", "coordinate": [900, 900]}],  # deliberately different
        executed=[{"action": "left_click", "coordinate": [1970, 30]}],  # → (100, 60) on the shot
    )
    out = annotate_step(image, step, HIDPI)
    ring = [out.getpixel((100 + dx, 60)) for dx in range(-12, 13)]
    assert any(is_red(p) for p in ring)
    assert not any(is_red(out.getpixel((360 + dx, 270))) for dx in range(-12, 13))
    assert image.getpixel((100, 60)) == (128, 128, 128)  # the original is left alone


def test_parsed_actions_are_used_when_nothing_was_executed():
    marks, pointer = plan_marks(make_step(actions=[{"action": "double_click", "coordinate": [250, 500]}]), HIDPI, (400, 300))
    assert [(m.kind, m.points) for m in marks] == [("point", [(100.0, 150.0)])]
    assert pointer == (100.0, 150.0)


def test_drag_arrow_starts_at_the_previous_pointer():
    click = make_step(executed=[{"action": "left_click", "coordinate": [1940, 20]}])  # (40, 40)
    drag = make_step(executed=[{"action": "left_click_drag", "coordinate": [2090, 120]}])  # (340, 240)
    start = pointer_before([click, drag], 1, HIDPI, (400, 300))
    marks, _ = plan_marks(drag, HIDPI, (400, 300), start)
    assert marks[0].kind == "drag" and marks[0].points == [(40.0, 40.0), (340.0, 240.0)]
    out = annotate_step(Image.new("RGB", (400, 300), (128, 128, 128)), drag, HIDPI, start)
    assert is_red(out.getpixel((190, 140)))  # the middle of the arrow


@pytest.mark.parametrize(
    "action, label",
    [
        ({"action": "type", "text": "hello"}, "type 'hello'"),
        ({"action": "key", "keys": ["ctrl", "s"]}, "key ctrl+s"),
        ({"action": "scroll", "pixels": -5}, "scroll -5"),
        ({"action": "terminate", "status": "success"}, "terminate success"),
    ],
)
def test_keyboard_and_control_actions_become_labels(action, label):
    marks, _ = plan_marks(make_step(executed=[action]), HIDPI, (400, 300))
    assert marks[0].label == label


def test_label_is_drawn_as_a_box():
    image = Image.new("RGB", (400, 300), (128, 128, 128))
    out = annotate_step(image, make_step(executed=[{"action": "type", "text": "some text"}]), HIDPI)
    assert out.getpixel((6, 6)) != (128, 128, 128)  # label box in the top-left corner


def test_scroll_arrow_points_the_way_of_the_scroll():
    up, _ = plan_marks(make_step(executed=[{"action": "scroll", "pixels": 5, "coordinate": [2020, 75]}]), HIDPI, (400, 300))
    down, _ = plan_marks(make_step(executed=[{"action": "scroll", "pixels": -5, "coordinate": [2020, 75]}]), HIDPI, (400, 300))
    assert up[0].points[1][1] < 150 < down[0].points[1][1]
