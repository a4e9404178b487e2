"""A private X11 desktop for one task: Xvfb + openbox + the task's apps, torn down completely.

Isolation: Xvfb picks a free display itself (-displayfd), access needs a fresh cookie (an
Xauthority file in the workdir), and apps get a fresh HOME/XDG tree in the workdir, so several
sandboxes run side by side and nothing of the real user's state leaks in.

Teardown, in layers, so no process outlives the sandbox:
1. `close()` (context-manager exit, also on exceptions and Ctrl-C) terminates every process group.
2. Each child gets PR_SET_PDEATHSIG, so the kernel signals it when its parent dies (even by SIGKILL).
3. A watchdog process (`python -m agent.sandbox --watchdog`) holds the read end of a pipe; when
   the parent dies the pipe closes and the watchdog kills every process that carries this
   sandbox's marker (AGENT_SANDBOX_ID) in its environment, grandchildren that left their group
   included, and removes the temporary workdir.
PR_SET_PDEATHSIG fires when the *thread* that started the child exits: create a Sandbox on a
thread that lives as long as it does (normally the main thread).

Layout of the workdir: home/ (HOME, with Documents/ and the XDG folders), runtime/
(XDG_RUNTIME_DIR), logs/ (xvfb.log, openbox.log, appN.log), Xauthority. Apps start with cwd HOME,
so file dialogs open there. Task files are created first, then setup commands run, then the apps
start; `{workdir}` and `{home}` in them are expanded (see agent.tasks).
"""
from __future__ import annotations

import ctypes
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
from typing import TYPE_CHECKING, Any, Callable

from agent.display import DisplayError, add_cookie, read_display_number, require_tools, window_titles

if TYPE_CHECKING:
    from agent.tasks import SandboxSpec

__all__ = ["Sandbox", "SandboxError", "DisplayError", "marked_pids", "kill_marked"]

MARKER_VAR = "AGENT_SANDBOX_ID"
_PR_SET_PDEATHSIG = 1
_GRACE_S = 3.0


class SandboxError(RuntimeError):
    """The sandbox could not be built; the message names the failing step."""


def _pdeathsig_preexec(sig: int) -> Callable[[], None]:
    """preexec_fn: ask the kernel to send `sig` to the child when the parent thread dies."""
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: no dlopen in the child
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def marked_pids(marker: str) -> list[int]:
    """Pids of live processes whose environment carries this sandbox's marker."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue  # gone, or not ours
        if needle in environ.split(b"\0"):
            found.append(int(entry))
    return found


def kill_marked(marker: str, grace_s: float = _GRACE_S) -> None:
    """SIGTERM every marked process, then SIGKILL whatever is left after the grace period."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 1.0)):
        pids = marked_pids(marker)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait_s
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"  # zombies are dead
    except OSError:
        return False


