"""Checkpoint files written straight to disk, atomically.

Lightning's default ``TorchCheckpointIO`` serialises a checkpoint into memory before writing it
(``_atomic_save``): for the paper's networks (57 M parameters and Adam's two moments, ~700 MB)
that buffer and its copy are the peak of a CPU run's memory. This one streams ``torch.save``
into a temporary file beside the target and renames it into place, so a checkpoint is still
never seen half-written, and a failure leaves no temporary file.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from sen_preproc.interrupts import remove_stale_temporaries, temporary_path
from sen_preproc.outputs import writing


class StreamingCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` for local paths, without the in-memory buffer."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        target = Path(path)
        if storage_options is not None or "://" in str(path):  # remote: Lightning's own way
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        save_atomically(checkpoint, target)


def save_atomically(document: Any, path: Path) -> Path:
    """``torch.save`` into a temporary file beside ``path``, then rename it into place."""
    remove_stale_temporaries(path)
    tmp = temporary_path(path, "part")
    try:
        with writing(path, hold_native=False):  # torch reports by exception; no fd juggling
            try:
                torch.save(document, tmp)
            except RuntimeError as err:  # torch's writer reports a full disk as RuntimeError
                raise OSError(errno.EIO, f"torch.save failed ({err})", str(tmp)) from err
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
