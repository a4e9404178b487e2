"""Errors a user can fix: a checkpoint, one of its files, or a load option is unusable.

Every loader failure is a LoadError (or a subclass) whose message names the file, field or value and
what to do, so command-line front ends catch this one type, print the message and exit 2.
"""
from __future__ import annotations


class LoadError(ValueError):
    """A checkpoint, its files or a load option cannot be used; the message says which and why."""


class TokenizerError(LoadError):
    """tokenizer.json, tokenizer_config.json or the chat template is missing or malformed."""


class DeviceError(LoadError):
    """The requested device or dtype is not available on this machine."""


class ChatTemplateError(TokenizerError):
    """The checkpoint's chat template does not compile, or fails while rendering a conversation."""
