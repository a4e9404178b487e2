"""A tiny byte-level BPE tokenizer with Qwen3-VL's special tokens, for test checkpoints.

`write_tiny_tokenizer(folder)` writes the files a real Qwen3-VL checkpoint ships for text:
tokenizer.json (same normaliser / pre-tokeniser / decoder pipeline as Qwen's, 256 byte tokens so
any UTF-8 text encodes, about a hundred merges learned from a fixed corpus, then the added tokens),
tokenizer_config.json and chat_template.json holding a chat template that renders like
Qwen3-VL-Instruct's. Our loader, transformers' AutoTokenizer and AutoImageProcessor read the folder
(transformers' AutoProcessor for Qwen3-VL also needs torchvision, for its video processor).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# Qwen2/Qwen3 pre-tokenisation regex (contractions, letters, single digits, punctuation runs,
# newlines, spaces), needed so our tokenizer.json and transformers' Qwen2Tokenizer agree.
QWEN_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Added tokens in Qwen3-VL's order; the first group is "special" (skipped when decoding with
# skip_special_tokens), the second group are ordinary added tokens, as in the real checkpoint.
SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
)
PLAIN_ADDED_TOKENS = (
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
    "<think>", "</think>",
)

# A fixed corpus the merges are learned from: words the agent's prompts and replies use.
MERGE_CORPUS = """
You are a helpful assistant. Use a mouse and keyboard to interact with a computer, and take
screenshots. The screen's resolution is 1000x1000. Click the button, type the text, press the key.
{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 300]}}
{"name": "computer_use", "arguments": {"action": "type", "text": "hello world"}}
{"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "s"]}}
# Tools You may call one or more functions to assist with the user query. function signatures
within XML tags. For each function call, return a json object with function name and arguments.
Thought: I should open the settings of the text editor. Action: click on the Edit menu.
the of and to in is it that for on with as this be are was at by from or an not
"""

MAX_MERGES = 240  # pairs seen at least twice in the corpus; it yields 99


@dataclass(frozen=True)
class TinyTokenizerInfo:
    """Vocabulary size and the ids of Qwen's special tokens in a tiny tokenizer."""

    vocab_size: int  # BPE vocabulary plus added tokens; ids run 0 .. vocab_size - 1
    endoftext_id: int
    im_start_id: int
    im_end_id: int
    vision_start_id: int
    vision_end_id: int
    vision_pad_id: int
    image_pad_id: int
    video_pad_id: int
    tool_call_start_id: int
    tool_call_end_id: int
    token_ids: dict[str, int]  # every added token (special or not) by its text


def write_tiny_tokenizer(folder: str | Path) -> TinyTokenizerInfo:
    """Write tokenizer.json, tokenizer_config.json and chat_template.json into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = _learn_byte_level_merges(MERGE_CORPUS, MAX_MERGES)
    added = _added_token_ids(start=len(vocab))
    _write_json(folder / "tokenizer.json", _tokenizer_json(vocab, merges, added))
    _write_json(folder / "tokenizer_config.json", _tokenizer_config(added))
    _write_json(folder / "chat_template.json", {"chat_template": CHAT_TEMPLATE})
    return TinyTokenizerInfo(
        vocab_size=len(vocab) + len(added),
        endoftext_id=added["<|endoftext|>"],
        im_start_id=added["<|im_start|>"],
        im_end_id=added["<|im_end|>"],
        vision_start_id=added["<|vision_start|>"],
        vision_end_id=added["<|vision_end|>"],
        vision_pad_id=added["<|vision_pad|>"],
        image_pad_id=added["<|image_pad|>"],
        video_pad_id=added["<|video_pad|>"],
        tool_call_start_id=added["<tool_call>"],
        tool_call_end_id=added["</tool_call>"],
        token_ids=dict(added),
    )


def _write_json(path: Path, document: dict) -> None:
    """Write a JSON file the way transformers does (UTF-8, indented, non-ASCII kept)."""
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _learn_byte_level_merges(corpus: str, max_merges: int) -> tuple[dict[str, int], list[list[str]]]:
    """Train a small BPE on `corpus` over the 256 byte-level symbols; deterministic."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()  # the 256 printable stand-ins for bytes
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = _pre_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=len(alphabet) + max_merges, initial_alphabet=alphabet, show_progress=False, min_frequency=2
    )
    tokenizer.train_from_iterator([corpus], trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    # Re-number so the byte symbols come first in a fixed order and merges follow in learning order.
    vocab = {symbol: i for i, symbol in enumerate(sorted(alphabet))}
    merges = [m.split(" ") if isinstance(m, str) else list(m) for m in model["merges"]]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    return vocab, merges


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Qwen's pre-tokeniser: regex split, then bytes mapped to printable symbols."""
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )


