"""transformers' own video processing, run in a child process for tests/model/test_video_reference.py.

    python video_reference.py CHECKPOINT_FOLDER CASES.pt OUT.pt

transformers' Qwen3VLVideoProcessor needs torchvision. The only torchvision wheel for torch 2.13.0 on
the package index is the CUDA build: its Python transforms work on the CPU build of torch, but its C
extension (detection ops such as nms) cannot load. install.sh therefore installs it with --no-deps
into a folder of its own (.venv/reference-torchvision), never into .venv's site-packages, where
transformers would find it in every other test. This script runs with that folder on PYTHONPATH and
declares the two detection ops whose fake kernels torchvision registers at import, so the import
succeeds; nothing here calls them. Everything else is transformers' own code:
Qwen3VLProcessor (chat template, <|video_pad|> expansion with timestamps, tokenizer) with its
Qwen3VLVideoProcessor (sampling, resize, normalise, patchify) and the PIL image processor.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _declare_torchvision_ops() -> None:
    import torch

    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _declare_torchvision_ops.library = library  # keep the registration alive


def build_processor(folder: Path):
    from transformers import AutoTokenizer, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    template = json.loads((folder / "chat_template.json").read_text())["chat_template"]
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessorPil.from_pretrained(folder),
        tokenizer=AutoTokenizer.from_pretrained(folder),
        video_processor=Qwen3VLVideoProcessor.from_pretrained(folder),
        chat_template=template,
    )


def run_case(processor, case: dict) -> dict:
    """One prompt: case["content"] is a list of ("text", str) / ("image", uint8 HWC) / ("video", uint8
    NHWC, fps or None) parts of one user message."""
    from PIL import Image

    content, images, videos, metadata = [], [], [], []
    for part in case["content"]:
        if part[0] == "text":
            content.append({"type": "text", "text": part[1]})
        elif part[0] == "image":
            content.append({"type": "image"})
            images.append(Image.fromarray(part[1].numpy()))
        else:
            content.append({"type": "video"})
            videos.append(part[1].numpy())
            metadata.append({"fps": part[2], "total_num_frames": int(part[1].shape[0])})
    text = processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                         add_generation_prompt=True)
    inputs = processor(text=[text], images=images or None, videos=videos or None,
                       video_metadata=metadata or None, return_tensors="pt",
                       **({"cap_pixels_per_frame": case["cap"]} if videos else {}))
    out = {"text": text, "input_ids": inputs["input_ids"][0]}
    for key in ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw"):
        if key in inputs:
            out[key] = inputs[key]
    return out


def main(folder: str, cases_file: str, out_file: str) -> None:
    _declare_torchvision_ops()
    import torch

    processor = build_processor(Path(folder))
    cases = torch.load(cases_file, weights_only=False)
    torch.save([run_case(processor, case) for case in cases], out_file)


if __name__ == "__main__":
    main(*sys.argv[1:4])
