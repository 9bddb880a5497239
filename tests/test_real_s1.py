"""Real-data checks on the Sentinel-1 fixtures of ../shared (skipped when absent).

* calibration against xarray-sentinel's ``calibrate_intensity`` on the real S1B LUTs;
* thermal noise against an independent evaluation of the real noise XML;
* range-Doppler geocoding on the real Rome DEM against sarsen's backward geocoding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

from sen_preproc.sentinel1 import calibration, terrain
from sen_preproc.sentinel1 import product as safe
from sen_preproc.sentinel1 import thermal_noise as noise
from sen_preproc.sentinel1.geodesy import geodetic_to_ecef

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def s1b_meta(s1b_safe: Path) -> tuple[safe.S1Product, safe.S1Metadata]:
    product = safe.open_product(s1b_safe)
    return product, safe.read_metadata(product, "VV")


def test_open_real_products(s1b_safe: Path, s1a_zip: Path) -> None:
    s1b = safe.open_product(s1b_safe)
    assert s1b.product_id.startswith("S1B_IW_GRDH_1SDV_20211223T051122")
    # the manifest declares VV and VH, the fixture ships VV's files only: VH is an error
    assert s1b.polarisations == ("VV", "VH") and list(s1b.missing) == ["VH"]
    assert s1b.require_polarisations(("vv",)) == ("VV",)
    with pytest.raises(
        safe.MissingDataError, match=r"VH cannot be processed: s1b-iw-grd-vh-.*xml.*--pol VV$"
    ):
        s1b.require_polarisations(("VV", "VH"))
    assert s1b.mode == "IW" and s1b.product_type == "GRD" and s1b.ipf_version == "003.40"
    assert s1b.pass_direction == "DESCENDING"
    s1a = safe.open_product(s1a_zip)
    assert s1a.polarisations == ("VV", "VH")
    assert s1a.zip_path is not None
    with pytest.raises(safe.MissingDataError, match="no measurement TIFF for VH"):
        s1a.measurement_path("VH")
    meta = safe.read_metadata(s1a, "VH")
    assert meta.image.lines > 16000 and len(meta.noise.azimuth_blocks) == 3
    manifest = safe.open_product(s1b_safe / "manifest.safe")
    assert manifest.product_id == s1b.product_id


def test_calibration_matches_xarray_sentinel(
    s1b_meta: tuple[safe.S1Product, safe.S1Metadata],
) -> None:
    import xarray_sentinel

    product, meta = s1b_meta
    rng = np.random.default_rng(1)
    r0, c0, rows, cols = 5000, 12000, 300, 500
    dn = rng.integers(20, 800, size=(rows, cols)).astype(np.uint16)
    lut = meta.calibration["sigmaNought"]
    ours = calibration.calibrate_dn(dn, lut, r0, c0)
    # peer: xarray-sentinel on the LUT dataset it reads itself
    cal_ds = xarray_sentinel.open_sentinel1_dataset(product.path, group="IW/VV/calibration")
    da = xr.DataArray(
        dn,
        dims=("line", "pixel"),
        coords={"line": np.arange(r0, r0 + rows), "pixel": np.arange(c0, c0 + cols)},
    )
    ref = xarray_sentinel.calibrate_intensity(da, cal_ds.sigmaNought).values
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_noise_matches_independent_evaluation(
    s1b_safe: Path, s1b_meta: tuple[safe.S1Product, safe.S1Metadata]
) -> None:
    """Independent evaluation: ElementTree parse + scipy RegularGridInterpolator, per block."""
    import xml.etree.ElementTree as ET

    from scipy.interpolate import RegularGridInterpolator

    _, meta = s1b_meta
    noise_xml = next((s1b_safe / "annotation" / "calibration").glob("noise-*.xml"))
    root = ET.parse(noise_xml).getroot()
    vec_lines, vec_luts, pixels = [], [], None
    for vec in root.iter("noiseRangeVector"):
        vec_lines.append(int(vec.findtext("line")))
        pix = np.array(vec.findtext("pixel").split(), dtype=float)
        pixels = pix if pixels is None else pixels
        assert np.array_equal(pix, pixels)  # regular grid in this product
        vec_luts.append(np.array(vec.findtext("noiseRangeLut").split(), dtype=float))
    range_interp = RegularGridInterpolator((np.array(vec_lines, float), pixels), np.array(vec_luts))
    blocks = list(root.iter("noiseAzimuthVector"))
    assert len(blocks) == 3  # IW1..IW3: all must be used
    # windows straddling the IW1/IW2 and IW2/IW3 boundaries
    for r0, c0 in [(4000, 8800), (9000, 17650), (100, 0)]:
        rows, cols = 50, 200
        ours = noise.compute_noise_lut(meta.noise, r0, r0 + rows, c0, c0 + cols)
        ll, pp = np.meshgrid(np.arange(r0, r0 + rows), np.arange(c0, c0 + cols), indexing="ij")
        ref = range_interp(np.stack([ll, pp], axis=-1))
        for block in blocks:
            first_l, last_l = (
                int(block.findtext("firstAzimuthLine")),
                int(block.findtext("lastAzimuthLine")),
            )
            first_p, last_p = (
                int(block.findtext("firstRangeSample")),
                int(block.findtext("lastRangeSample")),
            )
            lines = np.array(block.findtext("line").split(), dtype=float)
            lut = np.array(block.findtext("noiseAzimuthLut").split(), dtype=float)
            inside = (ll >= first_l) & (ll <= last_l) & (pp >= first_p) & (pp <= last_p)
            ref[inside] *= np.interp(ll[inside], lines, lut)
        np.testing.assert_allclose(ours, ref, rtol=1e-9)


def test_geocoding_matches_sarsen_on_rome_dem(
    s1b_meta: tuple[safe.S1Product, safe.S1Metadata], rome_dem: Path
) -> None:
    import xarray_sentinel
    from sarsen import geocoding, orbit, scene

    product, meta = s1b_meta
    with rasterio.open(rome_dem) as src:
        heights = src.read(1).astype(np.float64)[::6, ::6]  # 60 x 60 points
        transform = src.transform @ src.transform.scale(6, 6)
    rows, cols = heights.shape
    xs = transform.c + transform.a * (np.arange(cols) + 0.5)
    ys = transform.f + transform.e * (np.arange(rows) + 0.5)
    lon, lat = np.meshgrid(xs, ys)
    # both on the same ellipsoidal heights (sarsen treats 2-D CRS heights as ellipsoidal)
    dem = xr.DataArray(heights, dims=("y", "x"), coords={"y": ys, "x": xs})
    dem_ecef = scene.convert_to_dem_ecef(dem, source_crs="EPSG:4979")
    orbit_ds = xarray_sentinel.open_sentinel1_dataset(product.path, group="IW/VV/orbit")
    interp = orbit.OrbitPolyfitInterpolator.from_position(orbit_ds.position)
    acq = geocoding.backward_geocode(dem_ecef, interp, method="newton")
    slant = np.sqrt((acq.dem_distance**2).sum("axis"))
    conv = xarray_sentinel.open_sentinel1_dataset(product.path, group="IW/VV/coordinate_conversion")
    ground = xarray_sentinel.slant_range_time_to_ground_range(
        acq.azimuth_time, 2 * slant / 299792458.0, conv
    )
    ref_line = (
        (acq.azimuth_time - meta.image.first_line_time) / np.timedelta64(1, "ns")
    ).values * 1e-9
    ref_line /= meta.image.azimuth_time_interval_s
    ref_pixel = ground.values / meta.image.range_pixel_spacing_m

    geometry = terrain.build_geometry(meta)
    line, pixel, _ = terrain.ecef_to_image(geometry, geodetic_to_ecef(lon, lat, heights))
    assert np.abs(line - ref_line).max() < 0.05
    assert np.abs(pixel - ref_pixel).max() < 0.05
    # the fast block path (coarse grid + one Newton step) agrees with the exact solution;
    # coarse nodes every 2 points = 360 m here, about twice the 16 px x 10 m of a real run
    r_idx = terrain.coarse_indices(rows, 2)
    c_idx = terrain.coarse_indices(cols, 2)
    fast_line, fast_pixel = terrain.geocode_points(
        geometry, lon[np.ix_(r_idx, c_idx)], lat[np.ix_(r_idx, c_idx)], r_idx, c_idx, heights
    )
    assert np.abs(fast_line - line).max() < 1e-3
    assert np.abs(fast_pixel - pixel).max() < 1e-3


def test_calibration_of_dn_written_into_real_product(s1b_safe: Path, tmp_path: Path) -> None:
    """Known DN in a window of a copy of the real S1B product: our chain's radiometric step
    (read from the measurement file) against xarray-sentinel's ``calibrate_intensity``."""
    import shutil

    import xarray_sentinel
    from rasterio.windows import Window

    from sen_preproc.raster_io import read_window
    from sen_preproc.sentinel1.chain import S1Config, radiometric_strip

    copy = Path(shutil.copytree(s1b_safe, tmp_path / s1b_safe.name))
    for path in copy.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    product = safe.open_product(copy)
    meta = safe.read_metadata(product, "VV")
    r0, c0, rows, cols = 8000, 17600, 200, 300  # straddles the IW2/IW3 noise blocks
    # DN from a known sigma0 field through the product's own LUTs (inverse of ESA's formula)
    amplitude = meta.calibration["sigmaNought"].interpolate(
        np.arange(r0, r0 + rows), np.arange(c0, c0 + cols)
    )
    noise_dn2 = noise.compute_noise_lut(meta.noise, r0, r0 + rows, c0, c0 + cols)
    sigma0 = np.linspace(0.01, 0.3, cols)[None, :] * np.ones((rows, 1))
    dn = np.sqrt(sigma0 * amplitude**2 + noise_dn2).round().astype(np.uint16)
    with rasterio.open(product.measurement_path("VV"), "r+") as ds:
        ds.write(dn, 1, window=Window(c0, r0, cols, rows))

    window = Window(c0, r0, cols, rows)
    read_dn = read_window(product.measurement_path("VV"), window)
    np.testing.assert_array_equal(read_dn, dn)
    no_noise = radiometric_strip(read_dn, meta, r0, c0, S1Config(product=copy, thermal_noise=False))
    measurement = xarray_sentinel.open_sentinel1_dataset(copy, group="IW/VV").measurement
    cal = xarray_sentinel.open_sentinel1_dataset(copy, group="IW/VV/calibration")
    ref = xarray_sentinel.calibrate_intensity(
        measurement.isel(azimuth_time=slice(r0, r0 + rows), ground_range=slice(c0, c0 + cols)),
        cal.sigmaNought,
    ).values
    np.testing.assert_allclose(no_noise, ref, rtol=1e-5)
    # with thermal noise removal the known sigma0 comes back (within DN quantisation)
    denoised = radiometric_strip(read_dn, meta, r0, c0, S1Config(product=copy))
    bound = (2 * dn.astype(float) + 1) / amplitude**2  # d(DN²)/A² for a 0.5 DN rounding
    assert np.all(np.abs(denoised - sigma0) <= bound + 1e-6)
