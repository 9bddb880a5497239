"""The aligned pairs a dataset is cut from: opened, checked for a common layout, units and grid.

Inputs are outputs of ``senprep pair`` (bands ``VV, VH, B2, ..., valid``; tags ``S1_SCALE``,
``S2_REFLECTANCE_SCALE``, sensing times and sources). Dates are labelled with Roman numerals in
the paper's way: the reference date is I, the targets II, III, ... (any number).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from rasterio.errors import RasterioIOError

from sen_preproc.bands import VALID_BAND, is_polarisation, is_s2_band
from sen_preproc.dataset.coding import S1_UNITS, S2_UNITS
from sen_preproc.errors import GeometryError, MissingDataError, ProductError
from sen_preproc.grid import RasterGrid

_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
          (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))  # fmt: skip


def date_label(index: int) -> str:
    """Label of the ``index``-th date (0 -> ``I``, 1 -> ``II``, 8 -> ``IX``, ...)."""
    number, out = index + 1, ""
    for value, letters in _ROMAN:
        count, number = divmod(number, value)
        out += letters * count
    return out


@dataclass(frozen=True)
class PairImage:
    """An aligned pair GeoTIFF (output of ``senprep pair``).

    Attributes
    ----------
    path : Path
        The file.
    grid : RasterGrid
        Its grid.
    names : tuple of str
        Band names (``VV, VH, B2, ..., valid``).
    date : str
        S2 sensing time (else S1 acquisition time), ISO 8601.
    label : str
        Date label (``I``, ``II``...).
    s1_unit : str
        ``db`` or ``linear`` (tag ``S1_SCALE``).
    s2_unit : str
        ``reflectance_x10000`` or ``reflectance`` (tag ``S2_REFLECTANCE_SCALE`` 10000 / 1).
    tags : dict
        The pair's dataset tags (sources, times, version).
    """

    path: Path
    grid: RasterGrid
    names: tuple[str, ...]
    date: str
    label: str
    s1_unit: str
    s2_unit: str
    tags: dict[str, str]

    def provenance(self) -> dict[str, Any]:
        """What ``dataset.json`` records of this pair."""
        stat = self.path.stat()
        keep = ("S1_SOURCE", "S2_SOURCE", "S1_ACQUISITION_TIME", "S2_SENSING_TIME",
                "TIME_GAP_DAYS", "SENPREP_VERSION", "PROCESSING_TIME")  # fmt: skip
        return {
            "label": self.label,
            "path": str(self.path.resolve()),
            "date": self.date,
            "bytes": stat.st_size,
            "modified_ns": stat.st_mtime_ns,
            "tags": {k: self.tags[k] for k in keep if k in self.tags},
        }


def open_pair(path: Path, label: str) -> PairImage:
    """Open and check an aligned pair.

    Raises
    ------
    MissingDataError
        The file cannot be opened.
    ProductError
        Not an S1/S2 pair, or its unit tags are missing or unknown.
    """
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise ProductError(f"{path}: no georeference; give the output of `senprep pair`")
            names = tuple(d or "" for d in ds.descriptions)
            grid = RasterGrid(ds.crs, ds.transform, ds.width, ds.height)
            tags = ds.tags()
    except RasterioIOError as err:
        raise MissingDataError(f"{path}: cannot open the pair ({err}); check the path") from err
    if not any(is_polarisation(n) for n in names) or not any(is_s2_band(n) for n in names):
        raise ProductError(
            f"{path}: not an S1/S2 pair (bands {', '.join(names)}); give the output of `senprep pair`"
        )
    s1_unit = tags.get("S1_SCALE", "").lower()
    if s1_unit not in S1_UNITS:
        raise ProductError(
            f"{path}: S1_SCALE tag is {tags.get('S1_SCALE')!r}, not db or linear, so the S1 "
            "units are unknown; write the pair with `senprep pair`"
        )
    s2_scale = tags.get("S2_REFLECTANCE_SCALE", "")
    if s2_scale not in S2_UNITS:
        raise ProductError(
            f"{path}: S2_REFLECTANCE_SCALE tag is {s2_scale!r}, not 10000 or 1, so the S2 units "
            "are unknown; write the pair with `senprep pair` from `senprep s2` output"
        )
    date = tags.get("S2_SENSING_TIME", "") or tags.get("S1_ACQUISITION_TIME", "")
    return PairImage(path, grid, names, date, label, s1_unit, S2_UNITS[s2_scale], tags)


def open_pairs(ref: Path, targets: tuple[Path, ...]) -> list[PairImage]:
    """The reference pair (I) and the targets (II, III, ...), checked to share one band
    layout and the same units, and to be distinct files."""
    paths = [ref, *targets]
    for i, path in enumerate(paths):
        for earlier in paths[:i]:
            if os.path.exists(path) and os.path.exists(earlier) and os.path.samefile(path, earlier):
                raise ProductError(
                    f"{path} is given twice (as --ref/--target); each date needs its own pair"
                )
    pairs = [open_pair(p, date_label(i)) for i, p in enumerate(paths)]
    first = pairs[0]
    for other in pairs[1:]:
        if other.names != first.names:
            raise ProductError(
                f"{other.path} has bands {','.join(other.names)} but {first.path} has "
                f"{','.join(first.names)}; process every date with the same --bands/--pol"
            )
        if other.s1_unit != first.s1_unit:
            raise ProductError(
                f"{other.path} holds S1 in {other.s1_unit} but {first.path} in {first.s1_unit}; "
                "process every date with the same senprep s1 --scale"
            )
        if other.s2_unit != first.s2_unit:
            raise ProductError(
                f"{other.path} holds S2 {other.s2_unit} but {first.path} holds {first.s2_unit}; "
                "process every date with the same senprep s2 --dtype (uint16 = reflectance "
                "x 10 000, float32 = reflectance 0-1)"
            )
    if VALID_BAND not in first.names:
        raise ProductError(
            f"{first.path}: no '{VALID_BAND}' band; give the output of `senprep pair` on "
            "`senprep s2` output"
        )
    return pairs


def common_grid(pairs: list[PairImage]) -> tuple[RasterGrid, dict[Path, tuple[int, int]]]:
    """The grid shared by all pairs: their intersection on one pixel lattice.

    Pairs of different dates cropped to their own S1/S2 overlaps may differ by a few edge
    pixels; they must share CRS, pixel size and lattice (integer offsets).

    Returns
    -------
    grid, offsets
        The common grid and, per pair, the (row, col) of its origin in that pair.
    """
    ref = pairs[0]
    t0 = ref.grid.transform
    bounds = list(ref.grid.bounds)
    for other in pairs[1:]:
        t = other.grid.transform
        col = (t.c - t0.c) / t0.a
        row = (t.f - t0.f) / t0.e
        if (
            other.grid.crs != ref.grid.crs
            or not math.isclose(t.a, t0.a, rel_tol=1e-9)
            or not math.isclose(t.e, t0.e, rel_tol=1e-9)
            or t.b != 0
            or t.d != 0
            or abs(col - round(col)) > 1e-6
            or abs(row - round(row)) > 1e-6
        ):
            raise GeometryError(
                f"{other.path} is not on the pixel grid of {ref.path} (CRS, pixel size or "
                "alignment differ); bring every date onto one grid (senprep s2 --like the first "
                "date's S2, then senprep pair)"
            )
        left, bottom, right, top = other.grid.bounds
        bounds = [
            max(bounds[0], left),
            max(bounds[1], bottom),
            min(bounds[2], right),
            min(bounds[3], top),
        ]
    width = int(round((bounds[2] - bounds[0]) / abs(t0.a)))
    height = int(round((bounds[3] - bounds[1]) / abs(t0.e)))
    if width <= 0 or height <= 0:
        raise GeometryError(f"the pairs {', '.join(str(p.path) for p in pairs)} do not overlap")
    origin_x = bounds[0] if t0.a > 0 else bounds[2]
    origin_y = bounds[3] if t0.e < 0 else bounds[1]
    grid = RasterGrid(ref.grid.crs, Affine(t0.a, 0.0, origin_x, 0.0, t0.e, origin_y), width, height)
    offsets = {
        p.path: (
            int(round((origin_y - p.grid.transform.f) / p.grid.transform.e)),
            int(round((origin_x - p.grid.transform.c) / p.grid.transform.a)),
        )
        for p in pairs
    }
    return grid, offsets
