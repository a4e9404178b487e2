"""model/inputs/image.py against transformers' Qwen2VLImageProcessorPil (patch 16, merge 2, mean/std 0.5)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from model.inputs.image import ProcessorConfig, preprocess, smart_resize, tokens_per_image

# Measured max |ours - transformers| over every case below: 0.0 (bit-identical), since both compute
# (float32(x * (1/255) in float64) - 0.5) / 0.5 in float32 after the same PIL bicubic resize.
PIXEL_ATOL = 1e-6


def reference_processor(min_pixels, max_pixels):
    """transformers' PIL image processor configured like Qwen3-VL's preprocessor_config.json."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(
        patch_size=16, merge_size=2, temporal_patch_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3,
        min_pixels=min_pixels, max_pixels=max_pixels,
    )


def noise_image(width, height, mode="RGB", seed=0):
    """A random image in `mode` (RGB, RGBA, L, LA or P)."""
    rng = np.random.default_rng(seed)
    if mode in ("RGBA", "LA"):
        return Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA").convert(mode)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB").convert(mode)


def assert_matches_reference(images, min_pixels, max_pixels):
    """Our rows and grids equal transformers' for the same images and pixel budget."""
    expected = reference_processor(min_pixels, max_pixels)(images, return_tensors="np")
    ours = preprocess(images, min_pixels=min_pixels, max_pixels=max_pixels)
    assert ours.grid_thw.dtype == torch.long and ours.pixel_values.dtype == torch.float32
    assert ours.grid_thw.tolist() == expected["image_grid_thw"].tolist()
    assert ours.pixel_values.shape == expected["pixel_values"].shape
    max_diff = np.abs(ours.pixel_values.numpy() - expected["pixel_values"]).max()
    assert max_diff <= PIXEL_ATOL, f"max abs diff {max_diff}"
    return ours


@pytest.mark.parametrize(
    "width, height, min_pixels, max_pixels",
    [
        (300, 200, 65_536, 16_777_216),  # small: grows to the min budget
        (1280, 800, 65_536, 1280 * 800),  # screenshot, already on the grid
        (1366, 768, 65_536, 1_003_520),  # screenshot shrunk to an agent budget
        (97, 61, 3_136, 200_000),  # odd sizes, rounded to the grid
        (12, 9, 65_536, 16_777_216),  # tiny: hits min_pixels
        (33, 47, 65_536, 16_777_216),
        (4000, 3000, 65_536, 1_048_576),  # huge: hits max_pixels
        (20, 2000, 65_536, 1_048_576),  # aspect ratio 100
        (3000, 40, 4_096, 262_144),  # wide strip
        (512, 512, 65_536, 16_777_216),  # exactly on the grid, no resize needed
    ],
)
def test_pixels_and_grid_equal_transformers(width, height, min_pixels, max_pixels):
    assert_matches_reference([noise_image(width, height)], min_pixels, max_pixels)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P"])
def test_non_rgb_inputs_are_converted_like_transformers(mode):
    assert_matches_reference([noise_image(150, 90, mode, seed=3)], 65_536, 1_048_576)


def test_palette_image_with_transparency_is_composited_on_white():
    image = noise_image(64, 80, "P", seed=4)
    image.info["transparency"] = 0
    assert_matches_reference([image], 65_536, 1_048_576)


def test_several_images_are_concatenated_in_order():
    images = [noise_image(300, 200, seed=1), noise_image(640, 480, seed=2), noise_image(50, 400, seed=5)]
    batch = assert_matches_reference(images, 65_536, 409_600)
    assert batch.pixel_values.shape[0] == int(batch.grid_thw.prod(dim=1).sum())
    assert batch.tokens_per_image() == [int(g.prod()) // 4 for g in batch.grid_thw]


@pytest.mark.parametrize("min_pixels, max_pixels", [(3_136, 200_704), (65_536, 16_777_216), (1_000, 2_000_000)])
def test_smart_resize_equals_transformers(min_pixels, max_pixels):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as reference

    sizes = [1, 7, 15, 16, 17, 31, 32, 33, 48, 63, 64, 99, 100, 480, 481, 720, 1079, 1080, 1920, 2561, 5000]
    for height in sizes:
        for width in sizes:
            if max(height, width) / min(height, width) > 200:
                continue
            assert smart_resize(height, width, 32, min_pixels, max_pixels) == reference(
                height, width, 32, min_pixels, max_pixels
            ), (height, width)


def test_smart_resize_keeps_multiples_of_factor_inside_the_budget():
    for height, width in [(1080, 1920), (800, 1280), (10, 10), (4000, 4000), (333, 777)]:
        new_h, new_w = smart_resize(height, width, 32, 65_536, 1_003_520)
        assert new_h % 32 == 0 and new_w % 32 == 0
        assert 65_536 <= new_h * new_w <= 1_003_520


def test_smart_resize_rejects_extreme_aspect_ratio_and_empty_images():
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2011)
    with pytest.raises(ValueError, match="positive"):
        smart_resize(0, 100)


