"""Random access to the samples of a ``senprep split`` dataset (numpy only, no torch).

``PatchDataset(folder, split="train", kind="multi")`` follows torchgeo's conventions for a
dataset of georeferenced samples: item ``i`` is a dict of float32 arrays of shape
``(bands, size, size)`` plus where the sample lies:

* multi-temporal samples: ``s1_I``, ``s2_I``, ``valid_I``, ``s1_II``, ``s2_II``, ``valid_II``;
  mono samples: ``s1``, ``s2``, ``valid`` (values in the dataset's units, NaN = no data: S1 in
  dB or linear σ0, S2 reflectance x 10 000 or 0-1, see ``info.units``);
* ``crs`` (rasterio CRS of the dataset), ``bounds`` (rasterio ``BoundingBox`` in that CRS),
  ``window`` (rasterio ``Window`` on the dataset grid), ``sample_id``, ``split``, ``date_ref``,
  ``date_target``.

``transforms`` (a callable taking and returning the dict) is applied last, as torchgeo's
datasets do. Normalised arrays: ``PatchDataset(..., transforms=Standardise.from_dataset(ds))``
or :meth:`PatchDataset.band_stats` (training-split mean/std per band from ``stats.json``). The
torch ``Dataset`` of ``mccgan`` wraps this class.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.coords import BoundingBox
from rasterio.crs import CRS
from rasterio.windows import Window

from sen_preproc.dataset import schema
from sen_preproc.dataset.samples import read_sample
from sen_preproc.dataset.tiling import SPLIT_NAMES
from sen_preproc.errors import OptionError

Sample = dict[str, Any]
"""An item: arrays by key (``s1_I``...) and the sample's ``crs``, ``bounds``, ``window``..."""


def _block_slice(indices: list[int]) -> slice | list[int]:
    """A slice for consecutive band indices (a view instead of a copy), else the list."""
    if indices and indices == list(range(indices[0], indices[-1] + 1)):
        return slice(indices[0], indices[-1] + 1)
    return indices


def array_keys(coding_names: tuple[str, ...], roles: tuple[str, ...]) -> dict[str, list[int]]:
    """Item keys -> band indices: ``I_VV`` (role s1) -> ``s1_I``; mono ``VV`` -> ``s1``."""
    keys: dict[str, list[int]] = {}
    for index, (name, role) in enumerate(zip(coding_names, roles, strict=True)):
        label, sep, _ = name.partition("_")
        dated = sep and label and set(label) <= set("IVXLCDM")
        keys.setdefault(f"{role}_{label}" if dated else role, []).append(index)
    return keys


class PatchDataset:
    """The samples of a ``senprep split`` dataset.

    Parameters
    ----------
    folder : path-like
        The dataset folder (``dataset.json``, ``manifest.csv``, ``stats.json``, ``samples/``).
    split : str or None
        ``train``, ``val``, ``test`` or None for all.
    kind : str
        ``multi`` (default) or ``mono``.
    transforms : callable, optional
        Applied to each item (dict in, dict out).

    Raises
    ------
    DatasetError
        The folder is no dataset, is damaged or of another format version.
    MissingDataError
        Sample files listed in the manifest are missing.
    """

    def __init__(
        self,
        folder: str | Path,
        split: str | None = "train",
        kind: str = "multi",
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        if kind not in schema.KINDS:
            raise OptionError(f"kind must be one of {', '.join(schema.KINDS)}, got {kind!r}")
        if split is not None and split not in SPLIT_NAMES:
            raise OptionError(
                f"split must be one of {', '.join(SPLIT_NAMES)} or None, got {split!r}"
            )
        self.folder = Path(folder)
        self.info = schema.read_info(self.folder)
        self.records = [
            r
            for r in schema.read_manifest(self.folder)
            if r.kind == kind and (split is None or r.split == split)
        ]
        schema.check_sample_files(self.folder, self.records)
        self.kind = kind
        self.split = split
        self.transforms = transforms
        self.coding = self.info.coding[kind]
        self.crs = CRS.from_user_input(self.info.crs)
        roles = tuple(b.role for b in self.coding.bands)
        self.keys = array_keys(self.coding.names, roles)
        self._parts = [(key, _block_slice(indices)) for key, indices in self.keys.items()]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        data = read_sample(self.folder / record.path)
        item: Sample = {key: data[where] for key, where in self._parts}
        item.update(
            sample_id=record.sample_id,
            split=record.split,
            crs=self.crs,
            bounds=BoundingBox(record.minx, record.miny, record.maxx, record.maxy),
            window=Window(record.col, record.row, record.size, record.size),
            date_ref=record.date_ref,
            date_target=record.date_target,
        )
        return self.transforms(item) if self.transforms is not None else item

    def band_names(self, key: str) -> tuple[str, ...]:
        """The dataset band names behind item key ``key`` (``s1_I`` -> ``I_VV, I_VH``)."""
        return tuple(self.coding.names[i] for i in self.keys[key])

    def band_stats(self, key: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Training-split ``(mean, std)`` per band of item key ``key``, shape ``(bands, 1, 1)``
        (from ``stats.json``; broadcast against the item's array)."""
        stats = schema.read_stats(self.folder)[self.kind]
        names = self.band_names(key)
        mean = np.array([stats[n]["mean"] for n in names], np.float32)[:, None, None]
        std = np.array([stats[n]["std"] for n in names], np.float32)[:, None, None]
        return mean, std
