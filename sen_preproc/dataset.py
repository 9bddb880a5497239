"""Read a patch dataset written by ``senprep split`` as numpy arrays.

``PatchDataset(folder, split="train", kind="multi")`` indexes ``manifest.csv``; item ``i`` is a
dict of float32 arrays of shape ``(bands, size, size)``: for multi-temporal samples
``{"s1_I", "s2_I", "valid_I", "s1_II", "s2_II", "valid_II"}``, for mono samples
``{"s1", "s2", "valid"}`` (S1 in dB, S2 reflectance x 10 000 as written by ``senprep s2``).
The torch ``Dataset`` of ``mccgan`` wraps this class.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio

from sen_preproc.errors import MissingDataError, OptionError

S1_NAMES = ("VV", "VH", "HH", "HV")
SAMPLE_NODATA = -32768
S1_DB_STEP = 0.01
S2_OFFSET = 32768.0


def _layer(name: str) -> str:
    return name.split("_", 1)[1] if "_" in name else name


def encode_sample(
    data: npt.NDArray[np.float32], names: list[str]
) -> tuple[npt.NDArray[np.int16], tuple[float, ...], tuple[float, ...]]:
    """float32 sample -> int16 + per-band (scale, offset): value = stored * scale + offset.

    S1 bands (dB): scale 0.01; S2 bands (reflectance x 10 000, 0..65535): offset 32768, so
    0 - S2's nodata - maps onto the nodata code; ``valid``: as is. NaN -> ``SAMPLE_NODATA``.
    """
    scales = tuple(S1_DB_STEP if _layer(n) in S1_NAMES else 1.0 for n in names)
    offsets = tuple(
        0.0 if _layer(n) in S1_NAMES or _layer(n) == "valid" else S2_OFFSET for n in names
    )
    scale = np.asarray(scales, dtype=np.float32)[:, None, None]
    offset = np.asarray(offsets, dtype=np.float32)[:, None, None]
    with np.errstate(invalid="ignore"):
        stored = np.round((data - offset) / scale)
    stored = np.where(np.isfinite(stored), np.clip(stored, SAMPLE_NODATA + 1, 32767), SAMPLE_NODATA)
    return stored.astype(np.int16), scales, offsets


def read_sample(path: str | Path) -> npt.NDArray[np.float32]:
    """Decode a sample file to float32 (NaN where no data), shape ``(bands, size, size)``."""
    with rasterio.open(path) as ds:
        stored = ds.read()
        scale = np.asarray(ds.scales, dtype=np.float32)[:, None, None]
        offset = np.asarray(ds.offsets, dtype=np.float32)[:, None, None]
        nodata = ds.nodata
    values: npt.NDArray[np.float32] = stored.astype(np.float32) * scale + offset
    if nodata is not None:
        values[stored == nodata] = np.nan
    return values


class PatchDataset:
    """Random access to the samples of a ``senprep split`` dataset.

    Parameters
    ----------
    folder : path-like
        The dataset folder (with ``manifest.csv`` and ``stats.json``).
    split : str or None
        ``train``, ``val``, ``test`` or None for all.
    kind : str
        ``multi`` (default) or ``mono``.
    """

    def __init__(
        self, folder: str | Path, split: str | None = "train", kind: str = "multi"
    ) -> None:
        self.folder = Path(folder)
        manifest = self.folder / "manifest.csv"
        if not manifest.is_file():
            raise MissingDataError(
                f"{self.folder}: no manifest.csv; give a folder written by `senprep split`"
            )
        if kind not in ("multi", "mono"):
            raise OptionError(f"kind must be multi or mono, got {kind!r}")
        with open(manifest, newline="") as handle:
            rows = list(csv.DictReader(handle))
        self.records = [
            r for r in rows if r["kind"] == kind and (split is None or r["split"] == split)
        ]
        self.kind = kind
        self.info: dict[str, Any] = json.loads((self.folder / "stats.json").read_text())
        self.layers: list[str] = list(self.info["layers"])
        self._s1 = [i for i, n in enumerate(self.layers) if n in S1_NAMES]
        self._s2 = [i for i, n in enumerate(self.layers) if n not in S1_NAMES and n != "valid"]
        self._valid = self.layers.index("valid") if "valid" in self.layers else None

    def __len__(self) -> int:
        return len(self.records)

    def _split_layers(
        self, data: npt.NDArray[np.float32], suffix: str
    ) -> dict[str, npt.NDArray[np.float32]]:
        out = {f"s1{suffix}": data[self._s1], f"s2{suffix}": data[self._s2]}
        if self._valid is not None:
            out[f"valid{suffix}"] = data[self._valid : self._valid + 1]
        return out

    def __getitem__(self, index: int) -> dict[str, npt.NDArray[np.float32]]:
        record = self.records[index]
        data = read_sample(self.folder / record["path"])
        if self.kind == "mono":
            return self._split_layers(data, "")
        n = len(self.layers)
        first = self._split_layers(data[:n], "_I")
        second = self._split_layers(data[n:], "_II")
        return first | second
