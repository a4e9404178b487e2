"""model/inputs/chat.py and chat_template.py: prompt ids equal transformers' Qwen3VLProcessor output for the
tiny checkpoint files."""

import json

import numpy as np
import pytest
from PIL import Image

from model.errors import ChatTemplateError, TokenizerError
from model.inputs.chat import encode_chat, expand_image_pads, message_images
from model.inputs.chat_template import render_chat, template_data
from model.inputs.image import ProcessorConfig
from model.inputs.tokenizer import Tokenizer
from model.testing.tiny_tokenizer import write_tiny_tokenizer
from tests.helpers import REPO

TOOL_FILE = REPO / "agent" / "data" / "computer_use_tool.json"
PREPROCESSOR = {
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen3VLProcessor",
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "size": {"shortest_edge": 4096, "longest_edge": 262_144},  # small budget keeps prompts short
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_chat")
    write_tiny_tokenizer(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR))
    return folder


@pytest.fixture(scope="module")
def reference(folder):
    """transformers' Qwen3VLProcessor on the folder's tokenizer, template and image processor.

    AutoProcessor cannot build it here: its video processor needs torchvision, which this
    environment lacks, so the processor is assembled by hand with no video processor.
    """
    from transformers import AutoTokenizer, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    class Qwen3VLProcessorWithoutVideo(Qwen3VLProcessor):
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    template = json.loads((folder / "chat_template.json").read_text())["chat_template"]
    return Qwen3VLProcessorWithoutVideo(
        image_processor=Qwen2VLImageProcessorPil.from_pretrained(folder),
        tokenizer=AutoTokenizer.from_pretrained(folder),
        video_processor=None,
        chat_template=template,
    )


@pytest.fixture(scope="module")
def ours(folder):
    return Tokenizer.from_folder(folder), ProcessorConfig.from_file(folder)


def picture(width, height, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def computer_use_tools():
    return [{"type": "function", "function": json.loads(TOOL_FILE.read_text())}]


def our_ids(ours, messages, tools=None, add_generation_prompt=True):
    tokenizer, config = ours
    images = message_images(messages)
    counts = config.preprocess(images).tokens_per_image() if images else []
    return encode_chat(tokenizer, messages, counts, tools=tools, add_generation_prompt=add_generation_prompt)


def reference_ids(reference, messages, tools=None, add_generation_prompt=True):
    out = reference.apply_chat_template(
        messages, tools=tools, add_generation_prompt=add_generation_prompt, tokenize=True, return_dict=True
    )
    return list(out["input_ids"][0])


CASES = {
    "text_only": (
        [
            {"role": "system", "content": "You are a careful agent. Ünïcode ok."},
            {"role": "user", "content": "Open the settings of the text editor."},
        ],
        None,
    ),
    "one_image": (
        [{"role": "user", "content": [{"type": "image", "image": picture(300, 200)}, {"type": "text", "text": "What is this?"}]}],
        None,
    ),
    "two_images_of_different_sizes": (
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare "},
                    {"type": "image", "image": picture(640, 360, seed=1)},
                    {"type": "text", "text": " with "},
                    {"type": "image", "image": picture(90, 250, seed=2)},
                ],
            }
        ],
        None,
    ),
    "tools": (
        [
            {"role": "system", "content": [{"type": "text", "text": "You control a desktop."}]},
            {"role": "user", "content": [{"type": "text", "text": "Click OK."}, {"type": "image", "image": picture(1280, 800, seed=3)}]},
        ],
        computer_use_tools(),
    ),
    "multi_turn_with_assistant_and_tool_turns": (
        [
            {"role": "system", "content": "You control a desktop."},
            {"role": "user", "content": [{"type": "image", "image": picture(400, 300, seed=4)}, {"type": "text", "text": "Open Edit."}]},
            {
                "role": "assistant",
                "content": "Thought: the menu is at the top.",
                "tool_calls": [
                    {"type": "function", "function": {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [120, 40]}}}
                ],
            },
            {"role": "tool", "content": [{"type": "text", "text": "clicked"}]},
            {"role": "tool", "content": "screen changed"},
            {"role": "user", "content": [{"type": "image", "image": picture(400, 300, seed=5)}]},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"name": "computer_use", "arguments": '{"action": "terminate", "status": "success"}'}],
            },
            {"role": "user", "content": "Thanks."},
            {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
        ],
        computer_use_tools(),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_prompt_ids_equal_transformers(case, add_generation_prompt, ours, reference):
    messages, tools = CASES[case]
    expected = reference_ids(reference, messages, tools, add_generation_prompt)
    assert our_ids(ours, messages, tools, add_generation_prompt) == expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_text_equals_transformers(case, ours, reference):
    messages, tools = CASES[case]
    expected = reference.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=False)
    assert render_chat(ours[0].chat_template, messages, tools=tools) == expected


