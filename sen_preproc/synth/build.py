"""``senprep synth``: write a simulated region - raw Sentinel-1/-2 products, the truth, the scenario.

::

    OUT/
      scenario.json                    classes, parcels, events, dates, every model parameter
      raw/  S1A_IW_GRDH_1SDV_....SAFE  one per date (VV+VH; .zip with --zip)
            S2A_MSIL2A_....SAFE        one per date (L2A, all bands, SCL, cloud masks)
            dem.tif                    Copernicus-DEM-like: 1 arcsec, EGM96 heights
      truth/ landcover.tif parcels.tif        (S2 10 m grid)
             reflectance_YYYYMMDD.tif         cloud-free reflectance x 10 000 (--bands)
             lai_YYYYMMDD.tif                 leaf area index (m²/m²)
             sigma0_YYYYMMDD.tif              noise-free σ0 VV, VH (dB) at the S1 date
             change_YYYYMMDD_YYYYMMDD.tif     event code between two dates (each pair)

The scene is built from :mod:`~sen_preproc.synth.landscape` (static layout),
:mod:`~sen_preproc.synth.phenology` (what the land does each day),
:mod:`~sen_preproc.synth.optics` and :mod:`~sen_preproc.synth.radar` (what S2 and S1 measure)
and :mod:`~sen_preproc.synth.atmosphere` (clouds, shadows, SCL), and written through the
format-faithful product factories of :mod:`sen_preproc.testing`. Deterministic: the same
configuration gives the same bytes. The folder is written under a temporary name and renamed
into place at the end.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import shutil
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import rasterio
from affine import Affine
from rasterio.crs import CRS
from scipy import ndimage

from sen_preproc import __version__
from sen_preproc.bands import normalise_band
from sen_preproc.errors import OptionError
from sen_preproc.grid import RasterGrid, utm_crs_for
from sen_preproc.interrupts import remove_stale_temporaries, temporary_path
from sen_preproc.outputs import check_output_folder, writing
from sen_preproc.progress import NO_PROGRESS, Progress, track
from sen_preproc.raster_io import GeoTiffWriter
from sen_preproc.synth import atmosphere, location, optics, phenology, radar
from sen_preproc.synth.landscape import CLASSES, PIXEL_M, Landscape, SceneGrid, build_landscape
from sen_preproc.synth.phenology import EVENT_CODES, Phenology, State

LOGGER = logging.getLogger(__name__)

FORMAT = "senprep-synth"
FORMAT_VERSION = 1
DEFAULT_DATES = ("2023-04-20", "2023-05-25", "2023-06-29", "2023-07-24")
DEFAULT_BANDS = ("B2", "B3", "B4", "B8")
DEFAULT_CENTRE = (4.75, 50.65)  # Hesbaye, Belgium: loess farmland
CLOUD_CHOICES = ("auto", "none")
MARGIN_M = 800.0
S1_LOOKS = 4.4  # equivalent number of looks of IW GRDH
MAX_SIZE_KM = 60.0
L2A_RESOLUTIONS = {
    "B01": (20, 60), "B02": (10, 20, 60), "B03": (10, 20, 60), "B04": (10, 20, 60),
    "B05": (20, 60), "B06": (20, 60), "B07": (20, 60), "B08": (10,), "B8A": (20, 60),
    "B09": (60,), "B11": (20, 60), "B12": (20, 60),
}  # fmt: skip
"""The L2A products' band files per resolution (as the Sentinel-2 factory writes them)."""


