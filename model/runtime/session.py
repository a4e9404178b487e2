"""A multi-turn conversation that keeps its KV cache between turns and computes only what is new.

Each turn the whole conversation is rendered through the checkpoint's chat template (assistant replies
spliced in as the ids that were generated), compared token by token with what the cache holds (ids,
and the content digest at image positions), the cache is cut back to the longest common prefix, and
only the rest runs through the decoder. Screenshots are preprocessed once when added and encoded once
while they stay in the encoder cache. The MRoPE cursor after every cached token is kept in a ledger,
so cutting the cache anywhere restores the right rotary position.

    session = Session(loaded, system="You are a helpful assistant.", tools=[tool_schema])  # loaded = from_pretrained(...)
    session.add_user("Open the settings.", images=[screenshot])
    reply = session.generate(GenerationConfig(max_new_tokens=64))   # reply.text, reply.counters

    reply = generate(loaded, "Describe the picture.", images=[picture])  # one turn, nothing kept

A server that receives whole conversations builds them from prepared screenshots (`prepare_image`),
asks each Session how much of one it holds (`cached_prefix`) and hands it to the best (`adopt`).
"""
from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from PIL.Image import Image

from model.errors import InputError, KVBudgetError
from model.inputs.chat_template import render_chat
from model.inputs.tokenizer import require_chat_template
from model.inputs.video import Clip, PreparedVideo, preprocess_video, video_config_for
from model.load.generation_config import GenerationConfig
from model.load.loaded import LoadedModel
from model.nn.kv_cache import KVCache
from model.nn.positions import mrope_positions
from model.runtime.conversation import (
    AssistantTurn,
    Conversation,
    ImageEntry,
    RenderedPrompt,
    UserTurn,
    VideoEntry,
    VideoTokens,
)
from model.runtime.counters import TurnCounters
from model.runtime.decode import OnToken, decode_loop, sync
from model.runtime.encoder_cache import EncoderCache, image_digest
from model.runtime.history import drop_oldest
from model.runtime.prefix import CacheLedger, ImageSpan, common_prefix_length, reusable_prefix, token_keys
from model.runtime.settings import SessionSettings
from model.runtime.vision_guard import NoVisionTokens


@dataclass
class SessionReply:
    """One assistant turn: the reply and what producing it cost."""

    text: str
    """Decoded reply (special tokens removed)."""
    token_ids: list[int]
    """Generated ids, stop token included if one ended the reply."""
    stop_reason: str
    """Why decoding stopped (as reported by the decode loop)."""
    counters: TurnCounters
    """Token, image and timing counters of this turn."""


@dataclass
class Prefill:
    """State after prefilling the rendered conversation, ready for decoding."""

    logits: torch.Tensor
    """Next-token logits after the last prompt token [vocab] (float32)."""
    prompt: RenderedPrompt
    """The token ids and images that were prefilled."""
    counters: TurnCounters
    """Counters so far (decode fields still zero)."""


