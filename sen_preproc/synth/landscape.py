"""The static landscape of a simulated scene: relief, water, forest, settlements, roads, fields.

Everything lives on one 10 m UTM grid (:class:`SceneGrid`) that extends the Sentinel-2 area by
a margin, so the Sentinel-1 image (rotated by the orbit's heading) is covered too. The layout:

* **Relief** (the DEM, EGM96 heights): a base level, a few Gaussian hills (40-150 m high,
  0.5-1.5 km wide), a valley carved along the river (depth ~25 m, Gaussian cross-section) and
  metre-scale roughness (a Gaussian random field).
* **Water**: a meandering river (20-40 m wide) along the valley bottom and a lake (10-40 ha,
  irregular shore) in the lowest land beside it.
* **Forest** on the high ground (the upper ~15 % of the relief, irregular edges), deciduous or
  coniferous by a smooth random field.
* **Settlements**: a town (radius ~9 % of the scene side) on flat land near the river and a few
  villages;
  inside, a street lattice (rotated, ~100 m blocks) with buildings of 10-30 m covering ~40 % of
  the blocks and gardens (grassland) between them; regional roads across the scene.
* **Fields**: the rest is cut into parcels by an anisotropic Voronoi tessellation of
  Poisson-distributed seeds (elongated along a dominant direction, as field patterns are;
  random-tessellation field models), 1-30 ha each, grass margins or hedges along some
  boundaries, each assigned a crop from regional shares.

The classes and their codes are :data:`CLASSES`; parcel attributes (crop, soil brightness and
roughness, calendar offsets) are drawn per parcel in :mod:`sen_preproc.synth.phenology`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import cKDTree

from sen_preproc.synth.fields import gaussian_field

FloatArray = npt.NDArray[np.float64]

CLASSES: dict[int, str] = {
    1: "winter_cereal",
    2: "maize",
    3: "sugar_beet",
    4: "rapeseed",
    5: "grassland",
    6: "deciduous_forest",
    7: "coniferous_forest",
    8: "water",
    9: "building",
    10: "road",
    11: "bare_soil",
}
"""Land-cover classes (codes of ``truth/landcover.tif``)."""
CODE = {name: code for code, name in CLASSES.items()}
CROPS = ("winter_cereal", "maize", "sugar_beet", "rapeseed", "grassland", "bare_soil")
CROP_SHARES = (0.30, 0.18, 0.12, 0.10, 0.22, 0.08)
"""Shares of the crops among the field parcels (a mixed farming region of western Europe)."""
PIXEL_M = 10.0


@dataclass(frozen=True)
class SceneGrid:
    """The simulation grid: UTM ``epsg``, upper-left corner ``(ulx_m, uly_m)``, 10 m pixels,
    ``shape = (rows, cols)``; the Sentinel-2 area is the window starting at ``s2_offset_px``
    (row, col) of ``s2_size_px`` pixels square."""

    epsg: int
    ulx_m: float
    uly_m: float
    shape: tuple[int, int]
    s2_offset_px: tuple[int, int]
    s2_size_px: int

    @property
    def s2_window(self) -> tuple[slice, slice]:
        r, c = self.s2_offset_px
        return slice(r, r + self.s2_size_px), slice(c, c + self.s2_size_px)

    @property
    def s2_ulx_m(self) -> float:
        return self.ulx_m + self.s2_offset_px[1] * PIXEL_M

    @property
    def s2_uly_m(self) -> float:
        return self.uly_m - self.s2_offset_px[0] * PIXEL_M

    def xy(self) -> tuple[FloatArray, FloatArray]:
        """Easting/northing (m) of the pixel centres, each ``(cols,)`` and ``(rows,)``."""
        cols = (self.ulx_m + (np.arange(self.shape[1]) + 0.5) * PIXEL_M).astype(np.float64)
        rows = (self.uly_m - (np.arange(self.shape[0]) + 0.5) * PIXEL_M).astype(np.float64)
        return cols, rows


@dataclass
class Landscape:
    """The static scene on :class:`SceneGrid`.

    Attributes
    ----------
    height_m : ndarray (rows, cols) float64
        Orthometric (EGM96) height.
    landcover : ndarray (rows, cols) uint8
        :data:`CLASSES` code per pixel.
    parcel : ndarray (rows, cols) int32
        Parcel/object id (0: roads, margins and buildings have their own ids too; see
        :attr:`parcel_class`).
    parcel_class : ndarray (n_parcels,) uint8
        Class of each parcel id.
    river : ndarray (rows, cols) bool
        River pixels (a subset of water); the rest of the water is the lake.
    building_azimuth_deg : ndarray (rows, cols) float32
        Orientation of the building walls at building pixels (0 elsewhere).
    margin : ndarray (rows, cols) bool
        Grass margins between fields.
    """

    grid: SceneGrid
    height_m: FloatArray
    landcover: npt.NDArray[np.uint8]
    parcel: npt.NDArray[np.int32]
    parcel_class: npt.NDArray[np.uint8]
    river: npt.NDArray[np.bool_]
    building_azimuth_deg: npt.NDArray[np.float32]
    margin: npt.NDArray[np.bool_]
    layout: dict[str, object]


def _relief(
    shape: tuple[int, int], rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, dict[str, object]]:
    """Relief without the valley (m) and the river's centre line as a distance field (px)."""
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    base = float(rng.uniform(60.0, 180.0))
    height = np.full(shape, base)
    hills = []
    for _ in range(int(rng.integers(3, 7))):
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        sigma = min(rng.uniform(50.0, 150.0), 0.25 * max(rows, cols))  # 0.5-1.5 km
        amp = rng.uniform(40.0, 150.0)
        height += amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
        hills.append({"row": cy, "col": cx, "sigma_px": sigma, "height_m": amp})
    # a meandering river crossing the scene along a random direction
    angle = rng.uniform(0, math.pi)
    ux, uy = math.cos(angle), math.sin(angle)
    along = (xx - cols / 2) * ux + (yy - rows / 2) * uy
    across = -(xx - cols / 2) * uy + (yy - rows / 2) * ux
    wavelength = rng.uniform(0.5, 1.0) * max(rows, cols)
    amplitude = rng.uniform(0.05, 0.10) * max(rows, cols)
    offset = rng.uniform(-0.2, 0.2) * min(rows, cols)
    phase = rng.uniform(0, 2 * math.pi)
    centre = offset + amplitude * np.sin(2 * math.pi * along / wavelength + phase)
    distance = np.abs(across - centre)
    layout = {
        "base_height_m": base,
        "hills": hills,
        "river": {
            "direction_deg": math.degrees(angle),
            "meander_wavelength_px": wavelength,
            "meander_amplitude_px": amplitude,
        },
    }
    return height, distance, layout


