"""The `checks` part of a task file: window, no-window, file, command and answer checks.

Each check kind is told by its identifying key (title, no_title, path, command, answer); agent.tasks.verify
runs them. Paths and commands may use {workdir} and {home} (see agent.tasks).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from agent.tasks.strict import StrictModel, check_regex


def inside_sandbox(raw: str) -> bool:
    """True when a task path stays in the sandbox: relative, or under {home} / {workdir}, with no '..'."""
    rest = raw
    for prefix in ("{home}", "{workdir}"):
        if rest == prefix or rest.startswith(prefix + "/"):
            rest = rest[len(prefix):].lstrip("/")
            break
    path = Path(rest)
    return not path.is_absolute() and ".." not in path.parts and "{" not in rest


class WindowCheck(StrictModel):
    """Success when a visible window's title matches a regex (re.search)."""

    title: str = Field(description="Regex searched in the titles of the currently visible windows.")

    @field_validator("title")
    @classmethod
    def _title_compiles(cls, value: str) -> str:
        return check_regex(value)

    def describe(self) -> str:
        """Short name used in results."""
        return f"window title ~ {self.title!r}"


class FileCheck(StrictModel):
    """Success when a file exists and its text equals, contains or matches the expected value."""

    path: str = Field(description="File to read; may use {workdir} and {home}.")
    equals: str | None = Field(None, description="The whole content must be exactly this text.")
    contains: str | None = Field(None, description="The content must contain this text.")
    matches: str | None = Field(None, description="Regex searched in the content (re.search, multiline).")

    @model_validator(mode="after")
    def _exactly_one_condition(self) -> "FileCheck":
        given = [name for name in ("equals", "contains", "matches") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of equals, contains, matches (got {given or 'none'})")
        if self.matches is not None:
            check_regex(self.matches)
        return self

    def describe(self) -> str:
        """Short name used in results."""
        for name in ("equals", "contains", "matches"):
            value = getattr(self, name)
            if value is not None:
                return f"file {self.path} {name} {value!r}"
        return f"file {self.path}"


class NoWindowCheck(StrictModel):
    """Success when no visible window's title matches a regex; fails if the windows cannot be listed."""

    no_title: str = Field(description="Regex that no currently visible window title may match (re.search).")

    @field_validator("no_title")
    @classmethod
    def _title_compiles(cls, value: str) -> str:
        return check_regex(value)

    def describe(self) -> str:
        """Short name used in results."""
        return f"no window title ~ {self.no_title!r}"


class AnswerCheck(StrictModel):
    """Success when the run ended with an `answer` action whose text matches a regex."""

    answer: str = Field(description="Regex searched in the model's answer text (re.search, case-insensitive).")

    @field_validator("answer")
    @classmethod
    def _answer_compiles(cls, value: str) -> str:
        return check_regex(value)

    def describe(self) -> str:
        """Short name used in results."""
        return f"answer ~ {self.answer!r}"


class CommandCheck(StrictModel):
    """Success when a shell command exits with the expected status and, if asked, its stdout fits."""

    command: str = Field(description="Shell command run in the sandbox environment; may use {workdir} and {home}.")
    status: int = Field(0, ge=0, le=255, description="The exit status the command must have.")
    equals: str | None = Field(None, description="stdout, less trailing newlines, must be exactly this text.")
    contains: str | None = Field(None, description="stdout must contain this text.")
    matches: str | None = Field(None, description="Regex searched in stdout (re.search, multiline).")
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds before the command counts as failed.")

    @model_validator(mode="after")
    def _at_most_one_condition(self) -> "CommandCheck":
        given = [name for name in ("equals", "contains", "matches") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of equals, contains, matches (got {given})")
        if self.matches is not None:
            check_regex(self.matches)
        return self

    def describe(self) -> str:
        """Short name used in results."""
        text = f"command {self.command!r} exits {self.status}"
        for name in ("equals", "contains", "matches"):
            value = getattr(self, name)
            if value is not None:
                text += f", stdout {name} {value!r}"
        return text


def _check_kind(item: Any) -> str | None:
    """Which check a YAML mapping is, told by its identifying key."""
    if isinstance(item, BaseModel):
        return {WindowCheck: "window", NoWindowCheck: "no_window", FileCheck: "file",
                CommandCheck: "command", AnswerCheck: "answer"}.get(type(item))
    if not isinstance(item, dict):
        return None
    for key, kind in (("title", "window"), ("no_title", "no_window"), ("path", "file"), ("command", "command"),
                      ("answer", "answer")):
        if key in item:
            return kind
    return None


Check = Annotated[
    Union[
        Annotated[WindowCheck, Tag("window")],
        Annotated[NoWindowCheck, Tag("no_window")],
        Annotated[FileCheck, Tag("file")],
        Annotated[CommandCheck, Tag("command")],
        Annotated[AnswerCheck, Tag("answer")],
    ],
    Discriminator(
        _check_kind,
        custom_error_type="unknown_check",
        custom_error_message="a check needs one of the keys title (window), no_title (no such window), "
                             "path (file), command (command) or answer (the model's answer)",
    ),
]


class CheckSpec(StrictModel):
    """How success is decided after the run."""

    mode: Literal["all", "any"] = Field("all", description="all: every check must pass; any: one is enough.")
    items: list[Check] = Field(min_length=1, description="The checks: window, no window, file or command.")
    # Copied from the task's sandbox.allow_outside_paths: file checks may read outside the workdir.
    _allow_outside_paths: bool = PrivateAttr(False)

    @property
    def allow_outside_paths(self) -> bool:
        """Whether file checks may read outside the sandbox (the task opted in)."""
        return self._allow_outside_paths
