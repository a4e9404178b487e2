"""Generation: greedy and seeded sampling, stop ids and strings, streaming, defaults."""
from __future__ import annotations

import json

import pytest
import torch

from model.generate import decode_loop, generate, prefill
from model.generation_config import GenerationConfig, load_generation_defaults
from model.sampling import filter_logits, sample_next
from model.streaming import TextStream


def _prompt(model) -> list[int]:
    return model.tokenizer.encode("<|im_start|>user\nOpen the settings.<|im_end|>\n<|im_start|>assistant\n")


def test_top_k_and_top_p_filters():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert torch.isinf(filter_logits(logits, top_k=2, top_p=1.0)).tolist() == [False, False, True, True]
    # 0.5 alone < 0.7; 0.5 + 0.3 reaches 0.7, so the first two survive.
    assert torch.isinf(filter_logits(logits, top_k=0, top_p=0.7)).tolist() == [False, False, True, True]
    assert torch.isinf(filter_logits(logits, top_k=0, top_p=0.4)).tolist() == [False, True, True, True]


def test_sampling_respects_top_k_one_and_temperature_zero():
    logits = torch.tensor([0.1, 3.0, 2.9, -1.0])
    generator = torch.Generator().manual_seed(0)
    picks = {sample_next(logits, GenerationConfig(temperature=5.0, top_k=1), generator) for _ in range(20)}
    assert picks == {1}
    assert sample_next(logits, GenerationConfig(temperature=0.0), None) == 1
    spread = {sample_next(logits, GenerationConfig(temperature=5.0), generator) for _ in range(200)}
    assert spread == {0, 1, 2, 3}


def test_seeded_sampling_is_reproducible_and_seed_dependent(merge2_model):
    ids = _prompt(merge2_model)
    config = GenerationConfig(max_new_tokens=12, temperature=1.5, top_p=0.95, top_k=50, seed=1)
    first, again = generate(merge2_model, ids, config=config), generate(merge2_model, ids, config=config)
    other = generate(merge2_model, ids, config=config.with_overrides(seed=2))
    assert first.token_ids == again.token_ids
    assert first.token_ids != other.token_ids


def test_stops_on_a_stop_token_and_keeps_it_out_of_the_text(merge2_model):
    ids = _prompt(merge2_model)
    free = generate(merge2_model, ids, config=GenerationConfig(max_new_tokens=6))
    stop_id = free.token_ids[3]
    stopped = generate(merge2_model, ids, config=GenerationConfig(max_new_tokens=6, stop_token_ids=(stop_id,)))
    first = free.token_ids.index(stop_id)
    assert stopped.token_ids == free.token_ids[: first + 1]
    assert stopped.stop_reason == "stop_token"
    assert stopped.text == merge2_model.tokenizer.decode(free.token_ids[:first], skip_special_tokens=True)


def test_stop_string_cuts_text_and_streams_only_text_before_it(merge2_model):
    ids = _prompt(merge2_model)
    free = generate(merge2_model, ids, config=GenerationConfig(max_new_tokens=16))
    assert len(free.text) > 6
    stop = free.text[3:6]
    pieces: list[str] = []
    result = generate(merge2_model, ids, config=GenerationConfig(max_new_tokens=16, stop_strings=(stop,)),
                      on_token=lambda token, piece: pieces.append(piece))
    assert result.stop_reason == "stop_string"
    assert result.text == free.text[: free.text.index(stop)]
    assert "".join(pieces) == result.text
    assert result.token_ids == free.token_ids[: len(result.token_ids)]


def test_streaming_callback_sees_every_token_and_the_whole_text(merge2_model):
    seen: list[tuple[int, str]] = []
    result = generate(merge2_model, _prompt(merge2_model), config=GenerationConfig(max_new_tokens=10),
                      on_token=lambda token, piece: seen.append((token, piece)))
    assert [token for token, _ in seen][:10] == result.token_ids
    assert "".join(piece for _, piece in seen) == result.text
    assert result.stop_reason == "max_new_tokens" and len(result.token_ids) == 10
    assert result.prompt_tokens == len(_prompt(merge2_model))
    assert {"vision_s", "prefill_s", "decode_s", "decode_tokens_per_s"} <= set(result.timings)


def test_text_stream_holds_back_partial_characters_and_stop_prefixes():
    class Bytes:
        def decode(self, ids, skip_special_tokens=True):
            return bytes(ids).decode("utf-8", errors="replace")

    stream = TextStream(Bytes(), stop_strings=("END",))
    euro = list("€".encode())
    assert stream.push(euro[0]) == ("", False)  # half a character: nothing final yet
    assert stream.push(euro[1]) == ("", False)
    assert stream.push(euro[2]) == ("€", False)
    assert stream.push(ord("E")) == ("", False)  # could be the start of END
    assert stream.push(ord("x")) == ("Ex", False)
    assert stream.push(ord("E")) == ("", False)
    assert stream.push(ord("N")) == ("", False)
    assert stream.push(ord("D")) == ("", True)
    assert stream.text == "€Ex"


def test_decode_continues_from_the_cursor(merge2_model):
    """prefill + decode_loop (what a session reuses) gives the same tokens as generate."""
    ids = torch.tensor(_prompt(merge2_model))
    config = GenerationConfig(max_new_tokens=8)
    cache = merge2_model.new_cache()
    logits = prefill(merge2_model, cache, ids)
    assert cache.cursor == len(ids)
    result = decode_loop(merge2_model, cache, logits, cache.cursor, config, merge2_model.tokenizer)
    assert result.token_ids == generate(merge2_model, ids, config=config).token_ids
    assert cache.length == len(ids) + 7  # the last sampled token is not fed back
    assert result.cursor == len(ids) + 7


def test_defaults_come_from_generation_config(tmp_path, merge2_model):
    (tmp_path / "generation_config.json").write_text(json.dumps(
        {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "eos_token_id": [5, 6]}))
    defaults = load_generation_defaults(tmp_path)
    assert (defaults.temperature, defaults.top_p, defaults.top_k) == (0.7, 0.8, 20)
    assert defaults.stop_token_ids == (5, 6)
    (tmp_path / "generation_config.json").write_text(json.dumps({"do_sample": False, "temperature": 0.7}))
    assert load_generation_defaults(tmp_path).temperature == 0.0
    loaded = merge2_model.generation_defaults  # the tiny checkpoint mirrors Qwen3-VL-Instruct's file
    assert loaded.temperature == 0.7 and loaded.top_k == 20
    assert merge2_model.tokenizer.special.im_end in loaded.stop_token_ids


def test_bad_generation_settings_are_named():
    with pytest.raises(ValueError, match="top_p"):
        GenerationConfig(top_p=0).validate()
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationConfig(max_new_tokens=0).validate()