@dataclass(frozen=True)
class SynthConfig:
    """Options of ``senprep synth``."""

    out: Path
    size_km: float = 6.0
    dates: tuple[str, ...] = DEFAULT_DATES
    bands: tuple[str, ...] = DEFAULT_BANDS
    clouds: str = "auto"
    seed: int = 0
    centre: tuple[float, float] = DEFAULT_CENTRE
    s1_repeat_days: int = 12
    ascending: bool = False
    zipped: bool = False
    overwrite: bool = False

    def parsed_dates(self) -> list[date]:
        """The dates, checked to be ISO dates in increasing order."""
        out = []
        for text in self.dates:
            try:
                out.append(date.fromisoformat(text.strip()))
            except ValueError as err:
                raise OptionError(
                    f"--dates: {text!r} is not a date; give YYYY-MM-DD,YYYY-MM-DD,..."
                ) from err
        if not out:
            raise OptionError("--dates is empty; give at least one YYYY-MM-DD")
        for earlier, later in itertools.pairwise(out):
            if later <= earlier:
                raise OptionError(
                    f"--dates must increase: {later.isoformat()} is not after "
                    f"{earlier.isoformat()}; list them in time order"
                )
        if len({d.year for d in out}) > 1:
            raise OptionError("--dates must lie within one year (one growing season)")
        return out

    def cloud_cover(self) -> list[float | None]:
        """Cloud fraction of each date (None: drawn, 5-35 %). ``auto``: the first date clear,
        the others drawn; ``none``: all clear; one fraction: the dates after the first; one
        fraction per date: as given."""
        n = len(self.dates)
        if self.clouds == "auto":
            return [0.0] + [None] * (n - 1)
        if self.clouds == "none":
            return [0.0] * n
        try:
            values = [float(v) for v in self.clouds.split(",")]
        except ValueError as err:
            raise OptionError(
                f"--clouds {self.clouds!r}: use auto, none, a fraction like 0.3 or one "
                "fraction per date like 0,0.3,0"
            ) from err
        if len(values) not in (1, n):
            raise OptionError(
                f"--clouds {self.clouds!r} gives {len(values)} fractions for {n} dates; give "
                "one, or one per date"
            )
        bad = [v for v in values if not 0.0 <= v <= 0.9]
        if bad:
            raise OptionError(f"--clouds {bad[0]:g} must be within 0..0.9")
        chosen: list[float | None] = [0.0, *values * (n - 1)] if len(values) == 1 else [*values]
        return chosen

    def validate(self) -> None:
        if not (math.isfinite(self.size_km) and 0.6 <= self.size_km <= MAX_SIZE_KM):
            raise OptionError(
                f"--size-km {self.size_km:g}: give a side between 0.6 and {MAX_SIZE_KM:g} km"
            )
        self.parsed_dates()
        self.cloud_cover()
        for band in self.bands:
            if normalise_band(band) == "B10":
                raise OptionError("--bands B10: Level-2A products have no B10 (cirrus) band")
        if len(set(self.bands)) != len(self.bands):
            raise OptionError(f"--bands {','.join(self.bands)} repeats a band")
        if self.s1_repeat_days not in (6, 12):
            raise OptionError(f"--s1-repeat {self.s1_repeat_days}: use 6 or 12 days")
        lon, lat = self.centre
        if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 80.0):
            raise OptionError(
                f"--centre {lon:g},{lat:g}: give lon,lat in degrees within the UTM zones "
                "(latitude -80..80)"
            )


def _code(band: str) -> str:
    """``B2`` -> ``B02``, ``B8A`` -> ``B8A`` (the products' file codes)."""
    name = normalise_band(band)
    return name if name == "B8A" else f"B{int(name[1:]):02d}"


@dataclass
class Acquisitions:
    """One date: the S2 time, the S1 time and the states of the land at both."""

    label: str
    s2_time: datetime
    s1_time: datetime
    s2_day: float
    s1_day: float
    wind_m_s: float
    cloud_cover: float


def _day_of_year(t: datetime) -> float:
    return float(t.timetuple().tm_yday - 1) + (t.hour * 3600 + t.minute * 60 + t.second) / 86400.0


def scene_grid(config: SynthConfig) -> tuple[SceneGrid, location.Tile]:
    """The 10 m UTM grid of the scene: the S2 area on the tile's 60 m lattice, plus a margin."""
    lon, lat = config.centre
    crs = utm_crs_for(lon, lat)
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_utm.transform(lon, lat)
    tile = location.mgrs_tile(lon, lat, x, y)
    size_px = max(6, int(round(config.size_km * 100.0 / 6.0)) * 6)
    side = size_px * PIXEL_M
    ulx = tile.ulx_m + 60.0 * round((x - side / 2 - tile.ulx_m) / 60.0)
    uly = tile.uly_m - 60.0 * round((tile.uly_m - (y + side / 2)) / 60.0)
    ulx = min(max(ulx, tile.ulx_m), tile.ulx_m + location.TILE_SIZE_M - side)
    uly = max(min(uly, tile.uly_m), tile.uly_m - location.TILE_SIZE_M + side)
    margin_px = int(MARGIN_M / PIXEL_M)
    shape = (size_px + 2 * margin_px, size_px + 2 * margin_px)
    grid = SceneGrid(
        epsg=tile.epsg,
        ulx_m=ulx - margin_px * PIXEL_M,
        uly_m=uly + margin_px * PIXEL_M,
        shape=shape,
        s2_offset_px=(margin_px, margin_px),
        s2_size_px=size_px,
    )
    return grid, tile