def _added_token_ids(start: int) -> dict[str, int]:
    """Ids for the added tokens, placed right after the BPE vocabulary."""
    return {token: start + i for i, token in enumerate(SPECIAL_TOKENS + PLAIN_ADDED_TOKENS)}


def _tokenizer_json(vocab: dict[str, int], merges: list[list[str]], added: dict[str, int]) -> dict:
    """The tokenizer.json document, in the layout the `tokenizers` library serialises."""
    bpe = models.BPE(vocab=vocab, merges=[tuple(m) for m in merges], fuse_unk=False, byte_fallback=False)
    tokenizer = Tokenizer(bpe)
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = _pre_tokenizer()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in SPECIAL_TOKENS])
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in PLAIN_ADDED_TOKENS])
    document = json.loads(tokenizer.to_str())
    got = {entry["content"]: entry["id"] for entry in document["added_tokens"]}
    if got != added:  # the library numbers added tokens itself; make sure it agrees with ours
        raise RuntimeError(f"added token ids {got} differ from the expected {added}")
    return document


def _tokenizer_config(added: dict[str, int]) -> dict:
    """tokenizer_config.json in the shape Qwen3-VL ships it (added tokens, eos, pad, template)."""
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(token_id): {
                "content": token,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": token in SPECIAL_TOKENS,
            }
            for token, token_id in added.items()
        },
        "additional_special_tokens": [t for t in SPECIAL_TOKENS if t not in ("<|endoftext|>",)],
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 262144,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


# Renders exactly like Qwen3-VL-Instruct's template: tools in <tools></tools> inside the system
# turn, one <|vision_start|><|image_pad|><|vision_end|> per image, <tool_call> blocks for
# assistant tool calls, consecutive tool messages grouped into one user turn of <tool_response>
# blocks, and "<|im_start|>assistant\n" as the generation prompt. Rendered by transformers and by
# model/inputs/chat_template.py with trim_blocks and lstrip_blocks on.
CHAT_TEMPLATE = r"""{%- set pictures = namespace(n=0) %}
{%- set clips = namespace(n=0) %}
{%- macro content_text(content, count_media) %}
    {%- if content is string %}
        {{- content }}
    {%- else %}
        {%- for part in content %}
            {%- if 'image' in part or 'image_url' in part or part.type == 'image' %}
                {%- if count_media %}{% set pictures.n = pictures.n + 1 %}{% endif %}
                {%- if add_vision_id %}{{ 'Picture ' ~ pictures.n ~ ': ' }}{% endif %}
                {{- '<|vision_start|><|image_pad|><|vision_end|>' }}
            {%- elif 'video' in part or part.type == 'video' %}
                {%- if count_media %}{% set clips.n = clips.n + 1 %}{% endif %}
                {%- if add_vision_id %}{{ 'Video ' ~ clips.n ~ ': ' }}{% endif %}
                {{- '<|vision_start|><|video_pad|><|vision_end|>' }}
            {%- elif 'text' in part %}
                {{- part.text }}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}
{%- set has_system = messages and messages[0].role == 'system' %}
{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if has_system %}
        {{- content_text(messages[0].content, false) + '\n\n' }}
    {%- endif %}
    {{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' }}
    {{- 'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' }}
    {%- for tool in tools %}
        {{- '\n' + (tool | tojson) }}
    {%- endfor %}
    {{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments' }}
    {{- ' within <tool_call></tool_call> XML tags:\n<tool_call>\n' }}
    {{- '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' }}
{%- elif has_system %}
    {{- '<|im_start|>system\n' + content_text(messages[0].content, false) + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- set text = content_text(message.content, true) %}
    {%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + text + '<|im_end|>\n' }}
    {%- elif message.role == 'assistant' %}
        {{- '<|im_start|>assistant\n' + text }}
        {%- for call in message.tool_calls or [] %}
            {%- if text or not loop.first %}{{ '\n' }}{% endif %}
            {%- set fn = call.function if call.function else call %}
            {{- '<tool_call>\n{"name": "' + fn.name + '", "arguments": ' }}
            {{- fn.arguments if fn.arguments is string else (fn.arguments | tojson) }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{ '<|im_start|>user' }}{% endif %}
        {{- '\n<tool_response>\n' + text + '\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{ '<|im_end|>\n' }}{% endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""
