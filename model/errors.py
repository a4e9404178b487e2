"""The model package's errors: one family under ModelError, each also a builtin error type.

    ModelError
    ├── LoadError (ValueError)        a checkpoint, one of its files or a load option is unusable
    │   ├── ConfigError               config.json
    │   ├── CheckpointError           the folder, hub id or weight files
    │   ├── DeviceError               the device or dtype asked for
    │   └── TokenizerError            tokenizer files
    │       └── ChatTemplateError     the chat template (at load, or rendering a conversation)
    ├── InputError (ValueError)       an image, video or conversation the model cannot take
    │   └── VideoReadError            a video file or frame folder that cannot be read
    └── KVBudgetError (RuntimeError)  a conversation that does not fit the KV memory budget

Every message names the file, field or value and what to do, so a front end catches ModelError (or
one branch), prints the message and exits. The builtin bases stay, so code that catches ValueError
or RuntimeError keeps working. Bad arguments (a negative max_new_tokens, an unknown backend name)
are programming errors and stay plain ValueError/TypeError.
"""
from __future__ import annotations


class ModelError(Exception):
    """Base of every error the model package raises for a condition its user can fix."""


class LoadError(ModelError, ValueError):
    """A checkpoint, its files or a load option cannot be used; the message says which and why."""


class ConfigError(LoadError):
    """config.json is missing, malformed, or not a Qwen3-VL configuration."""


class CheckpointError(LoadError):
    """The checkpoint cannot be found, or its tensors do not match the model."""


class DeviceError(LoadError):
    """The requested device or dtype is not available on this machine."""


class TokenizerError(LoadError):
    """tokenizer.json, tokenizer_config.json or the chat template is missing or malformed."""


class ChatTemplateError(TokenizerError):
    """The checkpoint's chat template does not compile, or fails while rendering a conversation."""


class InputError(ModelError, ValueError):
    """An image, video or conversation the model cannot take (too large, too thin, media that do not
    match the template's slots); the message says which."""


class VideoReadError(InputError):
    """A video file or frame folder that cannot be read; the message names it."""


class KVBudgetError(ModelError, RuntimeError):
    """The conversation cannot fit the configured KV memory budget, even after dropping screenshots."""
