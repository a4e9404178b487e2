"""Attention kernels, chosen once per loaded model.

Backends (the last two force one way of attending a chunk after a cached prefix, on any device that
has it, so tests cover every path on CPU):
- "sdpa": torch.nn.functional.scaled_dot_product_attention, everywhere (CPU and CUDA). Vision attention
  runs one SDPA call per image, never a dense block-diagonal mask over all images. The decoder never
  copies the cache for GQA (query heads are folded or SDPA's enable_gqa is used), and a decode step needs
  no mask; a chunk after a cached prefix uses exact split attention on CPU (prefix unmasked + causal
  chunk, merged by log-sum-exp) and a bottom-right causal mask elsewhere.
- "flash": flash-attn 2 on CUDA in fp16/bf16 when the package imports. Vision uses the varlen kernel
  with cu_seqlens; the decoder uses flash_attn_with_kvcache on our cache storage.
- "sdpa_mask": "sdpa" with the bottom-right causal mask after a prefix (what CUDA without flash-attn runs).
- "lse_split": "sdpa" with the log-sum-exp split after a prefix (CPU only: its kernel is a CPU op).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

BACKENDS = ("sdpa", "flash", "sdpa_mask", "lse_split")

# The CPU flash-attention kernel behind SDPA, called directly because it also returns the log-sum-exp
# that split attention needs to merge its parts; it takes (q, k, v, dropout_p, is_causal) and returns
# (out [B, H, T, D], lse [B, H, T]; lse is float32, or float64 for float64 inputs). None where this torch
# build lacks it: the masked SDPA path is used then.
_CPU_FLASH_WITH_LSE = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def flash_attn_available() -> bool:
    """True when the flash_attn package imports."""
    try:
        import flash_attn  # noqa: F401  # optional (the gpu extra): probed, never required
    except Exception:  # ImportError, or a CUDA/ABI mismatch raised at import time
        return False
    return True


def choose_backend(device: torch.device, dtype: torch.dtype, requested: str = "auto") -> str:
    """Pick "flash" on CUDA with a half dtype and flash-attn installed, else "sdpa"."""
    flash_ok = device.type == "cuda" and dtype in (torch.float16, torch.bfloat16) and flash_attn_available()
    if requested == "auto":
        return "flash" if flash_ok else "sdpa"
    if requested not in BACKENDS:
        raise ValueError(f"attention backend {requested!r}: expected one of auto, {', '.join(BACKENDS)}")
    if requested == "flash" and not flash_ok:
        raise ValueError("attention backend 'flash' needs CUDA, float16/bfloat16 and the flash-attn package")
    if requested == "lse_split" and (device.type != "cpu" or _CPU_FLASH_WITH_LSE is None):
        raise ValueError("attention backend 'lse_split' needs a CPU device and torch's CPU flash-attention kernel")
    return requested


class Attention:
    """The two attention shapes the model needs, bound to one backend."""

    def __init__(self, backend: str = "sdpa"):
        """Bind to `backend` (one of BACKENDS)."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown attention backend {backend!r}")
        self.backend = backend

    def vision(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        """Bidirectional attention within each image. q/k/v [N, H, D] packed; lengths sum to N -> [N, H, D]."""
        if self.backend == "flash":
            return _flash_varlen(q, k, v, lengths)
        outputs, start = [], 0
        for length in lengths:
            span = slice(start, start + length)
            # [n, H, D] -> [1, H, n, D] for SDPA (its CPU kernels are much slower on 3D inputs), and back.
            # Contiguous copies cost less than the kernel's strided reads over n x n blocks (~4% at n=4000).
            q_i, k_i, v_i = (t[span].transpose(0, 1).contiguous()[None] for t in (q, k, v))
            outputs.append(F.scaled_dot_product_attention(q_i, k_i, v_i)[0].transpose(0, 1))
            start += length
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)

    def causal(self, q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, past: int) -> torch.Tensor:
        """q [T, H, D] for positions past..past+T-1; k/v_cache [1, Hkv, capacity, D] already holding
        those T keys after `past` cached ones. Each query sees every key up to its own position -> [T, H, D]."""
        total = past + q.shape[0]
        if self.backend == "flash":
            return _flash_with_kvcache(q, k_cache, v_cache, total)
        keys, values = k_cache[:, :, :total], v_cache[:, :, :total]  # [1, Hkv, L, D] views, never copied
        if q.shape[0] == 1:
            return _one_query(q, keys, values)
        if past == 0:
            out = F.scaled_dot_product_attention(_heads_first(q), keys, values, is_causal=True,
                                                 enable_gqa=q.shape[1] != keys.shape[1])
            return out[0].transpose(0, 1)
        if self.backend == "lse_split" or (self.backend == "sdpa" and q.is_cpu and _CPU_FLASH_WITH_LSE is not None):
            return _chunk_after_prefix(q, keys, values, past)
        return _masked_chunk_after_prefix(q, keys, values, past)


