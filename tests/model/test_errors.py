"""Model-side user errors: each is one paragraph naming the file, field or value, exit 2, no traceback.

Every row breaks one thing in a copy of a tiny checkpoint (or passes one bad option) and runs
`agent generate` in-process through typer's CliRunner (the command as typed); the device rows
and one checkpoint row also run `agent run` / `agent generate` as a subprocess. The fuzz tests feed
random and mutated config.json and tokenizer files to the loader and accept only typed LoadErrors.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from agent.cli import app
from tests.helpers import REPO


def _edit_json(name: str, change):
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return apply


def _set_text(field: str, value):
    def change(raw):
        raw["text_config"][field] = value
        return raw
    return _edit_json("config.json", change)


def _write(name: str, content: bytes | str):
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return apply


def _truncate_weights(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _nan_weights(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    save_file({name: torch.full_like(t, float("nan")) for name, t in tensors.items()}, folder / "model.safetensors",
              metadata={"format": "pt"})


def _template(text: str):
    def apply(folder: Path) -> None:
        for name in ("chat_template.json", "chat_template.jinja"):
            (folder / name).unlink(missing_ok=True)
        (folder / "chat_template.jinja").write_text(text)
    return apply


# (id, how to break the checkpoint, what the message must say)
BROKEN_CHECKPOINTS = [
    ("config_not_an_object", _write("config.json", "[1, 2, 3]"), r"config\.json: the top level must be a JSON object, got list"),
    ("config_not_json", _write("config.json", b"\xff\xfe{"), r"config\.json: invalid JSON"),
    ("config_wrong_type", _set_text("hidden_size", "wide"), r"config\.json: field 'text_config\.hidden_size' must be an integer, got 'wide'"),
    ("config_zero_heads", _set_text("num_attention_heads", 0), r"config\.json: field 'text_config\.num_attention_heads' must be at least 1, got 0"),
    ("config_bad_rope", _set_text("rope_parameters", [1, 2]), r"field 'text_config\.rope_parameters' must be an object"),
    ("weights_truncated", _truncate_weights, r"model\.safetensors: truncated"),
    ("weights_garbage", _write("model.safetensors", b"this is not a tensor file at all" * 10), r"model\.safetensors: not a safetensors file"),
    ("weights_all_nan", _nan_weights, r"weight tensor\(s\) hold NaN or infinite values"),
    ("tokenizer_garbage", _write("tokenizer.json", b"{\"model\": 12, garbage"), r"tokenizer\.json: not a readable tokenizer\.json"),
    ("tokenizer_config_garbage", _write("tokenizer_config.json", "[]"), r"tokenizer_config\.json: expected a JSON object"),
    ("preprocessor_garbage", _write("preprocessor_config.json", "[1, 2]"), r"preprocessor_config\.json"),
    ("generation_config_out_of_range", _edit_json("generation_config.json", lambda raw: {**raw, "top_p": 0}),
     r"generation_config\.json: top_p must be in \(0, 1\], got 0"),
    ("template_syntax", _template("{% for message in messages %}{{ message"), r"chat_template\.jinja: the checkpoint's chat template failed \(line 1\)"),
    ("template_raises", _template("{{ raise_exception('templates are broken') }}"), r"chat_template\.jinja: .*templates are broken"),
]


@pytest.fixture
def broken_copy(tiny_checkpoint, tmp_path):
    def make(breaker) -> Path:
        folder = shutil.copytree(tiny_checkpoint("merge2"), tmp_path / "ckpt")
        breaker(folder)
        return folder
    return make


def _generate(capsys, **options) -> tuple[int, str]:
    """`agent generate` with these options (images: a list of paths); (exit status, stderr)."""
    options = {"prompt": "hi", "max_new_tokens": 2, "device": "cpu", **options}
    argv = ["generate", "--json"]
    for name, value in options.items():
        flag = "--image" if name == "images" else "--" + name.replace("_", "-")
        argv += [arg for one in (value if isinstance(value, list) else [value]) for arg in (flag, str(one))]
    result = CliRunner().invoke(app, argv)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("breaker,message", [row[1:] for row in BROKEN_CHECKPOINTS],
                         ids=[row[0] for row in BROKEN_CHECKPOINTS])
def test_broken_checkpoint_is_one_clear_error(broken_copy, capsys, breaker, message):
    folder = broken_copy(breaker)
    code, err = _generate(capsys, model=str(folder))
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one paragraph
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_bad_options_fail_before_loading(capsys, tmp_path):
    # no checkpoint at all: these must be refused before anything is loaded
    code, err = _generate(capsys, model=str(tmp_path / "nothing"), max_new_tokens=0)
    assert code == 2 and "max_new_tokens must be >= 1, got 0" in err
    code, err = _generate(capsys, model=str(tmp_path / "nothing"), dtype="float8")
    assert code == 2 and "--dtype 'float8'" in err


def test_missing_local_folder_never_goes_to_the_hub(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _generate(capsys, model="./ckpt")
    assert code == 2
    assert err.strip() == "error: ./ckpt: not a checkpoint folder (and not a hub id like Qwen/Qwen3-VL-2B-Instruct)"
    assert "hf download" not in err


def test_huge_images_are_refused_with_their_size(tiny_checkpoint, capsys, tmp_path):
    from PIL import Image

    from model.inputs.image import ProcessorConfig

    huge = Image.new("1", (20_000, 20_000))  # 50 MB as a bitmap; never converted to RGB
    with pytest.raises(ValueError, match=r"20000x20000 = 400,000,000 pixels, more than the 67,108,864 accepted"):
        ProcessorConfig().preprocess([huge])
    path = tmp_path / "huge.png"
    huge.save(path)
    code, err = _generate(capsys, model=str(tiny_checkpoint("merge2")), images=[path])
    assert code == 2 and f"image {path} is too large to open safely" in err
    wide = tmp_path / "wide.png"
    Image.new("1", (12_000, 6_000)).save(wide)  # under PIL's bound, over ours
    code, err = _generate(capsys, model=str(tiny_checkpoint("merge2")), images=[wide])
    assert code == 2 and f"image {wide} is 12000x6000 pixels, more than the 67,108,864 accepted" in err


def _agent(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_is_exit_2_for_generate_and_run(tiny_checkpoint, tmp_path):
    done = _agent("generate", "--model", str(tiny_checkpoint("merge2")), "--prompt", "hi", "--device", "cuda")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--device cuda requested, but this torch" in done.stderr and "--device cpu" in done.stderr
    done = _agent("run", str(REPO / "tasks" / "open_settings.yaml"), "--model", str(tiny_checkpoint("merge2")),
                  "--device", "cuda", "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--device cuda requested" in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # stopped before a run began


def test_agent_run_catches_every_loader_error(broken_copy, tmp_path):
    """A well-formed ConfigError (zero heads) used to escape `agent run`: now exit 2 before any desktop."""
    folder = broken_copy(_set_text("num_attention_heads", 0))
    done = _agent("run", str(REPO / "tasks" / "open_settings.yaml"), "--model", str(folder), "--device", "cpu",
                  "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "num_attention_heads' must be at least 1, got 0" in done.stderr
