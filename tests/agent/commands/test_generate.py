"""`agent generate` end to end in a subprocess, on a tiny checkpoint."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO


def _agent(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "agent.cli", "generate", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("images") / "screen.png"
    Image.new("RGB", (96, 64), (30, 120, 200)).save(path)
    return path


def test_json_output_with_an_image(tiny_checkpoint, merge2_loaded, screenshot):
    from model.load.generation_config import GenerationConfig
    from model.runtime.session import generate

    folder = tiny_checkpoint("merge2")
    done = _agent("--model", str(folder), "--image", str(screenshot), "--prompt", "What is on screen?",
                  "--max-new-tokens", "6", "--temperature", "0", "--json", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) >= {"text", "token_ids", "prompt_tokens", "timings"}
    # The same turn in-process (a one-turn Session through the chat template) gives the same greedy tokens.
    from PIL import Image

    expected = generate(merge2_loaded, "What is on screen?", [Image.open(screenshot).convert("RGB")],
                        GenerationConfig(max_new_tokens=6))
    assert payload["prompt_tokens"] == expected.counters.prompt_tokens
    assert payload["token_ids"] == expected.token_ids[: len(payload["token_ids"])]
    assert payload["text"] == expected.text


def test_streams_plain_text(tiny_checkpoint):
    done = _agent("--model", str(tiny_checkpoint("merge2")), "--prompt", "hi", "--max-new-tokens", "4",
                  "--temperature", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("\n")


def test_missing_checkpoint_folder_is_one_clear_line(tmp_path):
    done = _agent("--model", str(tmp_path / "missing"), "--prompt", "hi")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing'}: not a checkpoint folder "
                                                "(and not a hub id like Qwen/Qwen3-VL-2B-Instruct)"]


def test_bad_image_path_is_one_clear_line(tiny_checkpoint, tmp_path):
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    done = _agent("--model", str(tiny_checkpoint("merge2")), "--prompt", "hi", "--image", str(tmp_path / "nope.png"))
    assert done.returncode == 2 and done.stderr.strip() == f"error: image file {tmp_path / 'nope.png'} does not exist"
    done = _agent("--model", str(tiny_checkpoint("merge2")), "--prompt", "hi", "--image", str(not_an_image))
    assert done.returncode == 2 and done.stderr.startswith(f"error: cannot read image {not_an_image}")
    done = _agent("--model", str(tiny_checkpoint("merge2")), "--prompt", "hi", "--image", str(tmp_path))
    assert done.returncode == 2 and done.stderr.strip().startswith(f"error: --image {tmp_path} is a folder")
