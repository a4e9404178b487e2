"""The sandbox desktop: windows mapped, isolation, and teardown that leaves no process behind."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agent.desktop import Sandbox
from agent.desktop.display import live_display_env
from agent.desktop.user import DesktopUser
from agent.errors import DisplayError, SandboxError
from agent.tasks import SandboxSpec
from tests.terminal import sigint_as_in_a_terminal


def _alive(pid: int) -> bool:
    """True while pid is a running (non-zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def _wait_all_dead(pids: list[int], patience_s: float = 20.0) -> list[int]:
    """Poll until every pid is gone (or patience runs out); return the survivors."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


# A process that leaves its process group (setsid) is only caught by the watchdog's marker scan.
ESCAPING_APP = "setsid sleep 1000 & exec mousepad"


@pytest.mark.desktop
def test_windows_are_mapped_and_env_is_isolated(tmp_path):
    spec = SandboxSpec(apps=["mousepad"], wait_windows=["Mousepad$"], files={"{home}/hello.txt": "hi\n"})
    with Sandbox(spec) as sandbox:
        assert any(title.endswith("Mousepad") for title in sandbox.window_titles())
        env = sandbox.env
        assert env["DISPLAY"] == sandbox.display and sandbox.display.startswith(":")
        assert Path(env["XAUTHORITY"]).is_file()
        assert env["HOME"] == str(sandbox.workdir / "home") and env["HOME"] != os.environ.get("HOME")
        assert all(env[k].startswith(str(sandbox.workdir)) for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"))
        assert (sandbox.home / "hello.txt").read_text() == "hi\n"
        depth = sandbox.run("xwininfo -root | grep Depth").stdout
        assert depth.split()[-1] == "24"
        geometry = sandbox.run("xdotool getdisplaygeometry").stdout.split()
        assert geometry == ["1280", "800"]
        pids = sandbox.pids()
        assert len(pids) >= 3  # Xvfb, openbox, the app
        workdir = sandbox.workdir
    assert _wait_all_dead(pids) == []
    assert not workdir.exists()


@pytest.mark.desktop
def test_access_needs_the_cookie():
    with Sandbox(width=640, height=480) as sandbox:
        env = dict(sandbox.env, XAUTHORITY="/nonexistent")
        denied = subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True, text=True)
        assert denied.returncode != 0
        assert sandbox.run("xdotool getdisplaygeometry").stdout.split() == ["640", "480"]


@pytest.mark.desktop
def test_teardown_after_exception_kills_escaped_processes():
    spec = SandboxSpec(apps=[ESCAPING_APP], wait_windows=["Mousepad"])
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="boom"):
        with Sandbox(spec) as sandbox:
            assert sandbox.wait_for_window("Mousepad", timeout=10)
            pids = sandbox.pids()
            raise RuntimeError("boom")
    assert len(pids) >= 4  # Xvfb, openbox, mousepad, the escaped sleep
    assert _wait_all_dead(pids) == []


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from agent.desktop.sandbox import Sandbox
    from agent.tasks import SandboxSpec
    sandbox = Sandbox(SandboxSpec(apps=[{app!r}], wait_windows=["Mousepad"]))
    sandbox.start()
    print(json.dumps({{"pids": sandbox.pids(), "workdir": str(sandbox.workdir)}}), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.desktop
def test_sigkilled_owner_leaves_no_process(tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(CHILD.format(app=ESCAPING_APP))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             preexec_fn=sigint_as_in_a_terminal)
    try:
        info = json.loads(owner.stdout.readline())
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert len(info["pids"]) >= 4
    assert _wait_all_dead(info["pids"]) == []
    deadline = time.monotonic() + 10
    while Path(info["workdir"]).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(info["workdir"]).exists()


@pytest.mark.desktop
def test_two_sandboxes_at_once_do_not_clash():
    spec = SandboxSpec(apps=["mousepad"], wait_windows=["Mousepad"])
    with Sandbox(spec) as first, Sandbox(SandboxSpec(width=800, height=600)) as second:
        assert first.display != second.display
        assert first.workdir != second.workdir
        assert first.window_titles() and not second.window_titles()
        assert second.run("xdotool getdisplaygeometry").stdout.split() == ["800", "600"]
        first_pids = first.pids()
        assert not set(first_pids) & set(second.pids())
    assert _wait_all_dead(first_pids) == []


@pytest.mark.desktop
def test_missing_window_names_it_and_lists_the_others():
    spec = SandboxSpec(apps=["mousepad"], wait_windows=["Mousepad", "No Such Window"], timeout=3)
    with pytest.raises(SandboxError) as caught:
        with Sandbox(spec):
            pass
    message = str(caught.value)
    assert "'No Such Window'" in message and "Untitled 1 - Mousepad" in message


@pytest.mark.desktop
def test_failing_setup_command_is_named():
    with pytest.raises(SandboxError, match=r"setup command 'exit 3' exited 3 \(no output\)$"):
        with Sandbox(SandboxSpec(setup=["exit 3"])):
            pass


@pytest.mark.desktop
def test_an_app_that_is_not_installed_is_named_not_run_quietly():
    spec = SandboxSpec(apps=["no-such-app-qa --flag"], timeout=3)
    with pytest.raises(SandboxError, match=r"app 'no-such-app-qa --flag' could not be started \(exit 12[67]"):
        with Sandbox(spec):
            pass


def test_missing_xvfb_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed here
    with pytest.raises(DisplayError, match=r"Xvfb.*apt-get install .*xvfb"):
        Sandbox().start()


def test_live_display_rejects_wayland_and_no_display(tmp_path):
    with pytest.raises(DisplayError, match="X11 only.*Wayland"):
        live_display_env({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"})
    with pytest.raises(DisplayError, match="DISPLAY is not set"):
        live_display_env({"HOME": str(tmp_path)})
    with pytest.raises(DisplayError, match="no X authority file"):
        live_display_env({"DISPLAY": ":0", "HOME": str(tmp_path)})


@pytest.mark.desktop
def test_live_display_accepts_a_running_x_server():
    with Sandbox(width=640, height=480) as sandbox:
        env = live_display_env(sandbox.env)
        assert env["DISPLAY"] == sandbox.display and env["XAUTHORITY"] == sandbox.env["XAUTHORITY"]
        broken = dict(sandbox.env, DISPLAY=":999")
        with pytest.raises(DisplayError, match="cannot connect to X display :999"):
            live_display_env(broken)


CTRL_C_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from agent.desktop.sandbox import Sandbox
    from agent.tasks import SandboxSpec

    def is_running(pid):
        try:
            return open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    try:
        with Sandbox(SandboxSpec(apps=[{app!r}], wait_windows=["Mousepad"])) as sandbox:
            pids = sandbox.pids()
            print(json.dumps(pids), flush=True)
            time.sleep(600)
    except KeyboardInterrupt:
        # Checked here, while this process is alive, so PR_SET_PDEATHSIG cannot be what cleaned up.
        alive = [p for p in pids if is_running(p)]
        print(json.dumps({{"alive_after_ctrl_c": alive}}), flush=True)
    """
)


