"""Success checks run after a task: window titles (present or absent), a file's content, a command's
exit status and stdout.

A file check reads at most MAX_READ_BYTES of a regular file (a FIFO, a device or a directory fails
the check), within READ_TIMEOUT_S, and only inside the sandbox's workdir unless the task set
`sandbox.allow_outside_paths`. A failed comparison shows a bounded unified diff of expected and
actual text.
"""
from __future__ import annotations

import concurrent.futures
import difflib
import os
import re
import stat
import subprocess
from pathlib import Path

from agent.errors import WindowQueryError
from agent.tasks.checks import AnswerCheck, CheckSpec, CommandCheck, FileCheck, NoWindowCheck, WindowCheck
from agent.tasks.schema import expand, resolve_path
from agent.trace import CheckOutcome

MAX_READ_BYTES = 1 << 20
READ_TIMEOUT_S = 5.0
DIFF_LINES = 40
LINE_CHARS = 200
_OUTPUT_CHARS = 4000



def run_checks(spec: CheckSpec, env: dict[str, str], workdir: Path, home: Path | None = None,
               allow_outside_paths: bool = False, answer: str | None = None) -> tuple[bool, list[CheckOutcome]]:
    """Run every check (none is skipped) and combine them with spec.mode (all / any).

    home: {home} in paths and commands (default: env's HOME); answer: the text of the run's final
    `answer` action (None when the run did not answer).
    """
    home = Path(home or env.get("HOME", str(workdir)))
    outside = allow_outside_paths or spec.allow_outside_paths
    outcomes = [check_answer(item, answer) if isinstance(item, AnswerCheck)
                else _run_one(item, env, Path(workdir), home, outside) for item in spec.items]
    verdicts = [outcome.passed for outcome in outcomes]
    passed = all(verdicts) if spec.mode == "all" else any(verdicts)
    return passed, outcomes


def _run_one(item, env: dict[str, str], workdir: Path, home: Path, outside: bool) -> CheckOutcome:
    if isinstance(item, WindowCheck):
        return check_window(item, env)
    if isinstance(item, NoWindowCheck):
        return check_no_window(item, env)
    if isinstance(item, FileCheck):
        return check_file(item, workdir, home, outside)
    return check_command(item, env, workdir, home)


# -- windows ---------------------------------------------------------------------------------
def visible_titles(env: dict[str, str], timeout: float = 10.0) -> list[str]:
    """Titles of the visible windows; WindowQueryError when the display cannot be queried at all."""
    try:
        probe = subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True, text=True,
                               timeout=timeout)
        if probe.returncode != 0:
            raise WindowQueryError(probe.stderr.strip() or f"xdotool exited {probe.returncode}")
        search = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "."], env=env,
                                capture_output=True, text=True, timeout=timeout)
        # xdotool search exits 1 with no output when nothing matches; anything on stderr is a failure.
        if search.returncode not in (0, 1) or search.stderr.strip():
            raise WindowQueryError(search.stderr.strip() or f"xdotool search exited {search.returncode}")
        titles = []
        for window in search.stdout.split():
            name = subprocess.run(["xdotool", "getwindowname", window], env=env, capture_output=True,
                                  text=True, timeout=timeout)
            if name.returncode == 0 and name.stdout.strip():
                titles.append(name.stdout.rstrip("\n"))
        return titles
    except (OSError, subprocess.SubprocessError) as exc:
        raise WindowQueryError(str(exc)) from exc


def check_window(check: WindowCheck, env: dict[str, str]) -> CheckOutcome:
    """Pass when a currently visible window's title matches the regex."""
    name = check.describe()
    try:
        titles = visible_titles(env)
    except WindowQueryError as exc:
        return CheckOutcome(name=name, passed=False, detail=f"could not list windows: {exc}")
    hits = [title for title in titles if re.search(check.title, title)]
    if hits:
        return CheckOutcome(name=name, passed=True, detail=f"found {hits[0]!r}")
    return CheckOutcome(name=name, passed=False, detail=f"visible windows: {titles or 'none'}")


def check_no_window(check: NoWindowCheck, env: dict[str, str]) -> CheckOutcome:
    """Pass when the windows could be listed and none of their titles matches the regex."""
    name = check.describe()
    try:
        titles = visible_titles(env)
    except WindowQueryError as exc:
        return CheckOutcome(name=name, passed=False, detail=f"could not list windows, so absence is unknown: {exc}")
    hits = [title for title in titles if re.search(check.no_title, title)]
    if hits:
        return CheckOutcome(name=name, passed=False, detail=f"still visible: {hits}")
    return CheckOutcome(name=name, passed=True, detail=f"visible windows: {titles or 'none'}")