def test_full_hd_screenshot_takes_2040_tokens():
    batch = preprocess([noise_image(1920, 1080)], min_pixels=65_536, max_pixels=16_777_216)
    assert batch.grid_thw.tolist() == [[1, 68, 120]]
    assert tokens_per_image(batch.grid_thw[0], merge_size=2) == 2040


def test_rows_follow_merge_blocks_and_repeat_the_frame_in_time():
    # A 64x64 image whose 16x16 patches each have one grey level: patch (r, c) has value 16*r + c.
    levels = np.repeat(np.repeat(np.arange(16, dtype=np.uint8).reshape(4, 4) * 16, 16, 0), 16, 1)
    image = Image.fromarray(np.stack([levels] * 3, axis=-1))
    batch = preprocess([image], min_pixels=64 * 64, max_pixels=64 * 64)
    rows = batch.pixel_values.reshape(16, 3, 2, 16 * 16)  # [patch, channel, time, pixel]
    assert torch.equal(rows[:, :, 0], rows[:, :, 1])  # the still frame fills both time slots
    first_values = rows[:, 0, 0, 0]
    grey = torch.round((first_values * 0.5 + 0.5) * 255).long()
    patch_of_row = [(int(g) // 16 // 4, int(g) // 16 % 4) for g in grey]
    # merge-block order: 2x2 neighbours consecutive, blocks row-major
    expected = [(2 * br + mr, 2 * bc + mc) for br in range(2) for bc in range(2) for mr in range(2) for mc in range(2)]
    assert patch_of_row == expected


def test_preprocess_rejects_non_images():
    with pytest.raises(TypeError, match="image 0"):
        preprocess([np.zeros((32, 32, 3), dtype=np.uint8)])
    with pytest.raises(ValueError, match="at least one image"):
        preprocess([])


def test_config_reads_both_pixel_budget_spellings(tmp_path):
    size_style = {"size": {"shortest_edge": 1024, "longest_edge": 2_000_000}, "patch_size": 16, "merge_size": 2}
    flat_style = {"min_pixels": 3136, "max_pixels": 1_003_520, "size": {"shortest_edge": 1, "longest_edge": 9}}
    assert (ProcessorConfig.from_dict(size_style).min_pixels, ProcessorConfig.from_dict(size_style).max_pixels) == (
        1024, 2_000_000)
    # top-level min_pixels/max_pixels override "size", as in transformers' processor
    assert (ProcessorConfig.from_dict(flat_style).min_pixels, ProcessorConfig.from_dict(flat_style).max_pixels) == (
        3136, 1_003_520)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({**size_style, "image_mean": [0.1, 0.2, 0.3]}))
    config = ProcessorConfig.from_file(tmp_path)
    assert config.image_mean == (0.1, 0.2, 0.3) and config.factor == 32


def test_config_preprocess_uses_its_settings_and_budget_overrides():
    config = ProcessorConfig(min_pixels=65_536, max_pixels=262_144, image_mean=(0.48, 0.45, 0.41), image_std=(0.27, 0.26, 0.28))
    image = noise_image(900, 500, seed=7)
    ours = config.preprocess([image], max_pixels=131_072)
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    reference = Qwen2VLImageProcessorPil(
        patch_size=16, merge_size=2, temporal_patch_size=2, image_mean=list(config.image_mean),
        image_std=list(config.image_std), min_pixels=65_536, max_pixels=131_072,
    )([image], return_tensors="np")
    assert ours.grid_thw.tolist() == reference["image_grid_thw"].tolist()
    assert np.abs(ours.pixel_values.numpy() - reference["pixel_values"]).max() <= PIXEL_ATOL


@pytest.mark.parametrize(
    "data, message",
    [
        ({"patch_size": 0}, "patch_size"),
        ({"merge_size": "2"}, "merge_size"),
        ({"image_mean": [0.5, 0.5]}, "image_mean"),
        ({"min_pixels": 10_000, "max_pixels": 100}, "exceeds"),
        ({"size": [1, 2]}, "size"),
    ],
)
def test_config_errors_name_the_field(data, message):
    with pytest.raises(ValueError, match=message):
        ProcessorConfig.from_dict(data, source="x/preprocessor_config.json")


def test_config_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="preprocessor_config.json"):
        ProcessorConfig.from_file(tmp_path)


@pytest.mark.parametrize("patch_size, merge_size", [(16, 1), (14, 2), (8, 4)])
def test_other_patch_and_merge_sizes_equal_transformers(patch_size, merge_size):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    image = noise_image(333, 222, seed=9)
    expected = Qwen2VLImageProcessorPil(
        patch_size=patch_size, merge_size=merge_size, temporal_patch_size=2, image_mean=[0.5] * 3,
        image_std=[0.5] * 3, min_pixels=4096, max_pixels=100_000,
    )([image], return_tensors="np")
    ours = preprocess([image], 4096, 100_000, patch_size=patch_size, merge_size=merge_size)
    assert ours.grid_thw.tolist() == expected["image_grid_thw"].tolist()
    assert np.abs(ours.pixel_values.numpy() - expected["pixel_values"]).max() <= PIXEL_ATOL
    assert ours.tokens_per_image() == [int(expected["image_grid_thw"][0].prod()) // merge_size**2]
