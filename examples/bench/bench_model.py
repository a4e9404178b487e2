"""Benchmark our Qwen3-VL module against transformers in the same process.

Configurations (--config):
  bench  the CPU-sized random checkpoint of model/testing/tiny.py (text hidden 512 x 4 layers, vision hidden
         256 x 4 blocks), one 1280x800 image (1000 image tokens), 7 repeats, 32 decode tokens.
  2b     the real Qwen3-VL-2B shape (text 2048 x 28 layers, vision 1024 x 24 blocks, vocabulary 151,936)
         from the checkpoint's own files without weights (../shared/checkpoints/qwen3-vl-2b-instruct,
         or --files); random weights are written once under ~/.cache and reused. --text-layers and
         --vision-depth cut the depth (for profiling); defaults: one 640x400 image, 5 repeats, 16 tokens.
  moe    the CPU-sized Mixture-of-Experts checkpoint "bench_moe" of model/testing/tiny.py ("bench"'s towers, 16
         experts of width 384, top 4, in every layer) against Qwen3VLMoeForConditionalGeneration.

Stages: vision encoding of the image, prefill of the whole prompt (image features precomputed, logits of
the last token) and greedy decode tokens/s after that prompt (the cache is cut back to the prompt before
every run). Both sides decode with a plain forward loop (no sampling or streaming overhead). Each stage
is warmed up, then run --repeats times interleaved with the reference (alternating order, so load from
other processes on a shared machine hits both alike); the table shows medians and the ratio of the best
runs. The reference's parameters are views of our plain weights, so both run exactly the same
weights, device and dtype; on CPU ours then packs its linear weights for oneDNN (model/nn/packed_linear.py),
so two copies of those are in memory (one plain for the reference, one packed for ours). Peak memory is the process's resident-set high-water mark
while both ran (Linux: /proc/self/status, reset through /proc/self/clear_refs after loading each
dtype), or the peak allocated device memory on CUDA.

    .venv/bin/python examples/bench/bench_model.py [--config bench|2b|moe] [--dtypes float32,bfloat16]
        [--repeats N] [--decode-tokens N] [--image 1280x800] [--device cpu] [--out bench_results/...json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch  # noqa: E402

# Per configuration: image size, repeats, decode tokens, dtypes when not given on the command line.
DEFAULTS = {
    "bench": {"image": "1280x800", "repeats": 7, "decode_tokens": 32, "dtypes": "float32"},
    "2b": {"image": "640x400", "repeats": 5, "decode_tokens": 16, "dtypes": "float32,bfloat16"},
    "moe": {"image": "1280x800", "repeats": 7, "decode_tokens": 32, "dtypes": "float32"},
}
TINY_PRESETS = {"bench": "bench", "moe": "bench_moe"}  # --config -> model/testing/tiny.py preset
STAGES = ("vision", "prefill", "decode")


# ----------------------------------------------------------------------------- memory and time

def _status_kib(field: str) -> int | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident set
        return True
    except OSError:
        return False


def stopwatch(fn: Callable[[], object], device: torch.device) -> Callable[[], float]:
    """A callable that runs `fn` once and returns the seconds it took."""
    def run() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started
    return run


def compare(ours: Callable[[], float], reference: Callable[[], float], repeats: int):
    """Seconds of both after a warm-up each, runs interleaved (order alternating) so that load from other
    processes on a shared machine hits both alike -> (ours, reference), each {"median": s, "best": s,
    "runs": [s per repeat]}; run i of each side ran back to back, so their ratio is a paired sample."""
    ours(), reference()
    samples: tuple[list[float], list[float]] = ([], [])
    for repeat in range(repeats):
        order = (0, 1) if repeat % 2 == 0 else (1, 0)
        for index in order:
            samples[index].append((ours, reference)[index]())
    return tuple({"median": statistics.median(times), "best": min(times), "runs": times} for times in samples)


def peak_memory_bytes(device: torch.device) -> int | None:
    """The process's peak resident set (CPU) or peak allocated device memory since the last reset."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    peak = _status_kib("VmHWM")
    return None if peak is None else peak * 1024


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window (after loading, before a dtype's stages)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        _reset_peak()


# ----------------------------------------------------------------------------- models and inputs

def load_pair(folder: Path, device: str, dtype: str):
    """(ours: Qwen3VL, reference on the same tensors, tokenizer, processor config) from a checkpoint folder."""
    from bench_checkpoint import reference_on_shared_weights

    from model.inputs.image import ProcessorConfig
    from model.inputs.tokenizer import Tokenizer
    from model.load.config import load_config
    from model.load.device import resolve_device_dtype
    from model.load.loader import build_model

    device, dtype = resolve_device_dtype(device, dtype)
    ours = build_model(load_config(folder), folder, device, dtype, pack=False)
    reference = reference_on_shared_weights(ours, folder)  # views of our plain weights
    ours.prepare_matmuls()  # then ours packs its own (CPU): the plain ones stay, for the reference only
    return ours, reference, Tokenizer.from_folder(folder), ProcessorConfig.from_file(folder)


def checkpoint_folder(args, scratch: Path) -> Path:
    """The checkpoint of --config: the tiny "bench" preset written to `scratch`, or the cached 2B."""
    if args.config in TINY_PRESETS:
        from model.testing.tiny import write_tiny_checkpoint

        return write_tiny_checkpoint(scratch, TINY_PRESETS[args.config])
    from bench_checkpoint import REAL_2B_FILES, cached_random_checkpoint

    files = args.files or REAL_2B_FILES
    if not (Path(files) / "config.json").is_file():
        print(f"--config 2b needs the weightless Qwen3-VL-2B files: {files} has no config.json "
              "(pass --files FOLDER)", file=sys.stderr)
        raise SystemExit(2)
    return cached_random_checkpoint(Path(files), text_layers=args.text_layers, vision_depth=args.vision_depth)


def make_inputs(config, tokenizer, processor_config, image_size: tuple[int, int]):
    """Chat-shaped prompt ids around one random image of `image_size`, with its pixel rows and grid."""
    from PIL import Image

    from model.nn.positions import image_token_count

    width, height = image_size
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (height, width, 3), generator=generator, dtype=torch.uint8)
    batch = processor_config.preprocess([Image.fromarray(pixels.numpy())], max_pixels=width * height)
    count = image_token_count(batch.grid_thw[0].tolist(), config.vision.spatial_merge_size)
    ids = tokenizer.encode("<|im_start|>user\n") + [config.vision_start_token_id] + [config.image_token_id] * count
    ids += [config.vision_end_token_id] + tokenizer.encode("Click the settings button.<|im_end|>\n<|im_start|>assistant\n")
    return torch.tensor(ids), batch.pixel_values, batch.grid_thw


