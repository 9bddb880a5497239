"""Co-register a Sentinel-1 and a Sentinel-2 GeoTIFF onto one grid: ``senprep pair``.

The default target is the Sentinel-2 grid (S1 is resampled once, bilinearly in linear power, not
in dB); ``--grid s1`` uses the S1 grid and ``--grid EPSG:xxxx --resolution R`` a new one. The
output is cropped to the intersection of the two valid-data footprints (shapely polygons in a
projected CRS), so both images have the same extent and pixel count - the paper's Crop and
Resize - and written as one stack: ``VV, VH, B2, ..., valid``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.features
import shapely
import shapely.geometry
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError, WindowError
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from sen_preproc import __version__
from sen_preproc.bands import VALID_BAND, is_polarisation
from sen_preproc.errors import GeometryError, MissingDataError, OptionError, ProductError
from sen_preproc.grid import (
    RasterGrid,
    grid_from_bounds,
    parse_crs,
    transform_geometry,
    utm_crs_for,
)
from sen_preproc.outputs import check_output_file
from sen_preproc.progress import NO_PROGRESS, Progress, track
from sen_preproc.raster_io import GeoTiffWriter
from sen_preproc.sizing import check_output_size, pixel_area_m2

LOGGER = logging.getLogger(__name__)

FOOTPRINT_PX = 512  # footprints are traced on a decimated mask of at most this many pixels a side


@dataclass(frozen=True)
class PairConfig:
    """Options of ``senprep pair``."""

    s1: Path
    s2: Path
    out: Path
    grid: str = "s2"  # s2 | s1 | EPSG:xxxx
    resolution_m: float | None = None
    min_overlap: float = 0.10
    overwrite: bool = False
    block_px: int = 2048
    allow_large_output: bool = False


@dataclass(frozen=True)
class RasterInfo:
    """What pairing needs to know about an input GeoTIFF."""

    path: Path
    grid: RasterGrid
    descriptions: tuple[str, ...]
    tags: dict[str, str]
    nodata: float | None
    dtype: str


def read_raster_info(path: Path, option: str) -> RasterInfo:
    """Open any georeferenced raster given as ``option`` (one clear line when it cannot be
    read or has no CRS)."""
    try:
        with rasterio.open(path) as ds:
            grid = RasterGrid(ds.crs, ds.transform, ds.width, ds.height) if ds.crs else None  # type: ignore[arg-type]
            info = RasterInfo(path=path, grid=grid, descriptions=tuple(d or "" for d in ds.descriptions),  # type: ignore[arg-type]
                              tags=ds.tags(), nodata=ds.nodata, dtype=ds.dtypes[0])  # fmt: skip
    except RasterioIOError as err:
        raise MissingDataError(f"{path}: cannot open the raster ({err}); check {option}") from err
    if info.grid is None:
        raise ProductError(
            f"{path}: the raster has no georeference (CRS); {option} needs a GeoTIFF on a map grid"
        )
    return info


def read_info(path: Path, role: str) -> RasterInfo:
    """Open ``path`` and check it is a georeferenced S1 (``role='s1'``) or S2 image."""
    try:
        info = read_raster_info(path, f"--{role}")
    except ProductError as err:
        raise ProductError(
            f"{path}: the raster has no georeference (CRS); give the output of `senprep {role}`"
        ) from err
    s1_like = [d for d in info.descriptions if is_polarisation(d)]
    s2_like = [d for d in info.descriptions if d.upper().startswith("B") and d[1:2].isdigit()]
    if role == "s1" and not s1_like:
        hint = " (it looks like a Sentinel-2 image: pass it as --s2)" if s2_like else ""
        raise ProductError(
            f"{path}: no VV/VH/HH/HV bands{hint}; --s1 needs the output of `senprep s1`"
        )
    if role == "s2" and not s2_like:
        hint = " (it looks like a Sentinel-1 image: pass it as --s1)" if s1_like else ""
        raise ProductError(
            f"{path}: no Sentinel-2 bands (B2, B3, ...){hint}; --s2 needs the output of `senprep s2`"
        )
    return info


def valid_footprint(info: RasterInfo, crs: CRS) -> shapely.geometry.base.BaseGeometry:
    """Polygon of the valid-data area of a raster, in ``crs`` (from a decimated mask)."""
    grid = info.grid
    factor = max(1, math.ceil(max(grid.width, grid.height) / FOOTPRINT_PX))
    shape = (max(1, math.ceil(grid.height / factor)), max(1, math.ceil(grid.width / factor)))
    with rasterio.open(info.path) as ds:
        data = ds.read(1, out_shape=shape, resampling=Resampling.nearest).astype(np.float64)
    valid = np.isfinite(data)
    if info.nodata is not None and not np.isnan(info.nodata):
        valid &= data != info.nodata
    transform = grid.transform @ grid.transform.scale(grid.width / shape[1], grid.height / shape[0])
    polygons = [
        shapely.geometry.shape(geom)
        for geom, value in rasterio.features.shapes(
            valid.astype(np.uint8), mask=valid, transform=transform
        )
        if value == 1
    ]
    if not polygons:
        raise GeometryError(f"{info.path}: the raster holds no valid pixels; check the input")
    footprint = shapely.union_all(polygons)
    return transform_geometry(footprint, grid.crs, crs) if grid.crs != crs else footprint


def projected_crs(grid: RasterGrid) -> CRS:
    """A projected CRS to measure areas in: the grid's own, or the UTM zone of its centre."""
    if not grid.crs.is_geographic:
        return grid.crs
    left, bottom, right, top = grid.bounds
    return utm_crs_for(0.5 * (left + right), 0.5 * (bottom + top))


