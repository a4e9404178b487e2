"""Load a Qwen3-VL checkpoint, ask one question about an image, print the reply and what it cost.

    .venv/bin/python examples/generate.py CHECKPOINT [IMAGE]

CHECKPOINT is a local folder or a hub id; without IMAGE the program draws a small picture itself.
"""
import sys

from PIL import Image, ImageDraw

from model import GenerationConfig, Session, from_pretrained


def main(checkpoint: str, image_path: str | None = None) -> None:
    loaded = from_pretrained(checkpoint, device="cpu", dtype="float32")
    if image_path:
        image = Image.open(image_path).convert("RGB")
    else:
        image = Image.new("RGB", (320, 200), "white")
        ImageDraw.Draw(image).rectangle((40, 40, 160, 120), fill="red")

    session = Session(loaded, system="You are a helpful assistant.")
    session.add_user("Describe this image.", images=[image])
    reply = session.generate(GenerationConfig(max_new_tokens=32))

    print(reply.text)
    print(reply.counters)  # prompt / cached / computed / generated tokens, images, milliseconds


if __name__ == "__main__":
    if not 2 <= len(sys.argv) <= 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
