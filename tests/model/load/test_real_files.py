"""The real Qwen3-VL-2B-Instruct files (config, tokenizer, chat template, preprocessor; no weights)
through our code, against transformers on the same files: config fields, prompt token ids of the
agent's own conversations, and pixel values and grids of common screen sizes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.model.real_files import AGENT_MAX_PIXELS, REAL_2B, needs_real_files, reference_processor, screenshot

pytestmark = needs_real_files


@pytest.fixture(scope="module")
def reference():
    """transformers' processor with the agent's pixel budget (as the local policy resizes screenshots)."""
    return reference_processor(max_pixels=AGENT_MAX_PIXELS)


@pytest.fixture(scope="module")
def bundle():
    """Our loaded-model bundle of the real files around a weightless (meta-device) model: everything a
    Session needs to render prompts, nothing it needs to compute."""
    from model.inputs.image import ProcessorConfig
    from model.inputs.tokenizer import Tokenizer
    from model.load.config import load_config
    from model.load.generation_config import load_generation_defaults
    from model.load.loaded import LoadedModel
    from model.nn.qwen3vl import Qwen3VL

    with torch.device("meta"):
        model = Qwen3VL(load_config(REAL_2B))
    return LoadedModel(model, Tokenizer.from_folder(REAL_2B), ProcessorConfig.from_file(REAL_2B),
                       load_generation_defaults(REAL_2B), REAL_2B)


# ----------------------------------------------------------------------------- config


def test_config_fields_match_the_released_2b_and_transformers():
    from transformers import Qwen3VLConfig

    from model.load.config import load_config

    config = load_config(REAL_2B)
    text, vision = config.text, config.vision
    assert (text.vocab_size, text.hidden_size, text.intermediate_size) == (151_936, 2048, 6144)
    assert (text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads, text.head_dim) == (28, 16, 8, 128)
    assert (text.rms_norm_eps, text.rope_theta, text.mrope_section) == (1e-6, 5_000_000.0, (24, 20, 20))
    assert (text.attention_bias, text.hidden_act, text.max_position_embeddings) == (False, "silu", 262_144)
    assert text.num_experts == 0 and not any(text.is_sparse_layer(i) for i in range(28))  # dense
    assert config.tie_word_embeddings is True
    assert (vision.depth, vision.hidden_size, vision.intermediate_size, vision.num_heads) == (24, 1024, 4096, 16)
    assert (vision.out_hidden_size, vision.in_channels, vision.patch_size) == (2048, 3, 16)
    assert (vision.temporal_patch_size, vision.spatial_merge_size, vision.num_position_embeddings) == (2, 2, 2304)
    assert vision.deepstack_visual_indexes == (5, 11, 17)
    assert (vision.hidden_act, vision.rope_theta, vision.head_dim, vision.patch_dim) == ("gelu_pytorch_tanh", 10_000.0, 64, 1536)
    ids = (config.image_token_id, config.video_token_id, config.vision_start_token_id, config.vision_end_token_id)
    assert ids == (151_655, 151_656, 151_652, 151_653)

    theirs = Qwen3VLConfig.from_pretrained(REAL_2B)  # the same fields as transformers reads them
    t, v = theirs.text_config, theirs.vision_config
    assert (t.hidden_size, t.num_hidden_layers, t.num_key_value_heads, t.head_dim) == (
        text.hidden_size, text.num_hidden_layers, text.num_key_value_heads, text.head_dim)
    assert t.rope_parameters["rope_theta"] == text.rope_theta
    assert tuple(t.rope_parameters["mrope_section"]) == text.mrope_section
    assert tuple(v.deepstack_visual_indexes) == vision.deepstack_visual_indexes
    assert (v.depth, v.hidden_size, v.num_heads, v.out_hidden_size) == (
        vision.depth, vision.hidden_size, vision.num_heads, vision.out_hidden_size)


def test_generation_and_preprocessor_defaults(bundle):
    defaults, processor = bundle.generation_defaults, bundle.processor_config
    assert (defaults.temperature, defaults.top_p, defaults.top_k) == (0.7, 0.8, 20)
    assert set(defaults.stop_token_ids) == {151_645, 151_643}
    assert (processor.min_pixels, processor.max_pixels) == (65_536, 16_777_216)
    assert (processor.patch_size, processor.merge_size, processor.temporal_patch_size, processor.factor) == (16, 2, 2, 32)
    assert processor.image_mean == processor.image_std == (0.5, 0.5, 0.5)


def test_special_token_ids_and_plain_encoding_match_transformers(bundle, reference):
    special = bundle.tokenizer.special
    assert (special.endoftext, special.im_start, special.im_end) == (151_643, 151_644, 151_645)
    assert (special.vision_start, special.vision_end, special.image_pad, special.video_pad) == (
        151_652, 151_653, 151_655, 151_656)
    texts = ["Open the settings of the text editor.", "Grüße, 世界! 🙂\r\n\ttabs  and  spaces",
             '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "ünï"}}\n</tool_call>']
    for text in texts:
        assert bundle.tokenizer.encode(text) == reference.tokenizer.encode(text, add_special_tokens=False)


# ----------------------------------------------------------------------------- the agent's conversations

# What the model "said" at each step (as text; the session keeps the ids our tokenizer gives them, the
# way it keeps generated ids) and the error the agent fed back about it (None: the step went through).
REPLIES = [
    ('Thought: The Edit menu holds the preferences.\n<tool_call>\n{"name": "computer_use", "arguments": '
     '{"action": "left_click", "coordinate": [296, 224]}}\n</tool_call>', None),
    ("I think I should open the menu first, then look for Preferences.", "no <tool_call> found in the reply"),
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "Grüße 世界"}}\n</tool_call>', None),
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "s"]}}\n</tool_call>',
     "coordinate [1200, 40] is outside the 0-1000 grid"),
]
# Screens of several sizes, each resized to the agent's budget by both sides.
SCREENS = [(1280, 800), (1920, 1080), (1366, 768), (800, 600), (2560, 1440)]


def _messages_for_transformers(session, screens, instruction):
    """The conversation the session holds, as transformers chat messages (replies as text)."""
    from agent.policies.prompt import SYSTEM_PROMPT

    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    images = iter(zip(session.conversation.images(), screens))
    from model.runtime.conversation import AssistantTurn

    for turn in session.conversation.turns:
        if isinstance(turn, AssistantTurn):
            messages.append({"role": "assistant", "content": turn.text})
            continue
        content = []
        for part in turn.parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
                continue
            entry, screen = next(images)
            content.append({"type": "text", "text": session.settings.history.marker} if entry.dropped
                           else {"type": "image", "image": screen})
        messages.append({"role": "user", "content": content})
    return messages


def _drop_per_policy(session) -> None:
    """What the session's prefill does before rendering: the history policy replaces old screenshots."""
    from model.runtime.history import drop_oldest

    images = session.conversation.images()
    flags = [not image.dropped for image in images]
    for index in drop_oldest(flags, session.settings.history.images_to_drop(sum(flags))):
        images[index].dropped = True


