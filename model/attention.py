"""Attention kernels, chosen once per loaded model.

Two backends:
- "sdpa": torch.nn.functional.scaled_dot_product_attention, everywhere (CPU and CUDA). Vision attention
  runs one SDPA call per image, never a dense block-diagonal mask over all images.
- "flash": flash-attn 2 on CUDA in fp16/bf16 when the package imports. Vision uses the varlen kernel
  with cu_seqlens; the decoder uses flash_attn_with_kvcache on our cache storage.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

BACKENDS = ("sdpa", "flash")


def flash_attn_available() -> bool:
    """True when the flash_attn package imports."""
    try:
        import flash_attn  # noqa: F401
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
    return requested


class Attention:
    """The two attention shapes the model needs, bound to one backend."""

    def __init__(self, backend: str = "sdpa"):
        """Bind to `backend` ("sdpa" or "flash")."""
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
            q_i, k_i, v_i = (t[span].transpose(0, 1)[None] for t in (q, k, v))
            outputs.append(F.scaled_dot_product_attention(q_i, k_i, v_i)[0].transpose(0, 1))
            start += length
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=0)

    def causal(self, q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, past: int) -> torch.Tensor:
        """q [T, H, D] for positions past..past+T-1; k/v_cache [1, Hkv, capacity, D] already holding
        those T keys after `past` cached ones. Each query sees every key up to its own position -> [T, H, D]."""
        total = past + q.shape[0]
        if self.backend == "flash":
            return _flash_with_kvcache(q, k_cache, v_cache, total)
        keys, values = k_cache[:, :, :total], v_cache[:, :, :total]  # [1, Hkv, L, D]
        tokens, heads, dim = q.shape
        kv_heads = keys.shape[1]
        if tokens == 1:
            # One query sees every key: fold each KV head's query heads into the "length" axis
            # ([1, Hkv, H/Hkv, D]) so GQA needs neither a repeated cache nor a mask.
            out = F.scaled_dot_product_attention(q.reshape(1, kv_heads, heads // kv_heads, dim), keys, values)
            return out.reshape(1, heads, dim)
        queries = q.transpose(0, 1)[None]  # [1, H, T, D]
        if past == 0:
            out = F.scaled_dot_product_attention(queries, keys, values, is_causal=True, enable_gqa=heads != kv_heads)
        else:
            if heads != kv_heads:  # GQA with a mask: give each query head its own copy of its KV head
                keys = keys.repeat_interleave(heads // kv_heads, dim=1)
                values = values.repeat_interleave(heads // kv_heads, dim=1)
            # Bottom-right aligned causal mask: query i (absolute past+i) sees keys 0..past+i.
            query_pos = torch.arange(past, total, device=q.device)[:, None]
            mask = torch.arange(total, device=q.device)[None, :] <= query_pos  # [T, L]
            out = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask)
        return out[0].transpose(0, 1)


def _flash_varlen(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    from flash_attn import flash_attn_varlen_func

    cu_seqlens = torch.tensor([0, *lengths], device=q.device, dtype=torch.int32).cumsum(0, dtype=torch.int32)
    longest = max(lengths)
    return flash_attn_varlen_func(q, k, v, cu_seqlens, cu_seqlens, longest, longest, causal=False)


def _flash_with_kvcache(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, total: int) -> torch.Tensor:
    from flash_attn import flash_attn_with_kvcache

    # flash-attn wants [B, capacity, Hkv, D]; a transposed view of our [1, Hkv, capacity, D] storage keeps
    # the last dimension contiguous, which is all the kernel requires (it reads the other strides).
    seqlens = torch.full((1,), total, device=q.device, dtype=torch.int32)
    out = flash_attn_with_kvcache(
        q[None], k_cache.transpose(1, 2), v_cache.transpose(1, 2), cache_seqlens=seqlens, causal=True
    )  # causal with seqlen_q < seqlen_k is bottom-right aligned in flash-attn >= 2.1
    return out[0]
