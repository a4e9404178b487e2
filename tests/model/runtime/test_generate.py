"""Generation: greedy and seeded sampling, stop ids and strings, streaming, defaults, and the one path
(single-turn generation is a one-turn Session, with its guard against vision placeholders)."""
from __future__ import annotations

import json

import pytest
import torch

from model.load.generation_config import GenerationConfig, load_generation_defaults
from model.load.loader import from_pretrained
from model.nn.packed_linear import PackedLinear
from model.runtime.decode import decode_loop
from model.runtime.sampling import filter_logits, sample_next
from model.runtime.session import Session, generate
from model.runtime.streaming import TextStream
from model.runtime.vision_guard import vision_token_ids

PROMPT = "Open the settings."


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


def test_seeded_sampling_is_reproducible_and_seed_dependent(merge2_loaded):
    config = GenerationConfig(max_new_tokens=12, temperature=1.5, top_p=0.95, top_k=50, seed=1)
    first, again = generate(merge2_loaded, PROMPT, config=config), generate(merge2_loaded, PROMPT, config=config)
    other = generate(merge2_loaded, PROMPT, config=config.with_overrides(seed=2))
    assert first.token_ids == again.token_ids
    assert first.token_ids != other.token_ids


def test_stops_on_a_stop_token_and_keeps_it_out_of_the_text(merge2_loaded):
    free = generate(merge2_loaded, PROMPT, config=GenerationConfig(max_new_tokens=6))
    stop_id = free.token_ids[3]
    stopped = generate(merge2_loaded, PROMPT, config=GenerationConfig(max_new_tokens=6, stop_token_ids=(stop_id,)))
    first = free.token_ids.index(stop_id)
    assert stopped.token_ids == free.token_ids[: first + 1]
    assert stopped.stop_reason == "stop_token"
    assert stopped.text == merge2_loaded.tokenizer.decode(free.token_ids[:first], skip_special_tokens=True)


def test_stop_string_cuts_text_and_streams_only_text_before_it(merge2_loaded):
    free = generate(merge2_loaded, PROMPT, config=GenerationConfig(max_new_tokens=16))
    assert len(free.text) > 6
    stop = free.text[3:6]
    pieces: list[str] = []
    result = generate(merge2_loaded, PROMPT, config=GenerationConfig(max_new_tokens=16, stop_strings=(stop,)),
                      on_token=lambda token, piece: pieces.append(piece))
    assert result.stop_reason == "stop_string"
    assert result.text == free.text[: free.text.index(stop)]
    assert "".join(pieces) == result.text
    assert result.token_ids == free.token_ids[: len(result.token_ids)]


def test_streaming_callback_sees_every_token_and_the_whole_text(merge2_loaded):
    seen: list[tuple[int, str]] = []
    result = generate(merge2_loaded, PROMPT, config=GenerationConfig(max_new_tokens=10),
                      on_token=lambda token, piece: seen.append((token, piece)))
    assert [token for token, _ in seen][:10] == result.token_ids
    assert "".join(piece for _, piece in seen) == result.text
    assert result.stop_reason == "max_new_tokens" and len(result.token_ids) == 10
    expected_prompt = merge2_loaded.tokenizer.encode(f"<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n")
    assert result.counters.prompt_tokens == len(expected_prompt)  # rendered by the chat template
    assert result.counters.prefill_ms > 0 and result.counters.decode_ms > 0


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


def test_generate_is_a_one_turn_session(merge2_loaded):
    """Single-turn generation and a Session's first turn are one path: same ids, same counters."""
    from PIL import Image

    image = Image.new("RGB", (96, 64), (30, 120, 200))
    config = GenerationConfig(max_new_tokens=8)
    reply = generate(merge2_loaded, PROMPT, [image], config)
    session = Session(merge2_loaded)
    session.add_user(PROMPT, images=[image])
    turn = session.generate(config)
    assert reply.token_ids == turn.token_ids and reply.text == turn.text
    assert reply.counters.prompt_tokens == turn.counters.prompt_tokens
    assert (reply.counters.images, reply.counters.images_encoded) == (1, 1)
    # the MRoPE cursor has one owner, the ledger, which covers exactly what the KV cache holds
    assert session.kv_tokens == len(session._ledger) == session._cache.length
    assert session.kv_tokens == turn.counters.prompt_tokens + len(turn.token_ids) - 1
    assert not hasattr(session._cache, "cursor")


def test_single_turn_replies_never_contain_vision_placeholders(tiny_checkpoint):
    """A model that prefers <|image_pad|> everywhere still answers without it through `generate`."""
    loaded = from_pretrained(tiny_checkpoint("merge2"), device="cpu", dtype="float32")
    pad = loaded.tokenizer.special.image_pad
    head = loaded.model.lm_head  # untied in merge2: give the head a bias that makes the pad win every argmax
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.plain_weight() if isinstance(head, PackedLinear) else head.weight)
        biased.bias.zero_()
        biased.bias[pad] = 1e4
    loaded.model.lm_head = biased
    ids = torch.tensor(loaded.tokenizer.encode(f"<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n"))
    raw = loaded.model(ids, torch.arange(len(ids)).expand(3, -1), loaded.model.new_cache())
    assert int(raw[-1].argmax()) == pad  # unguarded, the model would write a vision placeholder
    reply = generate(loaded, PROMPT, config=GenerationConfig(max_new_tokens=6))
    assert len(reply.token_ids) == 6
    assert not set(reply.token_ids) & set(vision_token_ids(loaded.tokenizer))


def test_decode_loop_feeds_all_but_the_last_token(merge2_model, merge2_loaded):
    ids = torch.tensor(merge2_loaded.tokenizer.encode("<|im_start|>user\nhi<|im_end|>\n"))
    cache = merge2_model.new_cache()
    logits = merge2_model(ids, torch.arange(len(ids)).expand(3, -1), cache)
    result = decode_loop(merge2_model, cache, logits, len(ids), GenerationConfig(max_new_tokens=5))
    assert len(result.token_ids) == 5 and cache.length == len(ids) + 4
    assert {"decode_s", "decode_tokens_per_s"} <= set(result.timings)


def test_defaults_come_from_generation_config(tmp_path, merge2_loaded):
    (tmp_path / "generation_config.json").write_text(json.dumps(
        {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "eos_token_id": [5, 6]}))
    defaults = load_generation_defaults(tmp_path)
    assert (defaults.temperature, defaults.top_p, defaults.top_k) == (0.7, 0.8, 20)
    assert defaults.stop_token_ids == (5, 6)
    (tmp_path / "generation_config.json").write_text(json.dumps({"do_sample": False, "temperature": 0.7}))
    assert load_generation_defaults(tmp_path).temperature == 0.0
    loaded = merge2_loaded.generation_defaults  # the tiny checkpoint mirrors Qwen3-VL-Instruct's file
    assert loaded.temperature == 0.7 and loaded.top_k == 20
    assert merge2_loaded.tokenizer.special.im_end in loaded.stop_token_ids


def test_bad_generation_settings_are_named():
    with pytest.raises(ValueError, match="top_p"):
        GenerationConfig(top_p=0).validate()
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationConfig(max_new_tokens=0).validate()