# ----------------------------------------------------------------------------- stages

def our_stages(model, ids, pixels, grid, new_tokens: int) -> dict[str, Callable]:
    """Stopwatches for our vision encoding, prefill, and greedy decode of `new_tokens` after the prompt."""
    from model.nn.positions import mrope_positions

    device, cfg = model.device, model.config
    features = model.encode_images(pixels, grid)
    positions, cursor = mrope_positions(ids, grid.tolist(), 0, cfg.image_token_id, cfg.vision.spatial_merge_size)
    start = int((ids == cfg.image_token_id).nonzero()[0])
    images = [(start, features[0])]
    cache = model.new_cache()
    first = int(model(ids, positions, cache, images).argmax(-1))

    def decode():
        cache.truncate(len(ids))
        token = first
        for step in range(new_tokens):
            position = torch.full((3, 1), cursor + step, dtype=torch.long)
            token = int(model(torch.tensor([token]), position, cache).argmax(-1))

    return {"vision": stopwatch(lambda: model.encode_images(pixels, grid), device),
            "prefill": stopwatch(lambda: model(ids, positions, model.new_cache(), images), device),
            "decode": stopwatch(decode, device)}


def reference_stages(reference, ids, pixels, grid, image_token_id: int, new_tokens: int) -> dict[str, Callable]:
    """The same stopwatches for transformers.Qwen3VLForConditionalGeneration (greedy decode as a plain
    forward loop over its DynamicCache, with explicit text + t/h/w positions)."""
    from transformers import DynamicCache

    device = reference.device
    input_ids, pixels, grid = ids[None].to(device), pixels.to(device), grid.to(device)
    mm_types = (input_ids == image_token_id).long()

    def encode():
        return reference.model.get_image_features(pixels, grid, return_dict=True)

    encoded = encode()

    def prefill(cache):
        return reference(input_ids=input_ids, image_grid_thw=grid, mm_token_type_ids=mm_types,
                         mm_encoder_outputs={"image": encoded}, past_key_values=cache, use_cache=True,
                         logits_to_keep=1)

    cache = DynamicCache(config=reference.config.text_config)
    first = prefill(cache).logits[:, -1].argmax(-1, keepdim=True)
    next_position = int(reference.model.rope_deltas.item()) + input_ids.shape[1]

    def decode():
        extra = cache.get_seq_length() - input_ids.shape[1]
        if extra:
            cache.crop(-extra)  # transformers 5.x: a negative count of tokens to remove
        token = first
        for step in range(new_tokens):
            position = torch.full((4, 1, 1), next_position + step, device=device)
            out = reference(input_ids=token, past_key_values=cache, position_ids=position, use_cache=True)
            token = out.logits[:, -1].argmax(-1, keepdim=True)

    return {"vision": stopwatch(encode, device),
            "prefill": stopwatch(lambda: prefill(DynamicCache(config=reference.config.text_config)), device),
            "decode": stopwatch(decode, device)}


