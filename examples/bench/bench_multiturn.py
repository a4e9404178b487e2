"""Multi-turn benchmark: our KV-reusing Session against transformers re-reading the whole history.

A desktop agent sends one new screenshot per step on top of a growing conversation. Each turn this
script adds a synthetic 1280x800 screenshot (different every turn) and generates a fixed number of
tokens (greedy, stop tokens ignored) two ways, in the same process and on the same random
"bench" checkpoint (model/testing/tiny.py):

  ours       model.Session: reuses the KV cache of everything already seen, encodes only the
             new screenshot, prefills only the new tokens.
  reference  what peers do with transformers: preprocess every screenshot of the conversation, then
             Qwen3VLForConditionalGeneration.generate on the full prompt (every image re-encoded,
             every token re-prefilled).

The reference is fed exactly the conversation the session holds (the same token ids, including the
session's own generated replies, and the same screenshots: if the history policy dropped some, the
reference does not see them either). Prints a per-turn table and writes JSON.

    .venv/bin/python examples/bench/bench_multiturn.py [--turns 12] [--history-images 5 --drop-chunk 5]
        [--repeats 2] [--threads 1] [--out bench_results/bench_multiturn.json]

History: by default the conversation keeps the 5 newest screenshots and drops 5 at a time (so it holds
5 to 9; turn 10 is the one turn that rebuilds part of the cache); --history-images 0 keeps all of them.
Each turn is measured --repeats times per side (identical sessions in lockstep) and the fastest kept.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

SYSTEM = "You are a helpful assistant."
TOOL_FILE = Path(__file__).resolve().parents[2] / "agent" / "data" / "computer_use_tool.json"


def synthetic_screenshot(turn: int, width: int, height: int):
    """A desktop-like RGB image, different every turn: a wallpaper, a few windows, a moving cursor block."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(1000 + turn)
    base = rng.integers(0, 255, size=3)
    image = Image.new("RGB", (width, height), tuple(int(v) for v in base))
    draw = ImageDraw.Draw(image)
    for _ in range(6):  # windows of 10%..45% of the screen, anywhere on it
        x0, y0 = int(rng.integers(0, width * 0.85)), int(rng.integers(0, height * 0.85))
        x1, y1 = x0 + int(width * rng.uniform(0.1, 0.45)), y0 + int(height * rng.uniform(0.1, 0.45))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(v) for v in rng.integers(0, 255, 3)), outline=(0, 0, 0))
        draw.rectangle((x0, y0, x1, y0 + 24), fill=(40, 40, 90))
        draw.text((x0 + 6, y0 + 5), f"window {turn}", fill=(255, 255, 255))
    noise = rng.integers(0, 24, size=(height, width, 3), dtype=np.uint8)  # texture so no two turns match
    return Image.fromarray(np.asarray(image) ^ noise)


def reference_turn(hf_model, image_processor, prompt, screenshots, max_new_tokens: int, pixels: tuple[int, int],
                   suppress: list[int]):
    """One turn the transformers way: preprocess every present screenshot, generate from the full prompt
    (never writing the `suppress` ids: vision placeholders, which the session masks too)."""
    import torch

    start, cpu_start = time.perf_counter(), time.process_time()
    inputs = image_processor(images=screenshots, size={"shortest_edge": pixels[0], "longest_edge": pixels[1]},
                             return_tensors="pt")
    if not torch.equal(inputs["image_grid_thw"], prompt.grid_thw()):
        raise RuntimeError(f"reference grids {inputs['image_grid_thw'].tolist()} differ from the session's")
    input_ids = torch.tensor([prompt.input_ids])
    image_tokens = (input_ids == hf_model.config.image_token_id).int()  # what the processor returns beside ids
    with torch.inference_mode():
        output = hf_model.generate(
            input_ids=input_ids, attention_mask=torch.ones_like(input_ids), mm_token_type_ids=image_tokens,
            pixel_values=inputs["pixel_values"], image_grid_thw=inputs["image_grid_thw"],
            max_new_tokens=max_new_tokens, do_sample=False, suppress_tokens=suppress,
        )
    latency, cpu = (time.perf_counter() - start) * 1e3, (time.process_time() - cpu_start) * 1e3
    return {
        "latency_ms": round(latency, 1),
        "cpu_ms": round(cpu, 1),
        "tokens_computed": len(prompt.input_ids),
        "images_encoded": len(screenshots),
        "token_ids": output[0, input_ids.shape[1]:].tolist(),
    }


