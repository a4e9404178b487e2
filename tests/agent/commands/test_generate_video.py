"""`agent generate --video` end to end in a subprocess on a tiny checkpoint: a folder of frames and a
video file give the in-process Session's tokens; bad input is one `error:` line and exit 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO

VIDEO_CONFIG = {"size": {"shortest_edge": 4096, "longest_edge": 32768}, "patch_size": 16, "temporal_patch_size": 2,
                "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}


def _agent(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "agent.cli", "generate", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from model.testing.tiny import write_tiny_checkpoint

    folder = write_tiny_checkpoint(tmp_path_factory.mktemp("video_cli"), preset="merge2", seed=5)
    (folder / "video_preprocessor_config.json").write_text(json.dumps(VIDEO_CONFIG))
    return folder


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return np.random.default_rng(4).integers(0, 256, (6, 48, 64, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory, frames) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("frames")
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:03d}.png")
    return folder


def _expected(checkpoint: Path, clip, prompt: str, tokens: int) -> list[int]:
    from model.load.generation_config import GenerationConfig
    from model.load.loader import from_pretrained
    from model.runtime.session import generate

    loaded = from_pretrained(str(checkpoint), dtype="float32", device="cpu")
    reply = generate(loaded, prompt, config=GenerationConfig(max_new_tokens=tokens), videos=[clip])
    return reply.token_ids, reply.counters.prompt_tokens


def test_a_folder_of_frames(checkpoint, frame_folder, frames):
    from model.inputs.video import Clip

    done = _agent("--model", str(checkpoint), "--video", str(frame_folder), "--prompt", "What moves?",
                  "--max-new-tokens", "5", "--temperature", "0", "--json", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    token_ids, prompt_tokens = _expected(checkpoint, Clip(frames, fps=2.0), "What moves?", 5)
    assert payload["prompt_tokens"] == prompt_tokens  # 3 frame groups of 4 tokens at 0.2, 1.2 and 2.2 s
    assert payload["token_ids"] == token_ids[: len(payload["token_ids"])]


def test_a_video_file(checkpoint, tmp_path, frames):
    from model.inputs.video import VideoConfig
    from model.inputs.video_io import read_video
    from tests.model.inputs.test_video import write_mp4

    path = tmp_path / "clip.mp4"
    write_mp4(path, np.repeat(frames, 2, axis=0), fps=4)  # 3 s at 4 fps: 6 of the 12 frames are sampled
    done = _agent("--model", str(checkpoint), "--video", str(path), "--prompt", "Describe.", "--max-new-tokens",
                  "4", "--temperature", "0", "--json", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    clip = read_video(path, VideoConfig.from_file(checkpoint))
    assert clip.indices == [0, 2, 4, 7, 9, 11]
    token_ids, prompt_tokens = _expected(checkpoint, clip, "Describe.", 4)
    payload = json.loads(done.stdout)
    assert payload["prompt_tokens"] == prompt_tokens
    assert payload["token_ids"] == token_ids[: len(payload["token_ids"])]


@pytest.mark.parametrize("case", ["missing", "empty_folder", "not_a_video", "bad_fps"])
def test_bad_video_input_is_one_clear_line(checkpoint, tmp_path, case):
    target, extra, message = tmp_path / "nothing.mp4", [], "does not exist"
    if case == "empty_folder":
        target, message = tmp_path, "has no frame images"
    elif case == "not_a_video":
        target, message = tmp_path / "notes.mp4", "cannot decode video"
        target.write_text("plain text")
    elif case == "bad_fps":
        target, extra, message = tmp_path, ["--video-fps", "0"], "--video-fps must be positive"
    done = _agent("--model", str(checkpoint), "--video", str(target), "--prompt", "hi", "--device", "cpu", *extra)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
