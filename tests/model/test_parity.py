"""Float32 parity with transformers.Qwen3VLForConditionalGeneration on the same random weights.

Three tiny configurations: transformers' own test config (merge size 1), "merge2" (merge 2, three
DeepStack layers, head_dim 16, mrope_section [4, 2, 2]) and "tied" (tied embeddings). Both models load
from the same saved folder. Measured maximum relative logit error (max |ours - ref| / max |ref|) on
2 CPU cores: 1.4e-6 (hf_test), 1.0e-6 (merge2), 9.1e-7 (tied); the bound asserted is 1e-4.
"""
from __future__ import annotations

import pytest
import torch

from model.load.generation_config import GenerationConfig
from model.load.loader import from_pretrained
from model.nn.positions import image_token_count, mrope_positions
from model.runtime.session import Session, generate
from model.runtime.vision_guard import vision_token_ids

PRESETS = ["hf_test", "merge2", "tied"]
NEW_TOKENS = 32
# Image sizes in pixels; the processor turns them into grids of different shapes.
IMAGE_SIZES = [(70, 40), (48, 100)]


def _images(sizes):
    from PIL import Image

    generator = torch.Generator().manual_seed(7)
    images = []
    for width, height in sizes:
        pixels = torch.randint(0, 256, (height, width, 3), generator=generator, dtype=torch.uint8)
        images.append(Image.fromarray(pixels.numpy()))
    return images


def _prompt(loaded, n_images: int):
    """Chat-shaped ids with n_images images, plus the images' pixel rows and grids."""
    tok, cfg = loaded.tokenizer, loaded.config
    ids = tok.encode("<|im_start|>user\n")
    batch = loaded.processor_config.preprocess(_images(IMAGE_SIZES[:n_images])) if n_images else None
    for grid in ([] if batch is None else batch.grid_thw.tolist()):
        count = image_token_count(grid, cfg.vision.spatial_merge_size)
        ids += [cfg.vision_start_token_id] + [cfg.image_token_id] * count + [cfg.vision_end_token_id]
    ids += tok.encode("Describe the screen.<|im_end|>\n<|im_start|>assistant\n")
    pixels = None if batch is None else batch.pixel_values
    grids = None if batch is None else batch.grid_thw
    return torch.tensor(ids), pixels, grids


def _reference_inputs(model, ids, pixels, grids) -> dict:
    inputs = {"input_ids": ids[None]}
    if pixels is not None:
        inputs.update(pixel_values=pixels, image_grid_thw=grids,
                      mm_token_type_ids=(ids == model.config.image_token_id).long()[None])
    return inputs


@pytest.fixture(scope="module", params=PRESETS)
def pair(request, tiny_checkpoint):
    """(ours, reference) loaded from the same tiny checkpoint folder."""
    from transformers import Qwen3VLForConditionalGeneration

    folder = tiny_checkpoint(request.param)
    ours = from_pretrained(folder, device="cpu", dtype="float32")
    reference = Qwen3VLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    return ours, reference


def test_full_sequence_logits_match(pair):
    loaded, reference = pair
    ours = loaded.model
    ids, pixels, grids = _prompt(loaded, n_images=2)
    assert grids[0].tolist() != grids[1].tolist()  # two images of different grids in one prompt
    with torch.no_grad():
        expected = reference(**_reference_inputs(ours, ids, pixels, grids)).logits[0]
    features = ours.encode_images(pixels, grids)
    starts = [i for i in range(len(ids)) if ids[i] == ours.config.image_token_id and ids[i - 1] != ids[i]]
    positions, _ = mrope_positions(ids, grids.tolist(), 0, ours.config.image_token_id,
                                   ours.config.vision.spatial_merge_size)
    actual = ours(ids, positions, ours.new_cache(), list(zip(starts, features)), logits="all")
    relative = ((actual - expected).abs().max() / expected.abs().max()).item()
    assert actual.shape == expected.shape
    assert relative < 1e-4, f"max relative logit error {relative:.2e}"