class Session:
    """One conversation with a loaded Qwen3-VL, reusing its KV cache from turn to turn."""

    def __init__(self, loaded: LoadedModel, *, system: str | None = None, tools: Sequence[dict] = (),
                 settings: SessionSettings | None = None, **overrides: Any):
        """A Session with an empty conversation. `settings` defaults to SessionSettings(); `overrides`
        replace single fields of it by name (Session(loaded, max_pixels=1280 * 800))."""
        self.settings = dataclasses.replace(settings or SessionSettings(), **overrides)
        self.loaded = loaded
        self.model = loaded.model  # the Qwen3VL module
        self.tokenizer = loaded.tokenizer
        self._conversation = Conversation(system=system, tools=list(tools), marker=self.settings.history.marker)
        self._encoder_cache = EncoderCache(self.settings.encoder_cache_bytes)
        self._cache = KVCache.for_model(self.model)
        self._ledger = CacheLedger()  # the one owner of the MRoPE cursor after each cached token
        self._kv_limit = self.settings.kv_token_limit(self.model)
        self._dropped_this_turn = 0

    # ----------------------------------------------------------------------------- conversation

    @property
    def conversation(self) -> Conversation:
        """The conversation so far; change it with add_user, add_assistant, adopt or reset."""
        return self._conversation

    def add_user(self, text: str = "", images: Sequence[Image] = (), text_first: bool = False,
                 videos: Sequence[Clip | PreparedVideo] = ()) -> None:
        """Append a user turn: the images, then the videos (each preprocessed now, once), and the text,
        media first by default. A video is a Clip (sampled with the checkpoint's video settings) or a
        PreparedVideo."""
        parts: list = [self.prepare_image(image) for image in images]
        parts += [self._prepare_video(video) for video in videos]
        if text:
            parts.insert(0 if text_first else len(parts), text)
        if not parts:
            raise InputError("a user turn needs text or at least one image")
        self._conversation.turns.append(UserTurn(parts))

    def add_assistant(self, token_ids: Sequence[int]) -> None:
        """Append an assistant turn given as token ids (a trailing stop token is left out)."""
        ids = list(token_ids)
        if ids and ids[-1] in self._stop_ids():
            ids = ids[:-1]
        self._conversation.turns.append(AssistantTurn(ids, self.tokenizer.decode(ids)))

    def prepare_image(self, image: Image) -> ImageEntry:
        """One screenshot resized to this Session's pixel budget, normalised and fingerprinted, for a
        user turn (add_user does this itself; a conversation built by hand for `adopt` needs it)."""
        batch = self.loaded.processor_config.preprocess([image], min_pixels=self.settings.min_pixels,
                                                       max_pixels=self.settings.max_pixels)
        grid = tuple(int(v) for v in batch.grid_thw[0].tolist())
        return ImageEntry(batch.pixel_values, grid, image_digest(batch.pixel_values, grid),
                          batch.tokens_per_image()[0])

    def adopt(self, conversation: Conversation) -> None:
        """Continue from `conversation` instead of the current one (a client resending its whole history,
        screenshots made with prepare_image). Nothing is computed now: the next turn keeps the longest
        prefix of the KV cache that still matches and computes the rest."""
        self._conversation = conversation

    def reset(self) -> None:
        """Start a new conversation with the same system prompt and tools (encoder cache kept)."""
        self._conversation.turns.clear()
        self._cache.truncate(0)
        self._ledger.clear()

    def fork(self) -> "Session":
        """A new Session with an empty conversation (same system prompt and tools), the same settings and
        its own KV cache, sharing this Session's encoder cache: a screenshot either one has encoded is
        not encoded again."""
        twin = Session(self.loaded, system=self._conversation.system, tools=self._conversation.tools,
                       settings=self.settings)
        twin._encoder_cache = self._encoder_cache
        return twin

    def render(self) -> RenderedPrompt:
        """The prompt the next reply is generated from: the whole conversation plus the reply header."""
        return self._render(self._conversation)

    # ----------------------------------------------------------------------------- the KV cache

    @property
    def kv_tokens(self) -> int:
        """Tokens the KV cache holds: the prefix of the conversation the next turn can reuse."""
        return len(self._ledger)

    @property
    def kv_bytes(self) -> int:
        """Bytes of key/value storage this Session holds (allocated, not only used)."""
        return self._cache.nbytes

    def cached_prefix(self, conversation: Conversation) -> int:
        """How many leading tokens of `conversation`'s prompt the KV cache already holds (token ids and
        screenshot contents compared). Renders `conversation`, computes nothing, changes nothing."""
        if not self.kv_tokens:
            return 0
        prompt = self._render(conversation)
        return common_prefix_length(self._ledger.keys, token_keys(prompt.input_ids, prompt.spans))

    # ----------------------------------------------------------------------------- turns

    def generate(self, config: GenerationConfig | None = None, on_token: OnToken | None = None) -> SessionReply:
        """Prefill what is new, decode a reply, keep it in the conversation as its generated ids.
        `config` defaults to the checkpoint's generation_config.json."""
        config = config or self.loaded.generation_defaults or GenerationConfig()
        state = self.prefill(reserve=config.max_new_tokens)
        return self.decode(state, config, on_token)

    def prefill(self, reserve: int = 0) -> Prefill:
        """Apply the history policy, reuse the cached prefix, compute the rest; `reserve` tokens for decoding."""
        counters = TurnCounters()
        self._dropped_this_turn = 0
        self._apply_history()
        prompt = self._render_within_budget(reserve)
        keys = token_keys(prompt.input_ids, prompt.spans)
        reuse = reusable_prefix(self._ledger.keys, keys, prompt.spans)
        self._cache.truncate(reuse)
        self._ledger.truncate(reuse)
        with _memory_errors_as_budget_errors(len(prompt.input_ids) + reserve):
            features = self._features_for(prompt, reuse, counters)
            logits = self._run_prompt(prompt, keys, reuse, features, counters)
        counters.prompt_tokens = len(prompt.input_ids)
        counters.cached_tokens = reuse
        counters.computed_tokens = len(prompt.input_ids) - reuse
        counters.images = len(prompt.images)
        counters.images_dropped = self._dropped_this_turn
        return Prefill(logits, prompt, counters)

    def decode(self, state: Prefill, config: GenerationConfig, on_token: OnToken | None = None) -> SessionReply:
        """Decode a reply after `prefill` and append it to the conversation."""
        start = time.perf_counter()
        cursor = self._ledger.cursor_at(len(self._ledger))
        before = self._cache.length
        guarded = NoVisionTokens(self.model, self.tokenizer)
        with _memory_errors_as_budget_errors(self._cache.length + config.max_new_tokens):
            result = decode_loop(guarded, self._cache, guarded.mask(state.logits[None]), cursor, config,
                                 self.tokenizer, on_token)
        sync(self.model.device)
        fed = self._cache.length - before  # generated tokens written to the cache (not the last one)
        self._ledger.extend_text(result.token_ids[:fed], cursor)
        self.add_assistant(result.token_ids)
        counters = state.counters
        counters.decode_ms = (time.perf_counter() - start) * 1e3
        counters.generated_tokens = len(result.token_ids)
        counters.kv_cache_tokens = self._cache.length
        return SessionReply(result.text, list(result.token_ids), str(result.stop_reason), counters)

    # ----------------------------------------------------------------------------- internals

    def _render(self, conversation: Conversation) -> RenderedPrompt:
        """Prompt ids of `conversation` plus the reply header, through the checkpoint's chat template."""
        tokenizer = self.tokenizer
        template, variables = require_chat_template(tokenizer), tokenizer.template_variables()
        special = tokenizer.special
        return conversation.render(
            lambda messages, tools: render_chat(template, messages, tools or None, True, **variables),
            tokenizer.encode, self.model.config.image_token_id,
            VideoTokens(special.video_pad, special.vision_start, special.vision_end),
        )

    def _prepare_video(self, video: Clip | PreparedVideo) -> VideoEntry:
        """Preprocess one video with the checkpoint's video settings; its frame groups are then
        encoded and cached like screenshots."""
        if isinstance(video, Clip):
            video = preprocess_video(video, video_config_for(self.loaded))
        return VideoEntry.from_prepared(video)

    def _apply_history(self) -> None:
        """Replace the oldest screenshots by markers when the history policy says so."""
        images = self._conversation.images()
        self._drop(self.settings.history.images_to_drop(sum(not image.dropped for image in images)))

    def _drop(self, count: int) -> None:
        images = self._conversation.images()
        for index in drop_oldest([not image.dropped for image in images], count):
            images[index].dropped = True
        self._dropped_this_turn += count

    def _render_within_budget(self, reserve: int) -> RenderedPrompt:
        """Render; while prompt + reserve exceeds the KV budget, drop old screenshots or raise."""
        while True:
            prompt = self.render()
            needed = len(prompt.input_ids) + reserve
            if self._kv_limit is None or needed <= self._kv_limit:
                return prompt
            present = len(prompt.images)
            if self.settings.on_budget == "error" or present <= 1:
                raise KVBudgetError(
                    f"the conversation needs {needed} KV tokens ({len(prompt.input_ids)} prompt + {reserve} "
                    f"to generate) but the budget is {self._kv_limit} tokens with {present} screenshot(s) "
                    "left; raise max_kv_tokens/max_kv_bytes, lower max_pixels, or keep fewer history images"
                )
            self._drop(min(max(self.settings.history.drop_chunk, 1), present - 1))

    def _features_for(self, prompt: RenderedPrompt, reuse: int, counters: TurnCounters) -> dict[str, object]:
        """Vision features of every image in the part to compute, encoding only cache misses."""
        self._encoder_cache.pin(image.digest for image in prompt.images)
        needed = [image for image, span in zip(prompt.images, prompt.spans) if span.start >= reuse]
        features, missing = {}, []
        for image in needed:
            found = self._encoder_cache.get(image.digest)
            if found is None:
                missing.append(image)
            else:
                features[image.digest] = found
        counters.images_from_cache = len(needed) - len(missing)
        counters.images_encoded = len(missing)
        if missing:
            start = time.perf_counter()
            with torch.inference_mode():
                encoded = self.model.encode_images(
                    torch.cat([image.pixel_values for image in missing]).to(self.model.device),
                    torch.tensor([image.grid_thw for image in missing], dtype=torch.long),
                )
            sync(self.model.device)
            counters.vision_ms = (time.perf_counter() - start) * 1e3
            for image, feats in zip(missing, encoded):
                features[image.digest] = feats
                self._encoder_cache.put(image.digest, feats)
        return features

    def _run_prompt(self, prompt: RenderedPrompt, keys: list[int], reuse: int, features: dict,
                    counters: TurnCounters) -> torch.Tensor:
        """Run prompt tokens reuse..end through the decoder in chunks; logits of the last token [vocab]."""
        start = time.perf_counter()
        logits = None
        config = self.model.config
        for lo, hi in chunk_bounds(reuse, len(prompt.input_ids), prompt.spans, self.settings.prefill_chunk):
            inside = [span for span in prompt.spans if lo <= span.start < hi]
            ids = torch.tensor(prompt.input_ids[lo:hi], dtype=torch.long)
            grids = [prompt.images[prompt.spans.index(span)].grid_thw for span in inside]
            positions, _ = mrope_positions(ids, grids, self._ledger.cursor_at(lo), config.image_token_id,
                                           config.vision.spatial_merge_size, video_token_id=config.video_token_id)
            images = [(span.start - lo, features[span.digest]) for span in inside]
            with torch.inference_mode():
                logits = self.model.forward(ids.to(self.model.device), positions.to(self.model.device),
                                            self._cache, images=images, logits="last")
            self._ledger.extend(keys[lo:hi], positions)
        sync(self.model.device)
        counters.prefill_ms = (time.perf_counter() - start) * 1e3
        return logits[-1].float()

    def _stop_ids(self) -> set[int]:
        special = self.tokenizer.special
        return {special.im_end, special.endoftext}


