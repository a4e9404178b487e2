"""Our model at the real Qwen3-VL-2B widths (text 2048, 16/8 heads of 128, vocabulary 151,936, tied
embeddings; vision 1024 with the 48x48 position table) with reduced depth and random weights, against
transformers in float32: logits over a whole agent prompt and 32 greedy tokens.

Depth: 2 decoder layers, 3 ViT blocks with DeepStack after blocks 1 and 2 (the real [5, 11, 17] scaled
to 3 blocks), so every DeepStack feature reaches a decoder layer. The checkpoint is written with the real
config, tokenizer and preprocessor files by examples/bench/bench_checkpoint.py; both sides load it from disk
(each through its own loader). Measured maximum relative logit error: ~1e-6; bound asserted 1e-4.
About 2 GiB per model (the 151,936 x 2048 embedding alone is 1.2 GiB in float32); about 2 minutes.
"""
from __future__ import annotations


import pytest
import torch

from tests.model.real_files import REAL_2B, needs_real_files, screenshot

pytestmark = needs_real_files
TEXT_LAYERS, VISION_DEPTH, NEW_TOKENS = 2, 3, 32


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from bench_checkpoint import cached_random_checkpoint

    return cached_random_checkpoint(REAL_2B, cache_root=tmp_path_factory.mktemp("real2b"),
                                    text_layers=TEXT_LAYERS, vision_depth=VISION_DEPTH)


@pytest.fixture(scope="module")
def ours(folder):
    from model.load.loader import from_pretrained

    return from_pretrained(folder, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def reference(folder):
    from transformers import Qwen3VLForConditionalGeneration

    return Qwen3VLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def prompt(ours):
    """The agent's first step rendered by a Session (instruction, one 640x400 screenshot)."""
    from model.runtime.session import Session

    session = Session(ours, system="You are a helpful assistant.", max_pixels=640 * 400)
    session.add_user("Open the preferences of the text editor.", images=[screenshot(640, 400)], text_first=True)
    return session.render()


def _reference_inputs(prompt, image_token_id):
    ids = torch.tensor(prompt.input_ids)[None]
    return {"input_ids": ids, "pixel_values": prompt.pixel_values(), "image_grid_thw": prompt.grid_thw(),
            "mm_token_type_ids": (ids == image_token_id).long()}


def test_shapes_are_the_real_ones(ours, folder):
    model = ours.model
    assert model.lm_head.weight is model.language_model.embed_tokens.weight  # tied, as released
    assert tuple(model.lm_head.weight.shape) == (151_936, 2048)
    assert len(model.language_model.layers) == TEXT_LAYERS and len(model.visual.blocks) == VISION_DEPTH
    assert model.config.vision.deepstack_visual_indexes == (1, 2)
    assert tuple(model.visual.pos_embed.weight.shape) == (2304, 1024)


def test_logits_over_the_whole_prompt_match(ours, reference, prompt):
    from model.nn.positions import mrope_positions

    config = ours.model.config
    ids = torch.tensor(prompt.input_ids)
    assert len(prompt.spans) == 1 and prompt.spans[0].length > 200
    with torch.no_grad():
        expected = reference(**_reference_inputs(prompt, config.image_token_id)).logits[0]
    features = ours.model.encode_images(prompt.pixel_values(), prompt.grid_thw())
    positions, _ = mrope_positions(ids, prompt.grid_thw().tolist(), 0, config.image_token_id,
                                   config.vision.spatial_merge_size)
    actual = ours.model(ids, positions, ours.model.new_cache(), [(prompt.spans[0].start, features[0])], logits="all")
    assert actual.shape == expected.shape
    relative = ((actual - expected).abs().max() / expected.abs().max()).item()
    assert relative < 1e-4, f"max relative logit error {relative:.2e}"


def test_greedy_tokens_match(ours, reference, prompt):
    from transformers import GenerationConfig as ReferenceGenerationConfig

    from model.nn.positions import mrope_positions

    config = ours.model.config
    ids = torch.tensor(prompt.input_ids)
    settings = ReferenceGenerationConfig(do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=None,
                                         pad_token_id=ours.tokenizer.special.endoftext)
    with torch.no_grad():
        expected = reference.generate(**_reference_inputs(prompt, config.image_token_id), generation_config=settings)
    features = ours.model.encode_images(prompt.pixel_values(), prompt.grid_thw())
    positions, cursor = mrope_positions(ids, prompt.grid_thw().tolist(), 0, config.image_token_id,
                                        config.vision.spatial_merge_size)
    cache = ours.model.new_cache()
    token = int(ours.model(ids, positions, cache, [(prompt.spans[0].start, features[0])]).argmax(-1))
    tokens = [token]
    for step in range(NEW_TOKENS - 1):  # a plain greedy loop: the model, not the sampler, is under test
        position = torch.full((3, 1), cursor + step, dtype=torch.long)
        tokens.append(int(ours.model(torch.tensor([tokens[-1]]), position, cache).argmax(-1)))
    assert tokens == expected[0, len(ids):].tolist()
