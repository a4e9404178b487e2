"""The task file's schema: what desktop to build, what to ask, how to tell success, how a correct run looks.

A task says what desktop to build (SandboxSpec), what to ask the policy (instruction), how to tell
success (CheckSpec) and how a correct run looks (reference: model outputs, one per step).

Placeholders: paths and commands in `sandbox.apps`, `sandbox.setup`, the keys of `sandbox.files`,
`checks` paths and check commands may contain `{workdir}` (the sandbox's private temporary folder)
and `{home}` (the fresh HOME inside it, `{workdir}/home`). Only these two names are replaced, so
other braces (shell, regexes) pass through untouched. A relative path is taken relative to `{home}`.
The instruction is shown to the policy as written (no placeholders). In the sandbox, `files` are
written first, then `setup` runs to completion, then `apps` start and `wait_windows` are awaited.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union

from pydantic import Field, PrivateAttr, field_validator, model_validator

from agent.tasks.checks import CheckSpec, FileCheck, inside_sandbox
from agent.tasks.strict import StrictModel, check_regex

TASK_SUFFIXES = (".yaml", ".yml")
# The desktop looks a task may ask for; agent.desktop.look.LOOKS says what each one is.
LookName = Literal["taskbar", "gnome"]
NO_CHECKS = "none"  # `checks: none`: a task without success checks



def expand(text: str, workdir: Path | str, home: Path | str) -> str:
    """Replace `{workdir}` and `{home}` (and nothing else) in a path or command."""
    return text.replace("{workdir}", str(workdir)).replace("{home}", str(home))


def resolve_path(text: str, workdir: Path | str, home: Path | str) -> Path:
    """Expand placeholders; a relative result is taken relative to home."""
    path = Path(expand(text, workdir, home))
    return path if path.is_absolute() else Path(home) / path


class FileCopy(StrictModel):
    """A file copied byte for byte from beside the task file (pictures, documents, spreadsheets)."""

    source: str = Field(alias="from", description="Path relative to the task file's folder, e.g. fixtures/photo.png.")

    @field_validator("source")
    @classmethod
    def _beside_the_task(cls, value: str) -> str:
        path = Path(value)
        if path.is_absolute() or ".." in path.parts or not value.strip():
            raise ValueError(f"{value!r} must be a relative path inside the task file's folder (no '..')")
        return value


class SandboxSpec(StrictModel):
    """The desktop a task runs on."""

    width: int = Field(1280, ge=320, le=7680, description="Screen width in pixels.")
    height: int = Field(800, ge=240, le=4320, description="Screen height in pixels.")
    look: LookName = Field(
        "taskbar", description="How the desktop looks: taskbar (a bottom panel) or gnome (GNOME's top bar and a dock, "
        "as on OSWorld's Ubuntu VM); both with a wallpaper, Adwaita themes and maximised windows.",
    )
    apps: list[str] = Field(default_factory=list, description="Shell commands started in the background after setup.")
    setup: list[str] = Field(default_factory=list, description="Shell commands run to completion before the apps start.")
    files: dict[str, Union[str, FileCopy]] = Field(
        default_factory=dict,
        description="Files to create before setup: path -> text content, or {from: fixtures/x.png} beside the task file.",
    )
    allow_outside_paths: bool = Field(
        False, description="Let `files` keys and file checks use absolute or '..' paths outside the sandbox.",
    )
    wait_windows: list[str] = Field(
        default_factory=list, description="Title regexes of windows that must be visible before the task starts."
    )
    timeout: float = Field(30.0, gt=0, le=600, description="Seconds allowed for setup and for each window to appear.")

    # The folder of the task file the spec was loaded from (fixtures are copied from there).
    _base_dir: Path | None = PrivateAttr(None)

    @field_validator("wait_windows")
    @classmethod
    def _regexes_compile(cls, value: list[str]) -> list[str]:
        return [check_regex(v) for v in value]

    @model_validator(mode="after")
    def _files_stay_inside(self) -> "SandboxSpec":
        if not self.allow_outside_paths:
            for key in self.files:
                if not inside_sandbox(key):
                    raise ValueError(f"files key {key!r} leaves the sandbox (absolute or '..'); use a path "
                                     "relative to {home}, or set allow_outside_paths: true")
        return self

    @property
    def base_dir(self) -> Path | None:
        """The task file's folder, when the spec came from a file."""
        return self._base_dir


class Task(StrictModel):
    """One task: a desktop, an instruction, success checks and a reference solution."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short name (lowercase, digits, _ and -).")
    instruction: str = Field(min_length=1, description="What the policy is asked to do.")
    sandbox: SandboxSpec = Field(default_factory=SandboxSpec, description="The desktop to build.")
    difficulty: Literal["easy", "medium", "hard"] | None = Field(
        None, description="easy: a few steps in one app; medium: a dialog or a menu path; hard: 10+ steps or two apps.",
    )
    applications: list[str] = Field(
        default_factory=list, description="Programs the task needs (e.g. mousepad, gnumeric); the sandbox checks they are installed.",
    )
    max_steps: int = Field(15, ge=1, le=500, description="Step limit of a run.")
    settle_s: float = Field(1.0, ge=0, le=60, description="Seconds to wait after each action before the next screenshot.")
    checks: CheckSpec | None = Field(description=(
        "Success checks run after the last step; `none` for a task without checks (an ad-hoc instruction), "
        "whose runs end `done` or `gave_up`, never `success`."))
    reference: list[str] = Field(
        default_factory=list,
        description="A correct run as model outputs (Qwen3-VL <tool_call> text, 0-1000 grid), one per step.",
    )

    @field_validator("checks", mode="before")
    @classmethod
    def _explicitly_unchecked(cls, value: Any) -> Any:
        """`checks: none` opts out of checks; an empty `checks:` is a mistake, not an opt-out."""
        if value is None:
            raise ValueError(f"is empty; give checks.items, or write `checks: {NO_CHECKS}` for a task without "
                             "checks (its runs end done or gave_up, never success)")
        if value == NO_CHECKS:
            return None
        return value

    @property
    def checked(self) -> bool:
        """Whether the task has success checks (else its runs end done or gave_up)."""
        return self.checks is not None

    @model_validator(mode="after")
    def _reference_fits(self) -> "Task":
        if len(self.reference) > self.max_steps:
            raise ValueError(f"reference has {len(self.reference)} steps but max_steps is {self.max_steps}")
        return self

    @model_validator(mode="after")
    def _file_checks_stay_inside(self) -> "Task":
        if self.checks is None:
            return self
        self.checks._allow_outside_paths = self.sandbox.allow_outside_paths
        if not self.sandbox.allow_outside_paths:
            for index, item in enumerate(self.checks.items):
                if isinstance(item, FileCheck) and not inside_sandbox(item.path):
                    raise ValueError(f"checks.items[{index}].path {item.path!r} leaves the sandbox (absolute or "
                                     "'..'); use a path relative to {home}, or set sandbox.allow_outside_paths: true")
        return self
