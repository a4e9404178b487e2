"""A private X11 desktop for one task: Xvfb + openbox + the task's apps, torn down completely.

Isolation: Xvfb picks a free display itself (-displayfd), access needs a fresh cookie (an
Xauthority file in HOME), and apps get a fresh HOME/XDG tree in the workdir, so several
sandboxes run side by side and nothing of the real user's state leaks in.

Teardown, in layers, so no process outlives the sandbox:
1. `close()` (context-manager exit, also on exceptions and Ctrl-C) terminates every process group.
2. Each child gets PR_SET_PDEATHSIG, so the kernel signals it when its parent dies (even by SIGKILL).
3. A watchdog process (`python -I agent/desktop/reaper.py --watchdog`) holds the read end of a pipe; when
   the parent dies the pipe closes and the watchdog kills every process that carries this
   sandbox's marker (AGENT_SANDBOX_ID) in its environment, grandchildren that left their group
   included, and removes the temporary workdir.
PR_SET_PDEATHSIG fires when the *thread* that started the child exits: create a Sandbox on a
thread that lives as long as it does (normally the main thread).

The daemons under the desktop (Xvfb, openbox, the session bus, the panels) start in agent.desktop.daemons.

Layout of the workdir: home/ (HOME, with .Xauthority, Documents/ and the XDG folders), runtime/
(XDG_RUNTIME_DIR, the session bus socket), logs/ (xvfb.log, openbox.log, dbus.log, panelN.log, appN.log).
Apps start with cwd HOME, so file dialogs open there. Task files are created first, then setup commands run, then the apps start; `{workdir}` and `{home}` in them are expanded (see
agent.tasks). The first screenshot waits until the awaited windows are drawn and the screen is
still (agent.desktop.settle).

The desktop looks like a person's (agent.desktop.look, the task's `sandbox.look`): a wallpaper, a
panel, Adwaita themes and fonts, application windows maximised by openbox beside the panels.
It belongs to an ordinary user (agent.desktop.user): run as root, the window manager,
the session bus (a dbus-daemon per sandbox), setup commands and apps run as the unprivileged user
`agent` with HOME /home/agent in a private mount namespace, so no root warnings appear and paths
are the same in every run; their PATH keeps only the folders that user can enter. `{home}` then
means /home/agent in apps and setup commands, and the sandbox's real folder (`Sandbox.home`) in
checks, which run outside.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.desktop.daemons import DAEMON_START_S, Nested, start_look, start_openbox, start_session_bus, start_xvfb
from agent.desktop.display import require_tools, window_titles
from agent.desktop.look import DEFAULT_LOOK, LOOKS, Dressing, dress, require_look_packages
from agent.desktop.reaper import _GRACE_S, MARKER_VAR, _pdeathsig_preexec, _signal_group, kill_marked, marked_pids
from agent.desktop.screen import Screen
from agent.desktop.settle import wait_until_settled, window_boxes
from agent.desktop.user import DesktopUser, desktop_user
from agent.errors import DisplayError, SandboxError
from agent.tasks import expand
from agent.tasks.files import write_task_files

if TYPE_CHECKING:
    from agent.tasks import SandboxSpec

__all__ = ["Sandbox", "SandboxError", "DisplayError", "marked_pids", "kill_marked", "DAEMON_START_S"]

# The PATH for children when this process has none.
_FALLBACK_PATH = "/usr/local/bin:/usr/bin:/bin"



class Sandbox:
    """A context manager that builds an X11 desktop for a task and removes it completely."""

    def __init__(
        self,
        spec: "SandboxSpec | None" = None,
        *,
        width: int = 1280,
        height: int = 800,
        workdir: Path | None = None,
        look: str = DEFAULT_LOOK,
        nested: Nested | None = None,
    ):
        """`nested`: show the desktop in a window on the person's display (Xephyr) instead of Xvfb."""
        self.spec = spec
        self.nested = nested
        self.width = spec.width if spec else width
        self.height = spec.height if spec else height
        self.look = LOOKS[spec.look if spec else look]
        self._dressing: Dressing | None = None
        self._own_workdir = workdir is None
        self._workdir_arg = workdir
        self._marker = secrets.token_hex(8)
        self._procs: list[subprocess.Popen] = []
        self._apps: list[tuple[str, subprocess.Popen, Path]] = []
        self._watchdog: subprocess.Popen | None = None
        self._display: str | None = None
        self._env: dict[str, str] = {}
        self._app_env: dict[str, str] = {}
        self._user: DesktopUser | None = None
        self._workdir: Path | None = None
        self._logs = Path()

    # -- public surface --------------------------------------------------------------------
    @property
    def display(self) -> str:
        """The X display name, e.g. ':3'."""
        self._require_open()
        return self._display  # type: ignore[return-value]

    @property
    def env(self) -> dict[str, str]:
        """Environment for programs on this desktop: DISPLAY, XAUTHORITY, HOME, XDG_*, PATH …"""
        self._require_open()
        return dict(self._env)

    @property
    def workdir(self) -> Path:
        """The sandbox's private folder (HOME is workdir/home)."""
        self._require_open()
        return self._workdir  # type: ignore[return-value]

    @property
    def home(self) -> Path:
        """The apps' fresh HOME, as this process sees it (workdir/home)."""
        return self.workdir / "home"

    @property
    def app_workdir(self) -> Path:
        """The workdir as the apps see it: /run/agent-desktop when run as root, else `workdir`."""
        return self._user.workdir if self._user else self.workdir

    @property
    def app_home(self) -> Path:
        """HOME as the apps see it: /home/agent when run as root, else the same as `home`."""
        return self._user.home if self._user else self.home

    def pids(self) -> list[int]:
        """Pids of every live process this sandbox started (children and their descendants)."""
        return marked_pids(self._marker)

    def run(self, cmd: str, timeout: float = 60.0, check: bool = False) -> subprocess.CompletedProcess:
        """Run a shell command as the apps run (their user, HOME, cwd); wait, capture text output."""
        self._require_open()
        return subprocess.run(
            self._as_app(["/bin/sh", "-c", cmd]), env=self._app_env, cwd=self.home, capture_output=True,
            text=True, timeout=timeout, check=check, start_new_session=True,
        )

    def window_titles(self) -> list[str]:
        """Titles of the windows currently visible on this desktop."""
        self._require_open()
        return window_titles(self._env)

    def wait_for_window(self, regex: str, timeout: float = 30.0) -> bool:
        """Poll until a visible window's title matches regex (re.search); False on timeout."""
        pattern = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            if any(pattern.search(title) for title in self.window_titles()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def start(self) -> None:
        """Build the desktop; on any failure (Ctrl-C included) tear down what was started."""
        require_tools("Xephyr" if self.nested else "Xvfb", "xauth", "openbox", "xdotool", "dbus-daemon", "tint2",
                      "hsetroot", "xprop")
        require_look_packages()
        try:
            self._user = desktop_user()
            self._make_workdir()
            self._start_watchdog()
            self._start_daemons()
            if self.spec is not None:
                self._prepare_task(self.spec)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop every process this sandbox started and remove the workdir it created."""
        for proc in reversed(self._procs):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + _GRACE_S
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        kill_marked(self._marker, grace_s=1.0)  # stragglers that left their process group
        self._procs.clear()
        self._apps.clear()
        self._stop_watchdog()
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._display = None

    # -- steps -----------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self._display is None:
            raise SandboxError("the sandbox is not running (use it inside `with Sandbox(...)`)")

    def _make_workdir(self) -> None:
        if self._own_workdir:
            self._workdir = Path(tempfile.mkdtemp(prefix="agent-sandbox-"))
        else:
            self._workdir = Path(self._workdir_arg).resolve()  # type: ignore[arg-type]
            self._workdir.mkdir(parents=True, exist_ok=True)
        home = self._workdir / "home"
        for sub in ("", ".config", ".local/share", ".cache", ".local/state", "Documents"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        runtime = self._workdir / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        self._logs = self._workdir / "logs"
        self._logs.mkdir(exist_ok=True)
        (home / ".Xauthority").touch(mode=0o600)
        self._dressing = dress(self.look, home, self.width, self.height, self._user.home if self._user else home)
        path = os.environ.get("PATH", _FALLBACK_PATH)
        self._env = self._base_env(home, runtime, path)
        self._app_env = self._env
        if self._user:
            self._workdir.chmod(0o711)  # the apps' user passes through to home/ and runtime/
            self._user.own(home, runtime)
            # Only folders the apps' user can enter: a missing app then reads "not found" (127).
            app_path = self._user.search_path(path) or _FALLBACK_PATH
            self._app_env = self._base_env(self._user.home, self._user.runtime, app_path)

    def _base_env(self, home: Path, runtime: Path, path: str) -> dict[str, str]:
        # A minimal, deterministic environment: English UI, no user config, a private session bus
        # and no accessibility bus.
        user = self._user.name if self._user else os.environ.get("USER", "agent")
        return {
            "PATH": path,
            "HOME": str(home),
            "PWD": str(home),
            "USER": user,
            "LOGNAME": user,
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "LANGUAGE": "en",
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local/state"),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_SESSION_TYPE": "x11",
            "GDK_BACKEND": "x11",
            "NO_AT_BRIDGE": "1",
            "GTK_A11Y": "none",
            "GSETTINGS_BACKEND": "memory",
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={runtime}/bus",
            "XAUTHORITY": str(home / ".Xauthority"),
            **(self._dressing.env if self._dressing else {}),
            MARKER_VAR: self._marker,
        }

    def _as_app(self, argv: list[str]) -> list[str]:
        """argv as the apps' user sees the world (see agent.desktop.user); unchanged when not root."""
        return self._user.wrap(argv, self.workdir) if self._user else argv

    def _popen(self, argv: list[str], log: Path, deathsig: int = signal.SIGTERM, as_app: bool = False,
               **kw: Any) -> subprocess.Popen:
        """Start a child in its own session and process group, tied to our life by PDEATHSIG.

        as_app: run it as the apps run (their user and HOME); a change of user clears PDEATHSIG,
        so the watchdog's marker sweep is what stops such a child if we die.
        """
        env = kw.pop("env", None) or (self._app_env if as_app else self._env)
        argv = self._as_app(argv) if as_app else argv
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv, env=env, cwd=self._env["HOME"], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_pdeathsig_preexec(deathsig), **kw,
            )
        self._procs.append(proc)
        return proc

    def _start_watchdog(self) -> None:
        workdir = str(self._workdir) if self._own_workdir else ""
        env = dict(os.environ)
        env.pop(MARKER_VAR, None)  # the watchdog must not kill itself
        # reaper.py needs only the standard library: run it by path, isolated (-I), without importing `agent`
        self._watchdog = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).with_name("reaper.py")), "--watchdog", self._marker, workdir],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, start_new_session=True,
        )

    def _stop_watchdog(self) -> None:
        if self._watchdog is None:
            return
        try:
            self._watchdog.communicate(b"done\n", timeout=10)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            self._watchdog.kill()
            self._watchdog.wait()
        self._watchdog = None

    def _start_daemons(self) -> None:
        """Xvfb, then openbox, the session bus, the wallpaper and the panels as the apps' user
        (agent.desktop.daemons, agent.desktop.look).

        A daemon that does not start raises DaemonError, a SandboxError."""
        self._display = start_xvfb(self._popen, self._env, self._logs, self.width, self.height, self.nested)
        self._env["DISPLAY"] = self._app_env["DISPLAY"] = self._display
        if self._user:  # xauth writes a new root-owned file
            self._user.own(Path(self._env["XAUTHORITY"]))
        start_openbox(self._popen, self._env, self._logs)
        socket = Path(self._env["XDG_RUNTIME_DIR"]) / "bus"
        start_session_bus(self._popen, socket, self._app_env["DBUS_SESSION_BUS_ADDRESS"], self._logs)
        start_look(self._popen, self._env, self._dressing, Path(self._app_env["HOME"]), self._logs)

    def _prepare_task(self, spec: "SandboxSpec") -> None:
        write_task_files(spec, self.workdir, self.home)  # a TaskFileError is a SandboxError
        if self._user:
            self._user.own(self.home)
        for command in spec.setup:
            self._run_setup(expand(command, self.app_workdir, self.app_home), spec.timeout)
        for index, command in enumerate(spec.apps):
            log = self._logs / f"app{index}.log"
            proc = self._popen(["/bin/sh", "-c", expand(command, self.app_workdir, self.app_home)], log, as_app=True)
            self._apps.append((command, proc, log))
        for regex in spec.wait_windows:
            self._wait_or_explain(regex, spec.timeout)
        self.wait_until_settled(spec.wait_windows, spec.timeout)
        self._check_apps_started()

    def _check_apps_started(self) -> None:
        """An app whose shell said 'not found' (127) or 'cannot execute' (126) is a task error, not a quiet run."""
        for command, proc, log in self._apps:
            if proc.poll() in (126, 127):
                tail = log.read_text(errors="replace").strip()[-300:] if log.exists() else ""
                raise SandboxError(f"app {command!r} could not be started (exit {proc.returncode}"
                                   f"{': ' + tail if tail else ''}); is it installed?")

    def wait_until_settled(self, regexes: list[str], timeout: float) -> bool:
        """Wait (at most timeout s) until windows titled like regexes are drawn and the screen is still."""
        screen = Screen(self.display, xauthority=self._env["XAUTHORITY"])
        try:
            return wait_until_settled(lambda: screen.capture()[0],
                                      lambda: [box for regex in regexes for box in window_boxes(self._env, regex)],
                                      timeout)
        finally:
            screen.close()

    def _run_setup(self, command: str, timeout: float) -> None:
        try:
            done = self.run(command, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SandboxError(f"setup command {command!r} did not finish within {timeout:g}s") from None
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-500:]
            raise SandboxError(f"setup command {command!r} exited {done.returncode}"
                               + (f": {output}" if output else " (no output)"))

    def _wait_or_explain(self, regex: str, timeout: float) -> None:
        if self.wait_for_window(regex, timeout):
            return
        lines = [f"no visible window titled like {regex!r} after {timeout:g}s; "
                 f"visible windows: {self.window_titles() or 'none'}"]
        for command, proc, log in self._apps:
            state = "running" if proc.poll() is None else f"exited {proc.returncode}"
            tail = log.read_text(errors="replace").strip()[-300:] if log.exists() else ""
            lines.append(f"app {command!r} {state}" + (f"; log: {tail}" if tail else ""))
        raise SandboxError("\n".join(lines))
