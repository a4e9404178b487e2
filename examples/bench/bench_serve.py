"""Serving benchmark: `agent serve` (KV cache kept across requests) against a server that re-reads history.

A 12-turn agent conversation goes through HTTP exactly as `agent run --policy http` sends it: the
http policy resends the whole history every step (system turn with the computer_use tool, one new
synthetic screenshot per turn, the newest `--history-images` kept and older ones dropped in chunks).
Two servers run in this process on 127.0.0.1, on the same random "bench" checkpoint (model/testing/tiny.py):

  cached     `agent serve`: finds the cached conversation with the longest matching prefix and
             computes only the new turn.
  re-read    `agent serve --no-cache`: every request starts from an empty KV cache and an empty
             vision-encoder cache (what a server without prefix caching does).

Turns alternate between the two servers (so both see the same machine load) and the greedy replies
are compared ("same"); the re-reading server tokenises earlier replies from their text, as any server
without a cache must, so its replies can drift from the cached server's (which splices in the ids it
generated, as the local policy does). Prints a per-turn table (latency, prompt and cached tokens as each server reports them
in `usage`) and writes JSON.

    .venv/bin/python examples/bench/bench_serve.py [--turns 12] [--max-pixels 1024000] [--out bench_results/bench_serve.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

INSTRUCTION = "Open the preferences of the text editor."


def start_server(loaded, no_cache: bool):
    """`agent serve` on a free local port in a thread -> (server, base URL)."""
    from agent.commands.serve import ServeOptions, build_server
    from agent.serve.app import serve_in_thread

    server = build_server(loaded, ServeOptions(model="bench", port=0, no_cache=no_cache), quiet=True)
    serve_in_thread(server)
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def stop_server(server) -> None:
    server.shutdown()
    server.server_close()
    server.config.engine.stop()


def one_turn(policy, turn: int, history: list, args) -> dict:
    """Send turn `turn` through the http policy; latency and the server's usage."""
    from bench_multiturn import synthetic_screenshot

    from actions import ScreenGeometry
    from agent.policies.base import Observation, Turn

    image = synthetic_screenshot(turn, args.width, args.height)
    start = time.perf_counter()
    reply = policy.next(Observation(image, ScreenGeometry.flat(args.width, args.height), turn), history)
    latency = (time.perf_counter() - start) * 1e3
    if reply.error:
        raise RuntimeError(f"turn {turn}: {reply.error}")
    history.append(Turn(reply.text, None))
    counters = reply.counters
    return {"latency_ms": round(latency, 1), "prompt_tokens": int(counters.get("prompt_tokens", 0)),
            "cached_tokens": int(counters.get("cached_tokens", 0)),
            "completion_tokens": int(counters.get("generated_tokens", 0)), "text": reply.text}


def run(args) -> dict:
    import torch

    from agent.policies.http import HttpPolicy
    from model.load.loader import from_pretrained
    from model.testing.tiny import write_tiny_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        write_tiny_checkpoint(Path(folder) / "ckpt", preset=args.preset, seed=0)
        loaded = from_pretrained(str(Path(folder) / "ckpt"), dtype="float32", device="cpu")
    servers = {name: start_server(loaded, no_cache=name == "reread") for name in ("cached", "reread")}
    policies, histories, rows = {}, {}, []
    try:
        for name, (_, url) in servers.items():
            policies[name] = HttpPolicy(url, "bench", max_pixels=args.max_pixels, history_images=args.history_images,
                                        max_new_tokens=args.new_tokens, min_pixels=loaded.processor_config.min_pixels)
            policies[name].start(INSTRUCTION)
            histories[name] = []
        for turn in range(args.turns):
            order = ("cached", "reread") if turn % 2 == 0 else ("reread", "cached")
            sides = {name: one_turn(policies[name], turn, histories[name], args) for name in order}
            row = {"turn": turn + 1, **{name: sides[name] for name in ("cached", "reread")}}
            row["speedup"] = round(sides["reread"]["latency_ms"] / sides["cached"]["latency_ms"], 2)
            row["same_reply"] = sides["cached"].pop("text") == sides["reread"].pop("text")
            rows.append(row)
            print_row(row, first=turn == 0)
    finally:
        for policy in policies.values():
            policy.close()
        for server, _ in servers.values():
            stop_server(server)
    return summarise(args, rows)


def summarise(args, rows: list[dict]) -> dict:
    later = rows[1:] or rows
    total = {name: sum(row[name]["latency_ms"] for row in rows) for name in ("cached", "reread")}
    return {
        "benchmark": "agent serve (KV kept across requests) vs a server that re-reads the history",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "settings": {"turns": args.turns, "width": args.width, "height": args.height, "max_pixels": args.max_pixels,
                     "history_images": args.history_images, "new_tokens": args.new_tokens, "preset": args.preset,
                     "threads": args.threads, "dtype": "float32", "device": "cpu",
                     "latency": "wall time of one http policy step (request, prefill, decode, response), ms"},
        "turns": rows,
        "summary": {
            "total_speedup": round(total["reread"] / total["cached"], 2),
            "last_turn_speedup": rows[-1]["speedup"],
            "cached_share_after_turn1": round(sum(r["cached"]["cached_tokens"] for r in later)
                                              / max(1, sum(r["cached"]["prompt_tokens"] for r in later)), 3),
            "reread_cached_tokens": sum(r["reread"]["cached_tokens"] for r in rows),
            "all_replies_match": all(row["same_reply"] for row in rows),
        },
    }


def print_row(row: dict, first: bool) -> None:
    if first:
        print(f"{'turn':>4} | {'prompt':>7} {'cached tok':>10} {'ms':>7} | {'prompt':>7} {'cached tok':>10} {'ms':>7} | "
              f"{'speedup':>7} same", flush=True)
    cached, reread = row["cached"], row["reread"]
    print(f"{row['turn']:>4} | {cached['prompt_tokens']:>7} {cached['cached_tokens']:>10} {cached['latency_ms']:>7.0f} | "
          f"{reread['prompt_tokens']:>7} {reread['cached_tokens']:>10} {reread['latency_ms']:>7.0f} | {row['speedup']:>6.1f}x "
          f"{'yes' if row['same_reply'] else 'NO'}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--max-pixels", type=int, default=1280 * 800, help="the http policy's pixel budget")
    parser.add_argument("--history-images", type=int, default=3, help="screenshots kept (dropped 2 at a time)")
    parser.add_argument("--new-tokens", type=int, default=16, help="max_tokens per request (greedy)")
    parser.add_argument("--preset", default="bench", help="model/testing/tiny.py configuration (tests use a smaller one)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=Path("bench_results/bench_serve.json"))
    args = parser.parse_args(argv)
    import torch

    threads = torch.get_num_threads()
    try:
        result = run(args)
    finally:
        torch.set_num_threads(threads)
    summary = result["summary"]
    print(f"all {args.turns} turns: cached server {summary['total_speedup']}x faster in total, "
          f"{summary['last_turn_speedup']}x on the last turn; {summary['cached_share_after_turn1']:.0%} of prompt "
          f"tokens after turn 1 served from its KV cache; replies identical: {summary['all_replies_match']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