def _watchdog_main(marker: str, workdir: str | None) -> None:
    """Wait for stdin to close; unless the parent said "done", kill the sandbox's processes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    said_done = sys.stdin.read().strip() == "done"
    if not said_done:
        kill_marked(marker)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


class Sandbox:
    """A context manager that builds an X11 desktop for a task and removes it completely."""

    def __init__(
        self,
        spec: "SandboxSpec | None" = None,
        *,
        width: int = 1280,
        height: int = 800,
        workdir: Path | None = None,
    ):
        self.spec = spec
        self.width = spec.width if spec else width
        self.height = spec.height if spec else height
        self._own_workdir = workdir is None
        self._workdir_arg = workdir
        self._marker = secrets.token_hex(8)
        self._procs: list[subprocess.Popen] = []
        self._apps: list[tuple[str, subprocess.Popen, Path]] = []
        self._watchdog: subprocess.Popen | None = None
        self._display: str | None = None
        self._env: dict[str, str] = {}
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
        """The apps' fresh HOME."""
        return self.workdir / "home"

    def pids(self) -> list[int]:
        """Pids of every live process this sandbox started (children and their descendants)."""
        return marked_pids(self._marker)

    def run(self, cmd: str, timeout: float = 60.0, check: bool = False) -> subprocess.CompletedProcess:
        """Run a shell command on this desktop (cwd HOME), wait for it, capture text output."""
        self._require_open()
        return subprocess.run(
            cmd, shell=True, env=self._env, cwd=self.home, capture_output=True, text=True,
            timeout=timeout, check=check, start_new_session=True,
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
        require_tools("Xvfb", "xauth", "openbox", "xdotool")
        try:
            self._make_workdir()
            self._start_watchdog()
            self._start_xvfb()
            self._start_openbox()
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
        self._env = self._base_env(home, runtime, self._workdir / "Xauthority")

    def _base_env(self, home: Path, runtime: Path, xauthority: Path) -> dict[str, str]:
        # A minimal, deterministic environment: English UI, no user config, no session bus and no
        # accessibility bus (both would start daemons outside our process groups).
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(home),
            "USER": os.environ.get("USER", "agent"),
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
            "DBUS_SESSION_BUS_ADDRESS": "disabled:",
            "XAUTHORITY": str(xauthority),
            MARKER_VAR: self._marker,
        }

    def _popen(self, argv: list[str], log: Path, deathsig: int = signal.SIGTERM, **kw: Any) -> subprocess.Popen:
        """Start a child in its own session and process group, tied to our life by PDEATHSIG."""
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv, env=self._env, cwd=self._env["HOME"], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_pdeathsig_preexec(deathsig), **kw,
            )
        self._procs.append(proc)
        return proc

    def _start_watchdog(self) -> None:
        workdir = str(self._workdir) if self._own_workdir else ""
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        env.pop(MARKER_VAR, None)  # the watchdog must not kill itself
        self._watchdog = subprocess.Popen(
            [sys.executable, "-m", "agent.sandbox", "--watchdog", self._marker, workdir],
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

    def _start_xvfb(self) -> None:
        cookie = secrets.token_hex(16)
        authfile = self._env["XAUTHORITY"]
        # The server loads every cookie in its -auth file regardless of display number, so the
        # cookie is registered before the number is known and re-added for clients afterwards.
        add_cookie(authfile, ":0", cookie, self._env)
        read_fd, write_fd = os.pipe()
        try:
            self._popen(
                ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{self.width}x{self.height}x24",
                 "-auth", authfile, "-nolisten", "tcp", "-noreset"],
                self._logs / "xvfb.log", pass_fds=(write_fd,),
            )
            os.close(write_fd)
            write_fd = -1
            number = read_display_number(read_fd, timeout=30.0, log=self._logs / "xvfb.log")
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self._display = f":{number}"
        self._env["DISPLAY"] = self._display
        add_cookie(authfile, self._display, cookie, self._env)

    def _start_openbox(self) -> None:
        self._popen(["openbox", "--sm-disable"], self._logs / "openbox.log")
        # openbox sets _NET_CURRENT_DESKTOP once it manages the screen; until then this query fails.
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            probe = subprocess.run(["xdotool", "get_desktop"], env=self._env, capture_output=True)
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise SandboxError(f"openbox did not start within 15s; see {self._workdir}/logs/openbox.log")

    def _prepare_task(self, spec: "SandboxSpec") -> None:
        from agent.tasks import expand, resolve_path

        for raw_path, content in spec.files.items():
            path = resolve_path(raw_path, self.workdir, self.home)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        for command in spec.setup:
            self._run_setup(expand(command, self.workdir, self.home), spec.timeout)
        for index, command in enumerate(spec.apps):
            log = self._logs / f"app{index}.log"
            proc = self._popen(["/bin/sh", "-c", expand(command, self.workdir, self.home)], log)
            self._apps.append((command, proc, log))
        for regex in spec.wait_windows:
            self._wait_or_explain(regex, spec.timeout)

    def _run_setup(self, command: str, timeout: float) -> None:
        try:
            done = self.run(command, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SandboxError(f"setup command {command!r} did not finish within {timeout:g}s") from None
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-500:]
            raise SandboxError(f"setup command {command!r} exited {done.returncode}: {output}")

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


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)  # pid == pgid: every child leads its own group
    except OSError:
        pass


if __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    _watchdog_main(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)

