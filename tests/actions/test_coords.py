"""Model coordinates → pointer pixels on synthetic geometries."""
from __future__ import annotations

import pytest

from actions import GRID_999, CoordinateError, CoordinateSystem, ScreenGeometry, action_from_dict, to_screen
from actions.coords import map_point

FLAT = ScreenGeometry.flat(1280, 800)


def click(x, y):
    return action_from_dict({"action": "left_click", "coordinate": [x, y]})


def test_grid_1000_on_a_flat_screen():
    assert map_point((500, 500), FLAT) == (640, 400)
    assert map_point((0, 0), FLAT) == (0, 0)
    assert map_point((1000, 1000), FLAT) == (1279, 799)  # the far edge is the last pixel
    assert map_point((250, 750), FLAT) == (320, 600)


def test_grid_999():
    assert map_point((999, 999), FLAT, GRID_999) == (1279, 799)
    assert map_point((333, 0), FLAT, GRID_999) == (426, 0)  # 333 * 1280 / 999 = 426.67


def test_absolute_pixels_of_the_resized_screenshot():
    # The model saw the 1280×800 screen resized to 1120×700 (Qwen2.5-VL / UI-TARS-1.5 style).
    system = CoordinateSystem.pixels(1120, 700)
    assert map_point((560, 350), FLAT, system) == (640, 400)
    assert map_point((1120, 700), FLAT, system) == (1279, 799)
    with pytest.raises(CoordinateError, match="1120×700 image"):
        map_point((1121, 10), FLAT, system)


def test_hidpi_capture_is_twice_the_pointer_space():
    retina = ScreenGeometry(screenshot_width=2560, screenshot_height=1600, logical_width=1280, logical_height=800)
    assert map_point((500, 500), retina) == (640, 400)
    # In screenshot pixels the model meant (2048, 800); the pointer lives at half that.
    system = CoordinateSystem.pixels(2560, 1600)
    assert map_point((2048, 800), retina, system) == (1024, 400)


def test_second_monitor_left_of_and_above_the_primary():
    left = ScreenGeometry.flat(1920, 1080).model_copy(update={"offset_x": -1920, "offset_y": -300})
    assert map_point((0, 0), left) == (-1920, -300)
    assert map_point((500, 500), left) == (-960, 240)
    assert map_point((1000, 1000), left) == (-1, 779)


def test_odd_sizes_stay_inside_the_screen():
    odd = ScreenGeometry(screenshot_width=1366, screenshot_height=767, logical_width=911, logical_height=511,
                         offset_x=7, offset_y=3)
    for x in range(0, 1001, 37):
        for y in (0, 1, 999, 1000):
            px, py = map_point((x, y), odd)
            assert 7 <= px <= 7 + 910 and 3 <= py <= 3 + 510
    assert map_point((500, 500), odd) == (7 + 455, 3 + 255)  # 911/2 = 455.5, 511/2 = 255.5


@pytest.mark.parametrize("point", [(-1, 10), (10, -0.5), (1000.5, 10), (10, 1001)])
def test_out_of_range_is_an_error_not_a_clamp(point):
    with pytest.raises(CoordinateError, match="outside the 0–1000 grid"):
        map_point(point, FLAT)


def test_failsafe_moves_corner_targets_one_pixel_inward():
    assert map_point((0, 0), FLAT, failsafe=True) == (1, 1)
    assert map_point((1000, 0), FLAT, failsafe=True) == (1278, 1)
    assert map_point((0, 1000), FLAT, failsafe=True) == (1, 798)
    assert map_point((1000, 1000), FLAT, failsafe=True) == (1278, 798)
    assert map_point((0, 500), FLAT, failsafe=True) == (0, 400)  # an edge, not a corner
    shifted = FLAT.model_copy(update={"offset_x": -1280})
    assert map_point((0, 0), shifted, failsafe=True) == (-1279, 1)


def test_to_screen_keeps_the_action_type_and_maps_every_point():
    drag = action_from_dict({"action": "left_click_drag", "start_coordinate": [0, 0], "coordinate": [500, 500]})
    mapped = to_screen(drag, FLAT)
    assert type(mapped) is type(drag)
    assert mapped.model_dump(mode="json") == {
        "action": "left_click_drag", "coordinate": [640, 400], "start_coordinate": [0, 0],
    }
    assert all(isinstance(v, int) for v in mapped.coordinate)
    key = action_from_dict({"action": "key", "keys": ["enter"]})
    assert to_screen(key, FLAT) == key
    scroll = action_from_dict({"action": "scroll", "pixels": -3, "coordinate": [1000, 0]})
    assert to_screen(scroll, FLAT).coordinate == (1279, 0)


def test_to_screen_rejects_out_of_range_actions():
    with pytest.raises(CoordinateError, match="x=1200"):
        to_screen(click(1200, 10), FLAT)


def test_geometry_rejects_empty_sizes():
    with pytest.raises(ValueError, match="screenshot_width"):
        ScreenGeometry(screenshot_width=0, screenshot_height=1, logical_width=1, logical_height=1)


@pytest.mark.parametrize("width,height,worst", [(1280, 800, 1), (1920, 1080, 1), (640, 480, 0), (3840, 2160, 2)])
def test_screen_pixels_map_to_grid_values_that_map_back_onto_them(width, height, worst):
    from actions import from_screen_point

    geometry = ScreenGeometry.flat(width, height)
    errors = []
    for x in range(0, width, 3):
        y = x * height // width
        gx, gy = from_screen_point((x, y), geometry)
        assert isinstance(gx, int) and isinstance(gy, int) and 0 <= gx <= 1000 and 0 <= gy <= 1000
        back = map_point((gx, gy), geometry)
        errors.append(max(abs(back[0] - x), abs(back[1] - y)))
    assert max(errors) == worst  # exact where the grid is finer than the screen, else its resolution


def test_from_screen_inverts_to_screen_for_pixels_of_a_resized_image_and_offsets():
    from actions import from_screen

    geometry = ScreenGeometry(screenshot_width=1280, screenshot_height=800, logical_width=1280, logical_height=800,
                              offset_x=-1280, offset_y=0)
    system = CoordinateSystem.pixels(640, 400)
    model = from_screen(click(-1280 + 100, 50), geometry, system)
    assert model.coordinate == (50, 25)
    assert to_screen(model, geometry, system).coordinate == (-1280 + 100, 50)  # 2 pixels per model pixel
    assert from_screen(click(-1280 + 101, 51), geometry, system).coordinate == (51, 26)  # the nearer of two
    drag = action_from_dict({"action": "left_click_drag", "start_coordinate": [10, 10], "coordinate": [1279, 799]})
    assert from_screen(drag, FLAT).start_coordinate == (8, 13) and from_screen(drag, FLAT).coordinate == (1000, 999)
