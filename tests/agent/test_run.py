"""The run as a library: the policy table, settings checks, progress while a policy works, --tui signals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent.errors import PolicyUnavailable, SettingsError
from agent.policies import build, names
from agent.policies.base import Reply
from agent.run import Heartbeat
from agent.settings import DEFAULT_MAX_PIXELS, PolicySettings, RunSettings
from agent.tasks import load_task
from tests.helpers import REPO

TASK = load_task(REPO / "tasks/open_settings.yaml")


def test_builtin_policies_register_without_importing_torch():
    probe = ("import sys\nfrom agent.policies import names\nprint(names())\n"
             "print([m for m in ('torch', 'transformers') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    listed, heavy = proc.stdout.splitlines()
    assert {"local", "scripted", "replay"} <= set(eval(listed)) and heavy == "[]", proc.stderr


def test_unknown_policy_names_the_known_ones():
    with pytest.raises(PolicyUnavailable) as error:
        build(PolicySettings(name="nosuch"), TASK)
    assert all(name in str(error.value) for name in names())


def test_scripted_and_replay_describe_what_drives_them(tmp_path):
    scripted = build(PolicySettings(name="scripted"), TASK)
    assert scripted.describe() == {"policy": "scripted", "script_steps": len(TASK.reference)}
    with pytest.raises(PolicyUnavailable, match="--recording"):
        build(PolicySettings(name="replay"), TASK)
    with pytest.raises(PolicyUnavailable, match="no such run folder"):
        build(PolicySettings(name="replay", recording=tmp_path / "nope"), TASK)


@pytest.mark.parametrize("field, value, flag", [("max_pixels", 0, "--max-pixels"), ("history_images", 0, "--history-images"),
                                                ("max_new_tokens", 0, "--max-new-tokens")])
def test_policy_settings_refuse_values_out_of_range(field, value, flag):
    with pytest.raises(SettingsError, match=flag):
        PolicySettings(**{field: value})
    assert PolicySettings().max_pixels == DEFAULT_MAX_PIXELS


@pytest.mark.parametrize("steps", [0, -1])
def test_run_settings_refuse_a_step_limit_below_one(steps):
    with pytest.raises(SettingsError, match="--max-steps"):
        RunSettings(max_steps=steps)


class SlowPolicy:
    name = "slow"

    def __init__(self, seconds: float):
        self.seconds = seconds

    def start(self, instruction):
        pass

    def next(self, observation, history):
        time.sleep(self.seconds)
        return Reply("done")

    def close(self):
        pass


class Obs:
    step = 4


def test_a_slow_step_says_it_is_still_working_and_a_fast_one_stays_quiet():
    lines: list[str] = []
    assert Heartbeat(SlowPolicy(0.35), lines.append, every_s=0.1).next(Obs(), []).text == "done"
    assert len(lines) >= 2 and all("step   4" in line and "slow policy" in line for line in lines)
    lines.clear()
    Heartbeat(SlowPolicy(0.0), lines.append, every_s=0.1).next(Obs(), [])
    time.sleep(0.2)
    assert lines == []


def test_sigterm_under_tui_stops_the_run_like_the_plain_run(monkeypatch):
    """--tui: SIGTERM sets the run's abort event (the viewer closes when the run ends) and handlers are restored."""
    import agent.commands.run as runner

    seen = {}

    def fake_run_task(task, policy, desktop, settings, *, abort, **kwargs):
        seen["aborted"] = abort.wait(timeout=5)

        class Result:
            status = "aborted"
        return Result()

    def fake_run_with_viewer(start):
        abort = threading.Event()
        worker = threading.Thread(target=lambda: seen.setdefault("code", start(abort, lambda path: None)))
        worker.start()
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)
        worker.join(timeout=10)
        return seen["code"]

    monkeypatch.setattr(runner, "run_task", fake_run_task)
    monkeypatch.setattr(runner, "run_with_viewer", fake_run_with_viewer)
    before = signal.getsignal(signal.SIGTERM)
    assert runner.with_viewer(TASK, None, None, RunSettings(), Path("runs"), Path("tasks/open_settings.yaml")) == 1
    assert seen["aborted"] is True and signal.getsignal(signal.SIGTERM) == before


def test_local_policies_share_one_loaded_model_and_its_call_lock(monkeypatch):
    """`agent bench --parallel N` with --policy local: weights load once per process; model calls take turns."""
    import agent.policies.local as local

    loads = []
    monkeypatch.setattr(local, "_SHARED", {})
    monkeypatch.setattr(local, "load_model", lambda model, device, dtype: loads.append(model) or object())
    settings = PolicySettings(name="local", model="some/checkpoint", max_pixels=500_000, history_images=2)
    first, second = build(settings, TASK), build(settings, TASK)
    assert loads == ["some/checkpoint"]
    assert first.model is second.model and first.model_lock is second.model_lock
    described = first.describe()
    assert described["model"] == "some/checkpoint" and described["max_pixels"] == 500_000
    assert described["history_images"] == 2 and "api_key" not in " ".join(described)
