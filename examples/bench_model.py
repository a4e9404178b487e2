"""Benchmark our Qwen3-VL module against transformers in the same process.

A random "bench" checkpoint (text hidden 512 x 4 layers, vision hidden 256 x 4 blocks) and one
1280x800 image (50x80 patches, 1000 image tokens). Times vision encoding, prefill of the whole prompt
(image features precomputed) and greedy decode tokens/s. Each stage is warmed up, then run several
times interleaved with the reference (alternating order, so load from other processes on a shared
machine hits both alike); the table shows medians and the ratio of the best runs. Both models run the
same weights, device and dtype; the reference decode is a plain forward loop over its DynamicCache
(no `generate` overhead), the strictest comparison.

    .venv/bin/python examples/bench_model.py [--repeats 7] [--decode-tokens 32] [--device cpu]
        [--dtype float32] [--out bench_results/bench_model.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

IMAGE_SIZE = (1280, 800)


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
    processes on a shared machine hits both alike -> (ours, reference), each {"median": s, "best": s}."""
    ours(), reference()
    samples: tuple[list[float], list[float]] = ([], [])
    for repeat in range(repeats):
        order = (0, 1) if repeat % 2 == 0 else (1, 0)
        for index in order:
            samples[index].append((ours, reference)[index]())
    return tuple({"median": statistics.median(times), "best": min(times)} for times in samples)


def make_inputs(model):
    """Chat-shaped prompt ids around one 1280x800 image, with its pixel rows and grid."""
    from PIL import Image

    from model.positions import image_token_count

    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (IMAGE_SIZE[1], IMAGE_SIZE[0], 3), generator=generator, dtype=torch.uint8)
    batch = model.processor_config.preprocess([Image.fromarray(pixels.numpy())], max_pixels=IMAGE_SIZE[0] * IMAGE_SIZE[1])
    cfg, tok = model.config, model.tokenizer
    count = image_token_count(batch.grid_thw[0].tolist(), cfg.vision.spatial_merge_size)
    ids = tok.encode("<|im_start|>user\n") + [cfg.vision_start_token_id] + [cfg.image_token_id] * count
    ids += [cfg.vision_end_token_id] + tok.encode("Click the settings button.<|im_end|>\n<|im_start|>assistant\n")
    return torch.tensor(ids), batch.pixel_values, batch.grid_thw


def our_stages(model, ids, pixels, grid, new_tokens: int) -> dict[str, Callable[[], float]]:
    """Stopwatch callables for our vision encoding, prefill and decode of `new_tokens`."""
    from model.generate import decode_loop, image_starts
    from model.generation_config import GenerationConfig
    from model.positions import mrope_positions

    device, cfg = model.device, model.config
    features = model.encode_images(pixels, grid)
    positions, cursor = mrope_positions(ids, grid.tolist(), 0, cfg.image_token_id, cfg.vision.spatial_merge_size)
    images = list(zip(image_starts(ids, cfg.image_token_id), features))
    config = GenerationConfig(max_new_tokens=new_tokens + 1)  # the first token comes from the prefill

    def decode() -> float:
        cache = model.new_cache()
        logits = model(ids, positions, cache, images)
        return stopwatch(lambda: decode_loop(model, cache, logits, cursor, config), device)()

    return {"vision": stopwatch(lambda: model.encode_images(pixels, grid), device),
            "prefill": stopwatch(lambda: model(ids, positions, model.new_cache(), images), device),
            "decode": decode}


def reference_stages(reference, ids, pixels, grid, image_token_id: int, new_tokens: int) -> dict[str, Callable[[], float]]:
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

    def decode_steps(cache, token, next_position):
        for step in range(new_tokens):
            position = torch.full((4, 1, 1), next_position + step, device=device)
            out = reference(input_ids=token, past_key_values=cache, position_ids=position, use_cache=True)
            token = out.logits[:, -1].argmax(-1, keepdim=True)

    def decode() -> float:
        cache = DynamicCache(config=reference.config.text_config)
        token = prefill(cache).logits[:, -1].argmax(-1, keepdim=True)
        next_position = int(reference.model.rope_deltas.item()) + input_ids.shape[1]
        return stopwatch(lambda: decode_steps(cache, token, next_position), device)()

    return {"vision": stopwatch(encode, device),
            "prefill": stopwatch(lambda: prefill(DynamicCache(config=reference.config.text_config)), device),
            "decode": decode}