def target_grid(config: PairConfig, s1: RasterInfo, s2: RasterInfo) -> RasterGrid:
    """The full grid the pair lands on (before cropping to the footprint intersection)."""
    choice = config.grid.strip()
    if choice.lower() in ("s1", "s2") and config.resolution_m is not None:
        raise OptionError(
            f"--resolution {config.resolution_m:g} is for --grid EPSG:xxxx; --grid {choice} keeps "
            f"the {choice.upper()} image's own pixel size: drop --resolution or give --grid EPSG:…"
        )
    if choice.lower() == "s2":
        return s2.grid
    if choice.lower() == "s1":
        return s1.grid
    crs = parse_crs(choice, "--grid")
    if config.resolution_m is None:
        raise OptionError(
            f"--grid {choice} needs --resolution (metres, or degrees for geographic CRSs)"
        )
    if not (config.resolution_m > 0 and math.isfinite(config.resolution_m)):
        raise OptionError(
            f"--resolution must be a positive pixel size (CRS units), got {config.resolution_m:g}"
        )
    footprint = transform_geometry(shapely.geometry.box(*s2.grid.bounds), s2.grid.crs, crs)
    return grid_from_bounds(crs, footprint.bounds, config.resolution_m)


def crop_to_overlap(
    config: PairConfig, grid: RasterGrid, s1: RasterInfo, s2: RasterInfo
) -> tuple[RasterGrid, float]:
    """Crop ``grid`` to the intersection of the valid footprints; returns it and the overlap
    as a fraction of the smaller footprint."""
    crs = projected_crs(grid)
    fp1 = valid_footprint(s1, crs)
    fp2 = valid_footprint(s2, crs)
    inter = fp1.intersection(fp2)
    smaller = min(fp1.area, fp2.area)
    fraction = inter.area / smaller if smaller > 0 else 0.0
    if inter.is_empty or fraction == 0.0:
        raise GeometryError(f"{s1.path} and {s2.path} do not overlap; pair images of the same area")
    if fraction < config.min_overlap:
        raise GeometryError(
            f"{s1.path} and {s2.path} overlap on only {100 * fraction:.1f} % of the smaller footprint "
            f"(minimum {100 * config.min_overlap:.0f} %); pair better matching images or lower --min-overlap"
        )
    local = transform_geometry(inter, crs, grid.crs) if crs != grid.crs else inter
    window = from_bounds(*local.bounds, transform=grid.transform)
    eps = 1e-6  # keep only pixels entirely inside the overlap (rounded inwards)
    col0 = max(int(math.ceil(window.col_off - eps)), 0)
    col1 = min(int(math.floor(window.col_off + window.width + eps)), grid.width)
    row0 = max(int(math.ceil(window.row_off - eps)), 0)
    row1 = min(int(math.floor(window.row_off + window.height + eps)), grid.height)
    if col0 >= col1 or row0 >= row1:
        raise GeometryError(f"{s1.path} and {s2.path}: the overlap is smaller than one pixel")
    # the footprints come from decimated masks (one coarse pixel = `coarse` target pixels):
    # the crop edges are then set exactly from full-resolution masks in strips along them
    coarse = max(
        _footprint_factor(s1) * _pixel_ratio(s1, grid),
        _footprint_factor(s2) * _pixel_ratio(s2, grid),
    )
    if coarse > 1:
        col0, row0, col1, row1 = refine_crop(
            grid, (col0, row0, col1, row1), s1, s2, int(math.ceil(coarse)) + 2
        )
    return grid.window_grid(Window(col0, row0, col1 - col0, row1 - row0)), fraction