@pytest.mark.desktop
def test_ctrl_c_tears_down_before_the_owner_exits(tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(CTRL_C_CHILD.format(app=ESCAPING_APP))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             preexec_fn=sigint_as_in_a_terminal)
    pids = json.loads(owner.stdout.readline())
    owner.send_signal(signal.SIGINT)
    report = json.loads(owner.stdout.readline())
    owner.wait(timeout=60)
    assert len(pids) >= 4
    assert report == {"alive_after_ctrl_c": []}


@pytest.mark.desktop
def test_given_workdir_is_used_and_kept(tmp_path):
    spec = SandboxSpec(files={"{workdir}/data/in.txt": "x", "rel.txt": "y"}, setup=["cp {workdir}/data/in.txt copied.txt"])
    with Sandbox(spec, workdir=tmp_path / "box") as sandbox:
        assert sandbox.workdir == tmp_path / "box"
        assert (sandbox.home / "rel.txt").read_text() == "y"  # relative paths are under HOME
        assert (sandbox.home / "copied.txt").read_text() == "x"  # setup runs after files, in HOME
    assert (tmp_path / "box" / "home" / "copied.txt").exists()
    assert (tmp_path / "box" / "logs" / "xvfb.log").exists()


@pytest.mark.desktop
def test_a_window_manager_that_dies_is_named_with_its_log(monkeypatch):
    import tempfile

    fake_bin = Path(tempfile.mkdtemp(prefix="fake-openbox-"))  # not under pytest's root-only tmp: the apps' user runs it
    try:
        fake_bin.chmod(0o755)
        (fake_bin / "openbox").write_text("#!/bin/sh\necho 'openbox: no theme here' >&2\nexit 3\n")
        (fake_bin / "openbox").chmod(0o755)
        monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
        with pytest.raises(SandboxError, match=r"(?s)openbox exited 3 before managing the screen .*load average.*no theme here"):
            Sandbox(width=640, height=480).start()
    finally:
        shutil.rmtree(fake_bin)


