"""Where the real Qwen3-VL-2B-Instruct files (no weights) live for tests, and transformers' processor on them.

CI runs in a fresh clone with a copy of shared/ beside it, so the files are at
../shared/checkpoints/qwen3-vl-2b-instruct relative to the repository; tests skip when they are absent.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import REPO

REAL_2B = REPO.parent / "shared" / "checkpoints" / "qwen3-vl-2b-instruct"
AGENT_MAX_PIXELS = 1280 * 800  # agent/settings.py DEFAULT_MAX_PIXELS: what the local policy resizes to

needs_real_files = pytest.mark.skipif(
    not (REAL_2B / "config.json").is_file(),
    reason=f"the real Qwen3-VL-2B files are not at {REAL_2B} (CI places a copy of shared/ beside the clone)",
)


def reference_processor(max_pixels: int | None = None):
    """transformers' Qwen3VLProcessor on the real tokenizer, chat template and preprocessor config.

    This is what AutoProcessor.from_pretrained builds, minus the video processor: that one needs
    torchvision, which this environment lacks (AutoProcessor fails on it), and no test here has video.
    The image processor is the PIL implementation of the same preprocessing (the real config names the
    torchvision-based "Fast" class)."""
    from transformers import AutoTokenizer, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    class ProcessorWithoutVideo(Qwen3VLProcessor):
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    budget = {} if max_pixels is None else {"size": {"shortest_edge": 65_536, "longest_edge": max_pixels}}
    template = json.loads((REAL_2B / "chat_template.json").read_text())["chat_template"]
    return ProcessorWithoutVideo(
        image_processor=Qwen2VLImageProcessorPil.from_pretrained(REAL_2B, **budget),
        tokenizer=AutoTokenizer.from_pretrained(REAL_2B),
        video_processor=None,
        chat_template=template,
    )


def screenshot(width: int, height: int, seed: int = 0):
    """A desktop-like RGB image: flat panels with a little noise (like real screens, unlike pure noise)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = rng.integers(0, 256, 3, dtype=np.uint8)
    for _ in range(5):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        pixels[y0:y0 + height // 3, x0:x0 + width // 3] = rng.integers(0, 256, 3, dtype=np.uint8)
    noise = rng.integers(0, 12, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels ^ noise)
