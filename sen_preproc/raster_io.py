"""Raster input/output: the only module (with :mod:`sen_preproc.sentinel1.product`) that opens rasters.

* windowed reads of measurement TIFFs (also inside zips via GDAL's ``/vsizip/``);
* the grid of a reference raster (``--like``);
* DEM heights sampled bilinearly at any positions (windowed reads of the DEM);
* a scratch store for intermediate images (memory, or a temporary tiled GeoTIFF when large);
* atomic writing of Cloud-Optimised GeoTIFFs: blocks go to a temporary file, which is
  converted to COG layout (tiles, DEFLATE, overviews) and renamed into place only at the end
  (what an output may replace: :mod:`sen_preproc.outputs`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.shutil
from rasterio.errors import (
    NotGeoreferencedWarning,
    RasterioIOError,
    WarpOperationError,
    WindowError,
)
from rasterio.windows import Window
from scipy import ndimage

from sen_preproc.bands import AUXILIARY_BANDS
from sen_preproc.errors import EmptyOutputError, GeometryError, MissingDataError, ProductError
from sen_preproc.gdal_messages import DAMAGE_WARNING
from sen_preproc.grid import RasterGrid
from sen_preproc.interrupts import remove_stale_temporaries, temporary_path
from sen_preproc.outputs import check_output_file, quiet_native_stderr, writing

LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


class _DamageWarnings(logging.Filter):
    """Takes rasterio's GDAL warnings about damaged streams out of the log and keeps them."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and DAMAGE_WARNING.search(message):
            self.messages.append(message.removeprefix("CPLE_AppDefined:").strip())
            return False
        return True


@contextlib.contextmanager
def decoding(path: str, *, product: Path | str | None = None) -> Iterator[None]:
    """Decode an input image: a damaged stream raises instead of giving wrong pixels.

    Raises
    ------
    ProductError
        GDAL cannot read ``path`` or warned that its stream is damaged (message naming
        ``product`` or the file, and the fix).
    """
    logger = logging.getLogger("rasterio._err")
    catcher = _DamageWarnings()
    level = logger.level
    logger.addFilter(catcher)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)  # quiet runs (-q) must still see the warnings
    name = Path(path).name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # SAR geometry: no CRS
            yield
    except (RasterioIOError, WarpOperationError) as err:  # read or warp of damaged blocks
        raise ProductError(
            f"{product or path}: cannot decode {name} ({err}); the file is damaged or "
            "truncated: download the product again"
        ) from err
    finally:
        logger.removeFilter(catcher)
        logger.setLevel(level)
    if catcher.messages:
        raise ProductError(
            f"{product or path}: {name} is damaged (GDAL: {catcher.messages[0]}); download the "
            "product again"
        )


def read_window(
    path: str, window: Window, *, band: int = 1, product: Path | None = None
) -> npt.NDArray[Any]:
    """Read ``window`` of one band (native dtype), shape ``(rows, cols)``."""
    with decoding(path, product=product), rasterio.open(path) as src:
        data: npt.NDArray[Any] = src.read(band, window=window)
    return data