def _footprint_factor(info: RasterInfo) -> int:
    """Decimation of the mask :func:`valid_footprint` traces (source pixels per mask pixel)."""
    return max(1, math.ceil(max(info.grid.width, info.grid.height) / FOOTPRINT_PX))


def _pixel_ratio(info: RasterInfo, grid: RasterGrid) -> float:
    """Source pixel size in target pixels (approximate, for margins)."""
    if info.grid.crs == grid.crs:
        return abs(info.grid.transform.a) / abs(grid.transform.a)
    left, bottom, right, top = transform_bounds(info.grid.crs, grid.crs, *info.grid.bounds)
    size = max((right - left) / info.grid.width, (top - bottom) / info.grid.height)
    return float(size / abs(grid.transform.a))


def refine_crop(
    grid: RasterGrid,
    box: tuple[int, int, int, int],
    s1: RasterInfo,
    s2: RasterInfo,
    margin_px: int,
) -> tuple[int, int, int, int]:
    """Exact crop edges: the bounding box of the target pixels where both rasters hold data.

    ``box`` (col0, row0, col1, row1, target pixels) comes from decimated footprints and is off
    by less than ``margin_px``; each edge is searched in a strip of ``2 * margin_px`` around it,
    reading both rasters on the target grid at full resolution (S1 resampled as when pairing),
    so the cost stays that of four thin strips even for a full scene.
    """
    col0, row0, col1, row1 = box
    outer = (
        max(col0 - margin_px, 0),
        max(row0 - margin_px, 0),
        min(col1 + margin_px, grid.width),
        min(row1 + margin_px, grid.height),
    )

    def both_valid(c0: int, r0: int, c1: int, r1: int) -> npt.NDArray[np.bool_]:
        block = grid.window_grid(Window(c0, r0, c1 - c0, r1 - r0))
        ok: npt.NDArray[np.bool_] = np.ones((block.height, block.width), dtype=bool)
        for info in (s1, s2):
            ok &= np.isfinite(read_on_grid(info, 1, block, to_linear=False, categorical=False))
        return ok

    oc0, or0, oc1, or1 = outer
    # each strip's rows (or columns) that hold a pixel valid in both; offsets in the grid
    strips = (
        (np.flatnonzero(both_valid(oc0, or0, oc1, min(row0 + margin_px, or1)).any(axis=1)), or0),
        (
            np.flatnonzero(both_valid(oc0, max(row1 - margin_px, or0), oc1, or1).any(axis=1)),
            max(row1 - margin_px, or0),
        ),
        (np.flatnonzero(both_valid(oc0, or0, min(col0 + margin_px, oc1), or1).any(axis=0)), oc0),
        (
            np.flatnonzero(both_valid(max(col1 - margin_px, oc0), or0, oc1, or1).any(axis=0)),
            max(col1 - margin_px, oc0),
        ),
    )
    (top, top0), (bottom, bottom0), (left, left0), (right, right0) = strips
    row0 = top0 + int(top[0]) if top.size else row0
    row1 = bottom0 + int(bottom[-1]) + 1 if bottom.size else row1
    col0 = left0 + int(left[0]) if left.size else col0
    col1 = right0 + int(right[-1]) + 1 if right.size else col1
    return col0, row0, col1, row1