def generate(loaded: LoadedModel, prompt: str, images: Sequence[Image] = (), config: GenerationConfig | None = None,
             on_token: OnToken | None = None, *, system: str | None = None, max_pixels: int | None = None,
             videos: Sequence[Clip] = ()) -> SessionReply:
    """One user turn (images first, then videos, then `prompt`) through the chat template, answered by
    a one-turn Session. `config` defaults to the checkpoint's generation_config.json; images are resized
    to the checkpoint's pixel budget unless `max_pixels` is given, videos per its video settings."""
    session = Session(loaded, system=system, max_pixels=max_pixels)
    session.add_user(prompt, images=images, videos=videos)
    return session.generate(config, on_token)


def chunk_bounds(start: int, end: int, spans: Sequence[ImageSpan], chunk: int) -> list[tuple[int, int]]:
    """Split [start, end) into pieces of about `chunk` tokens that never cut through an image."""
    bounds = []
    while start < end:
        stop = min(start + chunk, end)
        for span in spans:
            if span.start < stop < span.end:  # move the cut before the image, or after it if it starts here
                stop = span.start if span.start > start else span.end
                break
        bounds.append((start, stop))
        start = stop
    return bounds


@contextmanager
def _memory_errors_as_budget_errors(tokens: int):
    """Turn a device out-of-memory error into KVBudgetError: the session stays usable (the cache and
    ledger only ever record completed chunks), and the message says which knobs bound memory."""
    try:
        yield
    except torch.OutOfMemoryError as error:
        raise KVBudgetError(
            f"out of device memory with {tokens} tokens in the KV cache ({str(error).splitlines()[0]}); "
            "set max_kv_tokens/max_kv_bytes, lower max_pixels, or keep fewer history images"
        ) from error
