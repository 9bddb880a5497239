"""The Sentinel-2 chain: ``senprep s2``.

Band selection, resampling to one resolution (upsampling bilinear, downsampling by averaging),
ESA radiometry (``reflectance = (DN + offset) / quantification`` with the product's own offsets),
a validity mask from the L2A scene classification (SCL), optional reprojection (``--crs``),
``--like`` grid and AOI crop. Output: reflectance x 10 000 as uint16 (nodata 0; the MCcGAN
paper's 0-10 000 scale) or float32 reflectance (nodata NaN), plus a ``valid`` band (1 = clear
land/water, 0 = cloud, shadow, cirrus, saturated or no data). Processed in output blocks.

Steps: :func:`prepare_product` (Sen2Cor for L1C when asked), :func:`plan_s2` (files, grid,
processing record), :func:`write_s2` (the block loop, radiometry of
:mod:`sen_preproc.sentinel2.radiometry`).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject

from sen_preproc import __version__
from sen_preproc.archives import verify_gdal_paths
from sen_preproc.bands import VALID_BAND, normalise_band
from sen_preproc.errors import GeometryError, OptionError
from sen_preproc.grid import RasterGrid, crop_grid, grid_from_bounds, parse_aoi, parse_crs
from sen_preproc.outputs import resolve_output
from sen_preproc.progress import NO_PROGRESS, Progress, track
from sen_preproc.raster_io import GeoTiffWriter, decoding, read_grid
from sen_preproc.sentinel2.product import BandFile, S2Input, open_s2
from sen_preproc.sentinel2.radiometry import (
    DEFAULT_INVALID_SCL,
    OUTPUT_DTYPES,
    OUTPUT_SCALE,
    CloudCounter,
    check_scl_classes,
    dn_to_reflectance,
    encode_output,
    validity,
)
from sen_preproc.sentinel2.sen2cor import run_sen2cor
from sen_preproc.sizing import check_output_size

LOGGER = logging.getLogger(__name__)

DEFAULT_BANDS = ("B2", "B3", "B4", "B8")
BAND_SETS = {"rgb": ("B4", "B3", "B2"), "rgbn": ("B2", "B3", "B4", "B8")}
"""Named band sets: the paper's RGB and RGB+NIR inputs."""
ATMCOR_CHOICES = ("none", "sen2cor")
"""Choices of ``--atmcor``: none, or Sen2Cor for L1C input."""


@dataclass(frozen=True)
class S2Config:
    """Options of ``senprep s2``."""

    product: Path
    out: Path | None = None
    bands: tuple[str, ...] = DEFAULT_BANDS
    resolution_m: float = 10.0
    dtype: str = "uint16"
    invalid_scl: tuple[int, ...] = DEFAULT_INVALID_SCL
    atmcor: str = "none"
    crs: str | None = None
    like: Path | None = None
    aoi: str | None = None
    overwrite: bool = False
    block_px: int = 2048
    allow_large_output: bool = False

    def inputs(self) -> tuple[Path | None, ...]:
        """The files this run reads (never overwritten by its output)."""
        return (self.product, self.like)

    def validate(self) -> None:
        """Check values click cannot."""
        if self.dtype not in OUTPUT_DTYPES:
            raise OptionError(
                f"--dtype must be one of {', '.join(OUTPUT_DTYPES)}, got {self.dtype!r}"
            )
        if not (self.resolution_m > 0 and math.isfinite(self.resolution_m)):
            raise OptionError(
                f"--resolution must be a positive number of metres, got {self.resolution_m}"
            )
        if self.atmcor not in ATMCOR_CHOICES:
            raise OptionError(
                f"--atmcor must be one of {', '.join(ATMCOR_CHOICES)}, got {self.atmcor!r}"
            )
        check_scl_classes(self.invalid_scl)
        if self.like is not None and self.crs is not None:
            raise OptionError("--like and --crs are exclusive: --like already fixes the CRS")
        if not self.bands:
            raise OptionError("--bands is empty; give e.g. B2,B3,B4,B8")
        for band in self.bands:
            try:
                normalise_band(band)
            except ValueError as err:
                raise OptionError(str(err)) from err


def parse_bands(text: str) -> tuple[str, ...]:
    """``B2,B3,B4,B8`` or a named set (``rgb``, ``rgbn``) -> canonical band names."""
    key = text.strip().lower()
    if key in BAND_SETS:
        return BAND_SETS[key]
    bands = tuple(normalise_band(b) for b in text.split(",") if b.strip())
    repeated = sorted({b for b in bands if bands.count(b) > 1})
    if repeated:
        raise OptionError(f"--bands {text!r} names {', '.join(repeated)} more than once")
    return bands


def pick_file(files: list[BandFile], resolution_m: float) -> BandFile:
    """The file at ``resolution_m`` if present, else the finest one (resampled later)."""
    for f in files:
        if math.isclose(f.resolution_m, resolution_m, rel_tol=1e-3):
            return f
    return files[0]