class _GridSampler:
    """Bilinear samples of scene-grid rasters at lon/lat (the factories' field callbacks)."""

    def __init__(self, grid: SceneGrid) -> None:
        self.grid = grid
        self._to_utm = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{grid.epsg}", always_xy=True)

    def rows_cols(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Any, Any]:
        x, y = self._to_utm.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        col = (np.asarray(x) - self.grid.ulx_m) / PIXEL_M - 0.5
        row = (self.grid.uly_m - np.asarray(y)) / PIXEL_M - 0.5
        return row, col

    def sample(self, image: npt.NDArray[Any], lon: npt.ArrayLike, lat: npt.ArrayLike) -> Any:
        row, col = self.rows_cols(lon, lat)
        shape = np.shape(row)
        out = ndimage.map_coordinates(
            image, [np.ravel(row), np.ravel(col)], order=1, mode="nearest", prefilter=False
        )
        return out.reshape(shape)


def _geoid_heights(landscape: Landscape, sampler: _GridSampler) -> tuple[Any, str]:
    """Ellipsoidal-height callback for the S1 factory and the DEM datum used ("egm96" when
    PROJ's EGM96 grid is installed, else "ellipsoid": heights then taken as ellipsoidal)."""
    from sen_preproc.sentinel1.geoid import find_geoid_grid, geoid_undulation_m

    height = landscape.height_m
    if find_geoid_grid("egm96") is None:
        LOGGER.warning(
            "PROJ's EGM96 grid is not installed (apt-get install proj-data): the DEM is written "
            "with ellipsoidal heights (EPSG:4979) instead of EGM96 ones"
        )

        def ellipsoidal(lon: Any, lat: Any) -> Any:
            return sampler.sample(height, lon, lat)

        return ellipsoidal, "ellipsoid"

    def with_geoid(lon: Any, lat: Any) -> Any:
        lon_a, lat_a = np.asarray(lon, np.float64), np.asarray(lat, np.float64)
        return sampler.sample(height, lon_a, lat_a) + geoid_undulation_m(lon_a, lat_a)

    return with_geoid, "egm96"


def write_dem(path: Path, landscape: Landscape, sampler: _GridSampler, datum: str) -> Path:
    """A Copernicus-DEM-like GeoTIFF over the scene grid: 1 arcsec, float32, EGM96 heights
    (EPSG:9707 = WGS 84 + EGM96 height), or ellipsoidal heights (EPSG:4979)."""
    grid = landscape.grid
    to_lonlat = pyproj.Transformer.from_crs(f"EPSG:{grid.epsg}", "EPSG:4326", always_xy=True)
    x0, y0 = grid.ulx_m, grid.uly_m
    x1, y1 = x0 + grid.shape[1] * PIXEL_M, y0 - grid.shape[0] * PIXEL_M
    lons, lats = to_lonlat.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
    step = 1.0 / 3600.0
    west, east = math.floor(min(lons) / step) * step, math.ceil(max(lons) / step) * step
    south, north = math.floor(min(lats) / step) * step, math.ceil(max(lats) / step) * step
    width, height = round((east - west) / step), round((north - south) / step)
    lon = west + (np.arange(width) + 0.5) * step
    lat = north - (np.arange(height) + 0.5) * step
    lon2, lat2 = np.meshgrid(lon, lat)
    values = sampler.sample(landscape.height_m, lon2, lat2).astype(np.float32)
    crs = CRS.from_epsg(9707) if datum == "egm96" else CRS.from_epsg(4979)
    with rasterio.open(
        path, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
        crs=crs, transform=Affine(step, 0, west, 0, -step, north), nodata=-32767.0,
        tiled=True, blockxsize=256, blockysize=256, compress="DEFLATE",
    ) as ds:  # fmt: skip
        ds.write(values, 1)
        ds.update_tags(
            DEM_DATUM=datum, SOURCE="senprep synth", SENPREP_VERSION=__version__,
            NOTE="simulated heights, Copernicus DEM layout (1 arcsec)",
        )  # fmt: skip
    return path


