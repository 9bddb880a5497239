"""The Sentinel-2 chain: ``senprep s2``.

Band selection, resampling to one resolution (upsampling bilinear, downsampling by averaging),
ESA radiometry (``reflectance = (DN + offset) / quantification`` with the product's own offsets),
a validity mask from the L2A scene classification (SCL), optional reprojection (``--crs``),
``--like`` grid and AOI crop. Output: reflectance x 10 000 as uint16 (nodata 0; the MCcGAN
paper's 0-10 000 scale) or float32 reflectance (nodata NaN), plus a ``valid`` band (1 = clear
land/water, 0 = cloud, shadow, cirrus, saturated or no data). Processed in output blocks.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Callable
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
from tqdm import tqdm

from sen_preproc import __version__
from sen_preproc.bands import normalise_band
from sen_preproc.errors import OptionError
from sen_preproc.grid import RasterGrid, crop_grid, grid_from_bounds, parse_aoi, parse_crs
from sen_preproc.outputs import resolve_output
from sen_preproc.raster_io import GeoTiffWriter, read_grid
from sen_preproc.sentinel2.product import BandFile, S2Input, open_s2
from sen_preproc.sentinel2.sen2cor import run_sen2cor

LOGGER = logging.getLogger(__name__)

DEFAULT_BANDS = ("B2", "B3", "B4", "B8")
BAND_SETS = {"rgb": ("B4", "B3", "B2"), "rgbn": ("B2", "B3", "B4", "B8")}
"""Named band sets: the paper's RGB and RGB+NIR inputs."""
DEFAULT_INVALID_SCL = (0, 1, 3, 8, 9, 10)
"""SCL classes masked: no data, saturated/defective, cloud shadow, cloud medium/high, cirrus."""
OUTPUT_SCALE = 10000.0


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
    quiet: bool = False
    block_px: int = 2048

    def inputs(self) -> tuple[Path | None, ...]:
        """The files this run reads (never overwritten by its output)."""
        return (self.product, self.like)

    def validate(self) -> None:
        """Check values click cannot."""
        if self.dtype not in ("uint16", "float32"):
            raise OptionError(f"--dtype must be uint16 or float32, got {self.dtype!r}")
        if self.resolution_m not in (10.0, 20.0, 60.0) and not self.resolution_m > 0:
            raise OptionError(f"--resolution must be positive, got {self.resolution_m}")
        if self.atmcor not in ("none", "sen2cor"):
            raise OptionError(f"--atmcor must be none or sen2cor, got {self.atmcor!r}")
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
    try:
        return tuple(normalise_band(b) for b in text.split(",") if b.strip())
    except ValueError as err:
        raise OptionError(str(err)) from err


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
        grid = crop_grid(grid, parse_aoi(config.aoi), CRS.from_epsg(4326))
    return grid


def read_band_on_grid(
    band_file: BandFile, grid: RasterGrid, *, categorical: bool = False
) -> npt.NDArray[np.float32]:
    """A band's DN on ``grid`` (float32, NaN = no data): averaging when the source is finer,
    bilinear when coarser or reprojected, nearest for categorical rasters (SCL)."""
    out = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    with rasterio.open(band_file.path) as ds:
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