def output_grid(config: S2Config, product: S2Input, bands: tuple[str, ...]) -> RasterGrid:
    """Target grid: the product's grid at ``--resolution``, reprojected (``--crs``) or ``--like``, cropped to the AOI."""
    if config.like is not None:
        grid = read_grid(config.like)
    else:
        ref = pick_file(product.band_files(bands[0]), config.resolution_m)
        with rasterio.open(ref.path) as ds:
            src_crs, bounds = ds.crs, tuple(ds.bounds)
        if config.crs:
            dst_crs = parse_crs(config.crs)
            transformer = pyproj.Transformer.from_crs(src_crs, dst_crs, always_xy=True)
            b_left, b_bottom, b_right, b_top = (float(v) for v in bounds)
            left, bottom, right, top = transformer.transform_bounds(
                b_left, b_bottom, b_right, b_top, densify_pts=21
            )
            size = config.resolution_m / 111_320.0 if dst_crs.is_geographic else config.resolution_m
            grid = grid_from_bounds(dst_crs, (left, bottom, right, top), size)
        else:
            # the product's own grid (same origin), pixel size scaled to the target resolution
            with rasterio.open(ref.path) as ds:
                factor = config.resolution_m / ref.resolution_m
                grid = RasterGrid(
                    crs=ds.crs,
                    transform=ds.transform @ Affine.scale(factor),
                    width=max(int(math.ceil(ds.width / factor - 1e-9)), 1),
                    height=max(int(math.ceil(ds.height / factor - 1e-9)), 1),
                )
    if config.aoi:
        try:
            grid = crop_grid(grid, parse_aoi(config.aoi), CRS.from_epsg(4326))
        except GeometryError as err:
            raise GeometryError(f"{product.path}: {err}") from err
    return grid


def check_s2_output_size(config: S2Config, product: S2Input, out: Path) -> RasterGrid:
    """The output grid, refused when absurd before any pixel is read (see
    :mod:`sen_preproc.sizing`)."""
    bands = tuple(normalise_band(b) for b in config.bands)
    for band in bands:
        product.check_resolution(band, config.resolution_m)
    grid = output_grid(config, product, bands)
    finest = min(f.resolution_m for b in bands for f in product.band_files(b))
    check_output_size(
        grid,
        bands=len(bands) + 1,
        bytes_per_sample=2 if config.dtype == "uint16" else 4,
        input_pixel_size_m=finest,
        out=out,
        fix="a larger --resolution (S2 bands are 10, 20 or 60 m) or a coarser --like grid",
        option="--resolution",
        allow_large=config.allow_large_output,
    )
    return grid


def read_band_on_grid(
    band_file: BandFile, grid: RasterGrid, *, categorical: bool = False
) -> npt.NDArray[np.float32]:
    """A band's DN on ``grid`` (float32, NaN = no data): averaging when the source is finer,
    bilinear when coarser or reprojected, nearest for categorical rasters (SCL)."""
    out = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    with decoding(band_file.path), rasterio.open(band_file.path) as ds:
        src_res = abs(ds.res[0])
        dst_res = grid.pixel_size[0] * (
            111_320.0 if grid.crs.is_geographic and not ds.crs.is_geographic else 1.0
        )
        if categorical:
            method = Resampling.nearest
        elif ds.crs == grid.crs and dst_res > src_res * 1.01:
            method = Resampling.average
        else:
            method = Resampling.bilinear
        reproject(
            source=rasterio.band(ds, band_file.band_index),
            destination=out,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            src_nodata=ds.nodata if ds.nodata is not None else 0,
            dst_nodata=np.nan,
            resampling=method,
        )
    return out


def default_output_name(product: S2Input, config: S2Config) -> str:
    """``<product id>_<bands>_<res>m.tif``."""
    return f"{product.product_id}_{''.join(config.bands)}_{config.resolution_m:g}m.tif"


@dataclass(frozen=True)
class S2Plan:
    """What :func:`write_s2` reads and writes: the band files, the SCL file and the grid."""

    product: S2Input
    bands: tuple[str, ...]
    files: dict[str, BandFile]
    scl: BandFile | None
    grid: RasterGrid
    steps: tuple[dict[str, Any], ...]


def prepare_product(
    config: S2Config, product: S2Input, scratch: Path
) -> tuple[S2Input, list[dict[str, Any]]]:
    """The product to read (Sen2Cor's L2A for an L1C with ``--atmcor sen2cor``) and the
    processing steps so far."""
    steps: list[dict[str, Any]] = [
        {"step": "read", "product": product.product_id, "kind": product.kind}
    ]
    if product.level == "L1C":
        if config.atmcor == "sen2cor" and product.kind != "safe":
            raise OptionError(
                f"{product.path}: Sen2Cor needs the Level-1C SAFE product, not a {product.kind} "
                "of band GeoTIFFs; give the SAFE, or leave out --atmcor sen2cor for top-of-"
                "atmosphere reflectance"
            )
        if config.atmcor == "sen2cor":
            product = open_s2(run_sen2cor(product.path, scratch))
            steps.append({"step": "atmospheric-correction", "tool": "sen2cor"})
        else:
            LOGGER.warning(
                "%s is Level-1C: writing top-of-atmosphere reflectance (no atmospheric "
                "correction); use an L2A product or --atmcor sen2cor",
                product.path,
            )
    return product, steps


