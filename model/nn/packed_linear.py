"""Linear layers whose weights are laid out once in oneDNN's blocked format (CPU, float32/bfloat16).

`F.linear` on CPU hands the plain [out, in] weight to a GEMM that re-blocks it on every call (MKL's
sgemm for float32). oneDNN can store the weight in the blocked order its kernels read, once, after
loading: the same arithmetic on the same values, faster. Measured on the 2-core AVX-512 VM at the
2B model's shapes (x [M, K] @ W[N, K]^T, medians): float32 M=1 (decode) 1.3-1.8x, M=7 4.6x, M=255
1.5x, M=1015 1.2x; bfloat16 M=1 1.8x, M=255..1015 1.03-1.1x. torch's own CPU freezing pass
(inductor) and IPEX pack weights the same way; here it is one module and no compiler.

A packed weight replaces the plain one (one copy in memory). It is an opaque MKLDNN tensor, so a
PackedLinear keeps the checkpoint's name (`...q_proj.weight`) but not as a parameter; .to()/.half()
unpack it, convert, and pack again when the result can still be packed (else it stays plain).
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

PACKABLE_DTYPES = (torch.float32, torch.bfloat16)


def packing_available(device: torch.device, dtype: torch.dtype) -> bool:
    """True when this torch build can pack and run CPU linears of `dtype` through oneDNN."""
    return torch.device(device).type == "cpu" and dtype in PACKABLE_DTYPES and _ops_work(dtype)


@functools.cache
def _ops_work(dtype: torch.dtype) -> bool:
    """The ops are torch-internal (what inductor's CPU freezing pass calls): check once per dtype that
    they exist and compute a small linear right, so another torch build falls back to plain weights."""
    ops = torch.ops.mkldnn
    if not (torch.backends.mkldnn.is_available() and hasattr(ops, "_reorder_linear_weight")
            and hasattr(ops, "_linear_pointwise")):
        return False
    if dtype == torch.bfloat16 and not ops._is_mkldnn_bf16_supported():
        return False
    weight = torch.arange(12, dtype=torch.float32).view(4, 3).to(dtype)
    x, bias = torch.ones(2, 3, dtype=dtype), torch.ones(4, dtype=dtype)
    try:
        out = ops._linear_pointwise(x, _pack(weight), bias, "none", [], "")
    except RuntimeError:
        return False
    return torch.equal(out, F.linear(x, weight, bias))


def _pack(weight: torch.Tensor) -> torch.Tensor:
    """Plain [out, in] -> oneDNN-blocked opaque tensor of the same shape and dtype."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), None)


class PackedLinear(nn.Module):
    """y = x W^T + b with W stored packed (or plain, after a move to where packing is not available)."""

    def __init__(self, linear: nn.Linear):
        """Pack `linear`'s weight; its bias (if any) is kept as a parameter."""
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight", _pack(linear.weight), persistent=False)
        self.bias = linear.bias

    @property
    def packed(self) -> bool:
        """Whether the weight is in oneDNN's blocked layout right now."""
        return self.weight.is_mkldnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., in] -> [..., out]."""
        if self.packed:
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        return F.linear(x, self.weight, self.bias)

    def plain_weight(self) -> torch.Tensor:
        """The weight as an ordinary [out, in] tensor (a copy when packed)."""
        return self.weight.to_dense() if self.packed else self.weight

    def _apply(self, fn, recurse=True):
        """Convert the unpacked weight, then pack it again where that is still possible."""
        weight = fn(self.plain_weight())
        self.weight = _pack(weight) if packing_available(weight.device, weight.dtype) else weight
        if self.bias is not None:
            self.bias = nn.Parameter(fn(self.bias.detach()), requires_grad=False)
        return self

    def extra_repr(self) -> str:
        """Shown by print(model)."""
        return f"in_features={self.in_features}, out_features={self.out_features}, packed={self.packed}"


def pack_linears(model: nn.Module, skip: tuple[nn.Module, ...] = ()) -> int:
    """Replace every nn.Linear under `model` (except the modules in `skip`) by a PackedLinear, in place
    -> how many were packed. Call once the weights are loaded; the caller checks packing_available."""
    names = [name for name, module in model.named_modules()
             if type(module) is nn.Linear and not any(module is kept for kept in skip)]
    for name in names:  # by name, holding no Linear: each plain weight is freed as soon as it is packed
        owner, _, attr = name.rpartition(".")
        parent = model.get_submodule(owner) if owner else model
        setattr(parent, attr, PackedLinear(getattr(parent, attr)))
    return len(names)
