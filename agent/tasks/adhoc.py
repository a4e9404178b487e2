"""A task from a plain instruction (`agent run "Open …"`): the desktop its `--app` commands start, no checks.

An ad-hoc task has `checks: none`, so its runs end `done` (the model said it finished) or `gave_up`,
never a checked success. `instruction_or_file` tells a task file from an instruction on the command
line; `instruction_task` builds the Task and checks every `--app` before any desktop starts.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import unicodedata
from pathlib import Path

from agent.errors import InstructionError
from agent.tasks.schema import NO_CHECKS, TASK_SUFFIXES, Task

MAX_INSTRUCTION_CHARS = 4000  # a paragraph or two; a longer text is a file pasted by mistake
MAX_APPS = 16
MAX_APP_CHARS = 1000
ID_WORDS = 6  # words of the instruction in the task id


def instruction_or_file(argument: str) -> tuple[str, Path | None]:
    """("file", path) when the argument names a task file (existing, or shaped like a path), else
    ("instruction", None). A missing path ending in .yaml/.yml, or without spaces and with a '/', is a
    task file that does not exist (load_task says so), not an instruction."""
    if not argument.strip():
        return "instruction", None  # an empty instruction, which check_instruction refuses
    path = Path(argument)
    looks_like_path = (argument.lower().endswith(TASK_SUFFIXES)
                       or ("/" in argument and not any(c.isspace() for c in argument)))
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a NUL byte or a name too long for the file system
        exists = False
    return ("file", path) if exists or looks_like_path else ("instruction", None)


def check_instruction(text: str) -> str:
    """The instruction, stripped; InstructionError when it is empty, huge or holds control characters."""
    stripped = text.strip()
    if not stripped:
        raise InstructionError("the instruction is empty: say what the agent should do, e.g. "
                               "agent run \"Open the settings window of Mousepad\" --app mousepad")
    if len(stripped) > MAX_INSTRUCTION_CHARS:
        raise InstructionError(f"the instruction is {len(stripped):,} characters; at most {MAX_INSTRUCTION_CHARS:,} "
                               "(for a longer task, write a task file: docs/tasks.md)")
    bad = next((c for c in stripped if unicodedata.category(c) == "Cc" and c not in "\n\t"), None)
    if bad is not None:
        raise InstructionError(f"the instruction holds the control character U+{ord(bad):04X}; "
                               "give plain text")
    return stripped


def check_app(command: str, path: str | None = None) -> str:
    """The --app command when its program exists on PATH (or as an executable path); InstructionError
    naming it otherwise. The program is the first word of the shell command."""
    if not command.strip():
        raise InstructionError("--app is empty: give the command that starts an application, e.g. --app mousepad")
    if len(command) > MAX_APP_CHARS:
        raise InstructionError(f"--app command is {len(command):,} characters; at most {MAX_APP_CHARS:,}")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise InstructionError(f"--app {command!r}: cannot read it as a shell command ({exc})") from None
    program = next((w for w in words if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w)), None)  # skip VAR=value
    if program is None:
        raise InstructionError(f"--app {command!r} names no program")
    search = path if path is not None else os.environ.get("PATH", "")
    if "/" in program:
        found = Path(program).is_file() and os.access(program, os.X_OK)
    else:
        found = shutil.which(program, path=search) is not None
    if not found:
        raise InstructionError(f"--app {command!r}: no program {program!r} on this machine "
                               "(not on PATH, or not executable); install it or give its full path")
    return command


def task_id_for(instruction: str) -> str:
    """A task id from the instruction's first words: 'open-the-settings-window-of-mousepad'."""
    ascii_text = unicodedata.normalize("NFKD", instruction).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)[:ID_WORDS]
    return "-".join(words)[:48].strip("-") or "instruction"


def instruction_task(instruction: str, apps: list[str], width: int = 1280, height: int = 800,
                     max_steps: int = 15) -> Task:
    """The ad-hoc Task: the instruction, a sandbox with `apps` (none: an empty desktop), no checks."""
    instruction = check_instruction(instruction)
    if len(apps) > MAX_APPS:
        raise InstructionError(f"{len(apps)} --app commands; at most {MAX_APPS}")
    apps = [check_app(app) for app in apps]
    programs = sorted({Path(_program(app)).name for app in apps})
    sandbox = {"width": width, "height": height, "apps": apps}
    if apps:
        sandbox["wait_windows"] = ["."]  # the first window with a title: the apps have drawn something
    return Task.model_validate({
        "id": task_id_for(instruction), "instruction": instruction, "sandbox": sandbox,
        "applications": programs, "max_steps": max_steps, "checks": NO_CHECKS,
    })


def _program(command: str) -> str:
    words = shlex.split(command)
    return next(w for w in words if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w))