def session_turn(session, screenshot, text: str, config):
    """One turn with our Session: add the screenshot, prefill what is new, decode."""
    start, cpu_start = time.perf_counter(), time.process_time()
    session.add_user(text, images=[screenshot])
    state = session.prefill(reserve=config.max_new_tokens)
    prompt = state.prompt
    reply = session.decode(state, config)
    latency, cpu = (time.perf_counter() - start) * 1e3, (time.process_time() - cpu_start) * 1e3
    counters = reply.counters.as_dict()
    return prompt, {
        "latency_ms": round(latency, 1),
        "cpu_ms": round(cpu, 1),
        "tokens_computed": counters["computed_tokens"],
        "images_encoded": counters["images_encoded"],
        "counters": counters,
        "token_ids": reply.token_ids,
    }


def present_screenshots(session, screenshots):
    """The screenshots the session still holds (the history policy may have replaced old ones)."""
    entries = session.conversation.images()
    return [shot for shot, entry in zip(screenshots, entries) if not entry.dropped]


def run(args) -> dict:
    """Build the checkpoint, run both sides turn by turn, return the results document."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from model.load.generation_config import GenerationConfig
    from model.load.loader import from_pretrained
    from model.runtime.history import HistoryPolicy
    from model.runtime.session import Session
    from model.runtime.vision_guard import vision_token_ids
    from model.testing.tiny import write_tiny_checkpoint

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="bench_multiturn_"))
    write_tiny_checkpoint(folder, preset=args.preset, seed=0)
    ours = from_pretrained(str(folder), dtype="float32", device="cpu")
    hf_model = Qwen3VLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    hf_model.generation_config.eos_token_id = None  # ignore stop tokens, like our side
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(folder)
    pixels = (args.width * args.height // 4, args.width * args.height)
    keep = None if args.history_images <= 0 else args.history_images
    # Identical sessions run in lockstep: each turn is measured `repeats` times on each side and the
    # fastest sample kept, which filters out the bursts of load on a shared machine.
    sessions = [Session(ours, system=SYSTEM, tools=[json.loads(TOOL_FILE.read_text())],
                        history=HistoryPolicy(keep_images=keep, drop_chunk=args.drop_chunk),
                        min_pixels=pixels[0], max_pixels=pixels[1]) for _ in range(args.repeats)]
    config = GenerationConfig(max_new_tokens=args.new_tokens, temperature=0.0, stop_token_ids=(), stop_strings=())
    screenshots, rows = [], []
    for turn in range(1, args.turns + 1):
        screenshots.append(synthetic_screenshot(turn, args.width, args.height))
        text = "Open the text editor's settings." if turn == 1 else f"Step {turn}: here is the screen now."
        mine, references = [], []
        for session in sessions:
            prompt, sample = session_turn(session, screenshots[-1], text, config)
            mine.append(sample)
            references.append(reference_turn(hf_model, image_processor, prompt,
                                             present_screenshots(session, screenshots), args.new_tokens, pixels,
                                             vision_token_ids(ours.tokenizer)))
        rows.append(turn_row(turn, prompt, mine, references))
        print_row(rows[-1], first=turn == 1, flush=True)
    return summarise(args, rows)


def turn_row(turn: int, prompt, mine: list[dict], references: list[dict]) -> dict:
    """One turn of the results: the fastest sample of each side, every sample's latency, token agreement."""
    best_mine = min(mine, key=lambda sample: sample["latency_ms"])
    best_reference = min(references, key=lambda sample: sample["latency_ms"])
    ids = [sample["token_ids"] for sample in mine + references]
    return {
        "turn": turn, "prompt_tokens": len(prompt.input_ids),
        "ours": {**best_mine, "samples_ms": [sample["latency_ms"] for sample in mine],
                 "min_cpu_ms": min(sample["cpu_ms"] for sample in mine)},
        "reference": {**best_reference, "samples_ms": [sample["latency_ms"] for sample in references],
                      "min_cpu_ms": min(sample["cpu_ms"] for sample in references)},
        "speedup": round(best_reference["latency_ms"] / best_mine["latency_ms"], 2),
        "same_tokens": all(other == ids[0] for other in ids),
    }


