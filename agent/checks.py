"""Success checks run after a task: a visible window title, a file's content, a command's exit status."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from agent.display import window_titles
from agent.tasks import CheckSpec, CommandCheck, FileCheck, WindowCheck, expand, resolve_path
from agent.trace import CheckOutcome


def run_checks(spec: CheckSpec, env: dict[str, str], workdir: Path) -> tuple[bool, list[CheckOutcome]]:
    """Run every check (none is skipped) and combine them with spec.mode (all / any)."""
    home = Path(env.get("HOME", str(workdir)))
    outcomes = [_run_one(item, env, Path(workdir), home) for item in spec.items]
    verdicts = [outcome.passed for outcome in outcomes]
    passed = all(verdicts) if spec.mode == "all" else any(verdicts)
    return passed, outcomes


def _run_one(item: WindowCheck | FileCheck | CommandCheck, env: dict[str, str], workdir: Path, home: Path) -> CheckOutcome:
    if isinstance(item, WindowCheck):
        return check_window(item, env)
    if isinstance(item, FileCheck):
        return check_file(item, workdir, home)
    return check_command(item, env, workdir, home)


def check_window(check: WindowCheck, env: dict[str, str]) -> CheckOutcome:
    """Pass when a currently visible window's title matches the regex."""
    name = check.describe()
    try:
        titles = window_titles(env)
    except (OSError, subprocess.SubprocessError) as exc:
        return CheckOutcome(name=name, passed=False, detail=f"could not list windows: {exc}")
    pattern = re.compile(check.title)
    hits = [title for title in titles if pattern.search(title)]
    if hits:
        return CheckOutcome(name=name, passed=True, detail=f"found {hits[0]!r}")
    return CheckOutcome(name=name, passed=False, detail=f"visible windows: {titles or 'none'}")


def check_file(check: FileCheck, workdir: Path, home: Path) -> CheckOutcome:
    """Pass when the file exists and its text equals / contains / matches the expected value."""
    name = check.describe()
    path = resolve_path(check.path, workdir, home)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return CheckOutcome(name=name, passed=False, detail=f"{path}: {exc.strerror or exc}")
    if check.equals is not None:
        passed = text == check.equals
    elif check.contains is not None:
        passed = check.contains in text
    else:
        passed = re.search(check.matches or "", text, re.MULTILINE) is not None
    return CheckOutcome(name=name, passed=passed, detail=f"{path} holds {_preview(text)}")


def check_command(check: CommandCheck, env: dict[str, str], workdir: Path, home: Path) -> CheckOutcome:
    """Pass when the shell command exits 0 within its timeout (run with env, cwd workdir)."""
    name = check.describe()
    command = expand(check.command, workdir, home)
    try:
        done = subprocess.run(
            command, shell=True, env=env, cwd=workdir, capture_output=True, text=True,
            timeout=check.timeout, start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return CheckOutcome(name=name, passed=False, detail=f"timed out after {check.timeout:g}s")
    output = (done.stdout + done.stderr).strip()
    return CheckOutcome(name=name, passed=done.returncode == 0, detail=f"exit {done.returncode}: {_preview(output)}")


def _preview(text: str, limit: int = 200) -> str:
    """A short repr of text for result details."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
