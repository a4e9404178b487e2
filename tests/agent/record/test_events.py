"""X input events → actions, on synthetic events: every action kind, the grouping rules and their limits."""
from __future__ import annotations

import struct

import pytest
from Xlib import XK

from agent.record.events import (
    DRAG_PX,
    MULTI_CLICK_MS,
    SCROLL_GAP_MS,
    InputEvent,
    actions_from_events,
    normalize_chord,
)
from agent.record.listener import Keymap

SHIFT, CTRL, ALT, SUPER = 1, 4, 8, 64


class Timeline:
    """Builds events the way a server would report them, with a clock and a pointer."""

    def __init__(self):
        self.events: list[InputEvent] = []
        self.t, self.x, self.y, self.shots = 1000, 10, 10, 0

    def _add(self, kind, press, detail=0, state=0, keysym=0, base=0, gap=30):
        self.t += gap
        self.shots += press
        self.events.append(InputEvent(kind=kind, press=press, time_ms=self.t, x=self.x, y=self.y, detail=detail,
                                      state=state, keysym=keysym, base_keysym=base or keysym,
                                      frame=f"shot{self.shots}" if press else None))
        return self

    def at(self, x, y):
        self.x, self.y = x, y
        return self

    def click(self, button=1, state=0, gap=300):
        return self._add("button", True, button, state, gap=gap)._add("button", False, button, state, gap=40)

    def move(self, x, y, held=256):
        self.at(x, y)
        return self._add("motion", False, state=held, gap=20)

    def wheel(self, button, gap=80):
        return self._add("button", True, button, gap=gap)._add("button", False, button, gap=5)

    def key(self, name, state=0, base=None, gap=60):
        keysym = XK.string_to_keysym(name)
        base = XK.string_to_keysym(base) if base else keysym
        return self._add("key", True, 38, state, keysym, base, gap)._add("key", False, 38, state, keysym, base, 20)

    def type(self, text):
        for char in text:
            upper = char.isupper()
            name = {" ": "space", "!": "exclam", "é": "eacute"}.get(char, char)
            self.key(name, SHIFT if upper or char == "!" else 0, base=name.lower() if upper else None, gap=50)
        return self

    def actions(self):
        return [(r.action.model_dump(mode="json") if r.action else None, r.frame, r.notes)
                for r in actions_from_events(self.events)]


def only_actions(timeline):
    return [action for action, _, _ in timeline.actions()]


def test_clicks_of_every_kind_each_with_the_screenshot_before_its_first_press():
    t = Timeline().at(100, 200).click().at(300, 300).click(3).at(50, 60).click(2)
    t.at(400, 400).click().click(gap=120)  # double
    t.at(500, 100).click().click(gap=100).click(gap=100)  # triple
    got = t.actions()
    assert [a for a, _, _ in got] == [
        {"action": "left_click", "coordinate": [100, 200]},
        {"action": "right_click", "coordinate": [300, 300]},
        {"action": "middle_click", "coordinate": [50, 60]},
        {"action": "double_click", "coordinate": [400, 400]},
        {"action": "triple_click", "coordinate": [500, 100]},
    ]
    assert [frame for _, frame, _ in got] == ["shot1", "shot2", "shot3", "shot4", "shot6"]


def test_clicks_apart_in_time_or_place_stay_single_and_a_fourth_starts_over():
    t = Timeline().at(10, 10).click().click(gap=MULTI_CLICK_MS + 50)
    t.at(200, 200).click().at(220, 200).click(gap=100)
    t.at(600, 600).click().click(gap=90).click(gap=90).click(gap=90)
    assert [a["action"] for a in only_actions(t)] == ["left_click"] * 4 + ["triple_click", "left_click"]


def test_a_drag_goes_from_the_press_to_the_release_and_a_wobble_is_a_click():
    t = Timeline().at(100, 100)._add("button", True, 1).move(130, 110).move(250, 140).at(251, 141)
    t._add("button", False, 1)
    t.at(400, 400)._add("button", True, 1).move(400 + DRAG_PX - 2, 401)._add("button", False, 1)
    assert only_actions(t) == [
        {"action": "left_click_drag", "start_coordinate": [100, 100], "coordinate": [251, 141]},
        {"action": "left_click", "coordinate": [400, 400]},
    ]


def test_a_drag_that_comes_back_to_its_start_is_still_a_drag():
    t = Timeline().at(100, 100)._add("button", True, 1).move(160, 100).move(101, 100)._add("button", False, 1)
    assert only_actions(t)[0]["action"] == "left_click_drag"


