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
checkpoints). Every error is a ModelError (model/errors.py draws the family).
"""
from model.errors import DeviceError, InputError, KVBudgetError, LoadError, ModelError
from model.inputs.image import MAX_INPUT_PIXELS, smart_resize, to_rgb
from model.inputs.video import video_config_for
from model.inputs.video_io import read_video
from model.load.device import resolve_device_dtype
from model.load.generation_config import GenerationConfig
from model.load.loaded import LoadedModel
from model.load.loader import from_pretrained
from model.runtime.conversation import AssistantTurn, Conversation, ImageEntry, UserTurn
from model.runtime.history import HistoryPolicy, drop_oldest
from model.runtime.session import Session, SessionReply, generate
from model.runtime.settings import SessionSettings

__all__ = [
    # load a checkpoint
    "from_pretrained", "LoadedModel", "resolve_device_dtype",
    # generate
    "GenerationConfig", "generate", "Session", "SessionReply", "SessionSettings", "HistoryPolicy", "drop_oldest",
    # conversations built by hand (a server turning resent requests into turns for Session.adopt)
    "Conversation", "UserTurn", "AssistantTurn", "ImageEntry",
    # inputs
    "MAX_INPUT_PIXELS", "smart_resize", "to_rgb", "read_video", "video_config_for",
    # errors
    "ModelError", "LoadError", "DeviceError", "InputError", "KVBudgetError",
]
