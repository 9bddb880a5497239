"""The self-contained model file (``model.pt``) for inference: weights and all it needs.

A plain dict of tensors and primitive values, so ``torch.load(path, weights_only=True)`` reads
it without executing anything: ``format`` ``mccgan-model``, ``format_version``, ``model`` (the
registry name), ``generator`` (constructor arguments), ``state_dict`` (the generator's weights,
float32), ``bands`` (``inputs`` and ``target`` band names, in channel order),
``normalisation``, ``config`` (the training configuration), ``datasets`` (what it was trained
on), ``metrics`` (the best validation metrics), ``patch_px`` (the training patch size, the
tile size of ``mccgan fuse``), ``mccgan_version``, ``senprep_version`` and a SHA-256
``checksum`` of the weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mccgan import __version__
from mccgan.errors import CheckpointError
from mccgan.registry import model_spec
from mccgan.training.checkpoint_io import save_atomically
from sen_preproc import __version__ as senprep_version

FORMAT = "mccgan-model"
FORMAT_VERSION = 1


def weights_checksum(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the names, shapes, dtypes and bytes of the tensors, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def export_model(
    path: Path,
    generator: nn.Module,
    *,
    model: str,
    generator_options: Mapping[str, Any],
    bands: Mapping[str, Sequence[str]],
    normalisation: Mapping[str, Any],
    config: Mapping[str, Any],
    datasets: Sequence[Mapping[str, Any]] = (),
    metrics: Mapping[str, float] | None = None,
    patch_px: int = 256,
) -> Path:
    """Write ``model.pt`` atomically (temporary file, then rename)."""
    state = {k: v.detach().cpu().float() if v.is_floating_point() else v.detach().cpu()
             for k, v in generator.state_dict().items()}  # fmt: skip
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model,
        "generator": dict(generator_options),
        "state_dict": state,
        "bands": {k: list(v) for k, v in bands.items()},
        "normalisation": dict(normalisation),
        "config": dict(config),
        "datasets": [dict(d) for d in datasets],
        "metrics": dict(metrics or {}),
        "patch_px": int(patch_px),
        "mccgan_version": __version__,
        "senprep_version": senprep_version,
        "checksum": weights_checksum(state),
    }
    return save_atomically(document, path)


def load_model(
    path: Path, *, target_bands: Sequence[str] | None = None, device: str = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Read ``model.pt`` (``weights_only=True``), check it and build the generator (eval mode).

    Raises
    ------
    CheckpointError
        Not a model file, a newer format, a bad checksum, or ``target_bands`` differing from
        the model's.
    """
    try:
        document = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError as err:
        raise CheckpointError(
            f"{path}: no such model file; give the model.pt of an mccgan run"
        ) from err
    except Exception as err:  # torch raises many types for a file that is not a checkpoint
        first = " ".join(str(err).split()).split(". ")[0][:160]
        raise CheckpointError(
            f"{path}: not a readable model file ({type(err).__name__}: {first}); give the "
            "model.pt that mccgan train wrote"
        ) from err
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an mccgan model file; export one with mccgan train")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: model format {version} is newer than this mccgan reads ({FORMAT_VERSION}); "
            "upgrade mccgan"
        )
    from mccgan.data import Normalisation

    def incomplete(err: Exception) -> CheckpointError:
        detail = " ".join(str(err).split())[:160]
        return CheckpointError(
            f"{path}: the model file is incomplete or inconsistent ({type(err).__name__}: "
            f"{detail}); export it again with mccgan train"
        )

    try:  # the document's own entries (our code below keeps its tracebacks)
        state = document["state_dict"]
        Normalisation.from_dict(document["normalisation"])  # readable before any input is read
        target = [str(b) for b in document["bands"]["target"]]
        model_name = str(document["model"])
        options = dict(document["generator"])
        checksum_ok = weights_checksum(state) == document.get("checksum")
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise incomplete(err) from err
    if not checksum_ok:
        raise CheckpointError(
            f"{path}: the weights do not match their checksum; the file is damaged: export it again"
        )
    if target_bands is not None and list(target_bands) != target:
        raise CheckpointError(
            f"{path}: the model predicts bands {','.join(target)}, the input has "
            f"{','.join(target_bands)}; use a model trained on this band layout"
        )
    spec = model_spec(model_name)
    try:
        generator = spec.build_generator(**options)
    except TypeError as err:  # options the model does not take: written for another version
        raise incomplete(err) from err
    try:
        generator.load_state_dict(state)
    except RuntimeError as err:  # missing or mis-shaped weights
        raise incomplete(err) from err
    generator.eval()
    return generator, document