def read_on_grid(
    info: RasterInfo, band: int, grid: RasterGrid, *, to_linear: bool, categorical: bool
) -> npt.NDArray[np.float32]:
    """Band ``band`` of ``info`` on ``grid`` as float32 (NaN = nodata); see
    :func:`read_bands_on_grid`."""
    data = read_bands_on_grid(info, [band], grid, to_linear=to_linear, categorical=categorical)
    return np.asarray(data[0], dtype=np.float32)


def read_bands_on_grid(
    info: RasterInfo,
    bands: Sequence[int],
    grid: RasterGrid,
    *,
    to_linear: bool,
    categorical: bool,
) -> npt.NDArray[np.float32]:
    """Bands ``bands`` (1-based) of ``info`` on ``grid``, ``(len(bands), rows, cols)`` float32
    (NaN = nodata), read in one call (a pixel-interleaved GeoTIFF decompresses each block once).

    Same grid: a windowed read. Otherwise only the source window under ``grid`` is read and
    resampled (bilinear; in linear power when ``to_linear``; nearest for categorical bands, whose
    values - e.g. ``valid`` = 0 - are not treated as nodata).
    """
    fill = 0.0 if categorical else np.nan
    out = np.full((len(bands), grid.height, grid.width), fill, dtype=np.float32)
    with rasterio.open(info.path) as ds:
        nodata = None if categorical else (info.nodata if info.nodata is not None else ds.nodata)
        inv = ~ds.transform
        col, row = inv @ (grid.transform.c, grid.transform.f)
        aligned = (
            ds.crs == grid.crs
            and math.isclose(ds.transform.a, grid.transform.a, rel_tol=1e-9)
            and math.isclose(ds.transform.e, grid.transform.e, rel_tol=1e-9)
            and abs(col - round(col)) < 1e-6
            and abs(row - round(row)) < 1e-6
        )
        if aligned:
            window = Window(round(col), round(row), grid.width, grid.height)
        else:
            left, bottom, right, top = transform_bounds(
                grid.crs, ds.crs, *grid.bounds, densify_pts=21
            )
            window = from_bounds(left, bottom, right, top, ds.transform)
            window = Window(
                math.floor(window.col_off) - 2,
                math.floor(window.row_off) - 2,
                math.ceil(window.width) + 5,
                math.ceil(window.height) + 5,
            )
        full = Window(0, 0, ds.width, ds.height)
        try:
            clipped = window.intersection(full)
        except WindowError:
            return out
        data = ds.read(list(bands), window=clipped).astype(np.float32)
        if nodata is not None and not np.isnan(nodata):
            data[data == nodata] = np.nan
        if aligned:
            r0 = int(clipped.row_off - window.row_off)
            c0 = int(clipped.col_off - window.col_off)
            out[:, r0 : r0 + data.shape[1], c0 : c0 + data.shape[2]] = data
            return out
        if to_linear:
            data = np.power(np.float32(10.0), data / np.float32(10.0))
        reproject(
            source=data,
            destination=out,
            src_transform=ds.window_transform(clipped),
            src_crs=ds.crs,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            src_nodata=np.nan,
            dst_nodata=fill,
            resampling=Resampling.nearest if categorical else Resampling.bilinear,
        )
    if to_linear:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (10.0 * np.log10(out)).astype(np.float32)
    return out


