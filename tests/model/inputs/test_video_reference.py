"""Video prompts equal transformers' Qwen3VLProcessor + Qwen3VLVideoProcessor: token ids (timestamps and
pads), pixel_values_videos, video_grid_thw, and the image inputs beside them, for several clips.

The reference runs in a child process (tests/model/inputs/video_reference.py) with the test-only torchvision
that install.sh puts in .venv/reference-torchvision; see that script for why it lives apart.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.inputs.chat import encode_chat
from model.inputs.image import ProcessorConfig
from model.inputs.tokenizer import Tokenizer
from model.inputs.video import Clip, VideoConfig, preprocess_video
from model.testing.tiny_tokenizer import write_tiny_tokenizer
from tests.helpers import REPO
from tests.model.real_files import REAL_2B

HERE = Path(__file__).resolve().parent
REFERENCE_TORCHVISION = REPO / ".venv" / "reference-torchvision"
# The real checkpoint's files without weights, in shared/ beside the repository (developers and CI).
QWEN3_VL_2B = REAL_2B
IMAGE_CONFIG = {"image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen3VLProcessor",
                "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5], "size": {"shortest_edge": 4096, "longest_edge": 65536}}
VIDEO_CONFIG = {"video_processor_type": "Qwen3VLVideoProcessor", "processor_class": "Qwen3VLProcessor",
                "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5], "size": {"shortest_edge": 4096, "longest_edge": 32768},
                "max_video_tokens": 4}  # bites only with cap_pixels_per_frame

pytestmark = pytest.mark.skipif(
    not REFERENCE_TORCHVISION.is_dir(),
    reason=f"the reference video processor needs the test-only torchvision in {REFERENCE_TORCHVISION} (run ./install.sh)",
)


def pixels(shape, seed):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))


# Each case: parts of one user message, and whether the per-frame pixel cap is on.
CASES = {
    "shrunk_to_budget": ([("video", pixels((10, 100, 130, 3), 1), 5.0), ("text", "What happens?")], False),
    "image_then_video": ([("image", pixels((48, 100, 3), 2)), ("video", pixels((9, 40, 150, 3), 3), 3.0),
                          ("text", "Compare them.")], False),
    "two_videos_unknown_rate_and_thin": ([("video", pixels((2, 20, 20, 3), 4), None), ("text", "and"),
                                          ("video", pixels((26, 24, 200, 3), 5), 12.5)], False),
    "odd_frame_count_capped": ([("text", "Watch:"), ("video", pixels((3, 96, 96, 3), 6), 2.0)], True),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video_reference")
    write_tiny_tokenizer(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(IMAGE_CONFIG))
    (folder / "video_preprocessor_config.json").write_text(json.dumps(VIDEO_CONFIG))
    return folder


def run_reference(folder: Path, cases: list, work: Path) -> list[dict]:
    """transformers' outputs for `cases` on the checkpoint files in `folder`, from one child process."""
    torch.save([{"content": parts, "cap": cap} for parts, cap in cases], work / "cases.pt")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REFERENCE_TORCHVISION), str(REPO)])}
    done = subprocess.run([sys.executable, str(HERE / "video_reference.py"), str(folder), str(work / "cases.pt"),
                           str(work / "out.pt")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(work / "out.pt", weights_only=False)


@pytest.fixture(scope="module")
def reference(folder, tmp_path_factory):
    """transformers' outputs for every case."""
    return dict(zip(CASES, run_reference(folder, list(CASES.values()), tmp_path_factory.mktemp("video_ref_io"))))


def ours(folder, parts, cap):
    """Our prompt ids and vision inputs for one case."""
    tokenizer = Tokenizer.from_folder(folder)
    image_config = ProcessorConfig.from_file(folder)
    video_config = dataclasses.replace(VideoConfig.from_file(folder), cap_pixels_per_frame=cap)
    content, images, videos = [], [], []
    for part in parts:
        if part[0] == "text":
            content.append({"type": "text", "text": part[1]})
        elif part[0] == "image":
            from PIL import Image

            content.append({"type": "image"})
            images.append(Image.fromarray(part[1].numpy()))
        else:
            content.append({"type": "video"})
            videos.append(preprocess_video(Clip(part[1].numpy(), part[2]), video_config))
    batch = image_config.preprocess(images) if images else None
    ids = encode_chat(tokenizer, [{"role": "user", "content": content}],
                      batch.tokens_per_image() if batch else (), videos=videos)
    return ids, batch, videos


@pytest.mark.parametrize("case", list(CASES))
def test_token_ids_pixels_and_grids_equal_transformers(folder, reference, case):
    expected = reference[case]
    ids, batch, videos = ours(folder, *CASES[case])
    assert ids == expected["input_ids"].tolist()
    assert torch.equal(torch.tensor([video.grid_thw for video in videos]), expected["video_grid_thw"])
    assert torch.equal(torch.cat([video.pixel_values for video in videos]), expected["pixel_values_videos"])
    if batch is not None:
        assert torch.equal(batch.grid_thw, expected["image_grid_thw"])
        assert torch.equal(batch.pixel_values, expected["pixel_values"])


def test_the_cases_cover_resizing_both_ways_and_several_groups(folder, reference):
    grids = {case: reference[case]["video_grid_thw"].tolist() for case in CASES}
    assert grids["shrunk_to_budget"] == [[2, 4, 6]]  # 4 frames of 96x128 exceed 32768 pixels: 64x96
    # 20x20 is scaled to 32x32, then grown to 64x64 (2 frames x 32 x 32 < 4096); 24x200 -> 32x256
    assert grids["two_videos_unknown_rate_and_thin"] == [[1, 4, 4], [2, 2, 16]]
    assert grids["image_then_video"][0][0] == 3  # six sampled frames, three timestamps
    assert grids["odd_frame_count_capped"] == [[2, 4, 4]]  # 96x96 without the per-frame cap
    tokenizer = Tokenizer.from_folder(folder)
    rendered = tokenizer.decode(reference["odd_frame_count_capped"]["input_ids"].tolist())
    for stamp in ("<0.2 seconds>", "<1.0 seconds>"):  # frames 0-1, then 2 twice, at 2 fps
        assert f"{stamp}<|vision_start|><|video_pad|>" in rendered


@pytest.mark.skipif(not QWEN3_VL_2B.is_dir(), reason=f"the shared Qwen3-VL-2B checkpoint files are not at {QWEN3_VL_2B}")
def test_the_real_2b_tokenizer_and_video_config(tmp_path):
    """The shipped checkpoint files (151k-token BPE, template, 4,096-25,165,824 pixel video budget)."""
    parts, cap = CASES["image_then_video"]
    expected = run_reference(QWEN3_VL_2B, [(parts, cap)], tmp_path)[0]
    ids, batch, videos = ours(QWEN3_VL_2B, parts, cap)
    assert ids == expected["input_ids"].tolist()
    assert torch.equal(torch.cat([video.pixel_values for video in videos]), expected["pixel_values_videos"])
    assert torch.equal(torch.tensor([video.grid_thw for video in videos]), expected["video_grid_thw"])
    assert torch.equal(batch.pixel_values, expected["pixel_values"])