def test_scroll_bursts_merge_per_direction_and_break_on_a_pause_a_move_or_a_turn():
    t = Timeline().at(300, 300).wheel(5).wheel(5).wheel(5)  # three down
    t.wheel(4).wheel(4)  # turn: two up
    t.wheel(4, gap=SCROLL_GAP_MS + 100)  # a pause: a new burst
    t.at(700, 300).wheel(4)  # moved away: a new burst
    t.wheel(7).wheel(7).wheel(6)  # right twice, then left
    assert only_actions(t) == [
        {"action": "scroll", "pixels": -3, "coordinate": [300, 300]},
        {"action": "scroll", "pixels": 2, "coordinate": [300, 300]},
        {"action": "scroll", "pixels": 1, "coordinate": [300, 300]},
        {"action": "scroll", "pixels": 1, "coordinate": [700, 300]},
        {"action": "hscroll", "pixels": 2, "coordinate": [700, 300]},
        {"action": "hscroll", "pixels": -1, "coordinate": [700, 300]},
    ]


def test_a_burst_longer_than_the_schema_allows_is_split():
    t = Timeline()
    for _ in range(130):
        t.wheel(5, gap=20)
    assert [a["pixels"] for a in only_actions(t)] == [-100, -30]


def test_typing_merges_into_one_type_and_keys_become_chords():
    t = Timeline().type("Hello World!").key("Return").type("second line")
    t.key("s", CTRL).key("t", CTRL | SHIFT, base="t").key("ISO_Left_Tab", SHIFT, base="Tab").key("F2")
    t.key("q", SUPER).key("Left", ALT).key("space", CTRL).key("eacute")
    assert only_actions(t) == [
        {"action": "type", "text": "Hello World!"},
        {"action": "key", "keys": ["enter"]},
        {"action": "type", "text": "second line"},
        {"action": "key", "keys": ["ctrl", "s"]},
        {"action": "key", "keys": ["ctrl", "shift", "t"]},
        {"action": "key", "keys": ["shift", "tab"]},
        {"action": "key", "keys": ["f2"]},
        {"action": "key", "keys": ["super", "q"]},
        {"action": "key", "keys": ["alt", "left"]},
        {"action": "key", "keys": ["ctrl", "space"]},
        {"action": "type", "text": "é"},
    ]


def test_typing_keeps_the_screenshot_of_its_first_key_and_a_click_ends_it():
    t = Timeline().type("ab").at(5, 5).click().type("c")
    got = t.actions()
    assert [(a["action"], frame) for a, frame, _ in got] == [("type", "shot1"), ("left_click", "shot3"),
                                                              ("type", "shot4")]


def test_modifier_keys_alone_do_nothing_and_long_text_is_split():
    t = Timeline().key("Shift_L").key("Control_R").key("Caps_Lock")
    assert only_actions(t) == []
    t = Timeline().type("x" * 2500)
    assert [len(a["text"]) for a in only_actions(t)] == [2000, 500]


def test_what_the_action_space_cannot_say_is_a_note_never_a_silent_change():
    t = Timeline().at(10, 10).click(state=CTRL).key("XF86_AudioMute")
    t.at(50, 50)._add("button", True, 3).move(200, 50, held=1024)._add("button", False, 3)
    got = t.actions()
    assert got[0][0] == {"action": "left_click", "coordinate": [10, 10]} and "ctrl was held" in got[0][2][0]
    assert got[1][0] is None and "XF86_AudioMute" in got[1][2][0]
    assert got[2][0]["action"] == "right_click" and "drag with the right button" in got[2][2][0]


def test_a_release_without_its_press_is_ignored():
    t = Timeline()._add("button", False, 1)._add("key", False, 38, keysym=0x61)
    assert only_actions(t) == []


@pytest.mark.parametrize("text,chord", [("pause", ["pause"]), ("Ctrl+Alt+Q", ["ctrl", "alt", "q"]),
                                        ("shift+ctrl+F12", ["ctrl", "shift", "f12"])])
def test_stop_keys_are_normalised_like_recorded_chords(text, chord):
    assert normalize_chord(text) == chord


@pytest.mark.parametrize("text", ["ctrl", "a+b", "nosuchkey", ""])
def test_a_stop_key_that_is_not_a_chord_is_refused(text):
    with pytest.raises(ValueError):
        normalize_chord(text)


def test_the_keymap_follows_levels_lock_and_remapped_keycodes():
    a, A, one, bang = (XK.string_to_keysym(n) for n in ("a", "A", "1", "exclam"))
    keymap = Keymap(8, [[a, A], [one, bang], [0, 0], [XK.string_to_keysym("KP_End"), XK.string_to_keysym("KP_1")]])
    assert keymap.keysyms(8, 0) == (a, a) and keymap.keysyms(8, SHIFT) == (A, a)
    assert keymap.keysyms(8, 2) == (A, a)  # Caps Lock upper-cases letters …
    assert keymap.keysyms(9, 2) == (one, one)  # … and nothing else
    assert keymap.keysyms(9, SHIFT) == (bang, one)
    assert keymap.keysyms(11, 16)[0] == XK.string_to_keysym("KP_1")  # Num Lock on the keypad
    # xdotool types 'é' by mapping a spare keycode (10) to it for a moment: ChangeKeyboardMapping
    body = bytes([100, 1]) + struct.pack("=H", 3) + bytes([10, 1, 0, 0]) + struct.pack("=I", 0xE9)
    keymap.change(body)
    assert keymap.keysyms(10, 0)[0] == 0xE9
