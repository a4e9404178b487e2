"""A policy flag the chosen policy does not use is reported, one stderr line per flag, never silently dropped.

Each policy declares the PolicySettings fields it reads in its row of the policy table; `agent run` and
`agent bench` warn about every flag typed on the command line outside that set, and carry on as before.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.policies import POLICIES, PolicyEntry, ignored_flag_warnings
from agent.settings import PolicySettings

FIELDS = [field.name for field in fields(PolicySettings) if field.name != "name"]
LOCAL_USES = "--model, --device, --dtype, --max-pixels, --history-images, --max-new-tokens, --temperature"
MISSING = str(Path(__file__).parent / "no_such_task.yaml")  # the run stops (exit 2) right after the warnings


def test_scripted_uses_no_policy_flag():
    assert ignored_flag_warnings("scripted", ["model", "device", "max_pixels"]) == [
        "warning: --model is ignored by --policy scripted (it uses no policy flags)",
        "warning: --device is ignored by --policy scripted (it uses no policy flags)",
        "warning: --max-pixels is ignored by --policy scripted (it uses no policy flags)",
    ]


def test_local_warns_only_about_the_flags_of_other_policies():
    assert ignored_flag_warnings("local", ["model", "device", "dtype", "temperature"]) == []
    assert ignored_flag_warnings("local", ["endpoint", "recording"]) == [
        f"warning: --endpoint is ignored by --policy local (it uses: {LOCAL_USES})",
        f"warning: --recording is ignored by --policy local (it uses: {LOCAL_USES})",
    ]


def test_replay_uses_only_its_recording():
    assert ignored_flag_warnings("replay", ["recording"]) == []
    assert ignored_flag_warnings("replay", ["temperature"]) == [
        "warning: --temperature is ignored by --policy replay (it uses: --recording)"]


@pytest.mark.parametrize("name", ["local", "http", "replay", "scripted"])
def test_every_policy_flag_is_either_used_or_warned_about(name):
    warned = ignored_flag_warnings(name, FIELDS)
    ignored = [line.split()[1] for line in warned]
    listed = warned[0].partition("(it uses: ")[2].rstrip(")") if warned else ""
    used = listed.split(", ") if listed else []
    assert sorted(ignored + used) == sorted("--" + field.replace("_", "-") for field in FIELDS)


def test_unknown_policy_and_undeclared_uses_give_no_warnings(monkeypatch):
    monkeypatch.setitem(POLICIES, "test-undeclared", PolicyEntry("builtins:print", "declares no uses (tests only)", None))
    assert ignored_flag_warnings("test-undeclared", FIELDS) == []
    assert ignored_flag_warnings("nosuch", FIELDS) == []


def test_agent_run_warns_per_typed_flag_then_goes_on():
    result = CliRunner().invoke(app, ["run", MISSING, "--policy", "scripted", "--model", "foo",
                                      "--device", "auto"])  # typed, though equal to the default
    assert result.exit_code == 2  # the missing task file, as without the flags
    assert result.stderr.splitlines() == [
        "warning: --model is ignored by --policy scripted (it uses no policy flags)",
        "warning: --device is ignored by --policy scripted (it uses no policy flags)",
        f"error: {MISSING}: cannot read (No such file or directory)",
    ]


def test_agent_run_is_quiet_when_every_flag_is_used():
    result = CliRunner().invoke(app, ["run", MISSING, "--model", "foo", "--temperature", "0.5"])
    assert result.exit_code == 2 and "warning" not in result.stderr


def test_agent_bench_warns_too(tmp_path):
    result = CliRunner().invoke(app, ["bench", str(tmp_path / "none"), "--policy", "replay", "--max-new-tokens", "9"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "warning: --max-new-tokens is ignored by --policy replay (it uses: --recording)")
