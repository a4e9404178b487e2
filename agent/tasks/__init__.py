"""Task files: their schema, safe loading, the files a sandbox gets, success checks and `agent validate`.

A task says what desktop to build (`sandbox`), what to ask the policy (`instruction`), how to tell success
(`checks`) and how a correct run looks (`reference`); agent/tasks/schema.py documents the format.
"""
from agent.tasks.adhoc import instruction_or_file, instruction_task
from agent.tasks.checks import CheckSpec
from agent.tasks.load import load_task, task_from_data
from agent.tasks.schema import NO_CHECKS, TASK_SUFFIXES, FileCopy, SandboxSpec, Task, expand, resolve_path
from agent.tasks.strict import StrictModel
from agent.tasks.validate import ValidationReport, validate_paths
from agent.tasks.verify import run_checks
from agent.tasks.write import parse_task_text, replace_fields, task_yaml, write_text_atomic

__all__ = ["NO_CHECKS", "TASK_SUFFIXES", "CheckSpec", "FileCopy", "SandboxSpec", "StrictModel", "Task",
           "ValidationReport", "expand", "instruction_or_file", "instruction_task", "load_task", "parse_task_text",
           "replace_fields", "resolve_path", "run_checks", "task_from_data", "task_yaml", "validate_paths",
           "write_text_atomic"]
