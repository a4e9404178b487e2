"""GPU check: everything a CUDA user's install must get right, in one command, with a table for the README.

    .venv/bin/python examples/bench/gpu_check.py [--skip-bench] [--out bench_results/gpu_check.json]

1. Exactness against transformers on the GPU, for bfloat16 and float16 and each attention backend this
   machine has ("flash" when flash-attn imports, "sdpa", and "sdpa_mask", the path CUDA takes without
   flash-attn): one single-turn `generate` and a multi-turn Session (a new screenshot per turn, the KV
   cache reused), each turn's logits and greedy tokens compared with transformers re-reading the
   whole conversation in the same dtype. A tiny random checkpoint (model/testing/tiny.py) is built in a
   temporary folder: no download.
2. The CUDA tests: `pytest -m gpu` (they skip on CPU-only machines).
3. The full-size benchmark: `examples/bench/bench_model.py --config 2b --device cuda --dtypes bfloat16,float16`.

Prints a markdown table and writes JSON. Without CUDA it stops at once with exit status 2.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROMPT = "What is on the screen? Answer in one sentence."
TURNS = 4
NEW_TOKENS = 12
# bf16/fp16 logits of two implementations differ by rounding order: the bound on
# max|ours - ref| / max|ref| that still means "the same model" (float32 agrees to ~1e-6).
HALF_LOGIT_BOUND = 5e-2


def require_cuda() -> None:
    """Exit 2 with the reason when this machine cannot run the check."""
    import torch

    if torch.version.cuda is None or not torch.cuda.is_available():
        build = f"torch {torch.__version__}" + ("" if torch.version.cuda else " (a CPU-only build)")
        print(f"error: gpu_check needs a CUDA GPU; {build} finds none. Install a CUDA build of torch as the "
              "README's 'GPU install' says, and check `nvidia-smi`.", file=sys.stderr)
        raise SystemExit(2)


def screenshot(turn: int, size=(256, 192)):
    """A deterministic screenshot-like image, different every turn."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(turn)
    return Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))


def reference_forward(reference, prompt, device):
    """transformers over a whole rendered prompt: last-token logits [vocab] (float32)."""
    import torch

    with torch.inference_mode():
        return reference(**reference_inputs(reference, prompt, device)).logits[0, -1].float()


def reference_greedy(reference, prompt, device, banned: list[int], new_tokens: int) -> list[int]:
    """transformers' greedy generate over the whole prompt, never writing the vision placeholders."""
    import torch

    with torch.inference_mode():
        out = reference.generate(**reference_inputs(reference, prompt, device), max_new_tokens=new_tokens,
                                 do_sample=False, suppress_tokens=banned)
    return out[0, len(prompt.input_ids):].tolist()


def reference_inputs(reference, prompt, device) -> dict:
    import torch

    ids = torch.tensor([prompt.input_ids], device=device)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
              "mm_token_type_ids": (ids == reference.config.image_token_id).int()}
    if prompt.images:
        inputs.update(pixel_values=prompt.pixel_values().to(device), image_grid_thw=prompt.grid_thw().to(device))
    return inputs


def relative_error(ours, reference) -> float:
    return float((ours.float().cpu() - reference.float().cpu()).abs().max() / reference.float().abs().max().cpu())