def test_using_a_sandbox_that_is_not_running_is_an_error():
    sandbox = Sandbox()
    with pytest.raises(SandboxError, match="not running"):
        sandbox.run("true")
    with pytest.raises(SandboxError, match="not running"):
        _ = sandbox.env


ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="switching apps to the unprivileged user needs root")


@pytest.mark.desktop
@ROOT_ONLY
def test_apps_run_as_the_unprivileged_user_with_fixed_paths():
    spec = SandboxSpec(apps=["mousepad"], wait_windows=["Mousepad$"], files={"note.txt": "hi\n"},
                       setup=["echo {home} {workdir} > where.txt"])
    seen = []
    for _ in range(2):  # two runs: what the apps see is the same, the real folders differ
        with Sandbox(spec) as sandbox:
            answer = sandbox.run('id -un; echo "$HOME"; pwd; cat note.txt; cat where.txt').stdout.split("\n")
            mousepad = int(sandbox.run("xdotool search --name 'Mousepad$' getwindowpid").stdout.split()[0])
            owner = Path(f"/proc/{mousepad}").stat().st_uid
            seen.append((answer, sandbox.workdir))
            assert owner != 0 and (sandbox.home / "note.txt").stat().st_uid == owner
    (first, first_dir), (second, second_dir) = seen
    assert first[:5] == ["agent", "/home/agent", "/home/agent", "hi", "/home/agent /run/agent-desktop"]
    assert first == second and first_dir != second_dir


def test_the_apps_path_keeps_only_folders_their_user_can_enter(tmp_path):
    private = tmp_path / "private"
    (private / "bin").mkdir(parents=True)
    private.chmod(0o700)  # like /root: its owner only
    nobody = DesktopUser("nobody", 65534, 65534, Path("/home/nobody"), Path("/run/user/65534"))
    path = os.pathsep.join([str(private / "bin"), "/usr/bin", "relative/bin", str(tmp_path / "missing"), "/bin"])
    assert nobody.search_path(path) == "/usr/bin:/bin"