def _heads_first(q: torch.Tensor) -> torch.Tensor:
    """[T, H, D] -> [1, H, T, D], the layout SDPA takes."""
    return q.transpose(0, 1)[None]


def _fold_groups(q: torch.Tensor, kv_heads: int) -> torch.Tensor:
    """[T, H, D] -> [1, Hkv, G*T, D] (G = H/Hkv query heads per KV head, rows ordered g-major). Without a
    mask, the G query heads of one KV head are just more rows against the same keys: no repeated cache."""
    tokens, heads, dim = q.shape
    return q.view(tokens, kv_heads, heads // kv_heads, dim).permute(1, 2, 0, 3).reshape(1, kv_heads, -1, dim)


def _one_query(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A decode step: q [1, H, D] sees every key of keys/values [1, Hkv, L, D], so no mask -> [1, H, D]."""
    out = F.scaled_dot_product_attention(_fold_groups(q, keys.shape[1]), keys, values)  # [1, Hkv, G, D]
    return out.reshape(1, *q.shape[1:])


def _chunk_after_prefix(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, past: int) -> torch.Tensor:
    """Exact split attention (CPU) for T > 1 new queries q [T, H, D] after `past` cached keys -> [T, H, D].

    Every new query sees the whole prefix (no mask: queries folded per KV head) and the new keys causally
    (is_causal on the square T x T block). The two partial softmaxes merge through their log-sum-exps:
    out = sum_i exp(lse_i - lse) * out_i with lse = logaddexp(lse_prefix, lse_chunk). This never builds
    the dense [T, past+T] mask, which SDPA would also expand to a float tensor in every layer."""
    tokens, heads, dim = q.shape
    kv_heads = keys.shape[1]
    group = heads // kv_heads
    # Prefix: [1, Hkv, G*T, D] against [1, Hkv, past, D]; rows g-major, so a reshape restores [H, T].
    prefix_keys, prefix_values = keys[:, :, :past], values[:, :, :past]
    prefix_out, prefix_lse = _CPU_FLASH_WITH_LSE(_fold_groups(q, kv_heads), prefix_keys, prefix_values)
    prefix_out, prefix_lse = prefix_out.reshape(heads, tokens, dim), prefix_lse.reshape(heads, tokens, 1)
    # Chunk: only the T new keys, so giving each query head its own copy is cheap ([1, H, T, D]).
    new_keys = keys[:, :, past:].repeat_interleave(group, dim=1)
    new_values = values[:, :, past:].repeat_interleave(group, dim=1)
    chunk_out, chunk_lse = _CPU_FLASH_WITH_LSE(_heads_first(q), new_keys, new_values, is_causal=True)
    chunk_out, chunk_lse = chunk_out[0], chunk_lse[0, :, :, None]  # [H, T, D], [H, T, 1]
    lse = torch.logaddexp(prefix_lse, chunk_lse)  # float32 for half inputs too: merge at that precision
    out = prefix_out * (prefix_lse - lse).exp() + chunk_out * (chunk_lse - lse).exp()
    return out.to(q.dtype).transpose(0, 1)


def _masked_chunk_after_prefix(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                               past: int) -> torch.Tensor:
    """SDPA with a bottom-right aligned causal mask (devices without the CPU kernel) -> [T, H, D]."""
    total = keys.shape[2]
    # Query i (absolute position past+i) sees keys 0..past+i: a [T, L] bool mask, broadcast over heads.
    mask = torch.arange(total, device=q.device)[None, :] <= torch.arange(past, total, device=q.device)[:, None]
    out = F.scaled_dot_product_attention(_heads_first(q), keys, values, attn_mask=mask,
                                         enable_gqa=q.shape[1] != keys.shape[1])
    return out[0].transpose(0, 1)


def _flash_varlen(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    from flash_attn import flash_attn_varlen_func  # optional (the gpu extra): only the "flash" backend runs this

    cu_seqlens = torch.tensor([0, *lengths], device=q.device, dtype=torch.int32).cumsum(0, dtype=torch.int32)
    longest = max(lengths)
    return flash_attn_varlen_func(q, k, v, cu_seqlens, cu_seqlens, longest, longest, causal=False)


def _flash_with_kvcache(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, total: int) -> torch.Tensor:
    from flash_attn import flash_attn_with_kvcache  # optional (the gpu extra): only the "flash" backend runs this

    # flash-attn wants [B, capacity, Hkv, D]; a transposed view of our [1, Hkv, capacity, D] storage keeps
    # the last dimension contiguous, which is all the kernel requires (it reads the other strides).
    seqlens = torch.full((1,), total, device=q.device, dtype=torch.int32)
    out = flash_attn_with_kvcache(
        q[None], k_cache.transpose(1, 2), v_cache.transpose(1, 2), cache_seqlens=seqlens, causal=True
    )  # causal with seqlen_q < seqlen_k is bottom-right aligned in flash-attn >= 2.1
    return out[0]
