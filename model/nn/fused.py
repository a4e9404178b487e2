"""Run several Linear layers that read the same input as one matmul.

q/k/v (and gate/up) projections are separate tensors in the checkpoint and keep their names here,
but after loading their weights are moved into one contiguous [sum(out), in] matrix and each Linear's
weight becomes a view into it. The state dict is unchanged; a forward pass does one GEMM instead of
three (two), which matters most when decoding one token at a time.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FusedLinear:
    """One weight matrix (and bias) whose row blocks are the weights of the original Linears."""

    def __init__(self, linears: list[nn.Linear]):
        """Concatenate the Linears' weights and re-point each Linear at its block of the result."""
        self.sizes = [layer.out_features for layer in linears]
        self.weight = torch.cat([layer.weight.detach() for layer in linears])  # [sum(out), in]
        has_bias = linears[0].bias is not None
        self.bias = torch.cat([layer.bias.detach() for layer in linears]) if has_bias else None
        for index, (layer, weight) in enumerate(zip(linears, self.weight.split(self.sizes))):
            layer.weight = nn.Parameter(weight, requires_grad=False)
            if has_bias:
                layer.bias = nn.Parameter(self.bias.split(self.sizes)[index], requires_grad=False)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x [T, in] -> one output per original Linear, each [T, out_i]."""
        return F.linear(x, self.weight, self.bias).split(self.sizes, dim=-1)

    def subset(self, x: torch.Tensor, first: int, stop: int) -> tuple[torch.Tensor, ...]:
        """Only the original Linears first..stop-1 on x [T, in], still as one matmul -> their outputs."""
        begin, end = sum(self.sizes[:first]), sum(self.sizes[:stop])
        bias = None if self.bias is None else self.bias[begin:end]
        return F.linear(x, self.weight[begin:end], bias).split(self.sizes[first:stop], dim=-1)