def test_each_image_gets_its_own_token_count(ours):
    tokenizer, config = ours
    messages = CASES["two_images_of_different_sizes"][0]
    counts = config.preprocess(message_images(messages)).tokens_per_image()
    ids = encode_chat(tokenizer, messages, counts)
    pad, start = tokenizer.special.image_pad, tokenizer.special.vision_start
    runs = []
    for index, token in enumerate(ids):
        if token == start:
            end = ids.index(tokenizer.special.vision_end, index)
            runs.append(ids[index + 1 : end])
    assert counts[0] != counts[1]
    assert [len(run) for run in runs] == counts and all(set(run) == {pad} for run in runs)


def test_tiny_template_renders_the_qwen_format():
    tokenizer_messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]},
        {"role": "assistant", "content": "A", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
        {"role": "tool", "content": "R"},
    ]
    from model.testing.tiny_tokenizer import CHAT_TEMPLATE

    text = render_chat(CHAT_TEMPLATE, tokenizer_messages, tools=[{"name": "f", "description": "é<b>"}])
    assert text == (
        "<|im_start|>system\nS\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"name": "f", "description": "é<b>"}\n</tools>\n\n'
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Q<|im_end|>\n"
        '<|im_start|>assistant\nA\n<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nR\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_expand_image_pads_checks_the_count():
    assert expand_image_pads([1, 9, 2, 9, 3], 9, [2, 3]) == [1, 9, 9, 2, 9, 9, 9, 3]
    with pytest.raises(ValueError, match="2 image placeholders but 1 images"):
        expand_image_pads([9, 9], 9, [4])


def test_template_sandbox_blocks_python_internals():
    import jinja2

    for template in ("{{ messages.__class__.__mro__ }}", "{% set ns = namespace(_x=1) %}"):
        with pytest.raises(ChatTemplateError) as error:  # the template's error, typed for the user
            render_chat(template, [])
        assert isinstance(error.value.__cause__, jinja2.exceptions.SecurityError)


def test_template_helpers_match_transformers():
    import jinja2

    with pytest.raises(ChatTemplateError, match="no system") as error:
        render_chat("{{ raise_exception('no system') }}", [])
    assert isinstance(error.value.__cause__, jinja2.exceptions.TemplateError)
    assert render_chat("{{ tools | tojson }}", [], tools=[{"a": "<é>"}]) == '[{"a": "<é>"}]'
    assert render_chat("{{ tools[0] | tojson(indent=2) }}", [], tools=[{"a": 1}]) == '{\n  "a": 1\n}'
    assert len(render_chat("{{ strftime_now('%Y-%m-%d') }}", [])) == 10
    assert render_chat("{% for m in messages %}{% if loop.first %}{% continue %}{% endif %}{{ m.role }}{% endfor %}",
                       [{"role": "a"}, {"role": "b"}]) == "b"


def test_rich_objects_reach_the_template_as_placeholders():
    data = template_data({"image": picture(8, 8), "n": np.int64(3), "ok": np.bool_(False), "t": (1, "x")})
    assert data == {"image": "<Image>", "n": 3, "ok": False, "t": (1, "x")}


def test_reasoning_is_exposed_under_the_standard_name():
    text = render_chat("{{ messages[0].reasoning_content }}|{{ messages[0].thinking }}",
                       [{"role": "assistant", "content": "", "reasoning": "why"}])
    assert text == "why|why"


def test_missing_template_is_reported(tmp_path):
    write_tiny_tokenizer(tmp_path)
    (tmp_path / "chat_template.json").unlink()
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(TokenizerError, match="no chat template"):
        encode_chat(Tokenizer.from_folder(tmp_path), [{"role": "user", "content": "x"}])
