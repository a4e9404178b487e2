"""model/inputs/tokenizer.py and model/testing/tiny_tokenizer.py, checked against transformers' AutoTokenizer."""

import json
import unicodedata

import pytest

from model.errors import TokenizerError
from model.inputs.tokenizer import Tokenizer, load_chat_template, require_chat_template
from model.testing.tiny_tokenizer import CHAT_TEMPLATE, write_tiny_tokenizer

TEXTS = [
    "Hello world",
    "Open the settings of the text editor.\n\nThen   close it.\t",
    "unicode: wörld naïve café 你好，世界 🙂👍🏽 \u00a0nbsp",
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 300]}}\n</tool_call>',
    "<|im_start|>user\n<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Hi<|im_end|>\n",
    "I'm sure you'll see it's 12345 px; don't",
    "e\u0301 (decomposed) vs \u00e9",
]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_tokenizer")
    info = write_tiny_tokenizer(folder)
    return folder, info


@pytest.fixture(scope="module")
def reference(tiny_folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_folder[0])


def test_ids_equal_transformers(tiny_folder, reference):
    ours = Tokenizer.from_folder(tiny_folder[0])
    for text in TEXTS:
        assert ours.encode(text) == reference(text, add_special_tokens=False)["input_ids"], text


def test_decode_round_trips_and_skips_specials_like_transformers(tiny_folder, reference):
    ours = Tokenizer.from_folder(tiny_folder[0])
    for text in TEXTS:
        ids = ours.encode(text)
        assert ours.decode(ids) == text.replace("e\u0301", "\u00e9")  # NFC normalisation composes
        assert ours.decode(ids, skip_special_tokens=True) == reference.decode(ids, skip_special_tokens=True)
    assert "<|im_end|>" not in ours.decode(ours.encode("a<|im_end|>"), skip_special_tokens=True)
    assert "<tool_call>" in ours.decode(ours.encode("<tool_call>x"), skip_special_tokens=True)  # not special


def test_special_ids_come_from_the_files(tiny_folder, reference):
    folder, info = tiny_folder
    ours = Tokenizer.from_folder(folder)
    special = ours.special
    assert special.im_start == info.im_start_id == reference.convert_tokens_to_ids("<|im_start|>")
    assert special.im_end == info.im_end_id == reference.convert_tokens_to_ids("<|im_end|>")
    assert special.vision_start == info.vision_start_id == reference.convert_tokens_to_ids("<|vision_start|>")
    assert special.vision_end == info.vision_end_id == reference.convert_tokens_to_ids("<|vision_end|>")
    assert special.image_pad == info.image_pad_id == reference.convert_tokens_to_ids("<|image_pad|>")
    assert special.video_pad == info.video_pad_id == reference.convert_tokens_to_ids("<|video_pad|>")
    assert special.endoftext == info.endoftext_id == reference.convert_tokens_to_ids("<|endoftext|>")
    assert ours.vocab_size == info.vocab_size == len(reference)
    assert sorted(info.token_ids.values()) == list(range(info.vocab_size - len(info.token_ids), info.vocab_size))
    assert reference.eos_token == "<|im_end|>"


def test_every_byte_sequence_is_covered(tiny_folder):
    ours = Tokenizer.from_folder(tiny_folder[0])
    # characters NFC leaves alone (the normaliser would reorder or compose combining marks)
    stable = [chr(c) for c in range(32, 0x3000, 7) if unicodedata.combining(chr(c)) == 0]
    text = "".join(ch for ch in stable if unicodedata.normalize("NFC", ch) == ch) + "\U0001f600\U0010fff0"
    ids = ours.encode(text)
    assert all(0 <= i < ours.vocab_size for i in ids)
    assert ours.decode(ids) == text
    assert len(ours.encode("the button")) < len("the button")  # the merges do compress


def test_writing_twice_gives_identical_files(tiny_folder, tmp_path):
    write_tiny_tokenizer(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.json"):
        assert (tmp_path / name).read_bytes() == (tiny_folder[0] / name).read_bytes(), name


def test_chat_template_is_read_from_the_folder(tiny_folder, reference):
    ours = Tokenizer.from_folder(tiny_folder[0])
    assert ours.chat_template == CHAT_TEMPLATE == reference.chat_template


def test_chat_template_sources_in_transformers_order(tmp_path):
    write_tiny_tokenizer(tmp_path)
    assert load_chat_template(tmp_path) == CHAT_TEMPLATE  # from chat_template.json
    (tmp_path / "chat_template.json").unlink()
    assert load_chat_template(tmp_path) == CHAT_TEMPLATE  # from tokenizer_config.json
    (tmp_path / "chat_template.jinja").write_text("{{ messages[0].content }}")
    assert load_chat_template(tmp_path) == "{{ messages[0].content }}"  # the .jinja file wins


def test_named_template_list_picks_default(tmp_path):
    write_tiny_tokenizer(tmp_path)
    (tmp_path / "chat_template.json").unlink()
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config["chat_template"] = [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    assert Tokenizer.from_folder(tmp_path).chat_template == "D"


def test_missing_tokenizer_json_names_folder_and_file(tmp_path):
    with pytest.raises(TokenizerError, match=r"tokenizer\.json") as error:
        Tokenizer.from_folder(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_missing_chat_template_names_the_files_looked_for(tmp_path):
    write_tiny_tokenizer(tmp_path)
    (tmp_path / "chat_template.json").unlink()
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    tokenizer = Tokenizer.from_folder(tmp_path)
    with pytest.raises(TokenizerError, match="chat_template.jinja") as error:
        require_chat_template(tokenizer)
    assert str(tmp_path) in str(error.value)


def test_missing_special_token_is_named(tmp_path):
    write_tiny_tokenizer(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        text = (tmp_path / name).read_text()
        (tmp_path / name).write_text(text.replace("<|image_pad|>", "<|img_pad|>"))
    with pytest.raises(ValueError, match=r"<\|image_pad\|>") as error:
        Tokenizer.from_folder(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_conflicting_added_token_id_is_reported(tmp_path):
    write_tiny_tokenizer(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    entries = config["added_tokens_decoder"]
    first = min(entries, key=int)
    entries[str(int(first) + 1000)] = entries.pop(first)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="tokenizer_config.json"):
        Tokenizer.from_folder(tmp_path)
