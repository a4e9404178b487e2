"""A recording on real desktops: the task's sandbox nested in a stand-in for the person's display, every
action kind performed with xdotool, recorded with the screenshot before it; the Stop button; a closed
window."""
from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image

from agent.desktop import Sandbox
from agent.record import Recording
from agent.tasks import load_task
from tests.agent.record.person import Person
from tests.helpers import REPO

pytestmark = [
    pytest.mark.desktop,
    pytest.mark.skipif(shutil.which("Xephyr") is None, reason="needs Xephyr (./install.sh installs xserver-xephyr)"),
]

EVERY_KIND = [  # pixels of the 1280x800 sandbox with Mousepad
    {"action": "left_click", "coordinate": [640, 400]},
    {"action": "type", "text": "Hello, World! 1+1=2"},
    {"action": "key", "keys": ["enter"]},
    {"action": "type", "text": "second line"},
    {"action": "double_click", "coordinate": [660, 160]},
    {"action": "triple_click", "coordinate": [660, 160]},
    {"action": "key", "keys": ["ctrl", "c"]},
    {"action": "left_click_drag", "start_coordinate": [420, 140], "coordinate": [700, 160]},
    {"action": "scroll", "pixels": -3, "coordinate": [640, 500]},
    {"action": "scroll", "pixels": 2, "coordinate": [640, 500]},
    {"action": "hscroll", "pixels": 2, "coordinate": [640, 500]},
    {"action": "hscroll", "pixels": -1, "coordinate": [640, 500]},
    {"action": "middle_click", "coordinate": [500, 600]},
    {"action": "right_click", "coordinate": [600, 600]},
    {"action": "key", "keys": ["esc"]},
    {"action": "key", "keys": ["shift", "tab"]},
]


@pytest.fixture
def host():
    """The person's display: a bare desktop (Xvfb + openbox) big enough for the recording's window."""
    with Sandbox(width=1600, height=1000) as display:
        yield display


def picture(frame) -> Image.Image:
    return Image.open(io.BytesIO(frame.encode()))


def test_every_action_kind_is_recorded_with_the_screenshot_before_it(host):
    task = load_task(REPO / "tasks/open_settings.yaml")
    with Recording(task, host.env, ["pause"], button=False) as recording:
        assert any(title.startswith("agent record: open_settings") for title in host.window_titles())
        person = Person(recording.sandbox.env)
        for action in EVERY_KIND:
            person.perform(action)
        person.xdotool("key", "Pause")
        assert recording.wait(timeout=30) == "key"
        demo = recording.finish()
    recorded = [r.action.model_dump(mode="json") for r in demo.actions]
    assert recorded == EVERY_KIND  # the stop key itself is not recorded
    assert demo.notes == []
    shots = [picture(r.frame) for r in demo.actions]
    assert all(shot.size == (1280, 800) for shot in shots) and picture(demo.final).size == (1280, 800)
    # the screenshot before each action shows the screen after the one before: typing shows up next
    assert shots[1].tobytes() != shots[2].tobytes() and shots[2].tobytes() != shots[3].tobytes()
    assert demo.titles_before == ["Untitled 1 - Mousepad"] and "*Untitled 1 - Mousepad" in demo.titles_after


def test_characters_the_keymap_lacks_are_recorded_as_typed(host):
    task = load_task(REPO / "tasks/open_settings.yaml")
    with Recording(task, host.env, ["ctrl", "alt", "q"], button=False) as recording:
        person = Person(recording.sandbox.env)
        person.perform({"action": "type", "text": "café 東京 <ok>"})
        person.xdotool("key", "ctrl+alt+q")
        assert recording.wait(timeout=30) == "key"
        demo = recording.finish()
    assert [r.action.model_dump(mode="json") for r in demo.actions] == [{"action": "type", "text": "café 東京 <ok>"}]


def test_the_stop_button_on_the_persons_display_ends_the_recording(host):
    task = load_task(REPO / "tasks/open_settings.yaml")
    with Recording(task, host.env, ["pause"]) as recording:
        person = Person(host.env)
        button = person.xdotool("search", "--sync", "--onlyvisible", "--name", "^agent record$").split()[0]
        assert recording.wait(timeout=3) is None  # nothing stops it by itself (and the dialog is drawn)
        person.xdotool("windowactivate", "--sync", button, "key", "Return")  # its one button: Stop recording
        assert recording.wait(timeout=30) == "button"
        demo = recording.finish()
    assert demo.actions == []


def test_closing_the_recording_window_is_noticed(host):
    task = load_task(REPO / "tasks/open_settings.yaml")
    with Recording(task, host.env, ["pause"], button=False) as recording:
        person = Person(host.env)
        window = person.xdotool("search", "--name", "^agent record: open_settings").split()[0]
        person.xdotool("windowkill", window)
        assert recording.wait(timeout=30) == "lost"
