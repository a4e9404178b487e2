"""Turn the user's `--device` / `--dtype` words into a torch device and dtype."""
from __future__ import annotations

import torch

from model.errors import DeviceError

DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}


def resolve_device_dtype(device: str | torch.device = "auto",
                         dtype: str | torch.dtype = "auto") -> tuple[torch.device, torch.dtype]:
    """"auto" device is cuda when available else cpu; "auto" dtype is bf16 on cuda, fp32 on cpu.
    float16 on CPU is refused (slow and poorly supported there). Anything unusable raises DeviceError."""
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except RuntimeError as error:
        raise DeviceError(f"--device {str(device)!r} is not a torch device (try auto, cpu, cuda, cuda:1)") from error
    if device.type == "cuda":
        _require_cuda(device)
    elif device.type != "cpu":
        raise DeviceError(f"--device {str(device)!r}: only cpu and cuda devices are supported")
    if isinstance(dtype, str):
        if dtype == "auto":
            dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        elif dtype in DTYPES:
            dtype = DTYPES[dtype]
        else:
            raise DeviceError(f"--dtype {dtype!r}: expected auto, float32, bfloat16 or float16")
    if device.type == "cpu" and dtype == torch.float16:
        raise DeviceError("--dtype float16 is not supported on CPU; use float32 or bfloat16")
    return device, dtype


def _require_cuda(device: torch.device) -> None:
    """A DeviceError that says why CUDA is unusable and what to install, unless `device` is usable."""
    if torch.version.cuda is None:
        raise DeviceError(
            f"--device {device} requested, but this torch {torch.__version__} is a CPU-only build. Install a "
            "CUDA build of torch (README: 'GPU install') or run with --device cpu (or auto)."
        )
    if not torch.cuda.is_available():
        raise DeviceError(
            f"--device {device} requested, but torch {torch.__version__} (CUDA {torch.version.cuda}) finds no "
            "usable GPU: check `nvidia-smi` and the NVIDIA driver, or run with --device cpu (or auto)."
        )
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                          f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