def same_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens two generations share."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def check_backend(folder: Path, device: str, dtype: str, backend: str) -> list[dict]:
    """One single-turn generation and a TURNS-turn session with `backend`, each against transformers."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from model.load.loader import from_pretrained
    from model.runtime.session import Session, generate
    from model.runtime.vision_guard import vision_token_ids

    loaded = from_pretrained(folder, device=device, dtype=dtype, attention=backend)
    reference = Qwen3VLForConditionalGeneration.from_pretrained(
        folder, dtype=loaded.dtype, attn_implementation="sdpa").to(loaded.device).eval()
    banned = vision_token_ids(loaded.tokenizer)
    config = loaded.generation_defaults.with_overrides(temperature=0.0, max_new_tokens=NEW_TOKENS)
    rows = []

    one_turn = Session(loaded)  # the prompt `generate` renders, for the reference
    one_turn.add_user(PROMPT, images=[screenshot(0)])
    prompt = one_turn.render()
    reply = generate(loaded, PROMPT, [screenshot(0)], config)
    expected = reference_greedy(reference, prompt, loaded.device, banned, NEW_TOKENS)
    rows.append(_row("single turn", dtype, backend, None, reply.token_ids, expected))

    session = Session(loaded, system="You are a helpful assistant.")
    for turn in range(TURNS):
        session.add_user(f"Step {turn}: what next?", images=[screenshot(turn + 1)])
        state = session.prefill(reserve=NEW_TOKENS)
        error = relative_error(state.logits, reference_forward(reference, state.prompt, loaded.device))
        reply = session.decode(state, config)
        expected = reference_greedy(reference, state.prompt, loaded.device, banned, NEW_TOKENS)
        row = _row(f"session turn {turn + 1}", dtype, backend, error, reply.token_ids, expected)
        row["cached_tokens"] = reply.counters.cached_tokens
        rows.append(row)
    del loaded, reference
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return rows


def _row(check: str, dtype: str, backend: str, logit_error: float | None, ours: list[int], theirs: list[int]) -> dict:
    agree = same_prefix(ours, theirs)
    ok = (logit_error is None or logit_error < HALF_LOGIT_BOUND) and agree >= 1
    return {"check": check, "dtype": dtype, "backend": backend, "logit_rel_error": logit_error,
            "tokens_agree": f"{agree}/{max(len(ours), len(theirs))}", "ok": ok}


def backends_here(device: str, dtype: str) -> list[str]:
    """The attention backends this machine can run for `dtype` on `device` (on CUDA "sdpa" is the
    bottom-right-mask path, the same as "sdpa_mask"; "lse_split" exists on CPU only)."""
    import torch

    from model.load.device import DTYPES
    from model.nn.attention import choose_backend

    candidates = ("flash", "sdpa") if device.startswith("cuda") else ("sdpa_mask", "lse_split")
    usable = []
    for backend in candidates:
        try:
            usable.append(choose_backend(torch.device(device), DTYPES[dtype], backend))
        except ValueError:  # flash without flash-attn, for instance
            pass
    return usable


def run_command(title: str, command: list[str], timeout: int) -> dict:
    """Run one step as a subprocess, echo its output, and keep its tail for the JSON."""
    print(f"\n$ {' '.join(command)}", flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        code, output = 124, f"timed out after {timeout} s\n{expired.stdout or ''}"
    print(output, flush=True)
    return {"check": title, "command": " ".join(command), "exit_code": code, "ok": code == 0,
            "seconds": round(time.perf_counter() - started, 1), "output_tail": output[-4000:]}


def markdown(rows: list[dict]) -> str:
    lines = ["| check | dtype | attention | logits rel. error | greedy tokens agreeing | result |",
             "|---|---|---|---:|---:|---|"]
    for row in rows:
        error = row.get("logit_rel_error")
        lines.append(f"| {row['check']} | {row.get('dtype', '')} | {row.get('backend', '')} | "
                     f"{'' if error is None else f'{error:.1e}'} | {row.get('tokens_agree', '')} | "
                     f"{'ok' if row['ok'] else 'FAILED'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="bfloat16,float16", help="comma-separated half dtypes to check")
    parser.add_argument("--skip-tests", action="store_true", help="do not run `pytest -m gpu`")
    parser.add_argument("--skip-bench", action="store_true", help="do not run the full-size 2B benchmark")
    parser.add_argument("--bench-timeout", type=int, default=3600, help="seconds for the benchmark")
    parser.add_argument("--out", type=Path, default=Path("bench_results/gpu_check.json"))
    args = parser.parse_args(argv)
    require_cuda()
    import torch
    import transformers

    from model.testing.tiny import write_tiny_checkpoint

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = write_tiny_checkpoint(Path(scratch), "merge2", seed=1)
        for dtype in args.dtypes.split(","):
            for backend in backends_here("cuda", dtype):
                rows += check_backend(folder, "cuda", dtype, backend)
    commands = []
    if not args.skip_tests:
        commands.append(run_command("pytest -m gpu", [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "tests/model", "tests/agent",
                                                      "-p", "no:cacheprovider"], 1800))
    if not args.skip_bench:
        commands.append(run_command("2B benchmark", [sys.executable, "examples/bench/bench_model.py", "--config", "2b",
                                                     "--device", "cuda", "--dtypes", "bfloat16,float16"],
                                    args.bench_timeout))
    machine = f"{torch.cuda.get_device_name(0)}, torch {torch.__version__} (CUDA {torch.version.cuda}), " \
              f"transformers {transformers.__version__}"
    print(f"\n{machine}\n\n{markdown(rows)}\n")
    for command in commands:
        print(f"- {command['check']}: {'ok' if command['ok'] else 'FAILED'} (exit {command['exit_code']}, "
              f"{command['seconds']} s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "exactness": rows, "commands": commands}, indent=2))
    print(f"wrote {args.out}")
    return 0 if all(row["ok"] for row in rows + commands) else 1


if __name__ == "__main__":
    raise SystemExit(main())
