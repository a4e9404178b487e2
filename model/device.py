"""Turn the user's `--device` / `--dtype` words into a torch device and dtype."""
from __future__ import annotations

import torch

DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}


def resolve_device_dtype(device: str | torch.device = "auto",
                         dtype: str | torch.dtype = "auto") -> tuple[torch.device, torch.dtype]:
    """"auto" device is cuda when available else cpu; "auto" dtype is bf16 on cuda, fp32 on cpu.
    float16 on CPU is refused (slow and poorly supported there)."""
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {str(device)!r} is not a torch device (try cpu, cuda, cuda:1)") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available")
    if isinstance(dtype, str):
        if dtype == "auto":
            dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        elif dtype in DTYPES:
            dtype = DTYPES[dtype]
        else:
            raise ValueError(f"dtype {dtype!r}: expected auto, float32, bfloat16 or float16")
    if device.type == "cpu" and dtype == torch.float16:
        raise ValueError("dtype float16 is not supported on CPU; use float32 or bfloat16")
    return device, dtype
