"""Every error the agent raises on purpose, in one family under `AgentError`.

A `UserError` is something the person must fix before a command can do its work (a flag out of range, a
broken task file, a missing checkpoint, a desktop that cannot start): `agent/cli.py` catches it once,
prints `error: <message>` and exits with status 2. Each message names the file, field or value. The
other `AgentError`s happen while a run goes on (a model call that failed, a window list that could not
be read); the run records them. Each class also keeps the builtin base it always had (ValueError,
RuntimeError), so code that caught those still does.
"""
from __future__ import annotations


class AgentError(Exception):
    """The base of every error the agent raises on purpose."""


class UserError(AgentError):
    """The person must fix this before the command can work; the CLI prints it and exits 2."""


# -- what the person typed or wrote -------------------------------------------------------------

class SettingsError(UserError, ValueError):
    """A setting the person gave is out of range; the message names the flag and the value."""


class TaskError(UserError, ValueError):
    """A task file could not be read; the message names the file and the field or YAML line."""


class YamlReadError(TaskError):
    """The file could not be read as YAML; the message names the file."""


class InstructionError(UserError, ValueError):
    """An instruction or `--app` given on the command line cannot be used; the message says why."""


class SuiteError(UserError, ValueError):
    """A suite that cannot be used; the message names the file and the field."""


class ShardError(UserError, ValueError):
    """--shard is not I/N with 1 <= I <= N."""


class BenchError(UserError, ValueError):
    """A bench folder or file that cannot be used; the message names it."""


class NotARunError(UserError, ValueError):
    """The path is neither a run folder (meta.json or steps.jsonl) nor, where allowed, a folder of runs."""


class ExportError(UserError, ValueError):
    """Runs cannot be exported or turned into a task (damaged, unsuccessful, output in the way); the
    message names the run or the file."""


class ReportOutputError(UserError, ValueError):
    """The report cannot be written where it was asked to go."""


# -- what a run needs before it can start -------------------------------------------------------

class RunSetupError(UserError, RuntimeError):
    """Something the person must fix before a run can start; the message says what."""


class PolicyUnavailable(RunSetupError):
    """The policy cannot start (model missing, offline, …); the message says what to do instead."""


class RecordError(RunSetupError):
    """`agent record` cannot start (no display to show the sandbox on, a file in the way); the message says
    what to do."""


class DesktopError(RunSetupError):
    """The desktop could not be started or used; the message says why."""


class DisplayError(DesktopError):
    """The display cannot be used; the message says why and what to do."""


class CaptureError(DesktopError):
    """The display could not be captured (not running, wrong depth, no such monitor)."""


class SandboxError(DesktopError):
    """The sandbox could not be built; the message names the failing step."""


class DaemonError(SandboxError):
    """A daemon of the desktop did not start; the message names it and quotes its log."""


class DesktopUserError(SandboxError):
    """The unprivileged account could not be found or created; the message says why."""


class TaskFileError(SandboxError):
    """A task file could not be placed; the message names the key and the reason."""


# -- failures during a run (recorded, not fatal to the command) ---------------------------------

class ModelCallError(AgentError, RuntimeError):
    """A chat request failed for good (after retries, or at once for 4xx); the message says why."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class WindowQueryError(AgentError, RuntimeError):
    """The desktop's windows could not be listed."""