def run_benchmark(ours, reference, ids, pixels, grid, repeats: int, new_tokens: int):
    """Both implementations' results: vision_ms, prefill_ms, decode_tokens_per_s (medians) and the same
    three for the best run (suffix _best)."""
    mine = our_stages(ours, ids, pixels, grid, new_tokens)
    theirs = reference_stages(reference, ids, pixels, grid, ours.config.image_token_id, new_tokens)
    results: tuple[dict[str, float], dict[str, float]] = ({}, {})
    with torch.inference_mode():
        for stage in ("vision", "prefill", "decode"):
            for result, seconds in zip(results, compare(mine[stage], theirs[stage], repeats)):
                for statistic, suffix in (("median", ""), ("best", "_best")):
                    if stage == "decode":
                        result[f"decode_tokens_per_s{suffix}"] = new_tokens / seconds[statistic]
                    else:
                        result[f"{stage}_ms{suffix}"] = seconds[statistic] * 1e3
    return results


def table(ours: dict[str, float], reference: dict[str, float]) -> str:
    """A plain-text table of both medians, our speedup on the medians and on the best runs (>1: ours faster)."""
    rows = [("vision encode (ms)", "vision_ms", False), ("prefill (ms)", "prefill_ms", False),
            ("decode (tokens/s)", "decode_tokens_per_s", True)]
    lines = [f"{'stage (median)':<20}{'ours':>10}{'transformers':>15}{'speedup':>10}{'best-run speedup':>18}"]
    for label, key, higher_is_better in rows:
        ratios = []
        for suffix in ("", "_best"):
            mine, theirs = ours[key + suffix], reference[key + suffix]
            ratios.append(mine / theirs if higher_is_better else theirs / mine)
        lines.append(f"{label:<20}{ours[key]:>10.1f}{reference[key]:>15.1f}{ratios[0]:>9.2f}x{ratios[1]:>17.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the bench checkpoint, time both implementations, print the table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per stage (median reported)")
    parser.add_argument("--decode-tokens", type=int, default=32, help="tokens per decode run")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    parser.add_argument("--out", type=Path, default=Path("bench_results/bench_model.json"), help="JSON output file")
    args = parser.parse_args(argv)

    import transformers
    from transformers import Qwen3VLForConditionalGeneration

    from model.loader import from_pretrained
    from model.tiny import write_tiny_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        write_tiny_checkpoint(folder, "bench")
        ours = from_pretrained(folder, device=args.device, dtype=args.dtype)
        reference = Qwen3VLForConditionalGeneration.from_pretrained(
            folder, dtype=ours.dtype, attn_implementation="sdpa").to(ours.device).eval()
    ids, pixels, grid = make_inputs(ours)
    ours_result, reference_result = run_benchmark(ours, reference, ids, pixels, grid, args.repeats,
                                                  args.decode_tokens)
    print(f"device {ours.device}, dtype {ours.dtype}, {torch.get_num_threads()} threads, prompt {len(ids)} tokens, "
          f"image {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} -> grid {grid[0].tolist()}, attention {ours.attention_backend}")
    print(table(ours_result, reference_result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "device": str(ours.device), "dtype": str(ours.dtype), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "transformers": transformers.__version__,
        "image_size": IMAGE_SIZE, "grid_thw": grid[0].tolist(), "prompt_tokens": len(ids),
        "repeats": args.repeats, "decode_tokens": args.decode_tokens,
        "ours": ours_result, "transformers_reference": reference_result,
    }, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
