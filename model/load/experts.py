"""How MoE checkpoints store their experts, and how the loader turns that into our stacked weights.

Our parameters (model/nn/moe.py) are `...mlp.experts.gate_up_proj` [E, 2I, H] and `...mlp.experts.down_proj`
[E, H, I]. Checkpoints come in three layouts:

    fused, as transformers 5.x saves them      gate_up_proj [E, 2I, H], down_proj [E, H, I]   (ours)
    fused, released checkpoints / 4.57         gate_up_proj [E, H, 2I], down_proj [E, I, H]   (transposed)
    one tensor per expert (older exports)      experts.{i}.gate_proj.weight [I, H], up_proj [I, H],
                                               down_proj [H, I]  -> rows of expert i in the stacked tensor

A layer's two fused tensors share one layout. Each alone can be ambiguous (H == 2I for gate_up, H == I
for down) but never both, so the pair decides.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

# Per-expert checkpoint tensor -> (our stacked parameter, which half of expert i's rows it fills:
# 0 = the first I rows, 1 = the last I rows, None = all rows).
EXPERT_PIECES: dict[str, tuple[str, int | None]] = {
    "gate_proj": ("gate_up_proj", 0),
    "up_proj": ("gate_up_proj", 1),
    "down_proj": ("down_proj", None),
}
_PIECE = re.compile(r"^(?P<bank>.+\.mlp\.experts)\.(?P<expert>\d+)\.(?P<part>gate_proj|up_proj|down_proj)\.weight$")
STACKED_NAMES = ("gate_up_proj", "down_proj")


@dataclass(frozen=True)
class ExpertPiece:
    """One per-expert checkpoint tensor's place in a stacked parameter."""

    param: str  # our stacked parameter, e.g. language_model.layers.0.mlp.experts.gate_up_proj
    expert: int
    half: int | None  # see EXPERT_PIECES

    def rows(self, stacked_rows: int) -> slice:
        """The rows of expert `expert`'s matrix this piece fills, given the stacked matrix's row count."""
        if self.half is None:
            return slice(0, stacked_rows)
        size = stacked_rows // 2
        return slice(self.half * size, (self.half + 1) * size)


def expert_piece(name: str, param_shapes: dict[str, tuple[int, ...]]) -> ExpertPiece | None:
    """The piece a (renamed) per-expert checkpoint key fills, or None when it names no expert we have."""
    match = _PIECE.match(name)
    if match is None:
        return None
    stacked, half = EXPERT_PIECES[match["part"]]
    param = f"{match['bank']}.{stacked}"
    expert = int(match["expert"])
    if param not in param_shapes or expert >= param_shapes[param][0]:
        return None
    return ExpertPiece(param, expert, half)


def piece_names(param: str, shape: tuple[int, ...]) -> list[str]:
    """The per-expert (renamed) key names that together fill stacked parameter `param` of `shape`."""
    bank, _, stacked = param.rpartition(".")
    parts = [part for part, (target, _) in EXPERT_PIECES.items() if target == stacked]
    return [f"{bank}.{expert}.{part}.weight" for expert in range(shape[0]) for part in parts]


def is_stacked(param: str) -> bool:
    """Whether `param` is one of our stacked expert tensors."""
    bank, _, stacked = param.rpartition(".")
    return bank.endswith(".mlp.experts") and stacked in STACKED_NAMES


def partner(param: str) -> str:
    """The other stacked tensor of the same layer (gate_up_proj <-> down_proj)."""
    bank, _, stacked = param.rpartition(".")
    return f"{bank}.{STACKED_NAMES[1 - STACKED_NAMES.index(stacked)]}"


def stored_transposed(param: str, stored: tuple[int, ...], partner_stored: tuple[int, ...] | None,
                      expected: tuple[int, ...]) -> bool:
    """Whether fused tensor `param` (stored shape `stored`; its partner's stored shape, if fused too) is in
    the transposed layout. Raises ValueError when the shapes fit neither layout."""
    transposed = (expected[0], expected[2], expected[1])
    if stored not in (expected, transposed):
        raise ValueError(f"shape {stored} fits neither {expected} nor its transposed layout {transposed}")
    if expected != transposed:  # not square: the tensor decides alone
        return stored == transposed
    if partner_stored is None:  # square and nothing to compare with: taken as ours, as transformers does
        return False
    # Square here means the partner is not: its stored shape decides for both.
    if param.endswith("gate_up_proj"):  # expected [E, 2I, H]; partner down_proj transposed is [E, I, H]
        experts, rows, hidden = expected
        partner_transposed = (experts, rows // 2, hidden)
    else:  # expected [E, H, I]; partner gate_up_proj transposed is [E, H, 2I]
        experts, hidden, intermediate = expected
        partner_transposed = (experts, hidden, 2 * intermediate)
    return tuple(partner_stored) == partner_transposed


def unfilled(param: str, shape: tuple[int, ...], planned: dict) -> list[str]:
    """What the checkpoint still lacks for parameter `param`: [] when planned whole; for a stacked expert
    tensor that some per-expert tensors fill, the per-expert names not planned; else [param]."""
    if param in planned:
        return []
    if not is_stacked(param):
        return [param]
    pieces = piece_names(param, shape)
    absent = [piece for piece in pieces if piece not in planned]
    return absent if len(absent) < len(pieces) else [param]


def surplus_pieces(planned: dict, param_shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Per-expert names planned for a stacked tensor that the checkpoint also stores fused (one is unused)."""
    return [piece for param in planned if is_stacked(param)
            for piece in piece_names(param, param_shapes[param]) if piece in planned]


class ExpertStacks:
    """Builds stacked expert tensors while the loader streams checkpoint tensors."""

    def __init__(self, param_shapes: dict[str, tuple[int, ...]], stored_shapes: dict[str, tuple[int, ...]]):
        """param_shapes: our parameters; stored_shapes: the checkpoint's shapes of fused expert tensors."""
        self.param_shapes, self.stored_shapes = param_shapes, stored_shapes
        self.stacks: dict = {}  # stacked parameter -> tensor being filled from per-expert pieces

    def add_piece(self, name: str, tensor, device, dtype) -> bool:
        """Copy per-expert tensor `name` into its stack -> False when `name` is no per-expert tensor."""
        piece = expert_piece(name, self.param_shapes)
        if piece is None:
            return False
        shape = self.param_shapes[piece.param]
        if piece.param not in self.stacks:
            self.stacks[piece.param] = torch.empty(shape, device=device, dtype=dtype)
        target = self.stacks[piece.param][piece.expert, piece.rows(shape[1])]
        if tuple(tensor.shape) != tuple(target.shape):
            raise ValueError(f"shape {tuple(tensor.shape)}, expected {tuple(target.shape)} for expert "
                             f"{piece.expert} of {piece.param}")
        target.copy_(tensor)
        return True

    def orient(self, name: str, tensor):
        """A fused expert tensor in our layout (transposed if stored the other way); others unchanged."""
        if not is_stacked(name):
            return tensor
        transposed = stored_transposed(name, tuple(tensor.shape), self.stored_shapes.get(partner(name)),
                                       self.param_shapes[name])
        return tensor.transpose(1, 2).contiguous() if transposed else tensor

    def finished(self) -> dict:
        """The stacks filled from per-expert tensors: parameter name -> tensor."""
        return self.stacks