def raster_shape(path: str, *, product: Path | None = None) -> tuple[int, int]:
    """(rows, cols) of a raster."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                return src.height, src.width
    except RasterioIOError as err:
        raise ProductError(
            f"{product or path}: cannot open {Path(path).name} ({err}); download the product again"
        ) from err


def read_grid(path: str | Path) -> RasterGrid:
    """The grid (CRS, transform, size) of a georeferenced raster."""
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise GeometryError(
                    f"{path}: the raster has no CRS; give a georeferenced GeoTIFF to --like"
                )
            return RasterGrid(
                crs=src.crs, transform=src.transform, width=src.width, height=src.height
            )
    except RasterioIOError as err:
        raise MissingDataError(f"{path}: cannot open the raster ({err}); check the path") from err


class DemSampler:
    """Bilinear DEM heights at fractional DEM pixel positions, NaN where no data.

    Parameters
    ----------
    path : path-like
        Any GDAL-readable DEM (GeoTIFF, VRT...), any CRS.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._src = rasterio.open(self.path)
        except RasterioIOError as err:
            raise MissingDataError(f"{path}: cannot open the DEM ({err}); check --dem") from err
        if self._src.crs is None:
            self._src.close()
            raise GeometryError(f"{path}: the DEM has no CRS; give a georeferenced DEM")
        self.crs = self._src.crs
        self.nodata = self._src.nodata
        self.bounds = self._src.bounds
        self.transform = self._src.transform

    def sample(self, col: FloatArray, row: FloatArray) -> FloatArray:
        """Bilinear DEM values (m, the DEM's own vertical datum) at fractional pixel positions.

        Parameters
        ----------
        col, row : numpy.ndarray
            DEM pixel coordinates, pixel centres at integers (same shape).

        Returns
        -------
        numpy.ndarray
            float64, NaN where the DEM has no data or does not reach. Only the window of the
            DEM around the points is read, so large DEMs cost no memory.
        """
        out = np.full(col.shape, np.nan)
        height, width = self._src.height, self._src.width
        inside = (col >= -0.5) & (col <= width - 0.5) & (row >= -0.5) & (row <= height - 0.5)
        if not inside.any():
            return out
        c = np.clip(col[inside], 0, width - 1)
        r = np.clip(row[inside], 0, height - 1)
        c0, r0 = int(np.floor(c.min())), int(np.floor(r.min()))
        c1, r1 = min(int(np.ceil(c.max())) + 1, width), min(int(np.ceil(r.max())) + 1, height)
        data = self._src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0)).astype(np.float64)
        if self.nodata is not None:
            data[data == self.nodata] = np.nan
        out[inside] = ndimage.map_coordinates(
            data, [r - r0, c - c0], order=1, mode="nearest", prefilter=False
        )
        return out

    def has_data(
        self, bounds: tuple[float, float, float, float], rows_per_read: int = 1024
    ) -> bool:
        """Whether any DEM pixel within ``bounds`` (left, bottom, right, top in the DEM's CRS)
        holds a height; read in strips of ``rows_per_read`` rows, stopping at the first."""
        from rasterio.windows import from_bounds

        full = Window(0, 0, self._src.width, self._src.height)
        try:
            window = from_bounds(*bounds, transform=self.transform).round_offsets().round_lengths()
            window = window.intersection(full)
        except WindowError:
            return False
        row0, row1 = int(window.row_off), int(window.row_off + window.height)
        for start in range(row0, row1, rows_per_read):
            strip = Window(window.col_off, start, window.width, min(rows_per_read, row1 - start))
            data = self._src.read(1, window=strip, masked=True)
            valid = ~np.ma.getmaskarray(data) & np.isfinite(data.filled(0))
            if self.nodata is not None and not math.isnan(self.nodata):
                valid &= data.filled(self.nodata) != self.nodata
            if valid.any():
                return True
        return False

    def close(self) -> None:
        """Release the DEM file."""
        self._src.close()

    def __enter__(self) -> DemSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ScratchStore:
    """Float32 images kept in memory, or in a temporary tiled GeoTIFF when too large.

    Used for the radiometrically processed image in SAR geometry between the speckle filter
    and terrain correction, so memory stays bounded for full scenes.
    """

    def __init__(
        self,
        names: Sequence[str],
        rows: int,
        cols: int,
        *,
        max_memory_bytes: int = 1 << 30,
        owner: Path | None = None,
    ) -> None:
        self.names = list(names)
        self.rows = rows
        self.cols = cols
        self._arrays: dict[str, npt.NDArray[np.float32]] = {}
        self._path: Path | None = None
        self._owner = owner
        self._ds: Any = None
        size = rows * cols * 4 * len(self.names)
        LOGGER.info(
            "scratch images %d x %d px x %d: %.0f MB %s",
            rows,
            cols,
            len(self.names),
            size / 1e6,
            "in memory"
            if size <= max_memory_bytes
            else "in a temporary file (over the memory limit)",
        )
        if size <= max_memory_bytes:
            for name in self.names:
                self._arrays[name] = np.full((rows, cols), np.nan, dtype=np.float32)
        else:
            if owner is not None:  # beside the output, named for it (see sen_preproc.interrupts)
                self._path = temporary_path(owner, "tmp", ".scratch.tif")
            else:
                fd, tmp = tempfile.mkstemp(prefix="senprep-scratch-", suffix=".tif")
                os.close(fd)
                self._path = Path(tmp)
            with warnings.catch_warnings():  # an image in SAR geometry: no CRS, no transform
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._ds = rasterio.open(
                    self._path,
                    "w+",
                    driver="GTiff",
                    width=cols,
                    height=rows,
                    count=len(self.names),
                    dtype="float32",
                    tiled=True,
                    blockxsize=256,
                    blockysize=256,
                    BIGTIFF="YES",
                    SPARSE_OK="TRUE",
                    nodata=np.nan,
                )
            LOGGER.info("scratch image on disk: %s", self._path)

    def write(self, name: str, row: int, data: npt.NDArray[np.float32]) -> None:
        """Write full-width rows ``row:row + len(data)`` of image ``name``."""
        if self._ds is None:
            self._arrays[name][row : row + data.shape[0]] = data
        else:
            band = self.names.index(name) + 1
            with writing(self._owner or self._path or Path("scratch")):
                self._ds.write(data, band, window=Window(0, row, self.cols, data.shape[0]))

    def read(self, name: str, window: Window) -> npt.NDArray[np.float32]:
        """Read a window of image ``name``."""
        if self._ds is None:
            r0, c0 = int(window.row_off), int(window.col_off)
            return self._arrays[name][r0 : r0 + int(window.height), c0 : c0 + int(window.width)]
        band = self.names.index(name) + 1
        out: npt.NDArray[np.float32] = self._ds.read(band, window=window)
        return out

    def close(self) -> None:
        """Free memory / delete the temporary file."""
        self._arrays.clear()
        if self._ds is not None:
            self._ds.close()
            self._ds = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def __enter__(self) -> ScratchStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GeoTiffWriter:
    """Write a float32 multi-band GeoTIFF block by block, then publish it atomically.

    Blocks go to a hidden temporary file beside the output; :meth:`commit` converts it to a
    Cloud-Optimised GeoTIFF (512 px tiles, DEFLATE + floating-point predictor, overviews) in
    another temporary file and renames that onto ``path``. Leaving the ``with`` block without
    committing (e.g. on an exception) removes every temporary file, so a failure leaves nothing.
    """

    def __init__(
        self,
        path: Path,
        grid: RasterGrid,
        band_names: Sequence[str],
        *,
        tags: Mapping[str, str] | None = None,
        band_tags: Mapping[str, Mapping[str, str]] | None = None,
        overwrite: bool = False,
        inputs: Iterable[Path | None] = (),
        dtype: str = "float32",
        nodata: float | None = float("nan"),
        require_data: bool = True,
        empty_hint: str = "check that the inputs overlap and hold data",
    ) -> None:
        check_output_file(path, overwrite=overwrite, inputs=inputs)
        remove_stale_temporaries(path)
        self.path = path
        self.grid = grid
        self.band_names = list(band_names)
        self.tags = dict(tags or {})
        self.band_tags = {k: dict(v) for k, v in (band_tags or {}).items()}
        self._tmp = temporary_path(path, "part", ".tif")
        with writing(path):
            self._ds = rasterio.open(
                self._tmp,
                "w",
                driver="GTiff",
                width=grid.width,
                height=grid.height,
                count=len(self.band_names),
                dtype=dtype,
                crs=grid.crs,
                transform=grid.transform,
                nodata=nodata,
                tiled=True,
                blockxsize=512,
                blockysize=512,
                BIGTIFF="IF_SAFER",
            )
        self._committed = False
        self.nodata = nodata
        self.require_data = require_data
        self.empty_hint = empty_hint
        self.valid_pixels = 0
        # the bands that carry the data (not the masks and uncertainty bands beside them)
        self._data_bands = [i for i, n in enumerate(self.band_names)
                            if n not in AUXILIARY_BANDS and not n.startswith("std_")] or [0]  # fmt: skip

    def write(self, window: Window, data: npt.NDArray[Any]) -> None:
        """Write ``data`` (shape ``(bands, rows, cols)``) into ``window``; counts the pixels
        holding data (finite and not the nodata value in at least one data band)."""
        with writing(self.path):
            self._ds.write(data, window=window)
        values = data[self._data_bands]
        holds = np.isfinite(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
        if self.nodata is not None and not math.isnan(self.nodata):
            holds &= values != self.nodata
        self.valid_pixels += int(holds.any(axis=0).sum())

    def commit(self) -> Path:
        """Finish: COG conversion, tags, atomic rename. Returns the output path.

        Raises
        ------
        EmptyOutputError
            Not one pixel holds data (and ``require_data``): nothing is published.
        """
        if self.require_data and self.valid_pixels == 0:
            self.abort()
            raise EmptyOutputError(
                f"{self.path}: the result holds no valid pixel; {self.empty_hint} (nothing was written)"
            )
        final_tmp = temporary_path(self.path, "cog", ".tif")
        try:
            with writing(self.path):
                for index, name in enumerate(self.band_names, start=1):
                    self._ds.set_band_description(index, name)
                    if name in self.band_tags:
                        self._ds.update_tags(index, **self.band_tags[name])
                self._ds.update_tags(**self.tags)
                self._ds.close()
                rasterio.shutil.copy(
                    self._tmp,
                    final_tmp,
                    driver="COG",
                    COMPRESS="DEFLATE",
                    PREDICTOR="YES",
                    BLOCKSIZE="512",
                    OVERVIEWS="AUTO",
                    OVERVIEW_RESAMPLING="AVERAGE",
                    BIGTIFF="IF_SAFER",
                    NUM_THREADS="ALL_CPUS",
                )
                os.replace(final_tmp, self.path)
        finally:
            final_tmp.unlink(missing_ok=True)
            final_tmp.with_name(final_tmp.name + ".ovr.tmp").unlink(missing_ok=True)
            self._tmp.unlink(missing_ok=True)
        self._committed = True
        return self.path

    def abort(self) -> None:
        """Discard everything written so far (what GDAL prints while closing the discarded
        file, e.g. on a full disk, is dropped: the error that led here says it)."""
        with contextlib.suppress(Exception), quiet_native_stderr():
            self._ds.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> GeoTiffWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            self.abort()


@dataclass(frozen=True)
class RasterSummary:
    """Size and a cheap content check of a raster (see :func:`raster_summary`).

    Attributes
    ----------
    width, height, count : int
        Pixels and bands.
    all_nodata : bool
        No valid pixel (nodata, masked or non-finite) in any band.
    constant : bool
        Every valid pixel of every band has the same value (also True when ``all_nodata``).
    value : float or None
        That single value when ``constant`` and not ``all_nodata``.
    """

    width: int
    height: int
    count: int
    all_nodata: bool
    constant: bool
    value: float | None = None

    @property
    def empty(self) -> bool:
        """True for a 0×0 (or band-less) raster."""
        return self.width == 0 or self.height == 0 or self.count == 0


def _value_range(data: np.ma.MaskedArray[Any, Any]) -> tuple[float, float] | None:
    """(min, max) of the valid, finite values of ``data``, or None when there are none."""
    values = np.ma.filled(data.astype(np.float64), np.nan)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    return float(finite.min()), float(finite.max())


def raster_summary(path: str | Path, *, max_size: int = 512) -> RasterSummary:
    """Size of a raster and whether it holds any information (valid, non-constant pixels).

    Reads a decimated view (at most ``max_size`` pixels on the longer side; GDAL uses the
    overviews when the file has some), so the check is cheap on big files. Only when that view
    looks all-nodata or constant is the file scanned block by block, so a small valid area
    missed by the decimation is not reported as empty.

    Parameters
    ----------
    path : path-like
        Any GDAL-readable raster (GeoTIFF, an ENVI ``.img`` of a BEAM-DIMAP ``.data`` folder...).
    max_size : int
        Longer side of the decimated view.

    Raises
    ------
    MissingDataError
        When the file cannot be opened (missing, empty, not a raster).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                width, height, count = src.width, src.height, src.count
                if width == 0 or height == 0 or count == 0:
                    return RasterSummary(width, height, count, all_nodata=True, constant=True)
                scale = max(1, -(-max(width, height) // max_size))
                shape = (count, -(-height // scale), -(-width // scale))
                span = _value_range(src.read(out_shape=shape, masked=True))
                if scale > 1 and (span is None or span[0] == span[1]):
                    span = _scan_blocks(src, span)
    except RasterioIOError as err:
        raise MissingDataError(
            f"{path}: cannot open the raster ({err}); the file is missing, empty or not a raster"
        ) from err
    if span is None:
        return RasterSummary(width, height, count, all_nodata=True, constant=True)
    constant = span[0] == span[1]
    return RasterSummary(
        width,
        height,
        count,
        all_nodata=False,
        constant=constant,
        value=span[0] if constant else None,
    )


def _scan_blocks(src: Any, span: tuple[float, float] | None) -> tuple[float, float] | None:
    """Full-resolution (min, max) by blocks, stopping as soon as two values differ."""
    lo, hi = span if span is not None else (np.inf, -np.inf)
    for _, window in src.block_windows(1):
        block = _value_range(src.read(window=window, masked=True))
        if block is None:
            continue
        lo, hi = min(lo, block[0]), max(hi, block[1])
        if lo != hi:
            break
    return None if lo > hi else (float(lo), float(hi))


BEAM_METADATA_TAG = 65000  # SNAP's GeoTIFF writers store the product's DIMAP header here


def read_band_names(path: str | Path) -> tuple[str, ...]:
    """Band names of a raster: SNAP's own (the DIMAP header SNAP's GeoTIFF writers embed in TIFF
    tag 65000, ``Spectral_Band_Info/BAND_NAME`` by ``BAND_INDEX``), else GDAL's band
    descriptions (``""`` where a band has none).

    Raises
    ------
    MissingDataError
        When the file cannot be opened.
    """
    import xml.etree.ElementTree as ET

    import tifffile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                descriptions = tuple(d or "" for d in src.descriptions)
    except RasterioIOError as err:
        raise MissingDataError(f"{path}: cannot open the raster ({err}); check the file") from err
    try:
        with tifffile.TiffFile(path) as tif:
            tag = tif.pages[0].tags.get(BEAM_METADATA_TAG)  # type: ignore[union-attr]
            header = tag.value if tag is not None else None
    except (OSError, ValueError, tifffile.TiffFileError):
        header = None
    if isinstance(header, bytes):
        header = header.decode("utf-8", errors="replace")
    if not isinstance(header, str) or "Spectral_Band_Info" not in header:
        return descriptions
    try:
        root = ET.fromstring(header.strip().strip("\x00"))
    except ET.ParseError:
        return descriptions
    names: dict[int, str] = {}
    for info in root.iter("Spectral_Band_Info"):
        index, name = info.findtext("BAND_INDEX"), info.findtext("BAND_NAME")
        if index is not None and index.strip().isdigit() and name:
            names[int(index)] = name.strip()
    if len(names) != len(descriptions):
        return descriptions
    return tuple(names[i] for i in sorted(names))