def check_answer(check: AnswerCheck, answer: str | None) -> CheckOutcome:
    """Pass when the run answered and the answer matches the regex (case-insensitive)."""
    name = check.describe()
    if answer is None:
        return CheckOutcome(name=name, passed=False, detail="the run ended without an answer action")
    passed = re.search(check.answer, answer, re.IGNORECASE) is not None
    return CheckOutcome(name=name, passed=passed, detail=f"answered {_preview(answer)}")


# -- files -----------------------------------------------------------------------------------
class _ReadRefused(Exception):
    pass


def read_bounded(path: Path, limit: int = MAX_READ_BYTES, timeout: float = READ_TIMEOUT_S) -> bytes:
    """At most `limit` bytes of a regular file, within `timeout` s; _ReadRefused says why not."""
    def read() -> bytes:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _ReadRefused("is not a regular file")
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = handle.read(limit + 1)
        finally:
            os.close(fd)
        if len(data) > limit:
            raise _ReadRefused(f"is larger than {limit} bytes")
        return data

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(read).result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise _ReadRefused(f"could not be read within {timeout:g}s") from None
    finally:
        pool.shutdown(wait=False)


def check_file(check: FileCheck, workdir: Path, home: Path, outside: bool = False) -> CheckOutcome:
    """Pass when the file exists and its text equals / contains / matches the expected value."""
    name = check.describe()
    path = resolve_path(check.path, workdir, home)
    if not outside and not path.resolve().is_relative_to(workdir.resolve()):
        return CheckOutcome(name=name, passed=False, detail=f"{path} is outside the sandbox; not read")
    try:
        text = read_bounded(path).decode("utf-8", errors="replace")
    except _ReadRefused as exc:
        return CheckOutcome(name=name, passed=False, detail=f"{path} {exc}")
    except OSError as exc:
        return CheckOutcome(name=name, passed=False, detail=f"{path}: {exc.strerror or exc}")
    passed, why = _compare(text, check.equals, check.contains, check.matches)
    return CheckOutcome(name=name, passed=passed, detail=f"{path}: {why}")


def _compare(text: str, equals: str | None, contains: str | None, matches: str | None) -> tuple[bool, str]:
    """(passed, what was seen) for one of the three conditions; a diff when `equals` fails."""
    if equals is not None:
        if text == equals:
            return True, f"holds the expected {len(text)} characters"
        return False, "differs from the expected text:\n" + bounded_diff(equals, text)
    if contains is not None:
        if contains in text:
            return True, f"contains {contains!r}"
        return False, f"does not contain {contains!r}; it holds {_preview(text)}"
    if re.search(matches or "", text, re.MULTILINE):
        return True, f"matches {matches!r}"
    return False, f"has no match for {matches!r}; it holds {_preview(text)}"


def bounded_diff(expected: str, actual: str, max_lines: int = DIFF_LINES) -> str:
    """A unified diff (expected → actual) of at most max_lines lines of at most LINE_CHARS characters."""
    lines = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "expected", "actual", lineterm="", n=2))
    if not lines:  # same lines: the difference is in line endings or a final newline
        lines = [f"- {expected[-40:]!r} (end of expected)", f"+ {actual[-40:]!r} (end of actual)"]
    shown = [line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…" for line in lines[:max_lines]]
    if len(lines) > max_lines:
        shown.append(f"… {len(lines) - max_lines} more diff lines")
    return "\n".join(shown)


# -- commands --------------------------------------------------------------------------------
def check_command(check: CommandCheck, env: dict[str, str], workdir: Path, home: Path) -> CheckOutcome:
    """Pass when the shell command (env, cwd workdir) exits with check.status and its stdout fits."""
    name = check.describe()
    command = expand(check.command, workdir, home)
    try:
        done = subprocess.run(
            command, shell=True, env=env, cwd=workdir, capture_output=True, text=True, errors="replace",
            timeout=check.timeout, start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return CheckOutcome(name=name, passed=False, detail=f"timed out after {check.timeout:g}s")
    status_ok = done.returncode == check.status
    detail = f"exit {done.returncode}" + ("" if status_ok else f" (expected {check.status})")
    if check.equals is None and check.contains is None and check.matches is None:
        output = (done.stdout + done.stderr).strip()
        return CheckOutcome(name=name, passed=status_ok, detail=f"{detail}: {_preview(output)}")
    stdout = done.stdout.rstrip("\n") if check.equals is not None else done.stdout
    output_ok, why = _compare(stdout, check.equals, check.contains, check.matches)
    stderr = f"; stderr {_preview(done.stderr.strip())}" if done.stderr.strip() and not status_ok else ""
    return CheckOutcome(name=name, passed=status_ok and output_ok, detail=f"{detail}; stdout {why}{stderr}")


def _preview(text: str, limit: int = _OUTPUT_CHARS) -> str:
    """A bounded repr of text for result details."""
    return repr(text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)")