def test_agent_conversation_prompt_ids_equal_transformers_every_step(bundle, reference):
    """Step by step as the local policy builds it: system prompt with the computer_use tool, the
    instruction with the first screenshot, then a screenshot plus feedback per step (including failed
    steps), earlier replies kept as ids, and old screenshots replaced by the marker (keep 2, drop 2)."""
    from agent.policies.local import LocalPolicy
    from agent.policies.prompt import first_step_text, next_step_text

    policy = LocalPolicy("real-2b-files", loaded=bundle, max_pixels=AGENT_MAX_PIXELS, history_images=2,
                         drop_chunk=2)
    instruction = "Open the preferences (settings) window of the Mousepad text editor."
    policy.start(instruction)
    session = policy.session
    assert session.conversation.tools and session.conversation.system  # the computer_use tool is in the system turn
    screens = [screenshot(w, h, seed=i) for i, (w, h) in enumerate(SCREENS)]
    dropped_seen = False
    for step, image in enumerate(screens):
        if step == 0:
            session.add_user(first_step_text(instruction), images=[image], text_first=True)
        else:
            session.add_user(next_step_text(REPLIES[step - 1][1]), images=[image])
        _drop_per_policy(session)
        dropped_seen |= any(entry.dropped for entry in session.conversation.images())
        ours = session.render().input_ids
        messages = _messages_for_transformers(session, screens, instruction)
        expected = reference.apply_chat_template(messages, tools=session.conversation.tools, add_generation_prompt=True,
                                                 tokenize=True, return_dict=True)["input_ids"][0]
        assert ours == list(expected), f"step {step}: prompt ids differ"
        if step < len(REPLIES):
            reply = REPLIES[step][0]
            session.add_assistant(bundle.tokenizer.encode(reply) + [bundle.tokenizer.special.im_end])
    assert dropped_seen, "the history policy never dropped a screenshot: the marker went untested"
    grids = {entry.grid_thw for entry in session.conversation.images()}
    assert len(grids) >= 3  # screenshots of several sizes really gave different grids (16:9 ones share one)


# ----------------------------------------------------------------------------- pixels


@pytest.mark.parametrize("width, height, max_pixels", [
    (1280, 800, AGENT_MAX_PIXELS), (1920, 1080, AGENT_MAX_PIXELS), (1366, 768, AGENT_MAX_PIXELS),
    (1440, 900, AGENT_MAX_PIXELS), (2560, 1440, AGENT_MAX_PIXELS), (3840, 2160, AGENT_MAX_PIXELS),
    (1024, 768, None), (1920, 1080, None), (800, 600, None), (390, 844, None),  # checkpoint budget; a phone
])
def test_pixels_and_grids_equal_transformers(bundle, width, height, max_pixels):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    budget = {} if max_pixels is None else {"size": {"shortest_edge": 65_536, "longest_edge": max_pixels}}
    theirs = Qwen2VLImageProcessorPil.from_pretrained(REAL_2B, **budget)
    image = screenshot(width, height, seed=width + height)
    expected = theirs([image], return_tensors="np")
    ours = bundle.processor_config.preprocess([image], max_pixels=max_pixels)
    assert ours.grid_thw.tolist() == expected["image_grid_thw"].tolist()
    assert ours.pixel_values.shape == expected["pixel_values"].shape
    assert np.abs(ours.pixel_values.numpy() - expected["pixel_values"]).max() == 0.0
