"""Fuzzing the loader's file readers: random and mutated config.json, tokenizer.json,
tokenizer_config.json and chat templates either load or fail with a typed LoadError, never anything else."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.errors import LoadError
from model.inputs.tokenizer import Tokenizer
from model.load.config import Qwen3VLConfig, load_config

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                      st.text(max_size=8))
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                          max_leaves=8)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> Path:
    """A tiny checkpoint's small files (config, tokenizer, template); no weights needed here."""
    from model.testing.tiny import preset_config
    from model.testing.tiny_tokenizer import write_tiny_tokenizer

    folder = tmp_path_factory.mktemp("fuzz_source")
    info = write_tiny_tokenizer(folder)
    special = {"eos": info.im_end_id, "image": info.image_pad_id, "video": info.video_pad_id,
               "vision_start": info.vision_start_id, "vision_end": info.vision_end_id}
    (folder / "config.json").write_text(json.dumps(preset_config("merge2", info.vocab_size, special)))
    return folder


def _fresh(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "case"
    if target.exists():
        shutil.rmtree(target)
    return shutil.copytree(source, target)


@st.composite
def mutated_config(draw, original: dict):
    """The original config with a few fields deleted or replaced by arbitrary JSON, or arbitrary JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON_VALUE)
    raw = json.loads(json.dumps(original))
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(["", "text_config", "vision_config"]))
        target = raw if not section else raw.get(section)
        if not isinstance(target, dict) or not target:
            continue
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(st.one_of(JSON_VALUE, st.integers(-3, 3)))
    return raw


@FUZZ
@given(data=st.data())
def test_random_configs_load_or_fail_typed(tiny_files, tmp_path, data):
    original = json.loads((tiny_files / "config.json").read_text())
    raw = data.draw(mutated_config(original))
    (tmp_path / "config.json").write_text(json.dumps(raw))
    try:
        config = load_config(tmp_path)
    except LoadError as error:
        assert "config.json" in str(error)
        return
    assert isinstance(config, Qwen3VLConfig) and config.text.num_attention_heads >= 1


def _mutate_bytes(data, content: bytes) -> bytes:
    kind = data.draw(st.sampled_from(["truncate", "flip", "splice", "random"]))
    if kind == "truncate":
        return content[: data.draw(st.integers(0, len(content) - 1))]
    if kind == "flip":
        position = data.draw(st.integers(0, len(content) - 1))
        return content[:position] + bytes([content[position] ^ data.draw(st.integers(1, 255))]) + content[position + 1:]
    if kind == "splice":
        position = data.draw(st.integers(0, len(content)))
        return content[:position] + data.draw(st.binary(max_size=16)) + content[position:]
    return data.draw(st.binary(max_size=64))


@FUZZ
@given(data=st.data())
def test_mutated_tokenizer_files_load_or_fail_typed(tiny_files, tmp_path, data):
    folder = _fresh(tiny_files, tmp_path)
    name = data.draw(st.sampled_from(["tokenizer.json", "tokenizer_config.json", "chat_template.json"]))
    path = folder / name
    if name == "tokenizer.json" or data.draw(st.booleans()):
        path.write_bytes(_mutate_bytes(data, path.read_bytes()))
    else:  # structurally valid JSON with one value replaced
        raw = json.loads(path.read_text())
        key = data.draw(st.sampled_from(sorted(raw)))
        raw[key] = data.draw(JSON_VALUE)
        path.write_text(json.dumps(raw))
    try:
        Tokenizer.from_folder(folder)
    except LoadError as error:
        assert str(folder) in str(error)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.text(alphabet=st.sampled_from(list("{}%#-+.|()[]'\" abcmesgloprt_0123")), max_size=40))
def test_random_chat_templates_load_or_fail_typed(tiny_files, tmp_path, template):
    folder = _fresh(tiny_files, tmp_path)
    (folder / "chat_template.json").unlink()
    (folder / "chat_template.jinja").write_text(template)
    try:
        Tokenizer.from_folder(folder)
    except LoadError as error:
        assert "chat_template.jinja" in str(error)
