"""Qwen3VL: the vision tower, the text decoder and the LM head behind two calls.

    encode_images(pixel_values, grid_thw) -> one VisionFeatures per image
    forward(input_ids, positions, cache, images, logits) -> logits of the new tokens

Checkpoint keys map onto attributes as `model.visual.*` -> `visual.*`, `model.language_model.*` ->
`language_model.*`, `lm_head.*` -> `lm_head.*` (see the table in loader.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch
from torch import nn

from model.load.config import Qwen3VLConfig
from model.nn.attention import Attention
from model.nn.kv_cache import KVCache
from model.nn.packed_linear import PackedLinear, pack_linears, packing_available
from model.nn.text import TextModel
from model.nn.vision import VisionTower


@dataclass
class VisionFeatures:
    """One image's contribution to the decoder."""

    embeds: torch.Tensor  # [n_tokens, text_hidden]: replaces the image's pad-token embeddings
    deepstack: list[torch.Tensor]  # per DeepStack layer, [n_tokens, text_hidden]: added after decoder layer i

    @property
    def num_tokens(self) -> int:
        """Pad tokens this image occupies."""
        return self.embeds.shape[0]


class Qwen3VL(nn.Module):
    """Qwen3-VL for conditional generation, batch size 1."""

    def __init__(self, config: Qwen3VLConfig, device=None):
        """Build all modules; `device` places the rotary tables (parameters follow the torch default
        device, which the loader sets to "meta" so weights are allocated only once, when loaded)."""
        super().__init__()
        self.config = config
        self.visual = VisionTower(config.vision, device=device)
        self.language_model = TextModel(config.text, device=device)
        self.lm_head = nn.Linear(config.text.hidden_size, config.text.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.language_model.embed_tokens.weight

    @property
    def device(self) -> torch.device:
        """Where the weights live."""
        return self.lm_head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        """The weights' dtype."""
        return self.lm_head.weight.dtype

    @property
    def matmul_layout(self) -> str:
        """"packed" (linear weights in oneDNN's blocked layout, CPU), "fused" (q/k/v and gate/up as one
        matrix each) or "plain"."""
        if any(isinstance(module, PackedLinear) and module.packed for module in self.modules()):
            return "packed"
        layers = self.language_model.layers
        return "fused" if layers and layers[0].self_attn.fused_qkv is not None else "plain"

    def prepare_matmuls(self, pack: bool = True) -> str:
        """Once the weights are loaded: on CPU (float32/bfloat16, when torch has oneDNN) pack every linear
        weight except the patch embedding's and a head tied to the embeddings (packing it would keep a
        second copy); elsewhere fuse q/k/v and gate/up into one matmul each -> the layout chosen."""
        if pack and packing_available(self.device, self.dtype):
            tied = self.lm_head.weight is self.language_model.embed_tokens.weight
            self.language_model.drop_fused_projections()  # each projection is packed on its own
            pack_linears(self, skip=(self.visual.patch_embed.proj, *((self.lm_head,) if tied else ())))
        else:
            self.language_model.fuse_projections()
        return self.matmul_layout

    @property
    def attention_backend(self) -> str:
        """One of model.nn.attention.BACKENDS ("sdpa", "flash", or a forced "sdpa_mask" / "lse_split")."""
        return self.language_model.attention.backend

    def set_attention_backend(self, backend: str) -> None:
        """Use `backend` for both towers (chosen once, at load time)."""
        self.visual.attention = Attention(backend)
        self.language_model.attention = Attention(backend)

    def _apply(self, fn, recurse=True):
        """After .to() / .half() etc., rebuild what is derived from the weights: the fused q/k/v and
        gate/up matrices, the rotary tables' device and the vision grid-table cache."""
        super()._apply(fn, recurse)
        if self.language_model.layers and self.language_model.layers[0].self_attn.fused_qkv is not None:
            self.language_model.fuse_projections()
        device = self.lm_head.weight.device
        if device.type != "meta":
            self.language_model.rotary.to(device)
            self.visual.rotary.to(device)
        self.visual.clear_table_cache()
        return self

    def new_cache(self, chunk: int = 256) -> KVCache:
        """An empty KV cache for this model."""
        return KVCache.for_model(self, chunk=chunk)

    @torch.inference_mode()
    def encode_images(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> list[VisionFeatures]:
        """pixel_values [P, C*T*p*p] (merge-block order), grid_thw [n, 3] -> one VisionFeatures per image."""
        grids = [tuple(int(x) for x in row) for row in grid_thw.tolist()]
        merged, deepstack = self.visual(pixel_values.to(self.device), grids)
        merge = self.config.vision.spatial_merge_size
        sizes = [t * (h // merge) * (w // merge) for t, h, w in grids]
        per_image = merged.split(sizes)
        per_layer = [features.split(sizes) for features in deepstack]
        return [
            VisionFeatures(embeds=per_image[i], deepstack=[layer[i] for layer in per_layer])
            for i in range(len(grids))
        ]

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor, cache: KVCache,
                images: Sequence[tuple[int, VisionFeatures]] = (),
                logits: Literal["last", "all"] = "last") -> torch.Tensor:
        """Run T new tokens after the cached prefix and append them to `cache`.
        input_ids [T], positions [3, T], images: (index in this chunk where the image's pad tokens
        start, its features) -> logits float32 [1, vocab] ("last") or [T, vocab] ("all")."""
        if logits not in ("last", "all"):
            raise ValueError(f"logits must be 'last' or 'all', got {logits!r}")
        input_ids = input_ids.to(self.device)
        embeds = self.language_model.embed_tokens(input_ids)  # [T, E]
        deepstack = []
        for start, features in images:
            span = slice(start, start + features.num_tokens)
            self._check_image_span(input_ids, span)
            embeds[span] = features.embeds.to(embeds.dtype)
            deepstack.append((span, features.deepstack))
        hidden = self.language_model(embeds, positions.to(self.device), cache, deepstack, last_only=logits == "last")
        return self.lm_head(hidden).float()

    def _check_image_span(self, input_ids: torch.Tensor, span: slice) -> None:
        """A block of features goes on a run of <|image_pad|> tokens or of <|video_pad|> tokens (one
        frame group of a video: groups are placed like images)."""
        pads = input_ids[span]
        config = self.config
        if span.stop > input_ids.shape[0] or not (bool((pads == config.image_token_id).all())
                                                 or bool((pads == config.video_token_id).all())):
            raise ValueError(f"image features for tokens {span.start}..{span.stop - 1} do not line up with "
                             f"<|image_pad|> (id {config.image_token_id}) or <|video_pad|> "
                             f"(id {config.video_token_id}) tokens in input_ids")
