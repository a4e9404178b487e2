"""The sparse Mixture-of-Experts block of Qwen3-VL-MoE (30B-A3B, 235B-A22B).

A router (`gate`, a bias-free Linear) scores every expert for every token; the top k experts by
softmax probability run on that token and their outputs are summed with the probabilities as weights
(renormalised to sum to 1 unless the config sets norm_topk_prob false). Experts are SwiGLU MLPs whose
weights are stacked in two tensors, named as the fused checkpoints name them:

    experts.gate_up_proj [E, 2*I, H]   rows 0..I-1 are the gate projection, I..2I-1 the up projection
    experts.down_proj    [E, H, I]

Work is grouped by expert: the (token, choice) slots are sorted by expert once, and each expert that got
tokens runs its matmuls once over all of them. A decode step (one token) touches only its k experts.
Shapes: T tokens, H hidden, E experts, k experts per token, I expert intermediate size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.load.config import TextConfig


class Experts(nn.Module):
    """E SwiGLU experts with stacked weights (see the module docstring for the layout)."""

    def __init__(self, num_experts: int, hidden: int, intermediate: int):
        """Uninitialised stacked weights (they come from the checkpoint)."""
        super().__init__()
        self.intermediate = intermediate
        self.gate_up_proj = nn.Parameter(torch.empty(num_experts, 2 * intermediate, hidden))
        self.down_proj = nn.Parameter(torch.empty(num_experts, hidden, intermediate))

    def run_grouped(self, x: torch.Tensor, counts: list[int]) -> torch.Tensor:
        """x [N, H] with rows grouped by expert (counts[e] rows for expert e, in order) -> [N, H].
        Per expert only its two matmuls; the activation runs once over all rows (few kernel launches,
        which matters on a busy CPU where every parallel region waits for its threads)."""
        gate_up = x.new_empty(x.shape[0], 2 * self.intermediate)  # [N, 2I]
        for expert, rows in self._groups(counts):
            torch.mm(x[rows], self.gate_up_proj[expert].t(), out=gate_up[rows])
        hidden = F.silu(gate_up[:, :self.intermediate], inplace=True).mul_(gate_up[:, self.intermediate:])
        out = x.new_empty(x.shape)
        for expert, rows in self._groups(counts):
            torch.mm(hidden[rows], self.down_proj[expert].t(), out=out[rows])
        return out

    @staticmethod
    def _groups(counts: list[int]):
        """(expert, row slice) for each expert with rows, in order."""
        start = 0
        for expert, count in enumerate(counts):
            if count:  # experts no token chose never run
                yield expert, slice(start, start + count)
                start += count


def route(logits: torch.Tensor, top_k: int, normalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Router logits [T, E] -> (weights [T, k] in the logits' dtype, expert ids [T, k]).
    Softmax in float32 over all experts, keep the k largest, optionally rescale them to sum to 1."""
    probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
    weights, experts = torch.topk(probs, top_k, dim=-1)
    if normalize:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights.to(logits.dtype), experts


class SparseMoeBlock(nn.Module):
    """Router + top-k experts, in place of the dense MLP in a sparse decoder layer."""

    def __init__(self, config: TextConfig):
        """Router `gate` [E, H] and the stacked experts."""
        super().__init__()
        self.top_k, self.normalize = config.num_experts_per_tok, config.norm_topk_prob
        self.gate = nn.Linear(config.hidden_size, config.num_experts, bias=False)
        self.experts = Experts(config.num_experts, config.hidden_size, config.moe_intermediate_size)

    def fuse_projections(self) -> None:
        """Nothing to fuse: each expert's gate and up are already one matrix."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[T, H] -> [T, H]."""
        tokens, hidden = x.shape
        weights, chosen = route(self.gate(x), self.top_k, self.normalize)  # [T, k] each
        slots = chosen.flatten()  # [T*k]: slot s is token s // k's choice number s % k
        order = torch.argsort(slots, stable=True)  # slots grouped by expert, in token order within one
        slot_tokens = order // self.top_k  # [T*k]: the token of each sorted slot
        counts = torch.bincount(slots, minlength=self.gate.out_features).tolist()
        outputs = self.experts.run_grouped(x.index_select(0, slot_tokens), counts)  # [T*k, H], sorted slots
        # Back to slot order (a row gather: CPU index_add_ / scatter is far slower), then the weighted sum.
        per_slot = outputs.index_select(0, torch.argsort(order)).view(tokens, self.top_k, hidden)
        return torch.bmm(weights.unsqueeze(1), per_slot).view(tokens, hidden)  # sum_k weight_k * output_k