def _voronoi_parcels(
    free: npt.NDArray[np.bool_], mean_area_px: float, rng: np.random.Generator
) -> npt.NDArray[np.int32]:
    """Anisotropic Voronoi cells over ``free`` pixels (ids 1..n, 0 elsewhere)."""
    rows, cols = free.shape
    n = max(4, int(free.sum() / mean_area_px))
    # fields elongated along a dominant direction: stretch the coordinates before Voronoi
    angle = rng.uniform(0, math.pi)
    stretch = rng.uniform(1.4, 2.0)
    seeds = np.column_stack([rng.uniform(0, rows, n), rng.uniform(0, cols, n)])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    scale = np.array([1.0, stretch])

    def warp(points: FloatArray) -> FloatArray:
        out: FloatArray = (points @ rot) / scale
        return out

    tree = cKDTree(warp(seeds))
    rr, cc = np.nonzero(free)
    _, nearest = tree.query(warp(np.column_stack([rr, cc]).astype(np.float64)))
    labels = np.zeros(free.shape, dtype=np.int32)
    labels[rr, cc] = nearest.astype(np.int32) + 1
    return labels


def build_landscape(grid: SceneGrid, rng: np.random.Generator) -> Landscape:
    """Lay out relief, water, forest, settlements, roads and field parcels."""
    shape = grid.shape
    rows, cols = shape
    height, river_distance, layout = _relief(shape, rng)
    river_width_px = float(rng.uniform(2.0, 4.0))
    river = river_distance <= river_width_px / 2
    valley_depth = float(rng.uniform(15.0, 30.0))
    valley_width_px = float(rng.uniform(40.0, 80.0))
    height -= valley_depth * np.exp(-((river_distance / valley_width_px) ** 2))
    height += 2.0 * gaussian_field(shape, 8.0, rng)  # metre-scale roughness
    layout["river"] |= {"width_px": river_width_px, "valley_depth_m": valley_depth}  # type: ignore[operator]

    landcover = np.full(shape, CODE["grassland"], dtype=np.uint8)
    # lake: the lowest land within ~1 km of the river, irregular shore
    near = (river_distance > 20) & (river_distance < 100)
    inside = np.zeros(shape, dtype=bool)  # the lake lies in the Sentinel-2 area, off its edges
    r0, c0 = grid.s2_offset_px
    edge = min(40, grid.s2_size_px // 4)
    inside[r0 + edge : r0 + grid.s2_size_px - edge, c0 + edge : c0 + grid.s2_size_px - edge] = True
    near &= inside
    candidates = np.flatnonzero(near.ravel())
    lake = np.zeros(shape, dtype=bool)
    if candidates.size:
        pick = candidates[
            np.argmin(height.ravel()[candidates] + rng.uniform(0, 20, candidates.size))
        ]
        cy, cx = divmod(int(pick), cols)
        radius = float(rng.uniform(18.0, 35.0))
        yy, xx = np.ogrid[0:rows, 0:cols]
        shore = np.hypot(yy - cy, (xx - cx) / rng.uniform(1.0, 1.8)) / radius
        lake = shore + 0.25 * gaussian_field(shape, 6.0, rng) < 1.0
        layout["lake"] = {"row": cy, "col": cx, "radius_px": radius}
    # forest on the high ground
    high = height + 8.0 * gaussian_field(shape, 15.0, rng)
    forest = high > np.quantile(high, 0.85)
    forest = ndimage.binary_opening(forest, iterations=2)
    conifer = gaussian_field(shape, 40.0, rng) > 0.3
    landcover[forest & ~conifer] = CODE["deciduous_forest"]
    landcover[forest & conifer] = CODE["coniferous_forest"]
    # settlements: a town on flat land near the river (off the water), villages elsewhere
    flatness = ndimage.gaussian_gradient_magnitude(height, 3.0)
    town_score = flatness + 0.02 * np.abs(river_distance - 60) + 50 * forest + 50 * lake
    town_score = np.where(inside, town_score, np.inf)  # the town lies in the Sentinel-2 area
    ty, tx = np.unravel_index(int(np.argmin(town_score[::5, ::5])), town_score[::5, ::5].shape)
    side = grid.s2_size_px  # a town of 0.4-0.7 km radius in a 6 km scene, villages of 150-300 m
    towns: list[tuple[int, int, float]] = [
        (int(ty) * 5, int(tx) * 5, float(rng.uniform(0.07, 0.11) * side))
    ]
    for _ in range(max(1, round(int(rng.integers(1, 4)) * side / 600))):
        radius = float(rng.uniform(0.025, 0.05) * side)
        towns.append((int(rng.integers(0, rows)), int(rng.integers(0, cols)), radius))
    urban = np.zeros(shape, dtype=bool)
    yy, xx = np.ogrid[0:rows, 0:cols]
    for cy, cx, radius in towns:
        blob = np.hypot(yy - cy, xx - cx) / radius + 0.2 * gaussian_field(shape, 10.0, rng)
        urban |= blob < 1.0
    urban &= ~lake & ~river
    street_angle = rng.uniform(0, math.pi / 2)
    u = xx * math.cos(street_angle) + yy * math.sin(street_angle)
    v = -xx * math.sin(street_angle) + yy * math.cos(street_angle)
    block = float(rng.uniform(9.0, 12.0))
    streets = urban & ((np.mod(u, block) < 1.0) | (np.mod(v, block) < 1.0))
    # buildings: rectangles of 1-3 px on the lattice inside the blocks, ~40 % cover
    cell = np.floor(u / 2.5).astype(np.int64) * 100003 + np.floor(v / 2.5).astype(np.int64)
    keep = (np.abs(np.sin(cell * 12.9898 + rng.uniform(0, 100))) * 43758.5453) % 1.0 < 0.45
    buildings = urban & ~streets & keep
    landcover[urban] = CODE["grassland"]  # gardens
    landcover[buildings] = CODE["building"]
    landcover[streets] = CODE["road"]
    azimuth = np.zeros(shape, dtype=np.float32)
    azimuth[buildings] = np.float32(math.degrees(street_angle))
    # regional roads: straight lines through the town and across the scene
    roads = np.zeros(shape, dtype=bool)
    for _ in range(int(rng.integers(2, 4))):
        a = rng.uniform(0, math.pi)
        cy, cx = towns[0][0], towns[0][1]
        dist = np.abs(-(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a))
        roads |= dist < 0.6
    roads &= ~lake & ~river
    landcover[roads] = CODE["road"]
    landcover[lake | river] = CODE["water"]

    # fields in what is left, separated by grass margins
    free = (landcover == CODE["grassland"]) & ~urban & ~roads
    mean_area_px = float(rng.uniform(700.0, 1000.0))  # 7-10 ha
    cells = _voronoi_parcels(free, mean_area_px, rng)
    edges = (ndimage.grey_dilation(cells, size=3) != ndimage.grey_erosion(cells, size=3)) & free
    # grass margins and hedges along some field boundaries; elsewhere fields touch
    hedges = gaussian_field(shape, 20.0, rng) > 0.0
    margin = edges & (cells > 0) & hedges
    cells[margin] = 0
    # split cells cut by water/forest into connected pieces; drop pieces under 1 ha
    parcel = np.zeros(shape, dtype=np.int32)
    next_id = 1
    n_cells = int(cells.max())
    cell_slices = ndimage.find_objects(cells)
    for index in range(1, n_cells + 1):
        region = cell_slices[index - 1]
        if region is None:
            continue
        pieces, n_pieces = ndimage.label(cells[region] == index)
        for piece in range(1, n_pieces + 1):
            mask = pieces == piece
            if mask.sum() < 100:  # < 1 ha: a grass margin
                margin[region][mask] = True
                continue
            parcel[region][mask] = next_id
            next_id += 1
    n_fields = next_id - 1
    crops = rng.choice(len(CROPS), size=n_fields, p=CROP_SHARES)
    parcel_class = np.zeros(n_fields + 1, dtype=np.uint8)
    parcel_class[1:] = [CODE[CROPS[c]] for c in crops]
    landcover[parcel > 0] = parcel_class[parcel[parcel > 0]]
    landcover[margin] = CODE["grassland"]
    # the other objects get ids after the fields: forest stands, water, urban, margins
    for code in (6, 7, 8, 9, 10, 5):
        mask = (landcover == code) & (parcel == 0)
        pieces, n_pieces = ndimage.label(mask)
        parcel[mask] = pieces[mask] + next_id - 1
        parcel_class = np.concatenate([parcel_class, np.full(n_pieces, code, np.uint8)])
        next_id += n_pieces
    layout |= {
        "towns": [{"row": int(r), "col": int(c), "radius_px": rad} for r, c, rad in towns],
        "street_azimuth_deg": math.degrees(street_angle),
        "field_mean_area_ha": mean_area_px / 100.0,
        "n_fields": n_fields,
    }
    return Landscape(
        grid=grid,
        height_m=height,
        landcover=landcover,
        parcel=parcel,
        parcel_class=parcel_class,
        river=river,
        building_azimuth_deg=azimuth,
        margin=margin,
        layout=layout,
    )
