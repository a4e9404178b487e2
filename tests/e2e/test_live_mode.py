"""`agent run --live`: the person's own X11 display, with checks before anything moves."""
from __future__ import annotations

import pytest

from agent.tasks import load_task
from agent.trace import list_runs, read_run
from tests.e2e.test_cli_runs import NEEDS_DESKTOP, REPO, agent

CLEAN_ENV = {"WAYLAND_DISPLAY": "", "XDG_SESSION_TYPE": "x11"}


@pytest.mark.parametrize("env, expected", [
    ({"DISPLAY": ""}, "DISPLAY is not set"),
    ({"DISPLAY": ":5", "WAYLAND_DISPLAY": "wayland-0"}, "X11 only: this session is Wayland"),
    ({"DISPLAY": ":5", "XAUTHORITY": "/nonexistent/xauth"}, "no X authority file at /nonexistent/xauth"),
])
def test_live_refuses_displays_it_cannot_drive(env, expected, tmp_path):
    proc = agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--live", "--yes",
                 "--runs-dir", str(tmp_path), env={**CLEAN_ENV, **env})
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr
    assert list_runs(tmp_path) == []


def test_live_without_a_terminal_needs_yes(tmp_path):
    proc = agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--live", "--runs-dir", str(tmp_path))
    assert proc.returncode == 2 and "--yes" in proc.stderr


@pytest.mark.desktop
@NEEDS_DESKTOP
def test_live_drives_an_existing_display(tmp_path):
    from agent.desktop import Sandbox

    task = load_task(REPO / "tasks/open_settings.yaml")
    with Sandbox(task.sandbox) as desktop:  # stands in for the person's desktop, Mousepad already open
        env = {**CLEAN_ENV, "DISPLAY": desktop.display, "XAUTHORITY": desktop.env["XAUTHORITY"]}
        proc = agent("run", "tasks/open_settings.yaml", "--policy", "scripted", "--live", "--yes",
                     "--runs-dir", str(tmp_path), env=env)
        assert proc.returncode == 0, proc.stderr
        assert "FAILSAFE on" in proc.stderr
        assert any("Mousepad Preferences" == title for title in desktop.window_titles())
    run = read_run(list_runs(tmp_path)[0])
    assert run.meta.live and run.result.status == "success"
