"""The ``--device`` choice of ``mccgan train`` and ``mccgan fuse`` turned into a torch device."""

from __future__ import annotations

import torch

from mccgan.errors import ConfigError


def pick_device(device: str) -> torch.device:
    """``auto``: CUDA, then Apple's MPS, then CPU; an unavailable device is a clear error."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA GPU is available here; use --device cpu or auto")
    if device == "mps" and not has_mps:
        raise ConfigError(
            "--device mps: Apple's MPS is not available here; use --device cpu or auto"
        )
    return torch.device(device)
