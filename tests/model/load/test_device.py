"""model/load/device.py: the --device / --dtype words a person types, resolved or refused by name."""
from __future__ import annotations

import pytest
import torch

from model.load.device import resolve_device_dtype


def test_auto_picks_cpu_float32_without_cuda():
    if torch.cuda.is_available():
        assert resolve_device_dtype("auto", "auto") == (torch.device("cuda"), torch.bfloat16)
    else:
        assert resolve_device_dtype("auto", "auto") == (torch.device("cpu"), torch.float32)
    assert resolve_device_dtype("cpu", "bf16") == (torch.device("cpu"), torch.bfloat16)


def test_bad_device_and_dtype_are_named():
    from model.errors import DeviceError

    with pytest.raises(ValueError, match="float16 is not supported on CPU"):
        resolve_device_dtype("cpu", "float16")
    with pytest.raises(ValueError, match="dtype 'float8'"):
        resolve_device_dtype("cpu", "float8")
    with pytest.raises(ValueError, match="'gpu0' is not a torch device"):
        resolve_device_dtype("gpu0", "auto")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match=r"--device cuda requested, but .*(CPU-only build|finds no usable GPU)"):
            resolve_device_dtype("cuda", "auto")
    with pytest.raises(DeviceError, match="only cpu and cuda devices are supported"):
        resolve_device_dtype("mps", "auto")
