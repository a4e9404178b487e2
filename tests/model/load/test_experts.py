"""Loading MoE checkpoints: the three ways experts are stored give the same model, and every tensor is
accounted for (a missing, surplus or misshapen expert tensor is an error that names it)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from model.errors import CheckpointError
from model.load.experts import stored_transposed
from model.load.loader import from_pretrained
from model.testing.tiny import EXPERT_LAYOUTS

LAYER0 = "model.language_model.layers.0.mlp.experts"


def _state(folder: Path) -> dict[str, torch.Tensor]:
    return from_pretrained(folder, device="cpu", dtype="float32").model.state_dict()


def _edit(folder: Path, tmp_path: Path, change) -> Path:
    """A copy of `folder` whose single safetensors file went through `change(tensors)`."""
    target = tmp_path / "edited"
    shutil.copytree(folder, target)
    (file,) = target.glob("*.safetensors")
    tensors = load_file(str(file))
    change(tensors)
    save_file(tensors, str(file), metadata={"format": "pt"})
    return target


# "moe": hidden 64, expert width 32, so gate_up is square ([8, 64, 64] both ways) and only down_proj
# tells the layouts apart; moe_intermediate_size 24 makes both tensors tell.
@pytest.mark.parametrize("overrides", [{}, {"text_config": {"moe_intermediate_size": 24}}],
                         ids=["square_gate_up", "rectangular"])
def test_every_expert_layout_loads_the_same_weights(tiny_checkpoint, overrides):
    states = {layout: _state(tiny_checkpoint("moe", expert_layout=layout, **overrides))
              for layout in EXPERT_LAYOUTS}
    fused = states["fused"]
    assert any(name.endswith("experts.gate_up_proj") for name in fused)
    for layout, state in states.items():
        assert state.keys() == fused.keys()
        different = [name for name in state if not torch.equal(state[name], fused[name])]
        assert different == [], layout


def test_per_expert_tensors_fill_gate_then_up_rows(tiny_checkpoint):
    folder = tiny_checkpoint("moe", expert_layout="per_expert")
    tensors = load_file(str(next(folder.glob("*.safetensors"))))
    stacked = _state(folder)["language_model.layers.0.mlp.experts.gate_up_proj"]  # [E, 2I, H]
    gate, up = tensors[f"{LAYER0}.3.gate_proj.weight"], tensors[f"{LAYER0}.3.up_proj.weight"]
    assert torch.equal(stacked[3], torch.cat([gate, up]))


def test_a_missing_expert_tensor_is_named(tiny_checkpoint, tmp_path):
    folder = _edit(tiny_checkpoint("moe", expert_layout="per_expert"), tmp_path,
                   lambda t: t.pop(f"{LAYER0}.5.up_proj.weight"))
    with pytest.raises(CheckpointError, match=r"1 parameter\(s\) the checkpoint does not fill: "
                                              r"language_model\.layers\.0\.mlp\.experts\.5\.up_proj\.weight"):
        from_pretrained(folder, device="cpu", dtype="float32")


def test_an_expert_beyond_num_experts_is_unused(tiny_checkpoint, tmp_path):
    def add_ninth(tensors):
        tensors[f"{LAYER0}.8.down_proj.weight"] = tensors[f"{LAYER0}.0.down_proj.weight"].clone()

    folder = _edit(tiny_checkpoint("moe", expert_layout="per_expert"), tmp_path, add_ninth)
    with pytest.raises(CheckpointError, match=r"1 checkpoint tensor\(s\) the model does not use: "
                                              rf"{LAYER0}\.8\.down_proj\.weight"):
        from_pretrained(folder, device="cpu", dtype="float32")


def test_experts_stored_both_fused_and_per_expert_are_surplus(tiny_checkpoint, tmp_path):
    def add_copy(tensors):
        tensors[f"{LAYER0}.2.down_proj.weight"] = tensors[f"{LAYER0}.down_proj"][2].clone()

    folder = _edit(tiny_checkpoint("moe"), tmp_path, add_copy)
    with pytest.raises(CheckpointError, match=rf"does not use: {LAYER0}\.2\.down_proj\.weight"):
        from_pretrained(folder, device="cpu", dtype="float32")


def test_a_misshapen_fused_tensor_is_named(tiny_checkpoint, tmp_path):
    def shrink(tensors):
        tensors[f"{LAYER0}.down_proj"] = tensors[f"{LAYER0}.down_proj"][:, :, :-1].clone()

    folder = _edit(tiny_checkpoint("moe"), tmp_path, shrink)
    with pytest.raises(CheckpointError, match=rf"tensor {LAYER0}\.down_proj: shape \(8, 64, 31\) fits neither"):
        from_pretrained(folder, device="cpu", dtype="float32")


def test_the_partner_tensor_decides_a_square_layout():
    gate_up, down = "l.0.mlp.experts.gate_up_proj", "l.0.mlp.experts.down_proj"
    # hidden 64, width 32: gate_up [4, 64, 64] either way; down [4, 64, 32] ours, [4, 32, 64] transposed
    assert stored_transposed(gate_up, (4, 64, 64), (4, 32, 64), (4, 64, 64))
    assert not stored_transposed(gate_up, (4, 64, 64), (4, 64, 32), (4, 64, 64))
    # hidden 32, width 32: down square; gate_up [4, 64, 32] ours, [4, 32, 64] transposed
    assert stored_transposed(down, (4, 32, 32), (4, 32, 64), (4, 32, 32))
    assert not stored_transposed(down, (4, 32, 32), (4, 64, 32), (4, 32, 32))
    assert stored_transposed(down, (4, 24, 64), None, (4, 64, 24))  # rectangular: decides alone
