"""The torch side of a ``senprep split`` dataset: normalised, masked, augmented samples.

:class:`SampleSet` wraps ``sen_preproc.dataset.PatchDataset`` (numpy) for one dataset and
split; :class:`TrainingData` pools several datasets (the paper's Dataset C pools 38 pairs from
many regions; users pool dates and tiles) after checking their band layouts and units match,
keeps each dataset's own train/val/test splits and records which datasets it saw.

An item is a dict of tensors: ``input`` (the model's input keys concatenated, in
:class:`~mccgan.registry.ModelSpec` order), ``target``, ``mask`` (1 where the target is valid:
``valid == 1`` and every band has data - cloudy and missing pixels are excluded from the
losses and metrics), ``copy`` (S2 at date I, the copy-the-reference baseline, when the model
consumes it) and ``index``.

Normalisation (:class:`Normalisation`, saved with the weights): S1 in dB clipped per
polarisation (VV [-25, 0], VH [-32.5, 0]; linear σ0 is converted to dB first), S2 clipped to
[0, 10 000] (or [0, 1] for 0-1 reflectance), each mapped linearly to [-1, 1]; or, with
``normalisation: stats``, each band's training mean ± 3 standard deviations (``stats.json``).
Pixels without data become 0 after normalisation. ``augment`` flips and rotates all arrays of a
sample the same way, drawn from ``(seed, epoch, index)``, so runs (and resumed runs) repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import ConcatDataset, Dataset

from mccgan.config import TrainConfig
from mccgan.errors import DataError
from mccgan.registry import ModelSpec
from sen_preproc.bands import is_polarisation
from sen_preproc.dataset import PatchDataset, read_info
from sen_preproc.dataset.schema import read_stats
from sen_preproc.errors import SenPrepError

REQUIRED_POLARISATIONS = ("VV", "VH")


@dataclass(frozen=True)
class BandRange:
    """One channel: its dataset band name and the physical ``[low, high]`` mapped to [-1, 1]."""

    name: str
    low: float
    high: float


@dataclass(frozen=True)
class Normalisation:
    """How the channels are scaled; plain values, saved in checkpoints and the model file."""

    inputs: tuple[BandRange, ...]
    target: tuple[BandRange, ...]
    s1_unit: str
    s2_unit: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [[b.name, b.low, b.high] for b in self.inputs],
            "target": [[b.name, b.low, b.high] for b in self.target],
            "s1_unit": self.s1_unit,
            "s2_unit": self.s2_unit,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Normalisation:
        return cls(
            tuple(BandRange(str(n), float(lo), float(hi)) for n, lo, hi in values["inputs"]),
            tuple(BandRange(str(n), float(lo), float(hi)) for n, lo, hi in values["target"]),
            str(values["s1_unit"]),
            str(values["s2_unit"]),
        )

    @property
    def target_bands(self) -> tuple[str, ...]:
        return tuple(b.name.split("_", 1)[-1] for b in self.target)


def _scale(
    values: npt.NDArray[np.float32], ranges: Sequence[BandRange], linear_s1: bool
) -> npt.NDArray[np.float32]:
    out = np.empty(values.shape, dtype=np.float32)
    for i, band in enumerate(ranges):
        channel = values[i]
        if linear_s1 and is_polarisation(band.name.split("_", 1)[-1]):
            with np.errstate(divide="ignore", invalid="ignore"):
                channel = 10.0 * np.log10(channel)
        clipped = np.clip(channel, band.low, band.high)
        out[i] = (clipped - band.low) / (band.high - band.low) * 2.0 - 1.0
    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def denormalise(tensor: torch.Tensor, ranges: Sequence[BandRange]) -> torch.Tensor:
    """[-1, 1] -> physical units, channel by channel (``(..., C, H, W)``)."""
    low = torch.tensor([b.low for b in ranges], dtype=tensor.dtype, device=tensor.device)
    high = torch.tensor([b.high for b in ranges], dtype=tensor.dtype, device=tensor.device)
    shape = (-1, 1, 1)
    return (tensor + 1.0) / 2.0 * (high - low).view(shape) + low.view(shape)


def _augment(arrays: list[npt.NDArray[Any]], code: int) -> list[npt.NDArray[Any]]:
    """The same flip (bit 2) and rotation by ``code % 4`` quarter turns for every array."""
    out = []
    for array in arrays:
        a = np.rot90(array, k=code % 4, axes=(-2, -1))
        if code & 4:
            a = a[..., ::-1]
        out.append(np.ascontiguousarray(a))
    return out


class SampleSet(Dataset[dict[str, torch.Tensor]]):
    """One dataset's split as model-ready tensors (see the module docstring)."""

    def __init__(
        self,
        patches: PatchDataset,
        spec: ModelSpec,
        normalisation: Normalisation,
        *,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        self.patches = patches
        self.spec = spec
        self.normalisation = normalisation
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.linear_s1 = normalisation.s1_unit == "linear"
        self._input_ranges: list[tuple[str, tuple[BandRange, ...]]] = []
        start = 0
        for key in spec.inputs:
            n = len(patches.keys[key])
            self._input_ranges.append((key, normalisation.inputs[start : start + n]))
            start += n
        date = spec.target.split("_", 1)[-1]
        self.valid_key = f"valid_{date}" if "_" in spec.target else "valid"

    def __len__(self) -> int:
        return len(self.patches)

    def set_epoch(self, epoch: int) -> None:
        """Augmentations are drawn from ``(seed, epoch, index)``."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.patches[index]
        parts = [_scale(item[key], ranges, self.linear_s1) for key, ranges in self._input_ranges]
        target_raw = item[self.spec.target]
        valid = (item[self.valid_key][0] == 1) & np.isfinite(target_raw).all(axis=0)
        target = _scale(target_raw, self.normalisation.target, False)
        arrays: list[npt.NDArray[Any]] = [np.concatenate(parts), target, valid[None]]
        copy_key = "s2_I" if "s2_I" in self.spec.inputs and self.spec.target == "s2_II" else None
        if copy_key is not None:
            arrays.append(_scale(item[copy_key], self.normalisation.target, False))
        if self.augment:
            code = int(np.random.default_rng([self.seed, self.epoch, index]).integers(8))
            arrays = _augment(arrays, code)
        out = {
            "input": torch.from_numpy(arrays[0]),
            "target": torch.from_numpy(arrays[1]),
            "mask": torch.from_numpy(arrays[2]),
            "index": torch.tensor(index),
        }
        if copy_key is not None:
            out["copy"] = torch.from_numpy(arrays[3])
        return out


@dataclass
class TrainingData:
    """The pooled datasets of a run: per split the torch datasets, the normalisation and the
    datasets' provenance."""

    train: ConcatDataset[dict[str, torch.Tensor]]
    val: ConcatDataset[dict[str, torch.Tensor]] | None
    normalisation: Normalisation
    in_channels: int
    out_channels: int
    target_bands: tuple[str, ...]
    datasets: list[dict[str, Any]]

    def set_epoch(self, epoch: int) -> None:
        for part in self.train.datasets:
            part.set_epoch(epoch)  # type: ignore[attr-defined]


def dataset_paths(entries: Sequence[str]) -> list[Path]:
    """``--data`` values: dataset folders, or text files listing one folder per line (``#``
    comments, paths relative to the file)."""
    paths: list[Path] = []
    for entry in entries:
        path = Path(entry)
        if path.is_file():
            for line in path.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    listed = Path(line)
                    paths.append(listed if listed.is_absolute() else path.parent / listed)
        else:
            paths.append(path)
    return paths


def _stats_ranges(
    folder: Path, kind: str, names: Sequence[str], fallback: dict[str, tuple[float, float]]
) -> list[BandRange]:
    stats = read_stats(folder).get(kind, {})
    out = []
    for name in names:
        band = stats.get(name)
        if not band or not band.get("count"):
            low, high = fallback[name]
        else:
            low = max(band["min"], band["mean"] - 3.0 * band["std"])
            high = min(band["max"], band["mean"] + 3.0 * band["std"])
            if not high > low:
                low, high = fallback[name]
        out.append(BandRange(name, float(low), float(high)))
    return out


def build_normalisation(
    patches: PatchDataset, spec: ModelSpec, config: TrainConfig
) -> Normalisation:
    units = patches.info.units
    s2_scale = 1.0 if units["s2"] == "reflectance_x10000" else 1e-4
    s2_low, s2_high = (v * s2_scale for v in config.s2_range)

    def physical(name: str) -> tuple[float, float]:
        layer = name.split("_", 1)[-1]
        if is_polarisation(layer):
            low, high = config.s1_ranges_db[layer]
            return float(low), float(high)
        return float(s2_low), float(s2_high)

    def ranges(keys: Sequence[str]) -> list[BandRange]:
        names = [n for key in keys for n in patches.band_names(key)]
        fallback = {n: physical(n) for n in names}
        if config.normalisation == "stats" and units["s1"] == "db":
            return _stats_ranges(patches.folder, patches.kind, names, fallback)
        return [BandRange(n, *fallback[n]) for n in names]

    return Normalisation(
        tuple(ranges(spec.inputs)), tuple(ranges([spec.target])), units["s1"], units["s2"]
    )


def _check_layout(patches: PatchDataset, spec: ModelSpec, folder: Path) -> None:
    missing = [k for k in (*spec.inputs, spec.target) if k not in patches.keys]
    if missing:
        raise DataError(
            f"{folder}: the {patches.kind} samples have no {', '.join(missing)}; model "
            f"{spec.name} needs {', '.join(spec.inputs)} -> {spec.target} (write the dataset "
            "with senprep split from pairs of S1 and S2)"
        )
    for key in spec.inputs:
        if key.startswith("s1"):
            pols = tuple(n.split("_", 1)[-1] for n in patches.band_names(key))
            if pols != REQUIRED_POLARISATIONS:
                raise DataError(
                    f"{folder}: S1 bands are {', '.join(pols)}, model {spec.name} needs "
                    f"{' and '.join(REQUIRED_POLARISATIONS)}; process S1 with senprep s1 --pol VV,VH"
                )
    s2_in = patches.keys.get("s2_I")
    if s2_in is not None and len(s2_in) != len(patches.keys[spec.target]):
        raise DataError(f"{folder}: S2 at the two dates has different bands")


def _open(folder: Path, split: str, kind: str) -> PatchDataset | None:
    try:
        patches = PatchDataset(folder, split, kind=kind)
    except SenPrepError as err:
        raise DataError(str(err)) from err
    return patches if len(patches) else None


def load_training_data(config: TrainConfig, spec: ModelSpec) -> TrainingData:
    """Open, check and pool the datasets of ``config.data``.

    Raises
    ------
    DataError
        A missing or damaged dataset, one without the bands the model needs, datasets whose
        band layouts or units differ, or no training samples at all.
    """
    folders = dataset_paths(config.data)
    train_parts: list[SampleSet] = []
    val_parts: list[SampleSet] = []
    normalisation: Normalisation | None = None
    layout: tuple[tuple[str, ...], dict[str, str]] | None = None
    seen = []
    for folder in folders:
        if not folder.is_dir():
            raise DataError(
                f"{folder}: no such dataset folder; give a folder written by senprep split"
            )
        try:
            info = read_info(folder)
        except SenPrepError as err:
            raise DataError(str(err)) from err
        this_layout = (info.layers, info.units)
        if layout is None:
            layout = this_layout
        elif this_layout != layout:
            raise DataError(
                f"{folder}: bands {','.join(info.layers)} in {info.units} but {folders[0]} has "
                f"{','.join(layout[0])} in {layout[1]}; pool only datasets of one band layout"
            )
        train = _open(folder, "train", spec.kind)
        val = _open(folder, "val", spec.kind)
        if train is not None:
            _check_layout(train, spec, folder)
            if normalisation is None:
                normalisation = build_normalisation(train, spec, config)
            train_parts.append(
                SampleSet(train, spec, normalisation, augment=config.augment, seed=config.seed)
            )
        if val is not None:
            _check_layout(val, spec, folder)
            if normalisation is None:
                normalisation = build_normalisation(val, spec, config)
            val_parts.append(SampleSet(val, spec, normalisation))
        seen.append(
            {
                "path": str(folder.resolve()),
                "format_version": info.raw.get("format_version"),
                "created": info.raw.get("created"),
                "layers": list(info.layers),
                "units": dict(info.units),
                "counts": dict(info.raw.get("counts", {})),
                "train_samples": len(train) if train is not None else 0,
                "val_samples": len(val) if val is not None else 0,
            }
        )
    if not train_parts or normalisation is None:
        raise DataError(
            f"{', '.join(str(f) for f in folders)}: no training samples of kind "
            f"{spec.kind}; write the dataset with senprep split (and --mono for mono models)"
        )
    first = train_parts[0].patches
    in_channels = sum(len(first.keys[k]) for k in spec.inputs)
    out_channels = len(first.keys[spec.target])
    return TrainingData(
        train=ConcatDataset(train_parts),
        val=ConcatDataset(val_parts) if val_parts else None,
        normalisation=normalisation,
        in_channels=in_channels,
        out_channels=out_channels,
        target_bands=normalisation.target_bands,
        datasets=seen,
    )