def process_s2(config: S2Config, progress: Callable[..., Any] | None = None) -> Path:
    """Run the Sentinel-2 chain and write the GeoTIFF; returns its path."""
    config.validate()
    bands = tuple(normalise_band(b) for b in config.bands)
    product = open_s2(config.product)
    out = resolve_output(
        config.out, default_output_name(product, config), config.overwrite, config.inputs()
    )
    steps: list[dict[str, Any]] = [
        {"step": "read", "product": product.product_id, "kind": product.kind}
    ]
    with tempfile.TemporaryDirectory(prefix="senprep-s2-", dir=out.parent) as tmp:
        if product.level == "L1C":
            if config.atmcor == "sen2cor":
                l2a = run_sen2cor(product.path, Path(tmp))
                product = open_s2(l2a)
                steps.append({"step": "atmospheric-correction", "tool": "sen2cor"})
            else:
                LOGGER.warning(
                    "%s is Level-1C: writing top-of-atmosphere reflectance (no atmospheric "
                    "correction); use an L2A product or --atmcor sen2cor",
                    product.path,
                )
        for band in bands:
            product.check_resolution(band, config.resolution_m)
        files = {b: pick_file(product.band_files(b), config.resolution_m) for b in bands}
        grid = output_grid(config, product, bands)
        scl_file = None
        if product.scl:
            res = min(product.scl, key=lambda r: abs(r - config.resolution_m))
            scl_file = BandFile(product.scl[res], res)
        elif product.level == "L2A" and product.kind == "safe":
            LOGGER.warning("%s has no SCL band: clouds are not masked", product.path)
        steps.append(
            {
                "step": "resample",
                "resolution_m": config.resolution_m,
                "upsampling": "bilinear",
                "downsampling": "average",
                "native": {b: f.resolution_m for b, f in files.items()},
            }
        )
        steps.append(
            {
                "step": "radiometry",
                "formula": "(DN + offset) / quantification",
                "offsets": {b: product.offsets.get(b, 0.0) for b in bands},
                "quantification": product.quantification,
            }
        )
        steps.append(
            {
                "step": "mask",
                "source": "SCL" if scl_file else "nodata",
                "invalid_classes": list(config.invalid_scl),
            }
        )
        if config.crs:
            steps.append({"step": "reproject", "crs": grid.crs.to_string()})
        if config.aoi:
            steps.append({"step": "crop", "aoi": config.aoi})
        float_out = config.dtype == "float32"
        names = [*bands, "valid"]
        counts = np.zeros(2, dtype=np.int64)  # data pixels, invalid data pixels
        bar = progress or (lambda it, **kw: tqdm(it, disable=config.quiet, leave=False, **kw))
        tags = {
            "SOURCE_PRODUCT": product.product_id,
            "MISSION": product.mission,
            "SENSING_TIME": product.sensing_time,
            "PROCESSING_LEVEL": product.level,
            "PROCESSING_BASELINE": product.processing_baseline,
            "REFLECTANCE_SCALE": "1" if float_out else f"{OUTPUT_SCALE:g}",
            "ENGINE": "python",
            "SENPREP_VERSION": __version__,
            "PROCESSING_TIME": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        with GeoTiffWriter(
            out,
            grid,
            names,
            tags=tags,
            overwrite=config.overwrite,
            inputs=config.inputs(),
            dtype="float32" if float_out else "uint16",
            nodata=float("nan") if float_out else 0,
        ) as writer:
            for window in bar(list(grid.blocks(config.block_px)), desc="sentinel-2", unit="block"):
                block = grid.window_grid(window)
                stack = np.empty((len(bands), block.height, block.width), dtype=np.float32)
                for i, band in enumerate(bands):
                    dn = read_band_on_grid(files[band], block)
                    stack[i] = (dn + product.offsets.get(band, 0.0)) / product.quantification
                data_ok = np.all(np.isfinite(stack), axis=0)
                valid = data_ok.copy()
                if scl_file is not None:
                    scl = read_band_on_grid(scl_file, block, categorical=True)
                    valid &= np.isfinite(scl) & ~np.isin(
                        np.nan_to_num(scl, nan=0), config.invalid_scl
                    )
                counts += (int(data_ok.sum()), int((data_ok & ~valid).sum()))
                if float_out:
                    out_block = np.where(data_ok, stack, np.nan).astype(np.float32)
                    out_valid = valid.astype(np.float32)[None]
                else:
                    scaled = np.clip(np.round(np.nan_to_num(stack) * OUTPUT_SCALE), 1, 65535)
                    out_block = np.where(data_ok, scaled, 0).astype(np.uint16)
                    out_valid = valid.astype(np.uint16)[None]
                writer.write(window, np.concatenate([out_block, out_valid.astype(out_block.dtype)]))
            cloud_fraction = counts[1] / counts[0] if counts[0] else 1.0
            writer.tags["CLOUD_FRACTION"] = f"{cloud_fraction:.4f}"
            writer.tags["PROCESSING_STEPS"] = json.dumps(steps)
            writer.commit()
    LOGGER.info("wrote %s (invalid fraction %.1f %%)", out, 100 * cloud_fraction)
    return out
