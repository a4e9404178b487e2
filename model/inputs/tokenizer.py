"""The checkpoint's tokenizer: tokenizer.json through the `tokenizers` library, plus its chat template.

Special token ids are looked up by their text in the checkpoint's files, never hard-coded, so tiny
test tokenizers (small ids) and the released ones (151643 and up) go through the same code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tokenizers import AddedToken
from tokenizers import Tokenizer as Backend

from model.errors import ChatTemplateError, TokenizerError
from model.inputs.chat_template import check_template

# Chat template sources, in the order transformers prefers them.
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json", "tokenizer_config.json")


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the Qwen3-VL control tokens, read from the tokenizer files."""

    endoftext: int
    im_start: int
    im_end: int
    vision_start: int
    vision_end: int
    image_pad: int
    video_pad: int


SPECIAL_TOKEN_TEXT = {
    "endoftext": "<|endoftext|>",
    "im_start": "<|im_start|>",
    "im_end": "<|im_end|>",
    "vision_start": "<|vision_start|>",
    "vision_end": "<|vision_end|>",
    "image_pad": "<|image_pad|>",
    "video_pad": "<|video_pad|>",
}


class Tokenizer:
    """Text <-> ids with the checkpoint's BPE, its special tokens and its chat template."""

    def __init__(self, backend: Any, chat_template: str | None, config: dict[str, Any], folder: Path):
        self.backend = backend  # tokenizers.Tokenizer
        self.chat_template = chat_template
        self.folder = folder
        self.config = config  # tokenizer_config.json contents ({} when the file is absent)
        self.special = SpecialTokens(**{name: self._required_id(text) for name, text in SPECIAL_TOKEN_TEXT.items()})

    @classmethod
    def from_folder(cls, folder: str | Path) -> "Tokenizer":
        """Load tokenizer.json, tokenizer_config.json and the chat template from a checkpoint folder."""
        folder = Path(folder)
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise TokenizerError(f"checkpoint folder {folder} has no tokenizer.json (needed for the tokenizer)")
        try:
            backend = Backend.from_file(str(tokenizer_file))
        except Exception as error:  # the tokenizers library raises plain Exception for malformed files
            raise TokenizerError(f"{tokenizer_file}: not a readable tokenizer.json ({_first_line(error)})") from error
        config = _read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
        _add_missing_tokens(backend, config, folder / "tokenizer_config.json")
        template = load_chat_template(folder, config)
        if template is not None:
            _check_template(template, folder)
        return cls(backend, template, config, folder)

    @property
    def vocab_size(self) -> int:
        """Number of ids the tokenizer can produce, added tokens included."""
        return self.backend.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; special-token text such as <|im_start|> becomes its single id."""
        return self.backend.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """Text of `ids`; with skip_special_tokens, control tokens (<|im_end|>, pads...) are dropped."""
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def token_to_id(self, token: str) -> int | None:
        """Id of one token given by its text, or None if the vocabulary lacks it."""
        return self.backend.token_to_id(token)

    def id_to_token(self, token_id: int) -> str | None:
        """Text of one token id (byte-level form), or None if out of range."""
        return self.backend.id_to_token(token_id)

    def template_variables(self) -> dict[str, str]:
        """bos/eos/pad/unk token strings, which transformers hands every chat template."""
        names = ("bos_token", "eos_token", "pad_token", "unk_token")
        values = {name: _token_text(self.config.get(name)) for name in names}
        return {name: value for name, value in values.items() if value is not None}

    def _required_id(self, text: str) -> int:
        """Id of a control token the model needs; a clear error if the files lack it."""
        token_id = self.backend.token_to_id(text)
        if token_id is None:
            raise TokenizerError(f"{self.folder / 'tokenizer.json'} has no token {text!r} (added_tokens), "
                                 "which Qwen3-VL needs")
        return token_id


def load_chat_template(folder: str | Path, tokenizer_config: dict[str, Any] | None = None) -> str | None:
    """The chat template text: chat_template.jinja, else chat_template.json, else tokenizer_config.json."""
    folder = Path(folder)
    if (folder / "chat_template.jinja").is_file():
        try:
            return (folder / "chat_template.jinja").read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise TokenizerError(f"{folder / 'chat_template.jinja'}: not UTF-8 text ({error})") from error
    if (folder / "chat_template.json").is_file():
        data = _read_json(folder / "chat_template.json")
        return _pick_template(data.get("chat_template"), folder / "chat_template.json")
    if tokenizer_config is None and (folder / "tokenizer_config.json").is_file():
        tokenizer_config = _read_json(folder / "tokenizer_config.json")
    return _pick_template((tokenizer_config or {}).get("chat_template"), folder / "tokenizer_config.json")


def require_chat_template(tokenizer: Tokenizer) -> str:
    """The tokenizer's chat template, or an error naming the folder and the files looked for."""
    if not tokenizer.chat_template:
        raise TokenizerError(
            f"checkpoint folder {tokenizer.folder} has no chat template: looked for {', '.join(TEMPLATE_FILES)}"
            " (the last under the key 'chat_template')"
        )
    return tokenizer.chat_template


def _pick_template(value: Any, source: Path) -> str | None:
    """A template given as text, or as a list of {name, template} entries (the 'default' one)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        named = {entry.get("name"): entry.get("template") for entry in value if isinstance(entry, dict)}
        if "default" in named:
            return named["default"]
        raise TokenizerError(f"{source}: 'chat_template' lists templates {sorted(map(str, named))} but none named 'default'")
    raise TokenizerError(f"{source}: 'chat_template' must be a string or a list, got {type(value).__name__}")


def _read_json(path: Path) -> dict[str, Any]:
    """Parse a JSON object file, naming the file on failure."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TokenizerError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise TokenizerError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _token_text(value: Any) -> str | None:
    """A token in tokenizer_config.json is a string or an AddedToken-like {"content": ...} object."""
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def _add_missing_tokens(backend: Any, config: dict[str, Any], source: Path) -> None:
    """Register added tokens listed only in tokenizer_config.json; their ids must come out as listed."""
    entries = config.get("added_tokens_decoder", {})
    if not isinstance(entries, dict) or not all(isinstance(e, dict) and isinstance(e.get("content"), str)
                                                and str(k).isdigit() for k, e in entries.items()):
        raise TokenizerError(f"{source}: 'added_tokens_decoder' must map token ids to {{\"content\": ...}} objects")
    for id_text, entry in sorted(entries.items(), key=lambda kv: int(kv[0])):
        content, expected = entry["content"], int(id_text)
        existing = backend.token_to_id(content)
        if existing is None:
            token = AddedToken(content, normalized=entry.get("normalized", False), special=entry.get("special", False))
            if entry.get("special"):
                backend.add_special_tokens([token])
            else:
                backend.add_tokens([token])
            existing = backend.token_to_id(content)
        if existing != expected:
            raise TokenizerError(
                f"{source}: token {content!r} is listed with id {expected} but tokenizer.json gives {existing}"
            )


def _check_template(template: str, folder: Path) -> None:
    """model.inputs.chat_template.check_template, its ChatTemplateError naming the template's file."""
    try:
        check_template(template)
    except ChatTemplateError as error:
        source = next((name for name in TEMPLATE_FILES if (folder / name).is_file()), "chat template")
        raise ChatTemplateError(f"{folder / source}: {error}") from error


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
