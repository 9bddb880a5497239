"""Output raster grids (CRS + affine transform + shape) and areas of interest.

A :class:`RasterGrid` is what every core function receives instead of a file: the default
terrain-correction grid (UTM zone of the scene centre, 10 m), the grid of a ``--like``
reference raster, or either cropped to an AOI.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
import shapely.geometry
import shapely.ops
import shapely.wkt
from affine import Affine
from rasterio.crs import CRS
from rasterio.transform import array_bounds
from rasterio.windows import Window, from_bounds, subdivide

from sen_preproc.errors import GeometryError, OptionError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RasterGrid:
    """A north-up raster grid.

    Attributes
    ----------
    crs : rasterio.crs.CRS
        Coordinate reference system of the grid.
    transform : affine.Affine
        Pixel-corner affine transform (pixel (col, row) -> x, y).
    width, height : int
        Size in pixels.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def pixel_size(self) -> tuple[float, float]:
        """(x, y) pixel size in CRS units (y positive)."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        west, south, east, north = array_bounds(self.height, self.width, self.transform)
        return min(west, east), min(south, north), max(west, east), max(south, north)

    def same_as(self, other: RasterGrid) -> bool:
        """The same grid: CRS, size and transform (to a millionth of a pixel)."""
        return (
            self.crs == other.crs
            and (self.width, self.height) == (other.width, other.height)
            and all(
                math.isclose(x, y, rel_tol=0, abs_tol=1e-6 * abs(self.transform.a))
                for x, y in zip(self.transform, other.transform, strict=True)
            )
        )

    def window_grid(self, window: Window) -> RasterGrid:
        """The sub-grid covering ``window`` (aligned with this grid)."""
        return RasterGrid(
            crs=self.crs,
            transform=self.transform @ Affine.translation(window.col_off, window.row_off),
            width=int(window.width),
            height=int(window.height),
        )

    def blocks(self, block_px: int) -> Iterator[Window]:
        """Row-major windows of at most ``block_px`` x ``block_px`` pixels."""
        yield from subdivide(Window(0, 0, self.width, self.height), block_px, block_px)


def utm_crs_for(lon_deg: float, lat_deg: float) -> CRS:
    """WGS84 / UTM CRS of the zone containing (lon, lat) (EPSG:326xx north, 327xx south).

    The zone number is arithmetic rather than ``pyproj.database.query_utm_crs_info``: that
    returns every zone whose area of use touches the point (two on a zone edge, four at
    0°, 0°) and takes ~70 ms; here a point on an edge belongs to the eastern zone, as in MGRS.
    """
    zone = int(math.floor((lon_deg + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat_deg >= 0 else 32700) + zone)


def parse_crs(text: str, option: str = "--crs") -> CRS:
    """Parse a user CRS (``EPSG:32633``, ``32633``, WKT or PROJ string) given to ``option``."""
    try:
        return CRS.from_user_input(int(text) if text.strip().isdigit() else text)
    except Exception as err:  # rasterio raises CRSError, a few others on odd input
        raise OptionError(f"invalid {option} {text!r} ({err}); use e.g. EPSG:32633") from err


def transform_geometry(
    geom: shapely.geometry.base.BaseGeometry, src: CRS, dst: CRS
) -> shapely.geometry.base.BaseGeometry:
    """Reproject a shapely geometry between CRSs (always x/y = lon/lat axis order)."""
    transformer = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    dense = shapely.segmentize(geom, max_segment_length=_segment_length(geom))

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(dense, project)


def _segment_length(geom: shapely.geometry.base.BaseGeometry) -> float:
    minx, miny, maxx, maxy = (float(v) for v in geom.bounds)
    return max(max(maxx - minx, maxy - miny) / 32.0, 1e-9)


def grid_from_bounds(
    crs: CRS, bounds: tuple[float, float, float, float], pixel_size: float
) -> RasterGrid:
    """A grid covering ``bounds`` whose edges are multiples of ``pixel_size`` (CRS units)."""
    if pixel_size <= 0:
        raise OptionError(f"pixel size must be positive, got {pixel_size}")
    left = math.floor(bounds[0] / pixel_size) * pixel_size
    bottom = math.floor(bounds[1] / pixel_size) * pixel_size
    right = math.ceil(bounds[2] / pixel_size) * pixel_size
    top = math.ceil(bounds[3] / pixel_size) * pixel_size
    width = max(int(round((right - left) / pixel_size)), 1)
    height = max(int(round((top - bottom) / pixel_size)), 1)
    return RasterGrid(
        crs=crs,
        transform=Affine(pixel_size, 0.0, left, 0.0, -pixel_size, top),
        width=width,
        height=height,
    )


def crop_grid(
    grid: RasterGrid, geom: shapely.geometry.base.BaseGeometry, geom_crs: CRS
) -> RasterGrid:
    """Crop ``grid`` to the bounding box of ``geom`` (in ``geom_crs``), staying aligned.

    Raises
    ------
    GeometryError
        When the geometry does not intersect the grid.
    """
    local = transform_geometry(geom, geom_crs, grid.crs)
    window = from_bounds(*local.bounds, transform=grid.transform)
    # every pixel the geometry's bounding box touches (rounded outwards), within the grid
    col0 = max(int(math.floor(window.col_off)), 0)
    col1 = min(int(math.ceil(window.col_off + window.width)), grid.width)
    row0 = max(int(math.floor(window.row_off)), 0)
    row1 = min(int(math.ceil(window.row_off + window.height)), grid.height)
    if col0 >= col1 or row0 >= row1:
        raise GeometryError(
            f"the area of interest {tuple(round(v, 4) for v in geom.bounds)} does not intersect "
            "the product footprint; check --aoi (lon/lat, WGS84, longitude first)"
        )
    return grid.window_grid(Window(col0, row0, col1 - col0, row1 - row0))


def parse_aoi(text: str) -> shapely.geometry.base.BaseGeometry:
    """Parse an area of interest in WGS84 lon/lat.

    Accepts ``minx,miny,maxx,maxy``, a WKT geometry, or the path of a GeoJSON file
    (FeatureCollection, Feature or bare geometry).
    """
    candidate = text.strip()
    parts = candidate.split(",")
    if len(parts) == 4:
        try:
            minx, miny, maxx, maxy = (float(p) for p in parts)
        except ValueError:
            pass
        else:
            if not (minx < maxx and miny < maxy):
                raise OptionError(
                    f"invalid --aoi bounds {candidate!r}: need minx<maxx and miny<maxy (lon/lat)"
                )
            return check_lonlat(shapely.geometry.box(minx, miny, maxx, maxy), candidate)
    path = Path(candidate)
    if candidate.lower().endswith((".json", ".geojson")) or path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise OptionError(f"cannot read AOI GeoJSON {candidate!r} ({err})") from err
        features = data.get("features") if isinstance(data, dict) else None
        geoms = [f["geometry"] for f in features] if features else [data.get("geometry", data)]
        try:
            geometry = shapely.ops.unary_union([shapely.geometry.shape(g) for g in geoms])
        except Exception as err:
            raise OptionError(f"--aoi GeoJSON {candidate!r} has no valid geometry ({err})") from err
        return check_lonlat(geometry, candidate)
    try:
        geometry = shapely.wkt.loads(candidate)
    except Exception as err:
        raise OptionError(
            f"cannot parse --aoi {candidate!r}; give minx,miny,maxx,maxy in lon/lat, a WKT "
            "geometry or a GeoJSON file"
        ) from err
    return check_lonlat(geometry, candidate)


def check_lonlat(
    geometry: shapely.geometry.base.BaseGeometry, text: str
) -> shapely.geometry.base.BaseGeometry:
    """Refuse an AOI that is empty or outside longitudes -180..180 / latitudes -90..90."""
    if geometry.is_empty:
        raise OptionError(f"--aoi {text!r} is an empty geometry; give an area in lon/lat")
    west, south, east, north = geometry.bounds
    if not all(math.isfinite(v) for v in geometry.bounds):
        raise OptionError(f"--aoi {text!r} has non-finite coordinates; give lon/lat degrees")
    if south < -90 or north > 90 or west < -180 or east > 180:
        raise OptionError(
            f"--aoi {text!r} is outside the globe (latitude {south:g}..{north:g}, longitude "
            f"{west:g}..{east:g}); give WGS84 lon/lat with latitude within -90..90 and "
            "longitude within -180..180 (x = longitude first)"
        )
    return geometry