def _s1_spec(config: SynthConfig, grid: SceneGrid, when: datetime, seed: int) -> Any:
    """The S1 product of one acquisition, sized to cover the S2 area and a margin."""
    from sen_preproc.testing.s1_factory import S1ProductSpec, product_geometry

    to_lonlat = pyproj.Transformer.from_crs(f"EPSG:{grid.epsg}", "EPSG:4326", always_xy=True)
    cx = grid.ulx_m + grid.shape[1] * PIXEL_M / 2
    cy = grid.uly_m - grid.shape[0] * PIXEL_M / 2
    lon_c, lat_c = to_lonlat.transform(cx, cy)
    base = S1ProductSpec(
        centre_lon_deg=float(lon_c), centre_lat_deg=float(lat_c), lines=101, samples=101,
        start_time=when, mission="S1A", pass_direction="ASCENDING" if config.ascending else "DESCENDING",
        polarisations=("VV", "VH"), near_incidence_deg=36.0, speckle_looks=S1_LOOKS,
        seed=seed, geolocation_step_px=16,
    )  # fmt: skip
    geom = product_geometry(base)
    half = grid.s2_size_px * PIXEL_M / 2 + 0.75 * MARGIN_M
    corners = [(cx + sx * half, cy + sy * half) for sx in (-1, 1) for sy in (-1, 1)]
    lons, lats = to_lonlat.transform([c[0] for c in corners], [c[1] for c in corners])
    lines, samples = geom.backward_geocode(np.array(lons), np.array(lats), np.zeros(4))
    half_lines = int(np.ceil(np.max(np.abs(lines - (base.lines - 1) / 2)))) + 8
    half_samples = int(np.ceil(np.max(np.abs(samples - (base.samples - 1) / 2)))) + 8
    return replace(base, lines=2 * half_lines + 1, samples=2 * half_samples + 1)


def _incidence_map(spec: Any, grid: SceneGrid, sampler: _GridSampler) -> tuple[Any, float, float]:
    """Ellipsoid incidence (deg) on the scene grid, the look azimuth and the heading (deg)."""
    from sen_preproc.testing.s1_factory import product_geometry

    geom = product_geometry(spec)
    to_lonlat = pyproj.Transformer.from_crs(f"EPSG:{grid.epsg}", "EPSG:4326", always_xy=True)
    step = 20
    rows = np.arange(0, grid.shape[0] + step, step, dtype=np.float64)
    cols = np.arange(0, grid.shape[1] + step, step, dtype=np.float64)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    lon, lat = to_lonlat.transform(
        grid.ulx_m + (cc + 0.5) * PIXEL_M, grid.uly_m - (rr + 0.5) * PIXEL_M
    )
    lines, samples = geom.backward_geocode(np.asarray(lon), np.asarray(lat), np.zeros_like(lon))
    coarse = geom.incidence_angle(lines, samples)
    full = ndimage.map_coordinates(
        coarse,
        np.mgrid[0 : grid.shape[0], 0 : grid.shape[1]].astype(np.float64) / step,
        order=1,
        mode="nearest",
    )
    heading = float(geom.platform_heading_deg)
    return full.astype(np.float32), (heading + 90.0) % 360.0, heading


class _BandCache:
    """One date's Sentinel-2 bands in the S2 area, computed on demand: ``(clear, observed)``
    per band, the last four kept (the product writer asks for each band at several
    resolutions, and for B04, B03, B02 again for the true-colour image)."""

    def __init__(
        self, opt: optics.Optics, state: State, sky: atmosphere.Sky, window: tuple[slice, slice]
    ) -> None:
        self.opt, self.state, self.sky, self.window = opt, state, sky, window
        self.saturated = sky.saturated[window]
        self._cache: dict[str, tuple[Any, Any]] = {}

    def __call__(self, band: str) -> tuple[Any, Any]:
        if band not in self._cache:
            surface = self.opt.band(self.state, band)
            observed = atmosphere.observe(surface, optics.BANDS.index(band), self.sky)
            if len(self._cache) >= 4:
                del self._cache[next(iter(self._cache))]
            self._cache[band] = (surface[self.window].copy(), observed[self.window].copy())
        return self._cache[band]