def run_benchmark(ours, reference, ids, pixels, grid, repeats: int, new_tokens: int, stages=STAGES):
    """Both implementations' results: vision_ms, prefill_ms, decode_tokens_per_s (medians), the same
    three for the best run (suffix _best) and every run in order (suffix _runs)."""
    with torch.inference_mode():
        mine = our_stages(ours, ids, pixels, grid, new_tokens)
        theirs = reference_stages(reference, ids, pixels, grid, ours.config.image_token_id, new_tokens)
        results: tuple[dict, dict] = ({}, {})
        for stage in stages:
            for result, seconds in zip(results, compare(mine[stage], theirs[stage], repeats)):
                def value(s: float) -> float:
                    return new_tokens / s if stage == "decode" else s * 1e3
                key = "decode_tokens_per_s" if stage == "decode" else f"{stage}_ms"
                result[key], result[f"{key}_best"] = value(seconds["median"]), value(seconds["best"])
                result[f"{key}_runs"] = [value(s) for s in seconds["runs"]]
    return results


# ----------------------------------------------------------------------------- report

ROWS = [("vision encode (ms)", "vision_ms", False), ("prefill (ms)", "prefill_ms", False),
        ("decode (tokens/s)", "decode_tokens_per_s", True)]


def speedups(ours: dict, reference: dict, key: str, higher_is_better: bool) -> tuple[float, float, float]:
    """Our speedup (>1: ours faster) on the medians, paired (the median of run i's ratio over the
    repeats: each pair ran back to back, so load that drifts during the benchmark cancels) and on the
    best runs. Without per-run values the paired speedup is the medians'."""
    def ratio(mine: float, theirs: float) -> float:
        return mine / theirs if higher_is_better else theirs / mine

    median, best = ratio(ours[key], reference[key]), ratio(ours[key + "_best"], reference[key + "_best"])
    pairs = list(zip(ours.get(key + "_runs", []), reference.get(key + "_runs", [])))
    paired = statistics.median(ratio(mine, theirs) for mine, theirs in pairs) if pairs else median
    return median, paired, best