@pytest.mark.desktop
@ROOT_ONLY
def test_a_missing_command_reads_not_found_despite_root_folders_on_path(monkeypatch, tmp_path):
    root_only = tmp_path / "root-bin"  # pytest's tmp is root-only, as /root/.cargo/bin is
    root_only.mkdir()
    monkeypatch.setenv("PATH", f"{root_only}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SandboxError, match=r"setup command 'no-such-command-qa' exited 127: .*not found"):
        with Sandbox(SandboxSpec(setup=["no-such-command-qa"], timeout=10)):
            pass
    with Sandbox(width=640, height=480) as sandbox:
        app_path = sandbox.run('echo "$PATH"').stdout.strip().split(os.pathsep)
        assert str(root_only) not in app_path and "/usr/bin" in app_path
        assert str(root_only) in sandbox.env["PATH"].split(os.pathsep)  # this process's own children keep it


@pytest.mark.desktop
def test_each_sandbox_has_its_own_session_bus():
    ask = ("dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus "
           "org.freedesktop.DBus.GetId")
    with Sandbox(width=640, height=480) as first, Sandbox(width=640, height=480) as second:
        ids = [box.run(ask) for box in (first, second)]
        assert [done.returncode for done in ids] == [0, 0], [done.stderr for done in ids]
        assert ids[0].stdout != ids[1].stdout  # two daemons, not one shared bus


@pytest.mark.desktop
@pytest.mark.skipif(shutil.which("xterm") is None, reason="needs xterm (./install.sh installs it)")
def test_first_screenshot_waits_for_a_drawn_window():
    from agent.desktop import Screen
    from agent.desktop.settle import drawn, window_boxes

    # xterm paints its window only after a moment here: the sandbox must wait for that.
    spec = SandboxSpec(apps=["sleep 0.3; exec xterm -title Late"], wait_windows=["^Late$"])
    with Sandbox(spec) as sandbox:
        screen = Screen(sandbox.display, xauthority=sandbox.env["XAUTHORITY"])
        image, _ = screen.capture()
        screen.close()
        [box] = window_boxes(sandbox.env, "^Late$")
        assert drawn(image, box)


def test_settle_waits_for_drawn_boxes_and_a_still_screen():
    from PIL import Image

    from agent.desktop.settle import wait_until_settled

    black = Image.new("RGB", (40, 30))
    painted = black.copy()
    painted.paste((200, 10, 10), (5, 5, 20, 20))
    frames = [black] * 6 + [painted] * 100
    calls = []

    def capture():
        calls.append(1)
        return frames[len(calls) - 1]

    assert wait_until_settled(capture, lambda: [(0, 0, 40, 30)], timeout=30, still_s=0.3)
    assert len(calls) > 6  # the black (unpainted) frames never counted as settled


def test_settle_keeps_waiting_while_the_window_query_times_out():
    from PIL import Image

    from agent.desktop.settle import wait_until_settled

    frame = Image.new("RGB", (40, 30))
    frame.paste((200, 10, 10), (5, 5, 20, 20))  # drawn: more than one colour
    answers = iter([subprocess.TimeoutExpired("xdotool", 10)] * 3)

    def boxes():
        error = next(answers, None)
        if error:
            raise error
        return [(0, 0, 40, 30)]

    assert wait_until_settled(lambda: frame, boxes, timeout=30, still_s=0.1)
    assert next(answers, None) is None  # it asked again until the X server answered


def test_settle_gives_up_after_its_timeout():
    from PIL import Image

    from agent.desktop.settle import wait_until_settled

    flicker = [Image.new("RGB", (4, 4), (i % 2 * 255, 0, 0)) for i in range(1000)]
    frames = iter(flicker)
    started = time.monotonic()
    assert not wait_until_settled(lambda: next(frames), lambda: [], timeout=0.5, still_s=0.3)
    assert time.monotonic() - started < 30


@pytest.mark.desktop
def test_task_files_cannot_escape_the_sandbox(tmp_path):
    outside = tmp_path / "victim.txt"
    spec = SandboxSpec(files={"link/escape.txt": "x"}, setup=[])
    with Sandbox(spec) as sandbox:
        pass  # a plain relative key is fine
    # A symlink in HOME pointing outside: writing through it is refused.
    (tmp_path / "box" / "home").mkdir(parents=True)
    (tmp_path / "box" / "home" / "link").symlink_to(tmp_path)
    with pytest.raises(SandboxError, match="outside the sandbox"):
        with Sandbox(SandboxSpec(files={"link/victim.txt": "pwned"}), workdir=tmp_path / "box"):
            pass
    assert not outside.exists()
