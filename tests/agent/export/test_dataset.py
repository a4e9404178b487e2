"""`agent export`: one record per step with the conversation the step's model saw, checked against what
the http policy really sent a server and what the local policy's Session really held; loaded back with
the Hugging Face `datasets` library; options; damaged input refused with nothing written."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from actions import DryRunExecutor, ScreenGeometry
from agent.errors import ExportError
from agent.export import ExportOptions, export_dataset
from agent.export.conversation import IMAGE_TAG
from agent.export.dataset import DATA_FILE, INFO_FILE
from agent.loop import LoopConfig, run_loop
from agent.policies import describe
from agent.policies.http import HttpPolicy
from agent.policies.http_client import RetryPolicy
from agent.policies.local import LocalPolicy
from agent.trace import RunMeta, RunResult, TraceWriter, new_run_id, now_iso
from tests.agent.policies.fake_server import Answer, Script, fake_server
from tests.helpers import REPO

VLLM = json.loads((REPO / "tests/agent/policies/vllm_responses.json").read_text())
REASONED_CLICK = {"choices": [{"index": 0, "finish_reason": "stop", "message": {
    "role": "assistant", "reasoning_content": "The Edit menu is at the top.",
    "content": '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [20, 5]}}'
               '\n</tool_call>'}}]}
PROSE = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "I would click the Edit menu."},
                      "finish_reason": "stop"}]}


def records(dataset: Path) -> list[dict]:
    return [json.loads(line) for line in (dataset / DATA_FILE).read_text().splitlines()]


class ChangingScreen:
    """A 400x300 screen whose picture changes every capture, so each step's screenshot is its own."""

    def __init__(self, size=(400, 300)):
        self.size, self.count = size, 0

    def capture(self):
        self.count += 1
        image = Image.new("RGB", self.size, (self.count * 37 % 256, 90, 160))
        image.putpixel((self.count, self.count), (255, 255, 255))
        return image, ScreenGeometry.flat(*self.size)


def record_run(tmp_path: Path, policy, steps: int, instruction: str, status: str = "success") -> Path:
    """Run the real loop with `policy` on a changing synthetic screen and write a whole run folder."""
    meta = RunMeta(run_id=new_run_id("t"), task_id="t", instruction=instruction, policy=policy.name,
                   policy_settings=describe(policy), max_steps=steps, started_at=now_iso(),
                   geometry={"screenshot_width": 400, "screenshot_height": 300, "logical_width": 400,
                             "logical_height": 300})
    trace = TraceWriter(tmp_path / "runs", meta)
    run_loop(policy, ChangingScreen(), DryRunExecutor(), trace, instruction,
             LoopConfig(max_steps=steps, settle_s=0, max_consecutive_errors=steps))
    trace.finish(RunResult(status=status, steps=trace.count, duration_s=1.0, ended_at=now_iso()))
    return trace.dir


