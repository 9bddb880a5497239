"""Exact-value tests: LUT interpolation, noise blocks, calibration formula, grids and AOIs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely.geometry
from affine import Affine
from rasterio.crs import CRS

from sen_preproc.errors import GeometryError, OptionError, ProductError
from sen_preproc.grid import (
    RasterGrid,
    crop_grid,
    grid_from_bounds,
    parse_aoi,
    parse_crs,
    utm_crs_for,
)
from sen_preproc.sentinel1 import calibration
from sen_preproc.sentinel1 import thermal_noise as noise
from sen_preproc.sentinel1.luts import LutGrid
from sen_preproc.sentinel1.product import NoiseAzimuthBlock, NoiseModel


def make_lut() -> LutGrid:
    # f(l, p) = 2 l + 3 p + 1 is reproduced exactly by bilinear interpolation
    lines = np.array([0, 10, 30])
    pixels = np.array([0.0, 4.0, 8.0])
    return LutGrid(
        lines=lines,
        pixels=(pixels, pixels, pixels),
        values=tuple(2.0 * line + 3.0 * pixels + 1.0 for line in lines),
        name="test",
    )


def test_lut_bilinear_exact_on_linear_field() -> None:
    lut = make_lut()
    rows, cols = np.arange(0, 31), np.arange(0, 9)
    expected = 2.0 * rows[:, None] + 3.0 * cols[None, :] + 1.0
    np.testing.assert_allclose(lut.interpolate(rows, cols), expected, rtol=0, atol=1e-12)


def test_lut_bilinear_hand_value_and_clamping() -> None:
    lut = LutGrid(
        lines=np.array([0, 10]),
        pixels=(np.array([0.0, 10.0]), np.array([0.0, 10.0])),
        values=(np.array([0.0, 10.0]), np.array([100.0, 110.0])),
    )
    # at (line 5, pixel 5): rows interpolate to 5 and 105, then halfway: 55
    assert lut.interpolate([5], [5])[0, 0] == pytest.approx(55.0)
    # beyond the last vector/pixel: held constant
    assert lut.interpolate([20], [20])[0, 0] == pytest.approx(110.0)


def test_lut_vectors_with_different_pixels() -> None:
    lut = LutGrid(
        lines=np.array([0, 2]),
        pixels=(np.array([0.0, 2.0]), np.array([0.0, 1.0, 2.0])),
        values=(np.array([0.0, 2.0]), np.array([10.0, 20.0, 12.0])),
    )
    out = lut.interpolate([0, 1, 2], [1])
    np.testing.assert_allclose(out[:, 0], [1.0, 10.5, 20.0])


def test_lut_rejects_inconsistent_vectors() -> None:
    with pytest.raises(ProductError, match="2 pixels but 3 values"):
        LutGrid(lines=np.array([0]), pixels=(np.zeros(2),), values=(np.zeros(3),))


def test_noise_uses_every_azimuth_block() -> None:
    range_lut = LutGrid(
        lines=np.array([0, 100]),
        pixels=(np.array([0.0, 99.0]), np.array([0.0, 99.0])),
        values=(np.full(2, 10.0), np.full(2, 10.0)),
    )
    blocks = (
        NoiseAzimuthBlock("IW1", 0, 99, 0, 49, np.array([0, 99]), np.array([1.0, 2.0])),
        NoiseAzimuthBlock("IW2", 0, 99, 50, 99, np.array([0, 99]), np.array([3.0, 3.0])),
    )
    lut = noise.compute_noise_lut(NoiseModel(range_lut, blocks), 0, 100, 0, 100)
    assert lut[0, 0] == pytest.approx(10.0)
    assert lut[99, 49] == pytest.approx(20.0)
    assert lut[50, 10] == pytest.approx(10.0 * (1.0 + 50 / 99))
    np.testing.assert_allclose(lut[:, 50:], 30.0)
    # a window: same values at the same image positions
    sub = noise.compute_noise_lut(NoiseModel(range_lut, blocks), 40, 60, 45, 55)
    np.testing.assert_allclose(sub, lut[40:60, 45:55])


def test_calibration_formula_on_hand_values() -> None:
    lut = LutGrid(
        lines=np.array([0]), pixels=(np.array([0.0, 10.0]),), values=(np.array([100.0, 100.0]),)
    )
    dn = np.array([[0, 10, 100, 1]], dtype=np.uint16)
    noise_dn2 = np.array([[5.0, 50.0, 100.0, 2.0]])
    out = calibration.calibrate_dn(dn, lut, 0, 0, noise_dn2)
    assert np.isnan(out[0, 0])  # DN 0 = nodata
    assert out[0, 1] == pytest.approx((100 - 50) / 100**2)
    assert out[0, 2] == pytest.approx((10000 - 100) / 100**2)
    assert out[0, 3] == pytest.approx(calibration.NOISE_FLOOR_DN2 / 100**2)  # clipped
    no_noise = calibration.calibrate_dn(dn, lut, 0, 0, None)
    assert no_noise[0, 1] == pytest.approx(100 / 100**2)
    with pytest.raises(OptionError, match="unknown calibration target 'sigma1'"):
        calibration.calibration_lut_name("sigma1")


def test_utm_zone() -> None:
    assert utm_crs_for(12.5, 42.0) == CRS.from_epsg(32633)
    assert utm_crs_for(-70.6, -33.4) == CRS.from_epsg(32719)
    assert utm_crs_for(179.9, 1.0) == CRS.from_epsg(32660)
    assert utm_crs_for(-180.0, 1.0) == CRS.from_epsg(32601)


def test_grid_from_bounds_snaps_to_pixel_multiples() -> None:
    grid = grid_from_bounds(CRS.from_epsg(32633), (1003.0, 2001.0, 1051.0, 2029.0), 10.0)
    assert grid.transform == Affine(10.0, 0.0, 1000.0, 0.0, -10.0, 2030.0)
    assert (grid.width, grid.height) == (6, 3)
    assert grid.bounds == (1000.0, 2000.0, 1060.0, 2030.0)
    assert [tuple(w.flatten()) for w in grid.blocks(4)] == [(0, 0, 4, 3), (4, 0, 2, 3)]


def test_crop_grid_stays_aligned() -> None:
    grid = RasterGrid(CRS.from_epsg(4326), Affine(0.1, 0, 10.0, 0, -0.1, 50.0), 100, 100)
    cropped = crop_grid(grid, shapely.geometry.box(10.25, 49.0, 10.51, 49.5), CRS.from_epsg(4326))
    assert cropped.transform.c == pytest.approx(10.2) and cropped.transform.f == pytest.approx(49.5)
    assert (cropped.width, cropped.height) == (4, 5)
    with pytest.raises(GeometryError, match="does not intersect"):
        crop_grid(grid, shapely.geometry.box(30, 10, 31, 11), CRS.from_epsg(4326))


def test_parse_aoi_forms(tmp_path: Path) -> None:
    assert parse_aoi("12.4,41.9,12.6,42.1").bounds == (12.4, 41.9, 12.6, 42.1)
    assert parse_aoi("POLYGON((0 0, 1 0, 1 1, 0 0))").area == pytest.approx(0.5)
    geojson = tmp_path / "aoi.geojson"
    feature = {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(shapely.geometry.box(1, 2, 3, 4)),
    }
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    assert parse_aoi(str(geojson)).bounds == (1, 2, 3, 4)
    with pytest.raises(OptionError, match="minx<maxx"):
        parse_aoi("3,2,1,4")
    with pytest.raises(OptionError, match="cannot parse --aoi"):
        parse_aoi("not an aoi")
    with pytest.raises(OptionError, match="invalid --crs"):
        parse_crs("EPSG:999999")


def test_ipf_version_numbers() -> None:
    from sen_preproc.sentinel1.product import ipf_version_number

    assert ipf_version_number("002.72") == 2.72 and ipf_version_number("002.72") < 2.9
    assert ipf_version_number("002.90") == 2.9 and ipf_version_number("003.40") == 3.4
    assert ipf_version_number("") == 0.0