def summarise(args, rows: list[dict]) -> dict:
    """The JSON document: settings, every turn, and the two ratios the benchmark is about."""
    last, second = rows[-1], rows[1] if len(rows) > 1 else rows[0]
    return {
        "benchmark": "multiturn session vs transformers full re-read",
        "settings": {"turns": args.turns, "width": args.width, "height": args.height, "preset": args.preset,
                     "new_tokens": args.new_tokens, "history_images": args.history_images,
                     "drop_chunk": args.drop_chunk, "repeats": args.repeats, "threads": args.threads,
                     "dtype": "float32", "device": "cpu", "latency": "fastest of `repeats` samples, ms"},
        "turns": rows,
        "summary": {
            "last_turn_speedup": round(last["reference"]["latency_ms"] / last["ours"]["latency_ms"], 2),
            "ours_last_over_turn2": round(last["ours"]["latency_ms"] / second["ours"]["latency_ms"], 2),
            # process CPU time: what each side computed, insensitive to time spent waiting for a core
            "last_turn_speedup_cpu": round(last["reference"]["min_cpu_ms"] / last["ours"]["min_cpu_ms"], 2),
            "ours_last_over_turn2_cpu": round(last["ours"]["min_cpu_ms"] / second["ours"]["min_cpu_ms"], 2),
            "all_tokens_match": all(row["same_tokens"] for row in rows),
        },
    }


def print_row(row: dict, first: bool, flush: bool = False) -> None:
    """One line of the per-turn table (header before the first)."""
    if first:
        print(f"{'turn':>4} {'prompt':>7} | {'ours ms':>8} {'computed':>8} {'img enc':>7} | "
              f"{'ref ms':>8} {'computed':>8} {'img enc':>7} | {'speedup':>7} same", flush=flush)
    ours, ref = row["ours"], row["reference"]
    print(f"{row['turn']:>4} {row['prompt_tokens']:>7} | {ours['latency_ms']:>8.0f} {ours['tokens_computed']:>8} "
          f"{ours['images_encoded']:>7} | {ref['latency_ms']:>8.0f} {ref['tokens_computed']:>8} "
          f"{ref['images_encoded']:>7} | {row['speedup']:>6.1f}x {'yes' if row['same_tokens'] else 'NO'}",
          flush=flush)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, print the summary, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--new-tokens", type=int, default=16, help="tokens generated per turn (greedy)")
    parser.add_argument("--history-images", type=int, default=5,
                        help="screenshots always kept in the conversation (0: all); the reference sees the same ones")
    parser.add_argument("--drop-chunk", type=int, default=5, help="screenshots dropped at once by the history policy")
    parser.add_argument("--preset", default="bench", help="model/testing/tiny.py configuration (tests use a smaller one)")
    parser.add_argument("--repeats", type=int, default=2, help="samples per turn and side; the fastest is reported")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both sides (0: torch's default); one thread keeps timings steady on "
                             "a shared machine, where a second thread mostly measures the neighbours' load")
    parser.add_argument("--out", type=Path, default=Path("bench_results/bench_multiturn.json"))
    args = parser.parse_args(argv)
    import torch

    threads = torch.get_num_threads()
    try:
        result = run(args)
    finally:
        torch.set_num_threads(threads)  # leave the process as it was (tests call main())
    summary = result["summary"]
    print(f"turn {args.turns}: ours {summary['last_turn_speedup']}x faster than the reference; "
          f"ours turn {args.turns} / turn 2 = {summary['ours_last_over_turn2']}; "
          f"generated tokens identical every turn: {summary['all_tokens_match']}")
    print(f"in process CPU time: {summary['last_turn_speedup_cpu']}x faster; "
          f"turn {args.turns} / turn 2 = {summary['ours_last_over_turn2_cpu']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