def plan_s2(config: S2Config, product: S2Input, steps: list[dict[str, Any]]) -> S2Plan:
    """Choose the band and SCL files, the output grid, and record the processing steps."""
    bands = tuple(normalise_band(b) for b in config.bands)
    for band in bands:
        product.check_resolution(band, config.resolution_m)
    files = {b: pick_file(product.band_files(b), config.resolution_m) for b in bands}
    grid = output_grid(config, product, bands)
    scl_file = None
    if product.scl:
        res = min(product.scl, key=lambda r: abs(r - config.resolution_m))
        scl_file = BandFile(product.scl[res], res)
    else:
        LOGGER.warning(
            "%s has no scene classification (SCL): clouds are not masked (the valid band marks "
            "no-data only)",
            product.path,
        )
    steps = [
        *steps,
        {
            "step": "resample",
            "resolution_m": config.resolution_m,
            "upsampling": "bilinear",
            "downsampling": "average",
            "native": {b: f.resolution_m for b, f in files.items()},
        },
        {
            "step": "radiometry",
            "formula": "(DN + offset) / quantification; DN 0 and 65535 -> no data",
            "offsets": {b: product.offsets.get(b, 0.0) for b in bands},
            "quantification": product.quantification,
        },
        {
            "step": "mask",
            "source": "SCL" if scl_file else "nodata",
            "invalid_classes": list(config.invalid_scl),
        },
    ]
    if config.crs:
        steps.append({"step": "reproject", "crs": grid.crs.to_string()})
    if config.aoi:
        steps.append({"step": "crop", "aoi": config.aoi})
    return S2Plan(product, bands, files, scl_file, grid, tuple(steps))


def output_tags(product: S2Input, dtype: str) -> dict[str, str]:
    """The dataset tags of an ``senprep s2`` output (both engines)."""
    return {
        "SOURCE_PRODUCT": product.product_id,
        "MISSION": product.mission,
        "SENSING_TIME": product.sensing_time,
        "PROCESSING_LEVEL": product.level,
        "PROCESSING_BASELINE": product.processing_baseline,
        "REFLECTANCE_SCALE": "1" if dtype == "float32" else f"{OUTPUT_SCALE:g}",
        "SENPREP_VERSION": __version__,
        "PROCESSING_TIME": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_s2(config: S2Config, plan: S2Plan, out: Path, progress: Progress = NO_PROGRESS) -> float:
    """Read, convert and write the output block by block; returns the invalid fraction."""
    product = plan.product
    clouds = CloudCounter()
    tags = output_tags(product, config.dtype) | {"ENGINE": "python"}
    verify_gdal_paths(
        [f.path for f in plan.files.values()] + ([plan.scl.path] if plan.scl else []),
        product=product.path,
    )
    with GeoTiffWriter(
        out,
        plan.grid,
        [*plan.bands, VALID_BAND],
        tags=tags,
        overwrite=config.overwrite,
        inputs=config.inputs(),
        dtype=config.dtype,
        nodata=float("nan") if config.dtype == "float32" else 0,
        empty_hint="the output grid (--like, --aoi, --resolution) does not overlap the image's data",
    ) as writer:
        blocks = list(plan.grid.blocks(config.block_px))
        for window in track(progress, blocks, "sentinel-2", "block"):
            block = plan.grid.window_grid(window)
            stack = np.stack(
                [
                    dn_to_reflectance(
                        read_band_on_grid(plan.files[band], block),
                        product.offsets.get(band, 0.0),
                        product.quantification,
                    )
                    for band in plan.bands
                ]
            )
            scl = (
                read_band_on_grid(plan.scl, block, categorical=True)
                if plan.scl is not None
                else None
            )
            data_ok = np.all(np.isfinite(stack), axis=0)
            valid = validity(data_ok, scl, config.invalid_scl)
            clouds.add(data_ok, valid)
            writer.write(window, encode_output(stack, valid, config.dtype))
        writer.tags["CLOUD_FRACTION"] = f"{clouds.fraction:.4f}"
        writer.tags["PROCESSING_STEPS"] = json.dumps(list(plan.steps))
        writer.commit()
    return clouds.fraction


def process_s2(config: S2Config, progress: Progress = NO_PROGRESS) -> Path:
    """Run the Sentinel-2 chain and write the GeoTIFF; returns its path."""
    config.validate()
    product = open_s2(config.product)
    out = resolve_output(
        config.out, default_output_name(product, config), config.overwrite, config.inputs()
    )
    check_s2_output_size(config, product, out)
    with tempfile.TemporaryDirectory(prefix="senprep-s2-", dir=out.parent) as tmp:
        product, steps = prepare_product(config, product, Path(tmp))
        plan = plan_s2(config, product, steps)
        invalid = write_s2(config, plan, out, progress)
    LOGGER.info("wrote %s (invalid fraction %.1f %%)", out, 100 * invalid)
    return out
