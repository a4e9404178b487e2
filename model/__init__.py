"""Qwen3-VL inference in plain PyTorch: load a checkpoint, hold a conversation, generate.

    from model import GenerationConfig, Session, from_pretrained, generate

    loaded = from_pretrained("Qwen/Qwen3-VL-2B-Instruct")             # or a checkpoint folder
    session = Session(loaded, system="You are a helpful assistant.")
    session.add_user("What is on the screen?", images=[screenshot])
    reply = session.generate(GenerationConfig(max_new_tokens=64))    # reply.text, reply.counters

    reply = generate(loaded, "Describe the picture.", images=[picture])  # one turn, nothing kept

Everything a user of the package needs is named here; the subpackages are the implementation:
model.load (checkpoint -> LoadedModel), model.nn (the network), model.inputs (images, video,
tokenizer, chat template), model.runtime (Session, KV reuse, decoding), model.testing (tiny random
checkpoints). Every error is a ModelError (model.errors draws the family).

Names load on first use: `from model import HistoryPolicy` does not import torch, so torch-free
code (an HTTP client, the command line's start-up) can use the light helpers.
"""
from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it.
_EXPORTS = {
    # load a checkpoint
    "from_pretrained": "model.load.loader",
    "LoadedModel": "model.load.loaded",
    "resolve_device_dtype": "model.load.device",
    # generate
    "GenerationConfig": "model.load.generation_config",
    "generate": "model.runtime.session",
    "Session": "model.runtime.session",
    "SessionReply": "model.runtime.session",
    "SessionSettings": "model.runtime.settings",
    "HistoryPolicy": "model.runtime.history",
    "drop_oldest": "model.runtime.history",
    # conversations built by hand (a server turning resent requests into turns for Session.adopt)
    "Conversation": "model.runtime.conversation",
    "UserTurn": "model.runtime.conversation",
    "AssistantTurn": "model.runtime.conversation",
    "ImageEntry": "model.runtime.conversation",
    # inputs
    "MAX_INPUT_PIXELS": "model.inputs.image",
    "smart_resize": "model.inputs.image",
    "to_rgb": "model.inputs.image",
    "read_video": "model.inputs.video_io",
    "video_config_for": "model.inputs.video",
    # errors
    "ModelError": "model.errors",
    "LoadError": "model.errors",
    "DeviceError": "model.errors",
    "InputError": "model.errors",
    "KVBudgetError": "model.errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the module behind a public name the first time it is asked for."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'model' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