def as_sent(messages: list[dict]) -> tuple[list[dict], list[Image.Image]]:
    """An OpenAI request's messages as one string per turn (images as <image>), and its images."""
    flat, images = [], []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            flat.append({"role": message["role"], "content": content})
            continue
        text = ""
        for part in content:
            if part["type"] == "image_url":
                text += IMAGE_TAG
                data = part["image_url"]["url"].split(",", 1)[1]
                images.append(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
            else:
                text += part["text"]
        flat.append({"role": message["role"], "content": text})
    return flat, images


def test_every_record_is_the_request_the_http_policy_sent_with_its_reply(tmp_path):
    # click, prose (a parse error fed back), a failed call (no reply: its turn is taken back and its text
    # resent), a reply with server-side reasoning, then clicks until screenshots leave the history.
    script = Script(chat=[Answer(200, VLLM["text_reply"]), Answer(200, PROSE), Answer(400, {"error": {"message": "no"}}),
                          Answer(200, REASONED_CLICK)] + [Answer(200, VLLM["text_reply"])] * 4
                    + [Answer(200, VLLM["thinking_reply"])])
    with fake_server(script) as url:
        policy = HttpPolicy(url, "served-model", history_images=2, max_pixels=300 * 200,
                            retry=RetryPolicy(attempts=1))
        run = record_run(tmp_path, policy, 9, "Open the preferences.")
    out = tmp_path / "dataset"
    summary = export_dataset([run], out)
    exported = records(out)
    posts = [r["json"] for r in script.requests if r["method"] == "POST"]
    answered = [body for body, status in zip(posts, [200, 200, 400] + [200] * 6) if status == 200]
    assert summary.records == len(exported) == len(answered) == 8  # the failed call has no reply to learn
    for record, body in zip(exported, answered):
        sent, sent_images = as_sent(body["messages"])
        assert record["messages"][:-1] == sent  # the conversation, turn for turn, marker for marker
        assert json.loads(record["tools"]) == body["tools"]
        saved = [Image.open(out / path).convert("RGB") for path in record["images"]]
        assert [image.size for image in saved] == [image.size for image in sent_images]
        assert all(a.tobytes() == b.tobytes() for a, b in zip(saved, sent_images))  # the pixels the model saw
        assert record["image_size"] == list(sent_images[-1].size) and record["coordinates"] == "grid1000"
    assert exported[2]["messages"][-1]["content"].startswith("The Edit menu is at the top.\n</think>")  # the target
    assert exported[3]["messages"][-3]["content"].startswith("<tool_call>")  # … but the history kept only the reply
    assert "[earlier screenshot omitted]" in exported[-1]["messages"][3]["content"]
    assert exported[1]["outcome"]["ok"] is False and exported[1]["outcome"]["error_kind"] == "parse"


def snapshot(policy: LocalPolicy) -> list[dict]:
    """The local Session's conversation as one string per turn, the way an export writes it."""
    session = policy.session
    turns = [{"role": "system", "content": session.conversation.system}]
    for turn in session.conversation.turns:
        if hasattr(turn, "token_ids"):  # the trace keeps a reply's text without special tokens (<|…|>)
            turns.append({"role": "assistant", "content": re.sub(r"<\|[a-z_]+\|>", "", turn.text)})
            continue
        text = "".join(part if isinstance(part, str) else
                       (session.conversation.marker if part.dropped else IMAGE_TAG) for part in turn.parts)
        turns.append({"role": "user", "content": text})
    return turns


def test_every_record_is_the_conversation_the_local_session_held(tmp_path, ours):
    seen, grids = [], []

    class Watched(LocalPolicy):
        def next(self, observation, history):
            reply = super().next(observation, history)
            seen.append(snapshot(self))
            grids.append(self.session.conversation.images()[-1].grid_thw)
            return reply

    policy = Watched("tiny", loaded=ours, max_pixels=192 * 128, history_images=2, max_new_tokens=6)
    run = record_run(tmp_path, policy, 6, "Open the settings of the text editor.")
    out = tmp_path / "dataset"
    export_dataset([run], out)
    exported = records(out)
    assert len(exported) == len(seen) == 6
    factor = policy.image_factor // 2  # patches (before the 2×2 merge) per side, times the patch size
    for record, held, grid in zip(exported, seen, grids):
        assert record["messages"] == held
        assert record["image_size"] == [grid[2] * factor, grid[1] * factor]  # the size the model saw
        assert Image.open(out / record["images"][-1]).size == tuple(record["image_size"])
    assert any(policy.session.conversation.marker in m["content"] for m in exported[-1]["messages"])


def test_a_dataset_loads_with_hugging_face_datasets_and_fits_ms_swift_and_llama_factory(tmp_path, runs):
    pytest.importorskip("datasets", reason="the dev extra installs datasets")
    import datasets

    out = tmp_path / "dataset"
    export_dataset([runs["success"], runs["failure"]], out)
    loaded = datasets.load_dataset("json", data_files=str(out / DATA_FILE), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert loaded.num_rows == 7 and {"messages", "images", "tools", "outcome"} <= set(loaded.column_names)
    for row in loaded:
        roles = [m["role"] for m in row["messages"]]
        assert roles[0] == "system" and roles[-1] == "assistant"
        assert roles[1:] == ["user", "assistant"] * (len(roles[1:]) // 2)  # alternating, as both tools require
        assert sum(m["content"].count(IMAGE_TAG) for m in row["messages"]) == len(row["images"])  # ms-swift's rule
        assert all((out / path).is_file() for path in row["images"])
        assert json.loads(row["tools"])[0]["function"]["name"] == "computer_use"
    info = json.loads((out / INFO_FILE).read_text())["agent_traces"]
    assert info["file_name"] == DATA_FILE and info["formatting"] == "sharegpt"
    assert info["columns"] == {"messages": "messages", "images": "images", "tools": "tools"}
    assert info["tags"]["role_tag"] == "role" and info["tags"]["system_tag"] == "system"


def test_only_successful_runs_and_no_failed_steps(tmp_path, runs):
    out = tmp_path / "a"
    summary = export_dataset([runs["success"], runs["failure"]], out, ExportOptions(only_success=True))
    assert {r["run_id"] for r in records(out)} == {runs["success"].name} and summary.runs_skipped
    out = tmp_path / "b"
    summary = export_dataset([runs["success"], runs["failure"]], out, ExportOptions(drop_failed_steps=True))
    kept = records(out)
    assert len(kept) == 6 and summary.steps_dropped == 1 and all(r["outcome"]["ok"] for r in kept)
    after = next(r for r in kept if r["run_id"] == runs["failure"].name and r["step"] == 2)
    assert "no <tool_call> found" in after["messages"][-2]["content"]  # the dropped step stays in the history
    out = tmp_path / "c"
    export_dataset([runs["success"]], out, ExportOptions(absolute_paths=True))
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in records(out)[0]["images"])


def test_a_bench_folder_exports_its_runs(tmp_path, runs):
    bench = tmp_path / "bench"
    bench.mkdir()
    for kind in ("success", "failure"):
        runs[kind].rename(bench / runs[kind].name)
    entries = [{"task_id": "t", "task_file": "t.yaml", "repeat": i + 1, "status": s, "run_dir": name}
               for i, (s, name) in enumerate([("success", runs["success"].name), ("failure", runs["failure"].name)])]
    (bench / "bench.json").write_text(json.dumps({"bench_id": "b", "suite": {"name": "s"}, "policy": {}, "runs": entries + [
        {"task_id": "u", "task_file": "u.yaml", "repeat": 1, "status": "error", "run_dir": None}]}))
    out = tmp_path / "dataset"
    assert export_dataset([bench], out).records == 7


@pytest.mark.parametrize("damage,words", [
    ("crashed", "the run folder is damaged: step 1: screenshot step_0001.png is missing"),
    ("no_meta", "meta.json is missing"),
    ("bad_result", "result.json is unreadable"),
    ("image", "screenshot step_0000.png is unreadable"),
])
def test_a_damaged_run_is_named_and_nothing_is_written(tmp_path, runs, damage, words):
    target = runs["crashed"] if damage == "crashed" else runs["success"]
    if damage == "no_meta":
        (target / "meta.json").unlink()
    elif damage == "bad_result":
        (target / "result.json").write_text("{not json")
    elif damage == "image":
        (target / "step_0000.png").write_bytes(b"not a png")
    out = tmp_path / "dataset"
    with pytest.raises(ExportError, match=words):
        export_dataset([runs["failure"], target], out)
    assert not out.exists() and not list(tmp_path.glob(".dataset*"))  # nothing half-written


def test_bad_paths_and_outputs_are_refused(tmp_path, runs):
    with pytest.raises(ExportError, match="no such run or bench folder"):
        export_dataset([tmp_path / "nope"], tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ExportError, match="neither a run folder"):
        export_dataset([empty], tmp_path / "out")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("mine")
    with pytest.raises(ExportError, match="already exists and is not an empty folder"):
        export_dataset([runs["success"]], taken)
    assert (taken / "x").read_text() == "mine"
    export_dataset([runs["success"]], empty)  # an empty folder is used
    assert (empty / DATA_FILE).is_file()


def test_the_command_prints_a_summary_and_exits_2_on_damage(tmp_path, runs):
    def agent(*args):
        return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})

    done = agent("export", str(runs["success"]), "-o", str(tmp_path / "ok"), "--drop-failed-steps")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("3 records from 1 runs, 3 images")
    bad = agent("export", str(runs["success"]), str(runs["crashed"]), "-o", str(tmp_path / "bad"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    assert runs["crashed"].name in bad.stderr and not (tmp_path / "bad").exists()