@pytest.mark.parametrize("n_images", [0, 1, 2], ids=["text", "one_image", "two_images"])
def test_greedy_generation_matches(pair, n_images):
    from transformers import GenerationConfig as ReferenceGenerationConfig

    ours, reference = pair
    images = _images(IMAGE_SIZES[:n_images])
    session = Session(ours)  # what `generate` runs: a one-turn session, to read the prompt it renders
    session.add_user("Describe the screen.", images=images)
    prompt = session.render()
    ids = torch.tensor(prompt.input_ids)
    pixels, grids = (prompt.pixel_values(), prompt.grid_thw()) if n_images else (None, None)
    settings = ReferenceGenerationConfig(do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=None,
                                         pad_token_id=ours.tokenizer.special.endoftext,
                                         suppress_tokens=vision_token_ids(ours.tokenizer))
    with torch.no_grad():
        expected = reference.generate(**_reference_inputs(ours, ids, pixels, grids), generation_config=settings)
    result = generate(ours, "Describe the screen.", images, GenerationConfig(max_new_tokens=NEW_TOKENS))
    assert result.counters.prompt_tokens == len(ids)
    assert result.token_ids == expected[0, len(ids):].tolist()
    assert len(result.token_ids) == NEW_TOKENS


def test_bfloat16_on_cpu_matches_the_reference_in_bfloat16(tiny_checkpoint):
    """Both in bfloat16 on CPU, same rounding points: measured difference 0.0 (bound 1e-2)."""
    from transformers import Qwen3VLForConditionalGeneration

    folder = tiny_checkpoint("merge2")
    loaded = from_pretrained(folder, device="cpu", dtype="bfloat16")
    ours = loaded.model
    reference = Qwen3VLForConditionalGeneration.from_pretrained(folder, dtype=torch.bfloat16).eval()
    ids, pixels, grids = _prompt(loaded, n_images=2)
    with torch.no_grad():
        expected = reference(**_reference_inputs(ours, ids, pixels, grids)).logits[0].float()
    starts = [i for i in range(len(ids)) if ids[i] == ours.config.image_token_id and ids[i - 1] != ids[i]]
    positions, _ = mrope_positions(ids, grids.tolist(), 0, ours.config.image_token_id, 2)
    actual = ours(ids, positions, ours.new_cache(), list(zip(starts, ours.encode_images(pixels, grids))), logits="all")
    relative = ((actual - expected).abs().max() / expected.abs().max()).item()
    assert relative < 1e-2, f"max relative logit error {relative:.2e}"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_cuda_half_precision_follows_float32(tiny_checkpoint, dtype):
    folder = tiny_checkpoint("merge2")
    cpu_loaded, gpu_loaded = from_pretrained(folder, device="cpu", dtype="float32"), from_pretrained(folder, device="cuda", dtype=dtype)
    cpu, gpu = cpu_loaded.model, gpu_loaded.model
    ids, pixels, grids = _prompt(cpu_loaded, n_images=2)
    starts = [i for i in range(len(ids)) if ids[i] == cpu.config.image_token_id and ids[i - 1] != ids[i]]
    positions, _ = mrope_positions(ids, grids.tolist(), 0, cpu.config.image_token_id, 2)
    outputs = []
    for model in (cpu, gpu):
        features = model.encode_images(pixels, grids)
        outputs.append(model(ids, positions, model.new_cache(), list(zip(starts, features)), logits="all").cpu())
    relative = ((outputs[1] - outputs[0]).abs().max() / outputs[0].abs().max()).item()
    assert relative < 5e-2, f"{dtype} on CUDA ({gpu.attention_backend}) vs float32: {relative:.2e}"
    result = generate(gpu_loaded, "Describe the screen.", _images(IMAGE_SIZES), GenerationConfig(max_new_tokens=8))
    assert len(result.token_ids) == 8
