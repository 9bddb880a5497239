"""The rasters ``mccgan evaluate`` compares, resolved once and read row block by row block.

All images must be on the truth's grid (same CRS, transform and size: a fused image from
``mccgan fuse`` is on its reference grid; reproject others with ``senprep s2 --like TRUTH``).
Reflectances are compared in one unit, reflectance x 10 000 (files written as float 0-1 are
scaled), or as they are for 8-bit data (no reflectance tag, ``uint8``). A pixel counts where the
truth, every prediction (and the reference, when given) hold data - finite, not the nodata
value, ``valid`` = 1 where the file has a ``valid`` band - and ``--mask`` is non-zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.windows import Window

from mccgan.errors import DataError
from sen_preproc.bands import VALID_BAND
from sen_preproc.bands import reflectance_scale as tagged_reflectance_scale
from sen_preproc.grid import RasterGrid
from sen_preproc.pair import RasterInfo, read_raster_info

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
UNIT_REFLECTANCE = "reflectance x 10000"
UNIT_DN8 = "8-bit digital numbers"


@dataclass(frozen=True)
class Raster:
    """One image (:class:`~sen_preproc.pair.RasterInfo`), the option that gave it, and how to
    bring it to the common unit."""

    info: RasterInfo
    option: str

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def grid(self) -> RasterGrid:
        assert self.info.grid is not None  # read_raster_info refuses rasters without a CRS
        return self.info.grid

    @property
    def names(self) -> tuple[str, ...]:
        return self.info.descriptions

    @property
    def tags(self) -> dict[str, str]:
        return self.info.tags

    @property
    def nodata(self) -> float | None:
        return self.info.nodata

    @property
    def dtype(self) -> str:
        return self.info.dtype

    @property
    def reflectance_scale(self) -> float | None:
        """Reflectance x this = file value (None: 8-bit data, no reflectance scale)."""
        return tagged_reflectance_scale(self.tags, self.dtype)

    def band_index(self, name: str) -> int:
        return self.names.index(name) + 1

    def read(self, bands: Sequence[str], rows: tuple[int, int], factor: float) -> FloatArray:
        """``bands`` for image rows ``[start, stop)``, times ``factor``, NaN at nodata."""
        window = Window(0, rows[0], self.grid.width, rows[1] - rows[0])
        with rasterio.open(self.path) as ds:
            data = ds.read([self.band_index(b) for b in bands], window=window).astype(np.float32)
        if self.nodata is not None and not math.isnan(self.nodata):
            data[data == np.float32(self.nodata)] = np.nan
        if factor != 1.0:
            data *= np.float32(factor)
        return np.asarray(data, dtype=np.float32)

    def read_valid(self, rows: tuple[int, int]) -> BoolArray | None:
        """``valid == 1`` for the rows (None when the file has no valid band)."""
        if VALID_BAND not in self.names:
            return None
        window = Window(0, rows[0], self.grid.width, rows[1] - rows[0])
        with rasterio.open(self.path) as ds:
            return np.asarray(ds.read(self.band_index(VALID_BAND), window=window) == 1)


def open_raster(path: Path, option: str) -> Raster:
    """Open a GeoTIFF given as ``option`` (one clear line when it cannot be read)."""
    return Raster(read_raster_info(path, option), option)


def check_same_grid(raster: Raster, truth: Raster) -> None:
    """``raster`` must be on the truth's grid."""
    a, b = raster.grid, truth.grid
    if not a.same_as(b):
        raise DataError(
            f"{raster.path}: not on the grid of the truth {truth.path} ({a.width}x{a.height} px at "
            f"{a.transform.c:.2f}, {a.transform.f:.2f} vs {b.width}x{b.height} px at {b.transform.c:.2f}, "
            f"{b.transform.f:.2f}); give {raster.option} on that grid (mccgan fuse on the same reference, "
            "or senprep s2 --like the truth)"
        )


def s2_bands(raster: Raster) -> tuple[str, ...]:
    """The Sentinel-2 band names of a raster (``B2``, ``B8A``...), in file order."""
    return tuple(n for n in raster.names if n.upper().startswith("B") and n[1:2].isdigit())


def require_bands(raster: Raster, bands: Sequence[str]) -> None:
    missing = [b for b in bands if b not in raster.names]
    if missing:
        raise DataError(
            f"{raster.path}: no {', '.join(missing)} (it has {', '.join(s2_bands(raster)) or 'no S2 bands'}); "
            f"{raster.option} must hold the bands of the predictions ({', '.join(bands)})"
        )


def unit_factor(raster: Raster, unit: str) -> float:
    """What to multiply ``raster``'s values by to reach ``unit``."""
    scale = raster.reflectance_scale
    if unit == UNIT_DN8:
        if scale is not None:
            raise DataError(
                f"{raster.path}: reflectance (x {scale:g}) compared with 8-bit truth; give {raster.option} "
                "in the truth's unit"
            )
        return 1.0
    if scale is None:
        raise DataError(
            f"{raster.path}: 8-bit data compared with a reflectance truth; give {raster.option} as reflectance"
        )
    return 10000.0 / scale


@dataclass(frozen=True)
class Region:
    """``--region NAME=FILE[:BAND]`` (pixels where the band is non-zero) or
    ``NAME=FILE:!BAND`` (where it is zero); the first band when none is named."""

    name: str
    raster: Raster
    band: int
    invert: bool

    def read(self, rows: tuple[int, int]) -> BoolArray:
        window = Window(0, rows[0], self.raster.grid.width, rows[1] - rows[0])
        with rasterio.open(self.raster.path) as ds:
            values = ds.read(self.band, window=window)
        inside: BoolArray = np.asarray((values != 0) & np.isfinite(values), dtype=bool)
        return np.asarray(~inside if self.invert else inside, dtype=bool)


def parse_region(name: str, spec: str, option: str = "--region") -> Region:
    """A region from ``FILE``, ``FILE:BAND`` or ``FILE:!BAND``."""
    path_text, band_name, invert = spec, "", False
    if ":" in spec and not Path(spec).exists():
        path_text, band_name = spec.rsplit(":", 1)
        invert = band_name.startswith("!")
        band_name = band_name.lstrip("!")
    raster = open_raster(Path(path_text), f"{option} {name}")
    if not band_name:
        return Region(name, raster, 1, invert)
    if band_name not in raster.names:
        raise DataError(
            f"{path_text}: no band {band_name!r} (it has {', '.join(n for n in raster.names if n)}); "
            f"fix {option} {name}={spec}"
        )
    return Region(name, raster, raster.band_index(band_name), invert)