def time_gap_days(start: str, end: str) -> float | None:
    """Days from ISO time ``start`` to ``end`` (negative when ``end`` is earlier; None when
    either is missing or not a time). Fractions beyond microseconds are ignored."""
    try:
        first = datetime.fromisoformat(start.rstrip("Z")[:26])
        last = datetime.fromisoformat(end.rstrip("Z")[:26])
    except ValueError:
        return None
    return (last - first).total_seconds() / 86400.0


def _time_gap_days(s1: RasterInfo, s2: RasterInfo) -> tuple[str, str, str]:
    t1 = s1.tags.get("ACQUISITION_START", "")
    t2 = s2.tags.get("SENSING_TIME", "")
    gap = time_gap_days(t1, t2)
    return t1, t2, "" if gap is None else f"{abs(gap):.3f}"


def pair_images(config: PairConfig, progress: Progress = NO_PROGRESS) -> Path:
    """Co-register ``config.s1`` and ``config.s2`` and write the aligned stack."""
    if not 0.0 <= config.min_overlap <= 1.0:
        raise OptionError(f"--min-overlap must be within 0..1, got {config.min_overlap}")
    check_output_file(config.out, overwrite=config.overwrite, inputs=(config.s1, config.s2))
    s1 = read_info(config.s1, "s1")
    s2 = read_info(config.s2, "s2")
    full = target_grid(config, s1, s2)
    check_output_size(
        full,
        bands=len(s1.descriptions) + len(s2.descriptions),
        bytes_per_sample=4,
        input_pixel_size_m=math.sqrt(min(pixel_area_m2(s1.grid), pixel_area_m2(s2.grid))),
        out=config.out,
        fix="a larger --resolution, or --grid s2",
        option="--resolution",
        allow_large=config.allow_large_output,
    )
    grid, fraction = crop_to_overlap(config, full, s1, s2)
    s1_bands = [(i + 1, d) for i, d in enumerate(s1.descriptions) if is_polarisation(d)]
    s2_bands = [(i + 1, d) for i, d in enumerate(s2.descriptions) if d and not is_polarisation(d)]
    s1_db = s1.tags.get("SCALE", "db").lower() == "db"
    names = [d for _, d in s1_bands] + [d for _, d in s2_bands]
    t1, t2, gap = _time_gap_days(s1, s2)
    tags = {
        "S1_SOURCE": s1.tags.get("SOURCE_PRODUCT", s1.path.name),
        "S2_SOURCE": s2.tags.get("SOURCE_PRODUCT", s2.path.name),
        "S1_ACQUISITION_TIME": t1,
        "S2_SENSING_TIME": t2,
        "TIME_GAP_DAYS": gap,
        "S1_SCALE": "db" if s1_db else "linear",
        "S2_REFLECTANCE_SCALE": s2.tags.get("REFLECTANCE_SCALE", "10000"),
        "OVERLAP_FRACTION": f"{fraction:.4f}",
        "PROCESSING_STEPS": json.dumps(
            [
                {
                    "step": "pair",
                    "grid": config.grid,
                    "crs": grid.crs.to_string(),
                    "pixel_size": grid.pixel_size[0],
                    "s1_resampling": "bilinear in linear power",
                    "crop": "intersection of valid footprints",
                }
            ]
        ),
        "SENPREP_VERSION": __version__,
        "PROCESSING_TIME": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with GeoTiffWriter(
        config.out,
        grid,
        names,
        tags=tags,
        overwrite=config.overwrite,
        inputs=(config.s1, config.s2),
        empty_hint="the S1 and S2 images hold no data where they overlap",
    ) as writer:
        for window in track(progress, list(grid.blocks(config.block_px)), "pair", "block"):
            block = grid.window_grid(window)
            layers = [
                read_on_grid(s1, i, block, to_linear=s1_db, categorical=False) for i, _ in s1_bands
            ]
            layers += [
                read_on_grid(s2, i, block, to_linear=False, categorical=name == VALID_BAND)
                for i, name in s2_bands
            ]
            writer.write(window, np.stack(layers))
        writer.commit()
    LOGGER.info(
        "wrote %s (%dx%d px, overlap %.0f %%)", config.out, grid.width, grid.height, 100 * fraction
    )
    return config.out
