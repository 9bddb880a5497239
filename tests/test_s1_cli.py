"""End-to-end and CLI tests of ``senprep s1`` on generated GRD products (run everywhere)."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import shapely.geometry
from click.testing import CliRunner

from sen_preproc.cli.main import cli
from sen_preproc.sentinel1 import geoid
from sen_preproc.testing.s1_factory import (
    S1ProductSpec,
    bright_squares,
    gaussian_hill,
    product_geometry,
    write_dem,
    write_orbit_file,
    write_s1_grd_product,
)
from sen_preproc.testing.s1_factory import footprint_bounds as s1_footprint

SPEC = S1ProductSpec(lines=180, samples=240, seed=3)


def hill_field():  # type: ignore[no-untyped-def]
    square = bright_squares(SPEC)[1]
    return gaussian_hill(
        square.lon_deg, square.lat_deg, height_m=600.0, sigma_m=800.0, base_m=100.0
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("s1cli")


@pytest.fixture(scope="module")
def product(workdir: Path) -> Path:
    """A dual-pol product over terrain (a 700 m hill under the middle bright square)."""
    return write_s1_grd_product(workdir / "products", SPEC, terrain_height=hill_field())


def footprint_bounds(margin_deg: float = 0.02) -> tuple[float, float, float, float]:
    return s1_footprint(SPEC, margin_deg)


@pytest.fixture(scope="module")
def dem(workdir: Path) -> Path:
    return write_dem(workdir / "dem_ellipsoid.tif", footprint_bounds(), terrain_height=hill_field())


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def read(
    path: Path,
) -> tuple[np.ndarray, dict[str, str], tuple[str, ...], rasterio.Affine, rasterio.crs.CRS]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.tags(), ds.descriptions, ds.transform, ds.crs


def bright_centroids(
    data: np.ndarray, transform: rasterio.Affine, threshold_db: float = -6.0
) -> list[tuple[float, float]]:
    from scipy import ndimage

    labels, count = ndimage.label(np.nan_to_num(data, nan=-99) > threshold_db)
    centres = []
    for index in range(1, count + 1):
        rows, cols = np.nonzero(labels == index)
        if rows.size < 20:
            continue
        centres.append(transform @ (cols.mean() + 0.5, rows.mean() + 0.5))
    return centres


def square_centres_utm(crs: rasterio.crs.CRS) -> np.ndarray:
    transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return np.array([transformer.transform(sq.lon_deg, sq.lat_deg) for sq in bright_squares(SPEC)])


def test_end_to_end_features_land_where_defined(product: Path, dem: Path, workdir: Path) -> None:
    out = workdir / "e2e.tif"
    code, output = run(
        [
            "s1",
            str(product),
            "--dem",
            str(dem),
            "--dem-datum",
            "ellipsoid",
            "--speckle",
            "none",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, output
    data, tags, descriptions, transform, crs = read(out)
    assert descriptions == ("VV", "VH")
    assert crs.to_epsg() == 32633 and transform.a == 10.0 and transform.e == -10.0
    assert data.dtype == np.float32 and np.isnan(data).any()  # nodata outside the swath
    with rasterio.open(out) as ds:
        assert ds.profile["tiled"] and ds.profile["compress"] == "deflate"
        assert ds.overviews(1) or max(ds.shape) <= 512  # COG: overviews only above one tile
    steps = [s["step"] for s in json.loads(tags["PROCESSING_STEPS"])]
    assert steps == [
        "read",
        "thermal-noise-removal",
        "orbit",
        "calibration",
        "speckle-filter",
        "terrain-correction",
        "linear-to-db",
    ]
    assert tags["SOURCE_PRODUCT"] == product.name.removesuffix(".SAFE")
    assert tags["ORBIT_DIRECTION"] == "DESCENDING" and tags["SENPREP_VERSION"]
    # every bright square at its defined ground position (within one 10 m pixel)
    found = np.array(bright_centroids(data[0], transform))
    expected = square_centres_utm(crs)
    assert len(found) == 3
    for centre in expected:
        assert np.min(np.hypot(*(found - centre).T)) < 10.0
    # radiometry: background VV around 0.05 (-13 dB) and squares at 0.5 (-3 dB)
    vv = data[0][np.isfinite(data[0])]
    assert np.median(vv) == pytest.approx(10 * np.log10(0.05), abs=1.5)
    inv = ~transform
    for x, y in expected:
        col, row = inv @ (x, y)
        centre = data[0, int(row) - 1 : int(row) + 2, int(col) - 1 : int(col) + 2]
        np.testing.assert_allclose(centre, 10 * np.log10(0.5), atol=0.3)


def test_without_dem_terrain_shifts_features(product: Path, workdir: Path) -> None:
    out = workdir / "ellipsoid.tif"
    code, output = run(["s1", str(product), "--speckle", "none", "--out", str(out), "--pol", "VV"])
    assert code == 0, output
    assert "NOT terrain-corrected" in output
    data, _, descriptions, transform, crs = read(out)
    assert descriptions == ("VV",)
    found = np.array(bright_centroids(data[0], transform))
    hill_square = square_centres_utm(crs)[1]
    # the middle square sits on a 700 m hill that the coarse geolocation-grid heights smooth
    # away: on the ellipsoid it lands several pixels off (with the DEM: < 1 pixel, see above)
    assert np.min(np.hypot(*(found - hill_square).T)) > 20.0


def test_geoid_referenced_dem_gives_the_same_result(
    product: Path, dem: Path, workdir: Path
) -> None:
    if geoid.find_geoid_grid("egm96") is None:
        pytest.skip("PROJ's egm96_15.gtx not installed (apt-get install proj-data)")

    def undulation(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return geoid.geoid_undulation_m(lon, lat, "egm96")

    dem_geoid = write_dem(
        workdir / "dem_egm96.tif",
        footprint_bounds(),
        terrain_height=hill_field(),
        crs="EPSG:9707",
        geoid_offset=undulation,
    )
    out_geoid = workdir / "geoid.tif"
    out_ell = workdir / "ell.tif"
    for path, dem_path, datum in ((out_geoid, dem_geoid, "auto"), (out_ell, dem, "ellipsoid")):
        code, output = run(
            [
                "s1",
                str(product),
                "--dem",
                str(dem_path),
                "--dem-datum",
                datum,
                "--speckle",
                "none",
                "--pol",
                "VV",
                "--out",
                str(path),
                "-q",
            ]
        )
        assert code == 0, output
    a, *_ = read(out_geoid)
    b, *_ = read(out_ell)
    both = np.isfinite(a) & np.isfinite(b)
    assert both.mean() > 0.5
    assert np.abs(a[both] - b[both]).max() < 0.05
    # --no-geoid takes the EGM96 heights as ellipsoidal: ~48 m too low, features move
    out_raw = workdir / "nogeoid.tif"
    code, output = run(
        [
            "s1",
            str(product),
            "--dem",
            str(dem_geoid),
            "--no-geoid",
            "--speckle",
            "none",
            "--pol",
            "VV",
            "--out",
            str(out_raw),
            "-q",
        ]
    )
    assert code == 0, output
    c, *_ = read(out_raw)
    both = np.isfinite(c) & np.isfinite(b)
    assert np.abs(c[both] - b[both]).max() > 1.0


def test_missing_geoid_grid_is_a_clear_error(
    product: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dem_geoid = write_dem(
        workdir / "dem_plain.tif", footprint_bounds(), terrain_height=hill_field()
    )
    geoid._transformer.cache_clear()
    monkeypatch.setattr(geoid, "find_geoid_grid", lambda model="egm96": None)
    out = workdir / "nogrid.tif"
    code, output = run(["s1", str(product), "--dem", str(dem_geoid), "--out", str(out), "-q"])
    geoid._transformer.cache_clear()
    assert code == 1
    assert "proj-data" in output and "--no-geoid" in output
    assert not out.exists()


def test_options_calibration_scale_speckle_grid(product: Path, dem: Path, workdir: Path) -> None:
    base = ["s1", str(product), "--dem", str(dem), "--dem-datum", "ellipsoid", "--pol", "VV", "-q"]
    outs = {}
    for name, extra in {
        "sigma0": ["--speckle", "none", "--scale", "linear"],
        "beta0": ["--speckle", "none", "--scale", "linear", "--calibration", "beta0"],
        "gamma0": ["--speckle", "none", "--scale", "linear", "--calibration", "gamma0"],
        "refined": ["--speckle", "refined-lee", "--window", "5"],
        "boxcar": [
            "--speckle",
            "boxcar",
            "--window",
            "3",
            "--pixel-size",
            "20",
            "--crs",
            "EPSG:32632",
        ],
    }.items():
        outs[name] = workdir / f"opt_{name}.tif"
        code, output = run([*base, *extra, "--out", str(outs[name])])
        assert code == 0, output
    sigma, tags, *_ = read(outs["sigma0"])
    beta, *_ = read(outs["beta0"])
    gamma, *_ = read(outs["gamma0"])
    ok = np.isfinite(sigma) & np.isfinite(beta) & np.isfinite(gamma)
    # beta0 = sigma0 / sin(theta) > sigma0;  gamma0 = sigma0 / cos(theta) > sigma0
    ratio_b = beta[ok] / sigma[ok]
    ratio_g = gamma[ok] / sigma[ok]
    theta = np.degrees(np.arcsin(1 / ratio_b))
    assert 28 < theta.min() and theta.max() < 45
    np.testing.assert_allclose(1 / ratio_g, np.cos(np.radians(theta)), rtol=1e-3)
    assert tags["SCALE"] == "linear" and np.nanmedian(sigma) == pytest.approx(0.05, rel=0.3)
    _, rtags, *_ = read(outs["refined"])
    steps = json.loads(rtags["PROCESSING_STEPS"])
    assert {"step": "speckle-filter", "filter": "refined-lee", "window_px": 5} in steps
    _, _, _, transform, crs = read(outs["boxcar"])
    assert crs.to_epsg() == 32632 and transform.a == 20.0


def test_aoi_and_like(product: Path, dem: Path, workdir: Path) -> None:
    square = bright_squares(SPEC)[1]  # mid-image: a +-0.004 deg AOI lies inside the footprint
    d = 0.004
    aoi = f"{square.lon_deg - d},{square.lat_deg - d},{square.lon_deg + d},{square.lat_deg + d}"
    out = workdir / "aoi.tif"
    code, output = run(
        [
            "s1",
            str(product),
            "--dem",
            str(dem),
            "--dem-datum",
            "ellipsoid",
            "--aoi",
            aoi,
            "--pol",
            "VV",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0, output
    data, tags, _, transform, crs = read(out)
    full_width_m = SPEC.samples * 10
    assert data.shape[2] * 10 < full_width_m  # cropped
    assert json.loads(tags["PROCESSING_STEPS"])[-1] == {"step": "crop", "aoi": aoi}

    from sen_preproc.grid import parse_aoi, transform_geometry

    aoi_utm = transform_geometry(parse_aoi(aoi), rasterio.crs.CRS.from_epsg(4326), crs).bounds
    left, top = transform.c, transform.f
    right, bottom = left + 10 * data.shape[2], top - 10 * data.shape[1]
    assert shapely.geometry.box(left, bottom, right, top).contains(shapely.geometry.box(*aoi_utm))
    assert aoi_utm[0] - left < 10 and right - aoi_utm[2] < 10 and top - aoi_utm[3] < 10
    # --like: exactly the reference grid
    like_out = workdir / "like.tif"
    code, output = run(
        ["s1", str(product), "--like", str(out), "--pol", "VV", "--out", str(like_out), "-q"]
    )
    assert code == 0, output
    with rasterio.open(out) as ref, rasterio.open(like_out) as got:
        assert (got.crs, got.transform, got.shape) == (ref.crs, ref.transform, ref.shape)
    # an AOI away from the product
    code, output = run(
        ["s1", str(product), "--aoi", "100,10,100.1,10.1", "--out", str(workdir / "far.tif")]
    )
    assert code == 1 and "does not intersect" in output
    assert not (workdir / "far.tif").exists()


def test_orbit_file_and_noise_options(product: Path, workdir: Path) -> None:
    geom = product_geometry(SPEC)
    start = SPEC.start_time
    eof = write_orbit_file(
        workdir / "S1B_OPER_AUX_POEORB_OPOD_TEST.EOF",
        SPEC,
        validity_start=start - timedelta(hours=1),
        validity_stop=start + timedelta(hours=1),
        zipped=True,
    )
    out_eof = workdir / "eof.tif"
    out_ann = workdir / "ann.tif"
    common = ["--speckle", "none", "--pol", "VV", "-q"]
    assert (
        run(["s1", str(product), "--orbit-file", str(eof), "--out", str(out_eof), *common])[0] == 0
    )
    assert run(["s1", str(product), "--out", str(out_ann), *common])[0] == 0
    a, tags, *_ = read(out_eof)
    b, *_ = read(out_ann)
    assert eof.name in json.loads(tags["PROCESSING_STEPS"])[2]["source"]
    both = np.isfinite(a) & np.isfinite(b)
    assert np.abs(a[both] - b[both]).max() < 0.05  # same analytic orbit: same result
    late = write_orbit_file(
        workdir / "late.EOF",
        SPEC,
        validity_start=start + timedelta(hours=2),
        validity_stop=start + timedelta(hours=3),
    )
    code, output = run(
        ["s1", str(product), "--orbit-file", str(late), "--out", str(workdir / "late.tif")]
    )
    assert code == 1 and "does not cover the acquisition" in output
    assert not (workdir / "late.tif").exists()
    # thermal noise off: higher backscatter (noise power kept); border noise on: recorded
    out_noisy = workdir / "noisy.tif"
    assert (
        run(
            [
                "s1",
                str(product),
                "--no-thermal-noise",
                "--border-noise",
                "--out",
                str(out_noisy),
                *common,
            ]
        )[0]
        == 0
    )
    c, ctags, *_ = read(out_noisy)
    both = np.isfinite(c) & np.isfinite(b)
    assert np.mean(c[both] - b[both]) > 0.0
    steps = [s["step"] for s in json.loads(ctags["PROCESSING_STEPS"])]
    assert "thermal-noise-removal" not in steps and "border-noise-removal" in steps
    del geom


def test_zipped_product_and_overwrite(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = S1ProductSpec(lines=100, samples=120, polarisations=("VV",), seed=5)
    zipped = write_s1_grd_product(workdir / "zips", spec, zipped=True)
    out = workdir / "zipped.tif"
    assert run(["s1", str(zipped), "--out", str(out), "-q"])[0] == 0
    before = out.stat().st_mtime_ns
    code, output = run(["s1", str(zipped), "--out", str(out), "-q"])
    assert code == 1 and "already exists" in output and "--overwrite" in output
    assert out.stat().st_mtime_ns == before
    assert run(["s1", str(zipped), "--out", str(out), "--overwrite", "-q"])[0] == 0
    # default output name derived from the product ID, in the current folder
    cwd = workdir / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(cli, ["s1", str(zipped), "-q"])
    assert result.exit_code == 0, result.output
    assert (cwd / (zipped.name.removesuffix(".zip") + "_sigma0_db.tif")).exists()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not_safe", "not a Sentinel SAFE product"),
        ("truncated_zip", "not a readable zip"),
        ("slc", "product type SLC is not supported"),
        ("mode", "acquisition mode WV is not supported"),
        ("missing_pol", "polarisation HH is not in this product"),
        ("empty_measurement", "no measurement TIFF for VV"),
        ("missing_file", "no such file or folder"),
        ("bad_window", "odd window"),
        ("missing_dem", "cannot open the DEM"),
        ("far_dem", "does not cover the output area"),
        ("measurement_size", "the product is damaged"),
    ],
)
def test_bad_inputs(case: str, message: str, product: Path, workdir: Path) -> None:
    base = workdir / f"bad_{case}"
    base.mkdir()
    args = ["s1"]
    if case == "not_safe":
        (base / "folder").mkdir()
        args.append(str(base / "folder"))
    elif case == "truncated_zip":
        zipped = write_s1_grd_product(
            base, S1ProductSpec(lines=60, samples=80, polarisations=("VV",)), zipped=True
        )
        data = zipped.read_bytes()
        zipped.write_bytes(data[: len(data) // 2])
        args.append(str(zipped))
    elif case == "slc":
        args.append(
            str(write_s1_grd_product(base, S1ProductSpec(lines=60, samples=80, product_type="SLC")))
        )
    elif case == "mode":
        copy = shutil.copytree(product, base / product.name)
        manifest = copy / "manifest.safe"
        manifest.write_text(
            manifest.read_text().replace(">IW</s1sarl1:mode>", ">WV</s1sarl1:mode>")
        )
        args.append(str(copy))
    elif case == "missing_pol":
        args += [str(product), "--pol", "HH"]
    elif case == "empty_measurement":
        copy = shutil.copytree(product, base / product.name)
        for tiff in (copy / "measurement").iterdir():
            tiff.unlink()
        args.append(str(copy))
    elif case == "missing_file":
        args.append(str(base / "nothing.zip"))
    elif case == "bad_window":
        args += [str(product), "--window", "4"]
    elif case == "missing_dem":
        args += [str(product), "--dem", str(base / "nodem.tif")]
    elif case == "far_dem":
        far = write_dem(base / "far_dem.tif", (100.0, 10.0, 100.05, 10.05))
        args += [str(product), "--dem", str(far), "--dem-datum", "ellipsoid"]
    elif case == "measurement_size":  # a damaged product: ProductError, not an option error
        copy = shutil.copytree(product, base / product.name)
        tiff = next((copy / "measurement").iterdir())
        with rasterio.open(tiff) as src:
            profile = src.profile | {"height": src.height - 7}
            data = src.read(window=rasterio.windows.Window(0, 0, src.width, src.height - 7))
        with rasterio.open(tiff, "w", **profile) as dst:
            dst.write(data)
        args.append(str(copy))
    out = base / "out.tif"
    code, output = run([*args, "--out", str(out), "-q"])
    assert code == 1, output
    error_lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and message in error_lines[0], output
    assert not out.exists()
    assert not list(base.glob(".out.tif*"))  # no temporary leftovers


def test_failure_leaves_no_partial_output(
    product: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sen_preproc.sentinel1 import chain as s1_module

    calls = {"n": 0}
    original = s1_module.sample_bilinear

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(s1_module, "sample_bilinear", failing)
    out_dir = workdir / "partial"
    out_dir.mkdir()
    runner = CliRunner()
    result = runner.invoke(cli, ["s1", str(product), "--out", str(out_dir / "x.tif"), "-q"])
    assert result.exit_code != 0
    assert list(out_dir.iterdir()) == []


def test_zip_without_safe(workdir: Path) -> None:
    path = workdir / "random.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    code, output = run(["s1", str(path), "--out", str(workdir / "r.tif")])
    assert code == 1 and "no manifest.safe" in output


def test_help_lists_every_option() -> None:
    code, output = run(["s1", "--help"])
    assert code == 0
    for option in (
        "--pol",
        "--border-noise",
        "--thermal-noise",
        "--orbit-file",
        "--calibration",
        "--speckle",
        "--window",
        "--dem",
        "--dem-datum",
        "--no-geoid",
        "--crs",
        "--pixel-size",
        "--like",
        "--scale",
        "--aoi",
        "--out",
        "--overwrite",
        "--quiet",
    ):
        assert option in output


def test_blockwise_processing_equals_single_block(product: Path, dem: Path, workdir: Path) -> None:
    """Small strips/blocks and an on-disk scratch image give exactly the in-memory result."""
    from sen_preproc.sentinel1.chain import S1Config, process_s1

    common = {
        "product": product,
        "dem": dem,
        "dem_datum": "ellipsoid",
        "speckle": "refined-lee",
    }
    whole = process_s1(
        S1Config(out=workdir / "whole.tif", strip_rows=100_000, block_px=4096, **common)
    )
    tiled = process_s1(
        S1Config(
            out=workdir / "tiled.tif", strip_rows=37, block_px=64, max_memory_bytes=0, **common
        )
    )
    a, *_ = read(whole)
    b, *_ = read(tiled)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=0, atol=2e-3)  # dB; geometry agrees to 1e-4 px


def test_module_entry_point_subprocess() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "sen_preproc", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "senprep" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "sen_preproc", "s1", "/nonexistent.zip"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1].startswith("Error: /nonexistent.zip: no such file")
    )


def test_old_ipf_range_only_noise_and_projected_dem(dem: Path, workdir: Path) -> None:
    """IPF < 2.9 (noiseVector, range only) products; a DEM in a projected CRS (UTM)."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    spec = S1ProductSpec(lines=180, samples=240, seed=3, ipf_version="002.72")
    old = write_s1_grd_product(workdir / "old_ipf", spec, terrain_height=hill_field())
    noise_xml = next((old / "annotation" / "calibration").glob("noise-*vv*.xml")).read_text()
    assert "noiseVectorList" in noise_xml and "noiseAzimuthVector" not in noise_xml
    # the same DEM reprojected to UTM 33N at 15 m
    utm_dem = workdir / "dem_utm.tif"
    with rasterio.open(dem) as src:
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:32633", src.width, src.height, *src.bounds, resolution=15.0
        )
        profile = src.profile | {
            "crs": "EPSG:32633",
            "transform": transform,
            "width": width,
            "height": height,
        }
        with rasterio.open(utm_dem, "w", **profile) as dst:
            reproject(rasterio.band(src, 1), rasterio.band(dst, 1), resampling=Resampling.bilinear)
    out = workdir / "old_ipf.tif"
    code, output = run(
        [
            "s1",
            str(old),
            "--dem",
            str(utm_dem),
            "--dem-datum",
            "ellipsoid",
            "--speckle",
            "none",
            "--pol",
            "VV",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0, output
    data, tags, _, transform_out, crs = read(out)
    steps = json.loads(tags["PROCESSING_STEPS"])
    assert {"step": "thermal-noise-removal", "azimuth_blocks": False} in steps
    assert tags["IPF_VERSION"] == "002.72"
    found = np.array(bright_centroids(data[0], transform_out))
    for centre in square_centres_utm(crs):
        assert np.min(np.hypot(*(found - centre).T)) < 10.0
    vv = data[0][np.isfinite(data[0])]
    assert np.median(vv) == pytest.approx(10 * np.log10(0.05), abs=1.5)


def test_aoi_as_wkt_and_geojson(product: Path, workdir: Path) -> None:
    square = bright_squares(SPEC)[1]
    d = 0.003
    wkt = (
        f"POLYGON(({square.lon_deg - d} {square.lat_deg - d}, {square.lon_deg + d} {square.lat_deg - d}, "
        f"{square.lon_deg + d} {square.lat_deg + d}, {square.lon_deg - d} {square.lat_deg + d}, "
        f"{square.lon_deg - d} {square.lat_deg - d}))"
    )
    geojson = workdir / "aoi.geojson"
    import shapely.wkt

    geojson.write_text(
        json.dumps(
            {"type": "Feature", "geometry": shapely.geometry.mapping(shapely.wkt.loads(wkt))}
        )
    )
    shapes = []
    for aoi, name in ((wkt, "wkt.tif"), (str(geojson), "geojson.tif")):
        code, output = run(
            ["s1", str(product), "--aoi", aoi, "--pol", "VV", "--out", str(workdir / name), "-q"]
        )
        assert code == 0, output
        with rasterio.open(workdir / name) as ds:
            shapes.append((ds.transform, ds.shape))
    assert shapes[0] == shapes[1]
    assert shapes[0][1][0] < 80 and shapes[0][1][1] < 80  # ~ 670 m x 500 m
