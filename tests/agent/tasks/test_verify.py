"""Success checks: each kind, all/any, placeholders, and window titles on a real sandbox."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.desktop import Sandbox
from agent.tasks import CheckSpec, SandboxSpec, run_checks


def spec(*items, mode="all"):
    return CheckSpec.model_validate({"mode": mode, "items": list(items)})


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "note.txt").write_text("hello world\nsecond line\n")
    return tmp_path


@pytest.fixture
def env(workdir):
    return dict(os.environ, HOME=str(workdir / "home"), CHECK_MARK="sandbox-env")


@pytest.mark.parametrize(
    "condition, passed",
    [
        ({"equals": "hello world\nsecond line\n"}, True),
        ({"equals": "hello world\nsecond line"}, False),  # equals is exact, trailing newline included
        ({"contains": "second"}, True),
        ({"contains": "third"}, False),
        ({"matches": r"^second line$"}, True),  # multiline: ^ and $ work per line
        ({"matches": r"^world"}, False),
    ],
)
def test_file_conditions(workdir, env, condition, passed):
    ok, outcomes = run_checks(spec({"path": "{home}/note.txt", **condition}), env, workdir)
    assert ok is passed and outcomes[0].passed is passed
    assert "note.txt" in outcomes[0].detail


def test_missing_file_fails_with_the_path(workdir, env):
    ok, [outcome] = run_checks(spec({"path": "{workdir}/absent.txt", "contains": "x"}), env, workdir)
    assert not ok and str(workdir / "absent.txt") in outcome.detail


def test_relative_file_paths_are_under_home(workdir, env):
    ok, _ = run_checks(spec({"path": "note.txt", "contains": "hello"}), env, workdir)
    assert ok


def test_command_runs_in_the_given_env_and_workdir(workdir, env):
    items = [
        {"command": 'test "$CHECK_MARK" = sandbox-env'},
        {"command": 'test "$(pwd)" = "{workdir}" && test -f {home}/note.txt'},
    ]
    ok, outcomes = run_checks(spec(*items), env, workdir)
    assert ok and [o.passed for o in outcomes] == [True, True]


def test_failing_and_hanging_commands_fail_with_detail(workdir, env):
    ok, outcomes = run_checks(
        spec({"command": "echo nope >&2; exit 3"}, {"command": "sleep 30", "timeout": 0.5}), env, workdir
    )
    assert not ok
    assert outcomes[0].detail == "exit 3 (expected 0): 'nope'"
    assert outcomes[1].detail == "timed out after 0.5s"


@pytest.mark.parametrize(
    "condition, passed",
    [
        ({"equals": "1200"}, True),                # trailing newlines of stdout are dropped for equals
        ({"equals": "120"}, False),
        ({"contains": "20"}, True),
        ({"contains": "x"}, False),
        ({"matches": r"^1\d{3}$"}, True),
        ({"matches": r"^2"}, False),
        ({"equals": "1200", "status": 4}, False),  # right output, wrong exit status
    ],
)
def test_command_stdout_and_status(workdir, env, condition, passed):
    ok, [outcome] = run_checks(spec({"command": "echo 1200", **condition}), env, workdir)
    assert ok is passed and outcome.passed is passed


def test_command_with_an_expected_nonzero_status(workdir, env):
    ok, [outcome] = run_checks(spec({"command": "echo gone; exit 1", "status": 1, "equals": "gone"}), env, workdir)
    assert ok, outcome.detail


def test_failed_equals_shows_a_bounded_unified_diff(workdir, env):
    expected = "".join(f"line {i}\n" for i in range(500))
    (workdir / "home" / "big.txt").write_text(expected.replace("line 250\n", "line 250 changed\n"))
    ok, [outcome] = run_checks(spec({"path": "big.txt", "equals": expected}), env, workdir)
    assert not ok
    assert "-line 250\n+line 250 changed" in outcome.detail
    assert "--- expected" in outcome.detail and "+++ actual" in outcome.detail
    assert len(outcome.detail.splitlines()) < 50


def test_failed_diff_is_bounded_in_lines_and_width(workdir, env):
    (workdir / "home" / "wide.txt").write_text("x" * 100_000 + "\n" + "y\n" * 1000)
    ok, [outcome] = run_checks(spec({"path": "wide.txt", "equals": "z\n" * 1000}), env, workdir)
    assert not ok and len(outcome.detail) < 12_000 and "more diff lines" in outcome.detail


def test_a_fifo_and_a_device_fail_quickly_instead_of_hanging(workdir, env):
    os.mkfifo(workdir / "home" / "pipe")
    (workdir / "home" / "zero").symlink_to("/dev/zero")
    items = [{"path": "pipe", "contains": "x"}, {"path": "zero", "contains": "x"}]
    ok, outcomes = run_checks(spec(*items), env, workdir, allow_outside_paths=True)
    assert not ok
    assert [("not a regular file" in o.detail) for o in outcomes] == [True, True]


def test_a_huge_file_is_not_read_whole(workdir, env):
    with open(workdir / "home" / "huge.bin", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MiB of zeros without using the disk
    ok, [outcome] = run_checks(spec({"path": "huge.bin", "contains": "x"}), env, workdir)
    assert not ok and "larger than" in outcome.detail


def test_file_checks_do_not_follow_links_out_of_the_sandbox(workdir, env):
    (workdir / "home" / "passwd").symlink_to("/etc/passwd")
    ok, [outcome] = run_checks(spec({"path": "passwd", "contains": "root"}), env, workdir)
    assert not ok and "outside the sandbox" in outcome.detail
    assert run_checks(spec({"path": "passwd", "contains": "root"}), env, workdir, allow_outside_paths=True)[0]


def test_no_window_check_fails_when_the_display_cannot_be_queried(workdir, env):
    broken = dict(env, DISPLAY=":987")  # no server there
    ok, [outcome] = run_checks(spec({"no_title": "anything"}), broken, workdir)
    assert not ok and "could not list windows" in outcome.detail


def test_all_needs_every_check_and_any_needs_one(workdir, env):
    good, bad = {"command": "true"}, {"command": "false"}
    assert run_checks(spec(good, good), env, workdir)[0]
    assert not run_checks(spec(good, bad), env, workdir)[0]
    assert run_checks(spec(bad, good, mode="any"), env, workdir)[0]
    assert not run_checks(spec(bad, bad, mode="any"), env, workdir)[0]


def test_every_check_runs_even_after_a_failure(workdir, env):
    marker = workdir / "ran"
    _, outcomes = run_checks(spec({"command": "false"}, {"command": f"touch {marker}"}), env, workdir)
    assert len(outcomes) == 2 and marker.exists()


@pytest.mark.desktop
def test_window_check_sees_mapped_windows_only():
    sandbox_spec = SandboxSpec(apps=["mousepad"], wait_windows=["Mousepad$"])
    with Sandbox(sandbox_spec) as sandbox:
        checks = spec({"title": r"^Untitled 1 - Mousepad$"}, {"title": "Mousepad Preferences"}, mode="any")
        ok, outcomes = run_checks(checks, sandbox.env, sandbox.workdir)
        assert ok
        assert outcomes[0].passed and outcomes[0].detail == "found 'Untitled 1 - Mousepad'"
        assert not outcomes[1].passed and "Untitled 1 - Mousepad" in outcomes[1].detail
        # Once the window is unmapped (minimised/hidden) it no longer counts as visible.
        sandbox.run("xdotool search --name 'Untitled 1 - Mousepad' windowunmap --sync")
        ok, [outcome] = run_checks(spec({"title": "Mousepad"}), sandbox.env, sandbox.workdir)
        assert not ok and outcome.detail == "visible windows: none"
        ok, [outcome] = run_checks(spec({"no_title": "Mousepad"}), sandbox.env, sandbox.workdir)
        assert ok, outcome.detail


@pytest.mark.desktop
def test_no_window_check_fails_while_the_window_is_there():
    with Sandbox(SandboxSpec(apps=["mousepad"], wait_windows=["Mousepad$"])) as sandbox:
        ok, [outcome] = run_checks(spec({"no_title": "Mousepad$"}), sandbox.env, sandbox.workdir)
        assert not ok and "Untitled 1 - Mousepad" in outcome.detail


@pytest.mark.desktop
def test_command_check_reaches_the_sandbox_display():
    with Sandbox(width=640, height=480) as sandbox:
        checks = spec({"command": 'test "$(xdotool getdisplaygeometry)" = "640 480"'})
        assert run_checks(checks, sandbox.env, sandbox.workdir)[0]
        assert Path(sandbox.env["HOME"]) == sandbox.home


@pytest.mark.parametrize("answer, passed", [("3", True), (" 3 ", True), ("4", False), ("33", False), (None, False)])
def test_answer_check(workdir, env, answer, passed):
    ok, [outcome] = run_checks(spec({"answer": r"^\s*3\s*$"}), env, workdir, answer=answer)
    assert ok is passed
    if answer is None:
        assert outcome.detail == "the run ended without an answer action"