def table(ours: dict[str, float], reference: dict[str, float]) -> str:
    """A plain-text table of both medians and our speedups on the medians, paired and on the best runs
    (>1: ours faster)."""
    lines = [f"{'stage (median)':<20}{'ours':>10}{'transformers':>15}{'speedup':>10}{'paired':>9}{'best-run':>10}"]
    for label, key, higher_is_better in ROWS:
        if key not in ours:
            continue
        median, paired, best = speedups(ours, reference, key, higher_is_better)
        lines.append(f"{label:<20}{ours[key]:>10.2f}{reference[key]:>15.2f}{median:>9.2f}x{paired:>8.2f}x{best:>9.2f}x")
    return "\n".join(lines)


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found.group(1) if found else cpu
    except OSError:
        pass
    try:
        total = int(re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))
    except (OSError, AttributeError):
        total = None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "memory_gib": round(total / 2**20, 1) if total else None,
            "torch": torch.__version__, "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    """Build or find the checkpoint, time both implementations per dtype, print tables and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(DEFAULTS), default="bench", help="model shape (see above)")
    parser.add_argument("--dtypes", help="comma-separated: float32, bfloat16, float16 (default per config)")
    parser.add_argument("--dtype", help="one dtype (same as --dtypes with one entry)")
    parser.add_argument("--repeats", type=int, help="timed runs per stage (median reported)")
    parser.add_argument("--decode-tokens", type=int, help="tokens per decode run")
    parser.add_argument("--image", help="image size WxH (default per config)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--files", type=Path, help="2b: folder of the real checkpoint files without weights")
    parser.add_argument("--text-layers", type=int, help="2b: decoder layers (default: the checkpoint's 28)")
    parser.add_argument("--vision-depth", type=int, help="2b: ViT blocks (default: the checkpoint's 24)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of vision,prefill,decode")
    parser.add_argument("--out", type=Path, help="JSON output (default bench_results/bench_model_<config>.json)")
    args = parser.parse_args(argv)
    defaults = DEFAULTS[args.config]
    dtypes = (args.dtype or args.dtypes or defaults["dtypes"]).split(",")
    repeats = args.repeats or defaults["repeats"]
    new_tokens = args.decode_tokens or defaults["decode_tokens"]
    image_size = tuple(int(v) for v in (args.image or defaults["image"]).lower().split("x"))
    out = args.out or Path(f"bench_results/bench_model_{args.config}.json")

    import gc

    import transformers

    report = {"config": args.config, "machine": machine(), "transformers": transformers.__version__,
              "repeats": repeats, "decode_tokens": new_tokens, "image_size": image_size, "runs": []}
    with tempfile.TemporaryDirectory() as scratch:
        folder = checkpoint_folder(args, Path(scratch))
        for dtype in dtypes:
            ours, reference, tokenizer, processor_config = load_pair(folder, args.device, dtype)
            ids, pixels, grid = make_inputs(ours.config, tokenizer, processor_config, image_size)
            plain = {(t.data_ptr(), t.shape): t.numel() * t.element_size() for t in reference.parameters()}
            weights = sum(plain.values())  # a tied head counted once
            reset_peak_memory(ours.device)
            ours_result, reference_result = run_benchmark(ours, reference, ids, pixels, grid, repeats, new_tokens,
                                                          args.stages.split(","))
            text = ours.config.text
            print(f"\n{args.config}: text {text.hidden_size} x {text.num_hidden_layers} layers, vision "
                  f"{ours.config.vision.hidden_size} x {ours.config.vision.depth} blocks; device {ours.device}, "
                  f"dtype {ours.dtype}, {torch.get_num_threads()} threads; prompt {len(ids)} tokens, image "
                  f"{image_size[0]}x{image_size[1]} -> grid {grid[0].tolist()}; weights {weights / 2**30:.2f} GiB "
                  f"(plain; ours {ours.matmul_layout}); attention {ours.attention_backend}; {repeats} repeats, {new_tokens} decode tokens")
            print(table(ours_result, reference_result))
            peak = peak_memory_bytes(ours.device)
            print(f"peak memory while both ran: {'n/a' if peak is None else f'{peak / 2**30:.2f} GiB'} "
                  f"({'allocated on the device' if ours.device.type == 'cuda' else 'process resident set'})")
            report["runs"].append({
                "dtype": str(ours.dtype), "device": str(ours.device), "attention": ours.attention_backend,
                "matmuls": ours.matmul_layout,
                "text_layers": text.num_hidden_layers, "vision_depth": ours.config.vision.depth,
                "grid_thw": grid[0].tolist(), "prompt_tokens": len(ids), "weights_bytes": weights,
                "peak_memory_bytes": peak,
                "ours": ours_result, "transformers_reference": reference_result,
            })
            del ours, reference
            gc.collect()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