def _block_mean(image: npt.NDArray[np.float32], factor: int) -> npt.NDArray[np.float64]:
    rows, cols = image.shape[0] // factor, image.shape[1] // factor
    trimmed = image[: rows * factor, : cols * factor].astype(np.float64)
    out: npt.NDArray[np.float64] = trimmed.reshape(rows, factor, cols, factor).mean(axis=(1, 3))
    return out


def _write_truth(
    path: Path,
    grid: RasterGrid,
    data: npt.NDArray[Any],
    names: list[str],
    tags: dict[str, str],
    dtype: str,
    nodata: float | None,
) -> None:
    with GeoTiffWriter(path, grid, names, tags=tags, dtype=dtype, nodata=nodata) as writer:
        writer.write(rasterio.windows.Window(0, 0, grid.width, grid.height), data)
        writer.commit()


def _s2_raster_grid(grid: SceneGrid) -> RasterGrid:
    return RasterGrid(
        CRS.from_epsg(grid.epsg),
        Affine(PIXEL_M, 0, grid.s2_ulx_m, 0, -PIXEL_M, grid.s2_uly_m),
        grid.s2_size_px,
        grid.s2_size_px,
    )


def foreign_entries(folder: Path) -> list[str] | None:
    """None unless ``folder`` is a synth output (``scenario.json`` marker); else the entries
    senprep did not write there."""
    try:
        document = json.loads((folder / "scenario.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return None
    own = {"scenario.json", "raw", "truth"}
    return sorted(p.name for p in folder.iterdir() if p.name not in own)


def build_synth(config: SynthConfig, progress: Progress = NO_PROGRESS) -> Path:
    """Simulate the scene of ``config`` and write ``config.out``; returns the folder."""
    config.validate()
    check_output_folder(
        config.out, overwrite=config.overwrite, inputs=(), foreign_entries=foreign_entries,
        kind="a senprep synth scene",
    )  # fmt: skip
    days = config.parsed_dates()
    root = np.random.SeedSequence(config.seed)
    streams = {
        name: np.random.default_rng(child)
        for name, child in zip(
            ("landscape", "parcels", "weather", "texture", "optics", "sky", "s1"),
            root.spawn(7),
            strict=True,
        )
    }
    grid, tile = scene_grid(config)
    landscape = build_landscape(grid, streams["landscape"])
    table = phenology.draw_parcels(landscape, streams["parcels"])
    lon = config.centre[0]
    s2_times = [location.s2_time(d, lon) for d in days]
    anchor = int(streams["s1"].integers(0, config.s1_repeat_days))
    s1_times = location.s1_times(days, lon, config.s1_repeat_days, anchor, config.ascending)
    flood_day = _day_of_year(s2_times[1]) if len(days) > 1 else None
    weather = phenology.draw_weather(streams["weather"], flood_day)
    pheno = Phenology(landscape, table, weather, streams["texture"])
    opt = optics.Optics(landscape, table.get("soil_brightness"), streams["optics"])
    rad = radar.Radar(landscape)
    cover = config.cloud_cover()
    labels = [_label(i) for i in range(len(days))]
    acquisitions = []
    for i, (label, t2, t1) in enumerate(zip(labels, s2_times, s1_times, strict=True)):
        drawn = float(streams["sky"].uniform(0.05, 0.35))
        given = cover[i]
        cloud = given if given is not None else drawn
        acquisitions.append(
            Acquisitions(
                label=label, s2_time=t2, s1_time=t1,
                s2_day=_day_of_year(t2), s1_day=_day_of_year(t1),
                wind_m_s=float(streams["sky"].uniform(1.0, 5.0)), cloud_cover=cloud,
            )
        )  # fmt: skip

    remove_stale_temporaries(config.out)
    tmp = temporary_path(config.out, "tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with writing(config.out, hold_native=False):
            (tmp / "raw").mkdir(parents=True)
            (tmp / "truth").mkdir()
            document = _write_scene(
                config,
                pheno,
                tmp,
                grid,
                tile,
                landscape,
                table,
                weather,
                acquisitions,
                opt,
                rad,
                streams,
                progress,
            )
            (tmp / "scenario.json").write_text(
                json.dumps(document, indent=1, default=_json_default) + "\n"
            )
            old = config.out.with_name(f".{config.out.name}.old-{os.getpid()}")
            if config.out.exists():
                os.replace(config.out, old)
            os.replace(tmp, config.out)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    LOGGER.info(
        "wrote %s (%d dates, %.1f km)", config.out, len(days), grid.s2_size_px * PIXEL_M / 1000
    )
    return config.out


def _label(index: int) -> str:
    from sen_preproc.dataset.pairs import date_label

    return date_label(index)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _write_scene(
    config: SynthConfig,
    pheno: Phenology,
    folder: Path,
    grid: SceneGrid,
    tile: location.Tile,
    landscape: Landscape,
    table: phenology.ParcelTable,
    weather: phenology.Weather,
    acquisitions: list[Acquisitions],
    opt: optics.Optics,
    rad: radar.Radar,
    streams: dict[str, np.random.Generator],
    progress: Progress,
) -> dict[str, Any]:
    from sen_preproc.testing.s1_factory import product_id, write_s1_grd_product
    from sen_preproc.testing.s2_factory import (
        S2ProductSpec,
        s2_product_id,
        sun_angles,
        write_s2_product,
    )

    sampler = _GridSampler(grid)
    terrain, datum = _geoid_heights(landscape, sampler)
    write_dem(folder / "raw" / "dem.tif", landscape, sampler, datum)
    window = grid.s2_window
    s2_grid = _s2_raster_grid(grid)
    base_tags = {
        "SOURCE": "senprep synth",
        "SYNTH_SEED": str(config.seed),
        "SENPREP_VERSION": __version__,
    }
    _write_truth(folder / "truth" / "landcover.tif", s2_grid, landscape.landcover[window][None],
                 ["landcover"], base_tags | {"CLASSES": json.dumps(CLASSES)}, "uint8", None)  # fmt: skip
    _write_truth(folder / "truth" / "parcels.tif", s2_grid, landscape.parcel[window][None],
                 ["parcel"], base_tags, "int32", None)  # fmt: skip
    lon_c, lat_c = config.centre
    s1_spec0 = _s1_spec(config, grid, acquisitions[0].s1_time, 0)
    incidence, look_azimuth, heading = _incidence_map(s1_spec0, grid, sampler)
    bands = [normalise_band(b) for b in config.bands]
    dates_doc = []
    cropped: list[State] = []  # each date's S2 state in the S2 area, for the change masks
    for index, acq in enumerate(track(progress, acquisitions, "synth", "date")):
        stamp = acq.s2_time.strftime("%Y%m%d")
        s2_state = pheno.state(acq.s2_day)
        cropped.append(phenology.crop_state(s2_state, window))
        # --- Sentinel-2: surface, sky, observation, SCL (band by band: bounded memory)
        surface = opt.reflectance(s2_state, ("B04", "B08"))
        zenith, azimuth = sun_angles(lon_c, lat_c, acq.s2_time)
        sky = atmosphere.draw_sky(
            grid.shape,
            acq.cloud_cover,
            float(zenith),
            float(azimuth),
            streams["sky"],
            landscape.landcover,
        )
        ndvi = optics.ndvi(surface)
        scl = atmosphere.scene_classification(landscape.landcover, ndvi, s2_state.flooded, sky)
        del surface, ndvi
        bands_of = _BandCache(opt, s2_state, sky, window)

        def rasters(band: str, res: int, bands_of: _BandCache = bands_of) -> Any:
            clear, observed = bands_of(band)
            if res == 10:
                return observed
            # coarser bands: area means of the 10 m observation, saturation not spread
            return _block_mean(np.where(bands_of.saturated, clear, observed), res // 10)

        s2_spec = S2ProductSpec(
            tile=tile.name, epsg=tile.epsg, ulx_m=grid.s2_ulx_m, uly_m=grid.s2_uly_m,
            size_10m_px=grid.s2_size_px, sensing_time=acq.s2_time, level="L2A",
            processing_baseline="05.09", mission="S2A" if index % 2 == 0 else "S2B",
            relative_orbit=location.s2_relative_orbit(lon_c), cloud_box_px=None, seed=config.seed,
        )  # fmt: skip
        scl_s2 = atmosphere.block_consistent(scl[window])
        write_s2_product(folder / "raw", s2_spec, rasters=rasters, scl=scl_s2, zipped=config.zipped)
        # --- Sentinel-1: sigma0 at the S1 date, through the GRD factory
        s1_state = pheno.state(acq.s1_day)
        sigma = rad.sigma0(s1_state, incidence, look_azimuth, heading, acq.wind_m_s)
        del s1_state
        s1_spec = _s1_spec(config, grid, acq.s1_time, config.seed * 1000 + index)

        def sigma0_field(lon: Any, lat: Any, pol: str, sigma: dict[str, Any] = sigma) -> Any:
            return sampler.sample(sigma[pol], lon, lat)

        write_s1_grd_product(
            folder / "raw",
            s1_spec,
            sigma0=sigma0_field,
            terrain_height=terrain,
            zipped=config.zipped,
        )
        # --- truth
        tags = base_tags | {"DATE": acq.s2_time.isoformat() + "Z"}
        truth = np.stack(
            # quantised as the product factory does: float64, round half to even
            [
                np.clip(np.rint(bands_of(_code(b))[0].astype(np.float64) * 10000.0), 1, 65535)
                for b in bands
            ]
        ).astype(np.uint16)
        _write_truth(folder / "truth" / f"reflectance_{stamp}.tif", s2_grid, truth, bands,
                     tags | {"REFLECTANCE_SCALE": "10000", "SKY": "cloud-free"}, "uint16", 0)  # fmt: skip
        _write_truth(folder / "truth" / f"lai_{stamp}.tif", s2_grid, s2_state.lai[window][None],
                     ["LAI"], tags | {"UNITS": "m2/m2"}, "float32", None)  # fmt: skip
        sigma_db = np.stack([10.0 * np.log10(sigma[p][window]) for p in ("VV", "VH")]).astype(
            np.float32
        )
        _write_truth(folder / "truth" / f"sigma0_{stamp}.tif", s2_grid, sigma_db, ["VV", "VH"],
                     base_tags | {"DATE": acq.s1_time.isoformat() + "Z", "UNITS": "dB",
                                  "SPECKLE": "none", "REFERENCE": "ellipsoid (sigma0)"},
                     "float32", None)  # fmt: skip
        valid_scl = scl_s2
        dates_doc.append(
            {
                "label": acq.label,
                "s2": {
                    "time": acq.s2_time.isoformat() + "Z",
                    "product": s2_product_id(s2_spec),
                    "cloud_fraction": float(np.isin(valid_scl, (3, 8, 9, 10)).mean()),
                    "sun_zenith_deg": float(zenith),
                    "sun_azimuth_deg": float(azimuth),
                    "cloud_height_m": sky.cloud_height_m,
                },
                "s1": {
                    "time": acq.s1_time.isoformat() + "Z",
                    "product": product_id(s1_spec),
                    "wind_m_s": acq.wind_m_s,
                    "scene_soil_moisture": weather.moisture_at(acq.s1_day),
                    "lines": s1_spec.lines,
                    "samples": s1_spec.samples,
                },
                "truth": {
                    "reflectance": f"truth/reflectance_{stamp}.tif",
                    "lai": f"truth/lai_{stamp}.tif",
                    "sigma0": f"truth/sigma0_{stamp}.tif",
                },
            }
        )
    changes = []
    for a in range(len(acquisitions)):
        for b in range(a + 1, len(acquisitions)):
            first, second = acquisitions[a], acquisitions[b]
            mask = phenology.change_mask(cropped[a], cropped[b], landscape.landcover[window])
            name = f"truth/change_{first.s2_time:%Y%m%d}_{second.s2_time:%Y%m%d}.tif"
            _write_truth(folder / name, s2_grid, mask[None], ["change"],
                         base_tags | {"CODES": json.dumps(EVENT_CODES)}, "uint8", None)  # fmt: skip
            counts = {k: int((mask == v).sum()) for k, v in EVENT_CODES.items() if v}
            changes.append(
                {"from": first.label, "to": second.label, "file": name, "pixels": counts}
            )
    return _scenario_document(
        config,
        grid,
        tile,
        landscape,
        table,
        weather,
        acquisitions,
        cropped,
        dates_doc,
        changes,
        datum,
        look_azimuth,
        heading,
    )


def _events(
    table: phenology.ParcelTable, year: int, first: float, last: float
) -> list[dict[str, Any]]:
    """Harvests, cuts and ploughings of the parcels within the simulated period."""
    events = []
    for key, kind in (("harvest", "harvest"), ("first_cut", "mowing"), ("second_cut", "mowing"),
                      ("ploughing", "ploughing")):  # fmt: skip
        values = table.get(key) if key in table.values else None
        if values is None:
            continue
        for parcel in np.flatnonzero(np.isfinite(values) & (values >= first) & (values <= last)):
            when = datetime(year, 1, 1) + timedelta(days=float(values[parcel]))
            events.append({"type": kind, "parcel": int(parcel), "date": when.date().isoformat()})
    return sorted(events, key=lambda e: (e["date"], e["parcel"]))


def _floods(acquisitions: list[Acquisitions], cropped: list[State]) -> list[dict[str, Any]]:
    """The flood seen at an acquisition (pixels of the S2 area under water)."""
    out = []
    for acq, state in zip(acquisitions, cropped, strict=True):
        pixels = int(state.flooded.sum())
        if pixels:
            out.append(
                {"type": "flooding", "date": acq.s2_time.date().isoformat(), "pixels": pixels}
            )
    return out


def _scenario_document(
    config: SynthConfig, grid: SceneGrid, tile: location.Tile, landscape: Landscape,
    table: phenology.ParcelTable, weather: phenology.Weather, acquisitions: list[Acquisitions],
    cropped: list[State], dates: list[dict[str, Any]], changes: list[dict[str, Any]], datum: str,
    look_azimuth: float, heading: float,
) -> dict[str, Any]:  # fmt: skip
    year = acquisitions[0].s2_time.year
    first = min(a.s1_day for a in acquisitions) - 30
    last = max(a.s2_day for a in acquisitions)
    fields = np.flatnonzero(np.isin(table.klass, [1, 2, 3, 4, 5, 11]))
    areas = np.bincount(landscape.parcel[grid.s2_window].ravel(), minlength=table.klass.size)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "senprep_version": __version__,
        "config": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in asdict(config).items()
            if k != "out"
        },
        "location": {"centre_lon_lat": list(config.centre), "tile": tile.name, "epsg": tile.epsg},
        "grid": {
            "crs": f"EPSG:{grid.epsg}",
            "pixel_m": PIXEL_M,
            "s2_ulx_m": grid.s2_ulx_m,
            "s2_uly_m": grid.s2_uly_m,
            "s2_size_px": grid.s2_size_px,
            "simulation_margin_m": MARGIN_M,
        },
        "classes": CLASSES,
        "layout": landscape.layout,
        "parcels": [
            r | {"area_ha": round(float(areas[r["id"]]) / 100.0, 2)}
            for r in table.records(fields)
            if areas[r["id"]] > 0
        ],
        "events": _events(table, year, first, last) + _floods(acquisitions, cropped),
        "dates": dates,
        "changes": changes,
        "sensor_geometry": {
            "s1_heading_deg": heading,
            "s1_look_azimuth_deg": look_azimuth,
            "s1_looks": S1_LOOKS,
            "dem_datum": datum,
        },
        "models": {
            "optics": {
                "canopy": "R = R_inf + (R_soil - R_inf) exp(-K LAI) (Clevers 1989; Baret & Guyot 1991)",
                "bands": list(optics.BANDS),
                "spectra": optics.SPECTRA,
                "extinction": list(optics.EXTINCTION),
                "moisture_darkening": list(optics.MOISTURE_DARKENING),
            },
            "radar": {
                "vegetation": "water cloud model, sigma0 = A cos(t)(1 - tau2) + tau2 sigma0_soil, tau2 = exp(-2 B LAI / cos t) (Attema & Ulaby 1978)",
                "water_cloud": radar.WATER_CLOUD,
                "soil": "Dubois et al. 1995 (VV), Oh et al. 2002 (VH/VV), Topp et al. 1980 (permittivity)",
                "water": "10^-2.4 (U/3)^1.5, -0.3 dB per degree, VH 9 dB below VV",
                "buildings": "VV -1 + 8 cos^2(2 delta) dB, VH -10 + 4 cos^2(2 delta) dB",
                "terrain": "local incidence from the DEM; sigma0 x sin(t_ell) / sin(t_loc) (Ulander 1996)",
            },
            "phenology": {"calendars": phenology.CALENDARS, "mown_share": phenology.MOWN_SHARE},
            "atmosphere": {"cloud_top": list(atmosphere.CLOUD_TOP), "spectrum_exponent": 3.0},
            "event_codes": EVENT_CODES,
        },
    }
