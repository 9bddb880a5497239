"""The Sentinel-1 GRD chain of the Python engine: ``senprep s1``.

``process_s1(config)`` runs, for every selected polarisation:

1. open and check the product (:mod:`sen_preproc.sentinel1.product`);
2. optional GRD border-noise removal (:mod:`sen_preproc.sentinel1.border_noise`);
3. thermal-noise removal (:mod:`sen_preproc.sentinel1.thermal_noise`);
4. orbit: annotation state vectors or an EOF file (:mod:`sen_preproc.sentinel1.orbit`);
5. radiometric calibration to σ0/β0/γ0 (:mod:`sen_preproc.sentinel1.calibration`);
6. speckle filtering (:mod:`sen_preproc.sentinel1.speckle`);
7. range-Doppler terrain correction on a DEM or the ellipsoid (:mod:`sen_preproc.sentinel1.terrain`);
8. conversion to dB;
9. optional crop to an AOI - applied first, by restricting both the output grid and the part of
   the SAR image that steps 2-6 process.

Memory stays bounded: steps 2-6 run on strips of lines (with the speckle filter's halo) into a
scratch store (on disk for large images); step 7 runs on square output blocks.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import rasterio.transform
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from sen_preproc import __version__
from sen_preproc.errors import GeometryError, OptionError, ProductError
from sen_preproc.grid import (
    RasterGrid,
    crop_grid,
    grid_from_bounds,
    parse_aoi,
    parse_crs,
    utm_crs_for,
)
from sen_preproc.outputs import resolve_output
from sen_preproc.progress import NO_PROGRESS, Progress, track
from sen_preproc.raster_io import (
    DemSampler,
    GeoTiffWriter,
    ScratchStore,
    raster_shape,
    read_grid,
    read_window,
)
from sen_preproc.sentinel1.border_noise import border_noise_mask
from sen_preproc.sentinel1.calibration import calibrate_dn, calibration_lut_name
from sen_preproc.sentinel1.geoid import geoid_undulation_m
from sen_preproc.sentinel1.orbit import check_orbit_covers, read_orbit_file
from sen_preproc.sentinel1.product import (
    GeolocationGrid,
    S1Metadata,
    S1Product,
    open_product,
    read_metadata,
)
from sen_preproc.sentinel1.speckle import SPECKLE_FILTERS, filter_speckle, speckle_halo_px
from sen_preproc.sentinel1.terrain import (
    SarGeometry,
    build_geometry,
    coarse_indices,
    geocode_points,
    sample_bilinear,
    upsample_bilinear,
)
from sen_preproc.sentinel1.thermal_noise import compute_noise_lut
from sen_preproc.sizing import check_output_size

LOGGER = logging.getLogger(__name__)

DEM_DATUMS = ("auto", "egm96", "egm2008", "ellipsoid")
SCALES = ("db", "linear")
COARSE_STEP_PX = 16
DB_FLOOR_LINEAR = 1e-10  # values at SNAP's noise floor map to -100 dB, not -inf


@dataclass(frozen=True)
class S1Config:
    """Options of ``senprep s1`` (see the CLI help for each)."""

    product: Path
    out: Path | None = None
    polarisations: tuple[str, ...] = ()
    border_noise: bool = False
    thermal_noise: bool = True
    orbit_file: Path | None = None
    calibration: str = "sigma0"
    speckle: str = "lee-sigma"
    window_px: int = 7
    dem: Path | None = None
    dem_datum: str = "auto"
    geoid: bool = True
    crs: str | None = None
    pixel_size_m: float = 10.0
    like: Path | None = None
    scale: str = "db"
    aoi: str | None = None
    overwrite: bool = False
    block_px: int = 1024
    strip_rows: int = 512
    max_memory_bytes: int = 1 << 30
    extra_tags: dict[str, str] = field(default_factory=dict)
    allow_large_output: bool = False

    def inputs(self) -> tuple[Path | None, ...]:
        """The files this run reads (never overwritten by its output)."""
        return (self.product, self.dem, self.orbit_file, self.like)

    def validate(self) -> None:
        """Check option values that click cannot (raises OptionError)."""
        calibration_lut_name(self.calibration)
        if self.speckle not in SPECKLE_FILTERS:
            raise OptionError(
                f"unknown speckle filter {self.speckle!r}; use one of {', '.join(SPECKLE_FILTERS)}"
            )
        if self.speckle != "none":
            speckle_halo_px(self.speckle, self.window_px)  # validates the window
        if self.scale not in SCALES:
            raise OptionError(f"unknown scale {self.scale!r}; use db or linear")
        if self.dem_datum not in DEM_DATUMS:
            raise OptionError(
                f"unknown DEM datum {self.dem_datum!r}; use one of {', '.join(DEM_DATUMS)}"
            )
        if not (self.pixel_size_m > 0 and math.isfinite(self.pixel_size_m)):
            raise OptionError(
                f"--pixel-size must be a positive number of metres, got {self.pixel_size_m}"
            )
        if self.like is not None and self.crs is not None:
            raise OptionError("--like and --crs are exclusive: --like already fixes the CRS")


def default_output_name(product: S1Product, config: S1Config) -> str:
    """``<product id>_<calibration>_<scale>.tif``."""
    return f"{product.product_id}_{config.calibration}_{config.scale}.tif"


# --------------------------------------------------------------------------- heights


class HeightModel:
    """Ellipsoidal heights for output blocks: from a DEM (+ geoid) or the geolocation grid."""

    def __init__(self, config: S1Config, geolocation: GeolocationGrid) -> None:
        self.dem: DemSampler | None = DemSampler(config.dem) if config.dem else None
        self.geolocation = geolocation
        self.geoid_model: str | None = None
        if self.dem is not None:
            datum = resolve_dem_datum(self.dem.crs, config.dem_datum)
            if datum != "ellipsoid" and not config.geoid:
                LOGGER.warning(
                    "--no-geoid: DEM heights (%s) used as ellipsoidal heights; positions may "
                    "be off by tens of metres",
                    datum.upper(),
                )
                datum = "ellipsoid"
            self.geoid_model = None if datum == "ellipsoid" else datum
            if self.geoid_model:
                # fail now (clear message) rather than after the radiometric processing
                geoid_undulation_m(np.array([0.0]), np.array([0.0]), self.geoid_model)
        if self.dem is not None:
            horizontal = pyproj.CRS.from_user_input(self.dem.crs.to_wkt())
            if horizontal.is_compound:
                horizontal = horizontal.sub_crs_list[0]
            self._to_dem = pyproj.Transformer.from_crs("EPSG:4326", horizontal, always_xy=True)
        self._grid_lines = geolocation.lines.astype(np.float64)
        self._grid_pixels = geolocation.pixels.astype(np.float64)
        self.void: npt.NDArray[np.bool_] | None = None  # the last block's DEM voids
        self.void_px = 0  # output pixels with data whose height is not from the DEM
        self.data_px = 0  # output pixels with data

    def count_voids(self, has_data: npt.NDArray[np.bool_]) -> None:
        """Add the last block's DEM voids under output pixels holding data to the counts."""
        self.data_px += int(has_data.sum())
        if self.void is not None:
            self.void_px += int((self.void & has_data).sum())

    @property
    def void_fraction(self) -> float:
        """Fraction of the output's data pixels whose height is not from the DEM."""
        return self.void_px / self.data_px if self.data_px else 0.0

    @property
    def description(self) -> str:
        """For the output tags."""
        if self.dem is None:
            return "ellipsoid (geolocation grid heights; not terrain-corrected)"
        return f"{self.dem.path.name} ({self.geoid_model or 'ellipsoidal'} heights)"

    def grid_heights(
        self, line: npt.NDArray[np.float64], pixel: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Heights of the annotation geolocation grid, bilinear at image (line, pixel)."""
        from scipy.interpolate import RegularGridInterpolator

        interp = RegularGridInterpolator(
            (self._grid_lines, self._grid_pixels),
            self.geolocation.height_m,
            bounds_error=False,
            fill_value=None,
        )
        pts = np.stack([np.nan_to_num(line), np.nan_to_num(pixel)], axis=-1)
        return np.asarray(interp(pts), dtype=np.float64)

    def block_heights(
        self,
        grid: RasterGrid,
        lon_c: npt.NDArray[np.float64],
        lat_c: npt.NDArray[np.float64],
        row_idx: npt.NDArray[np.intp],
        col_idx: npt.NDArray[np.intp],
        geometry: SarGeometry,
    ) -> npt.NDArray[np.float64]:
        """Ellipsoidal height (m) of every pixel of ``grid``, shape (height, width)."""
        if self.dem is None:
            return self._geolocation_heights(grid, lon_c, lat_c, row_idx, col_idx, geometry)
        # DEM pixel positions: exact on the coarse grid, bilinear in between (sub-mm for
        # smooth map projections), so heights do not depend on how the grid is split in blocks
        x_dem, y_dem = self._to_dem.transform(lon_c, lat_c)
        inv = ~self.dem.transform
        col_c = inv.c + inv.a * x_dem + inv.b * y_dem - 0.5
        row_c = inv.f + inv.d * x_dem + inv.e * y_dem - 0.5
        heights = self.dem.sample(
            upsample_bilinear(col_c, row_idx, col_idx), upsample_bilinear(row_c, row_idx, col_idx)
        )
        if self.geoid_model:
            undulation = geoid_undulation_m(lon_c, lat_c, self.geoid_model)
            heights += upsample_bilinear(undulation, row_idx, col_idx)
        self.void = ~np.isfinite(heights)
        if self.void.any():  # DEM voids / outside the DEM: the annotation's (coarse) heights
            fallback = self._geolocation_heights(grid, lon_c, lat_c, row_idx, col_idx, geometry)
            heights[self.void] = fallback[self.void]
        return heights

    def _geolocation_heights(
        self,
        grid: RasterGrid,
        lon_c: npt.NDArray[np.float64],
        lat_c: npt.NDArray[np.float64],
        row_idx: npt.NDArray[np.intp],
        col_idx: npt.NDArray[np.intp],
        geometry: SarGeometry,
    ) -> npt.NDArray[np.float64]:
        """Ellipsoidal heights of the annotation's geolocation grid at every pixel of ``grid``."""
        mean_h = float(np.mean(self.geolocation.height_m))
        flat = np.full((grid.height, grid.width), mean_h)
        line, pixel = geocode_points(geometry, lon_c, lat_c, row_idx, col_idx, flat)
        coarse_h = self.grid_heights(
            line[np.ix_(row_idx, col_idx)], pixel[np.ix_(row_idx, col_idx)]
        )
        return upsample_bilinear(coarse_h, row_idx, col_idx)

    def close(self) -> None:
        """Release the DEM."""
        if self.dem is not None:
            self.dem.close()


def resolve_dem_datum(crs: CRS, option: str) -> str:
    """Vertical datum of a DEM: ``ellipsoid``, ``egm96`` or ``egm2008``.

    ``auto`` reads it from a compound/3-D CRS; a plain 2-D CRS is taken as EGM96, the datum of
    SRTM and the Copernicus DEM (SNAP's ``externalDEMApplyEGM=true`` default).
    """
    if option != "auto":
        return option
    wkt = crs.to_wkt().upper()
    if "EGM2008" in wkt or "EGM08" in wkt:
        return "egm2008"
    if "EGM96" in wkt:
        return "egm96"
    pcrs = pyproj.CRS.from_user_input(crs.to_wkt())
    if pcrs.is_geographic and len(pcrs.axis_info) == 3:
        return "ellipsoid"
    LOGGER.info("DEM CRS has no vertical datum: heights taken as EGM96 (use --dem-datum)")
    return "egm96"


def check_dem_covers(dem: DemSampler, grid: RasterGrid) -> None:
    """Raise GeometryError when the DEM misses the output grid or has no data over it; warn
    when it covers < 90 %."""
    import shapely.geometry

    from sen_preproc.grid import transform_geometry

    dem_box = transform_geometry(shapely.geometry.box(*dem.bounds), dem.crs, grid.crs)
    grid_box = shapely.geometry.box(*grid.bounds)
    covered = dem_box.intersection(grid_box).area / grid_box.area
    if covered <= 0.0:
        dem.close()
        raise GeometryError(
            f"{dem.path}: the DEM does not cover the output area {tuple(round(v) for v in grid.bounds)} "
            f"({grid.crs.to_string()}); give a DEM over the scene or --aoi inside the DEM"
        )
    left, bottom, right, top = dem_box.intersection(grid_box).bounds
    if not dem.has_data(transform_bounds(grid.crs, dem.crs, left, bottom, right, top)):
        dem.close()
        raise GeometryError(
            f"{dem.path}: the DEM holds no data over the output area (all no-data there); give "
            "a DEM with heights over the scene, or leave out --dem to geocode on the ellipsoid"
        )
    if covered < 0.9:
        LOGGER.warning(
            "%s covers only %.0f %% of the output area; heights outside come from the "
            "product's (coarse) geolocation grid",
            dem.path.name,
            100 * covered,
        )


# --------------------------------------------------------------------------- grids


def check_s1_output_size(
    config: S1Config, grid: RasterGrid, metadata: S1Metadata, bands: int, out: Path
) -> None:
    """Refuse an absurd output grid before any pixel is processed (see :mod:`sen_preproc.sizing`)."""
    check_output_size(
        grid,
        bands=bands,
        bytes_per_sample=4,
        input_pixel_size_m=math.sqrt(
            metadata.image.range_pixel_spacing_m * metadata.image.azimuth_pixel_spacing_m
        ),
        out=out,
        fix="a larger --pixel-size (GRD pixels are ~10 m) or a coarser --like grid",
        allow_large=config.allow_large_output,
    )


def output_grid(config: S1Config, metadata: S1Metadata) -> RasterGrid:
    """The terrain-correction output grid (``--like``, or ``--crs``/UTM + ``--pixel-size``), cropped to the AOI."""
    geo = metadata.geolocation
    lon, lat = geo.longitude_deg, geo.latitude_deg
    aoi = parse_aoi(config.aoi) if config.aoi else None
    if config.like is not None:
        grid = read_grid(config.like)
    else:
        if config.crs:
            crs = parse_crs(config.crs)
        else:
            crs = utm_crs_for(float(lon.mean()), float(lat.mean()))
        transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        x, y = transformer.transform(lon.ravel(), lat.ravel())
        pixel = config.pixel_size_m
        if crs.is_geographic:
            pixel = config.pixel_size_m / 111320.0  # metres -> degrees at the equator (as SNAP)
        grid = grid_from_bounds(crs, (min(x), min(y), max(x), max(y)), pixel)
    footprint_crop = grid
    if aoi is not None:
        footprint_crop = crop_grid(grid, aoi, CRS.from_epsg(4326))
    return footprint_crop


def coarse_lonlat(
    grid: RasterGrid, row_idx: npt.NDArray[np.intp], col_idx: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """WGS84 lon/lat (deg) of pixel centres at rows ``row_idx`` x cols ``col_idx``."""
    rows, cols = np.meshgrid(row_idx, col_idx, indexing="ij")
    xs, ys = rasterio.transform.xy(grid.transform, rows, cols, offset="center")
    x, y = np.reshape(xs, rows.shape), np.reshape(ys, rows.shape)
    if grid.crs.is_geographic and grid.crs.to_epsg() == 4326:
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    transformer = _to_wgs84(grid.crs.to_wkt())
    lon, lat = transformer.transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


_TRANSFORMERS: dict[str, pyproj.Transformer] = {}


def _to_wgs84(wkt: str) -> pyproj.Transformer:
    if wkt not in _TRANSFORMERS:
        _TRANSFORMERS[wkt] = pyproj.Transformer.from_crs(wkt, "EPSG:4326", always_xy=True)
    return _TRANSFORMERS[wkt]


def geocode_grid(
    grid: RasterGrid, geometry: SarGeometry, heights: HeightModel, step_px: int = COARSE_STEP_PX
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Image (line, pixel) of every pixel of ``grid`` (one block)."""
    row_idx = coarse_indices(grid.height, step_px)
    col_idx = coarse_indices(grid.width, step_px)
    lon_c, lat_c = coarse_lonlat(grid, row_idx, col_idx)
    h = heights.block_heights(grid, lon_c, lat_c, row_idx, col_idx, geometry)
    return geocode_points(geometry, lon_c, lat_c, row_idx, col_idx, h)


def source_window(
    grid: RasterGrid, geometry: SarGeometry, heights: HeightModel, margin_px: int
) -> Window:
    """The part of the SAR image that the output grid needs, plus ``margin_px``.

    Geocodes a decimated copy of the output grid (every 16th pixel); the margin covers the
    speckle halo, the bilinear kernel and relief between the decimated samples.
    """
    step = max(1, min(16, grid.width // 4, grid.height // 4))
    small = RasterGrid(
        crs=grid.crs,
        transform=grid.transform @ grid.transform.scale(step, step),
        width=max(math.ceil(grid.width / step), 1),
        height=max(math.ceil(grid.height / step), 1),
    )
    line, pixel = geocode_grid(small, geometry, heights, step_px=8)
    inside = (
        np.isfinite(line)
        & np.isfinite(pixel)
        & (line > -step - 1)
        & (line < geometry.lines + step)
        & (pixel > -step - 1)
        & (pixel < geometry.samples + step)
    )
    if not inside.any():
        raise GeometryError(
            "the output grid does not overlap the product's swath; check --aoi / --like / --crs"
        )
    pad = margin_px + 2 * step + 2
    r0 = max(int(math.floor(line[inside].min())) - pad, 0)
    r1 = min(int(math.ceil(line[inside].max())) + pad + 1, geometry.lines)
    c0 = max(int(math.floor(pixel[inside].min())) - pad, 0)
    c1 = min(int(math.ceil(pixel[inside].max())) + pad + 1, geometry.samples)
    if r0 >= r1 or c0 >= c1:
        raise GeometryError(
            "the output grid does not overlap the product's swath; check --aoi / --like / --crs"
        )
    return Window(c0, r0, c1 - c0, r1 - r0)


# --------------------------------------------------------------------------- radiometry


def radiometric_strip(
    dn: npt.NDArray[Any],
    metadata: S1Metadata,
    row_start: int,
    col_start: int,
    config: S1Config,
) -> npt.NDArray[np.float32]:
    """Border noise, thermal noise and calibration of a DN window -> linear float32."""
    rows, cols = dn.shape
    noise = None
    if config.thermal_noise:
        noise = compute_noise_lut(
            metadata.noise, row_start, row_start + rows, col_start, col_start + cols
        )
    lut = metadata.calibration[calibration_lut_name(config.calibration)]
    values = calibrate_dn(dn, lut, row_start, col_start, noise)
    if config.border_noise:
        intensity = dn.astype(np.float64) ** 2 - (noise if noise is not None else 0.0)
        intensity[dn == 0] = np.nan
        values[border_noise_mask(intensity, col_start, metadata.image.samples)] = np.nan
    return values


def to_db(linear: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """10·log10 of linear backscatter (NaN stays NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (10.0 * np.log10(np.maximum(linear, DB_FLOOR_LINEAR))).astype(np.float32)


# --------------------------------------------------------------------------- chain


def process_s1(config: S1Config, progress: Progress = NO_PROGRESS) -> Path:
    """Run the Sentinel-1 GRD chain and write the GeoTIFF; returns its path.

    Raises
    ------
    SenPrepError
        Any problem with the inputs or options, with a message naming the fix. Nothing is left
        at the output path on failure.
    """
    config.validate()
    product = open_product(config.product)
    pols = product.require_polarisations(config.polarisations or product.polarisations)
    out = resolve_output(
        config.out, default_output_name(product, config), config.overwrite, config.inputs()
    )
    product.verify(pols)
    measurement = {pol: product.measurement_path(pol) for pol in pols}
    metadata = {pol: read_metadata(product, pol) for pol in pols}
    first = metadata[pols[0]]
    for pol, meta in metadata.items():
        shape = raster_shape(measurement[pol], product=product.path)
        if shape != (meta.image.lines, meta.image.samples):
            raise ProductError(
                f"{product.path}: {pol} measurement is {shape[0]}x{shape[1]} but the annotation "
                f"says {meta.image.lines}x{meta.image.samples}; the product is damaged"
            )
        if meta.image.thermal_noise_removed and config.thermal_noise:
            LOGGER.warning("%s: thermal noise already removed by the IPF; skipping", pol)
    if any(m.image.thermal_noise_removed for m in metadata.values()):
        config = replace(config, thermal_noise=False)

    state_vectors = None
    orbit_source = "annotation"
    if config.orbit_file is not None:
        orbit = read_orbit_file(config.orbit_file)
        check_orbit_covers(
            orbit,
            first.image.first_line_time,
            first.image.last_line_time,
            product.mission,
            config.orbit_file,
        )
        state_vectors = orbit.state_vectors
        orbit_source = f"{Path(config.orbit_file).name} ({orbit.file_type or 'EOF'})"
    geometry = build_geometry(first, state_vectors)

    try:
        grid = output_grid(config, first)
    except GeometryError as err:
        raise GeometryError(f"{product.path}: {err}") from err
    check_s1_output_size(config, grid, first, len(pols), out)
    heights = HeightModel(config, first.geolocation)
    if heights.dem is not None:
        check_dem_covers(heights.dem, grid)
    if heights.dem is None:
        LOGGER.warning(
            "no --dem given: geocoding on the ellipsoid (geolocation-grid heights); the output "
            "is NOT terrain-corrected"
        )
    halo = speckle_halo_px(config.speckle, config.window_px) if config.speckle != "none" else 0
    try:
        try:
            window = source_window(grid, geometry, heights, halo)
        except GeometryError as err:
            raise GeometryError(f"{product.path}: {err}") from err
        LOGGER.info(
            "SAR window lines %d-%d, samples %d-%d; output %dx%d px %s",
            window.row_off,
            window.row_off + window.height,
            window.col_off,
            window.col_off + window.width,
            grid.width,
            grid.height,
            grid.crs.to_string(),
        )
        with ScratchStore(
            pols,
            int(window.height),
            int(window.width),
            max_memory_bytes=config.max_memory_bytes,
            owner=out,
        ) as store:
            _run_radiometry(config, metadata, measurement, window, halo, store, progress, product)
            tags = _tags(config, product, pols, grid, heights, orbit_source)
            with GeoTiffWriter(
                out,
                grid,
                pols,
                tags=tags,
                band_tags={
                    p: {"POLARISATION": p, "UNITS": "dB" if config.scale == "db" else "linear"}
                    for p in pols
                },
                overwrite=config.overwrite,
                inputs=config.inputs(),
                empty_hint="the product's pixels are all zero (no data) or the output grid (--like, "
                "--aoi) misses them",
            ) as writer:
                _run_terrain_correction(
                    config, geometry, heights, grid, window, store, pols, writer, progress
                )
                writer.commit()
    finally:
        heights.close()
    LOGGER.info("wrote %s", out)
    return out


def _run_radiometry(
    config: S1Config,
    metadata: dict[str, S1Metadata],
    measurement: dict[str, str],
    window: Window,
    halo: int,
    store: ScratchStore,
    progress: Progress,
    product: S1Product,
) -> None:
    r0, c0 = int(window.row_off), int(window.col_off)
    rows, cols = int(window.height), int(window.width)
    lines, samples = metadata[store.names[0]].image.lines, metadata[store.names[0]].image.samples
    strips = list(range(0, rows, config.strip_rows))
    steps = [(pol, s) for pol in store.names for s in strips]
    for pol, start in track(progress, steps, "calibrate+speckle", "strip"):
        stop = min(start + config.strip_rows, rows)
        # read with the speckle halo (clipped to the image), filter, crop the halo away
        rr0 = max(r0 + start - halo, 0)
        rr1 = min(r0 + stop + halo, lines)
        cc0 = max(c0 - halo, 0)
        cc1 = min(c0 + cols + halo, samples)
        dn = read_window(
            measurement[pol], Window(cc0, rr0, cc1 - cc0, rr1 - rr0), product=product.path
        )
        values = radiometric_strip(dn, metadata[pol], rr0, cc0, config)
        if config.speckle != "none":
            values = filter_speckle(values, config.speckle, config.window_px)
        top = r0 + start - rr0
        left = c0 - cc0
        store.write(pol, start, values[top : top + stop - start, left : left + cols])


def _run_terrain_correction(
    config: S1Config,
    geometry: SarGeometry,
    heights: HeightModel,
    grid: RasterGrid,
    window: Window,
    store: ScratchStore,
    pols: tuple[str, ...],
    writer: GeoTiffWriter,
    progress: Progress,
) -> None:
    r0, c0 = int(window.row_off), int(window.col_off)
    blocks = list(grid.blocks(config.block_px))
    for block in track(progress, blocks, "terrain correction", "block"):
        block_grid = grid.window_grid(block)
        line, pixel = geocode_grid(block_grid, geometry, heights)
        out = np.full((len(pols), block_grid.height, block_grid.width), np.nan, dtype=np.float32)
        ok = np.isfinite(line) & np.isfinite(pixel)
        ok &= (line >= -0.5) & (line <= geometry.lines - 0.5)
        ok &= (pixel >= -0.5) & (pixel <= geometry.samples - 0.5)
        if ok.any():
            lr0 = max(int(math.floor(line[ok].min())) - 1 - r0, 0)
            lr1 = min(int(math.ceil(line[ok].max())) + 2 - r0, store.rows)
            lc0 = max(int(math.floor(pixel[ok].min())) - 1 - c0, 0)
            lc1 = min(int(math.ceil(pixel[ok].max())) + 2 - c0, store.cols)
            if lr0 < lr1 and lc0 < lc1:
                src_window = Window(lc0, lr0, lc1 - lc0, lr1 - lr0)
                for index, pol in enumerate(pols):
                    image = store.read(pol, src_window)
                    values = sample_bilinear(image, line, pixel, r0 + lr0, c0 + lc0)
                    values[~ok] = np.nan
                    out[index] = to_db(values) if config.scale == "db" else values
        heights.count_voids(np.asarray(np.isfinite(out).any(axis=0)))
        writer.write(block, out)
    report_dem_voids(heights, writer)


def report_dem_voids(heights: HeightModel, writer: GeoTiffWriter) -> None:
    """Refuse an output whose heights all come from outside the DEM; warn about partial voids
    and record their fraction in the tags (``DEM_VOID_FRACTION``)."""
    if heights.dem is None or heights.data_px == 0:
        return
    fraction = heights.void_fraction
    writer.tags["DEM_VOID_FRACTION"] = f"{fraction:.4f}"
    if fraction >= 1.0:
        raise GeometryError(
            f"{heights.dem.path}: no output pixel got its height from the DEM (voids or no-data "
            "everywhere under the scene); give a DEM with heights over the scene, or leave out "
            "--dem to geocode on the ellipsoid"
        )
    if fraction > 0.0:
        LOGGER.warning(
            "%s: %.2f %% of the output lies on DEM voids or outside the DEM; heights there come "
            "from the product's (coarse) geolocation grid (tag DEM_VOID_FRACTION)",
            heights.dem.path.name,
            100 * fraction,
        )


def product_tags(product: S1Product) -> dict[str, str]:
    """Output tags describing the source product (both engines)."""
    return {
        "SOURCE_PRODUCT": product.product_id,
        "MISSION": product.mission,
        "ACQUISITION_START": str(product.start_time) + "Z",
        "ACQUISITION_STOP": str(product.stop_time) + "Z",
        "ORBIT_DIRECTION": product.pass_direction,
        "ABSOLUTE_ORBIT": str(product.absolute_orbit),
        "RELATIVE_ORBIT": str(product.relative_orbit),
        "IPF_VERSION": product.ipf_version,
    }


def _tags(
    config: S1Config,
    product: S1Product,
    pols: tuple[str, ...],
    grid: RasterGrid,
    heights: HeightModel,
    orbit_source: str,
) -> dict[str, str]:
    steps: list[dict[str, Any]] = [
        {"step": "read", "product": product.product_id, "polarisations": list(pols)}
    ]
    if config.border_noise:
        steps.append(
            {"step": "border-noise-removal", "border_limit_px": 500, "trim_threshold": 0.5}
        )
    if config.thermal_noise:
        steps.append({"step": "thermal-noise-removal", "azimuth_blocks": product.ipf_at_least_2_9})
    steps.append({"step": "orbit", "source": orbit_source})
    steps.append({"step": "calibration", "target": config.calibration})
    steps.append(
        {"step": "speckle-filter", "filter": config.speckle, "window_px": config.window_px}
    )
    steps.append(
        {
            "step": "terrain-correction",
            "method": "range-doppler backward geocoding, bilinear",
            "heights": heights.description,
            "crs": grid.crs.to_string(),
            "pixel_size": grid.pixel_size[0],
        }
    )
    if config.scale == "db":
        steps.append({"step": "linear-to-db"})
    if config.aoi:
        steps.append({"step": "crop", "aoi": config.aoi})
    tags = product_tags(product) | {
        "CALIBRATION": config.calibration,
        "SCALE": config.scale,
        "ENGINE": "python",
        "PROCESSING_STEPS": json.dumps(steps),
        "SENPREP_VERSION": __version__,
        "PROCESSING_TIME": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    tags.update(config.extra_tags)
    return tags
