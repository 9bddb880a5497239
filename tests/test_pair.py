"""``senprep pair``: footprint intersection, resampling in linear power, errors, real SSL4EO pair."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sen_preproc.cli.main import cli
from sen_preproc.errors import GeometryError, ProductError
from sen_preproc.pair import PairConfig, pair_images


def write(
    path: Path,
    data: np.ndarray,
    names: tuple[str, ...],
    transform: Affine,
    *,
    crs: str | None = "EPSG:32633",
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype,
        "transform": transform,
        "nodata": nodata,
    }
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        for i, name in enumerate(names, start=1):
            ds.set_band_description(i, name)
        ds.update_tags(**(tags or {}))
    return path


def s1_image(path: Path, x0: float, width: int, value_db: float = -10.0, res: float = 10.0) -> Path:
    data = np.full((2, 50, width), value_db, np.float32)
    data[1] -= 7.0
    return write(
        path,
        data,
        ("VV", "VH"),
        Affine(res, 0, x0, 0, -res, 5000.0),
        nodata=np.nan,
        tags={"ACQUISITION_START": "2021-06-01T05:00:00Z", "SCALE": "db", "SOURCE_PRODUCT": "S1X"},
    )


def s2_image(path: Path, x0: float, width: int) -> Path:
    data = np.full((3, 50, width), 1234, np.uint16)
    data[2] = 1
    data[2, :5] = 0  # cloudy rows: valid = 0 must survive pairing (not be taken as nodata)
    return write(
        path,
        data,
        ("B4", "B8", "valid"),
        Affine(10, 0, x0, 0, -10, 5000.0),
        nodata=0,
        tags={"SENSING_TIME": "2021-06-03T10:00:00Z", "SOURCE_PRODUCT": "S2X"},
    )


@pytest.mark.parametrize("s1_res", [10.0, 20.0])
def test_crop_exact_on_large_footprints(tmp_path: Path, s1_res: float) -> None:
    """Footprints are traced on decimated masks (1600 px -> 4 px per mask pixel here), yet the
    crop is the exact bounding box of the pixels valid in both rasters."""
    height, width = 1300, 1600
    s2_data = np.full((2, height, width), 1000, np.uint16)
    s2_data[1] = 1
    s2 = write(
        tmp_path / "s2.tif",
        s2_data,
        ("B4", "valid"),
        Affine(10, 0, 0.0, 0, -10, 13000.0),
        nodata=0,
        tags={"SENSING_TIME": "2021-06-03T10:00:00Z"},
    )
    scale = int(s1_res // 10)
    s1_data = np.full((2, height // scale, width // scale), np.nan, np.float32)
    # valid S1 rows 37..1202, cols 51..1410 of the 10 m grid (whole 20 m pixels for 20 m)
    r0, r1, c0, c1 = 37 // scale, 1203 // scale, 51 // scale, 1411 // scale
    s1_data[:, r0:r1, c0:c1] = -10.0
    s1 = write(
        tmp_path / "s1.tif",
        s1_data,
        ("VV", "VH"),
        Affine(s1_res, 0, 0.0, 0, -s1_res, 13000.0),
        nodata=np.nan,
        tags={"ACQUISITION_START": "2021-06-01T05:00:00Z", "SCALE": "db"},
    )
    out = pair_images(PairConfig(s1=s1, s2=s2, out=tmp_path / "p.tif"))
    with rasterio.open(out) as ds:
        data = ds.read(1)
        # the first/last rows and columns hold valid pixels: nothing lost, nothing extra
        assert np.isfinite(data[0]).any() and np.isfinite(data[-1]).any()
        assert np.isfinite(data[:, 0]).any() and np.isfinite(data[:, -1]).any()
        col, row = ~ds.transform @ (0.0, 13000.0)
        if scale == 1:
            assert (round(row), round(col)) == (-37, -51) and ds.shape == (1203 - 37, 1411 - 51)
        else:  # bilinear resampling of whole 20 m pixels: their centres' neighbourhood
            assert abs(round(row) + r0 * 2) <= 1 and abs(round(col) + c0 * 2) <= 1


def test_crop_to_footprint_intersection_exact(tmp_path: Path) -> None:
    s1 = s1_image(tmp_path / "s1.tif", 0.0, 100)  # x 0..1000
    s2 = s2_image(tmp_path / "s2.tif", 500.0, 100)  # x 500..1500
    out = pair_images(PairConfig(s1=s1, s2=s2, out=tmp_path / "p.tif"))
    with rasterio.open(out) as ds:
        assert ds.transform == Affine(10, 0, 500.0, 0, -10, 5000.0)
        assert (ds.width, ds.height) == (50, 50)
        assert ds.descriptions == ("VV", "VH", "B4", "B8", "valid")
        data = ds.read()
        tags = ds.tags()
    np.testing.assert_allclose(data[0], -10.0, atol=1e-5)
    np.testing.assert_allclose(data[1], -17.0, atol=1e-5)
    assert (data[2] == 1234).all()
    assert (data[4, :5] == 0).all() and (data[4, 5:] == 1).all()
    assert tags["TIME_GAP_DAYS"] == "2.208" and float(tags["OVERLAP_FRACTION"]) == pytest.approx(
        0.5, abs=0.02
    )


def test_s1_resampled_in_linear_power(tmp_path: Path) -> None:
    """S1 columns alternate 0 dB / 10 dB; a grid shifted by half a pixel averages 1 and 10
    in linear power: 10·log10(5.5) = 7.40 dB, not the 5 dB of averaging in dB."""
    data = np.zeros((2, 50, 101), np.float32)
    data[:, :, 1::2] = 10.0
    s1 = write(
        tmp_path / "s1.tif",
        data,
        ("VV", "VH"),
        Affine(10, 0, -5.0, 0, -10, 5000.0),
        nodata=np.nan,
        tags={"SCALE": "db"},
    )
    s2 = s2_image(tmp_path / "s2.tif", 0.0, 100)
    out = pair_images(PairConfig(s1=s1, s2=s2, out=tmp_path / "p.tif"))
    with rasterio.open(out) as ds:
        vv = ds.read(1)
    np.testing.assert_allclose(vv[10:40, 10:90], 10 * np.log10(5.5), atol=1e-4)


def test_grid_s1_and_explicit_crs(tmp_path: Path) -> None:
    s1 = s1_image(tmp_path / "s1.tif", 3.0, 100)  # 3 m off the S2 grid: must be resampled
    s2 = s2_image(tmp_path / "s2.tif", 0.0, 100)
    out = pair_images(PairConfig(s1=s1, s2=s2, out=tmp_path / "a.tif", grid="s1"))
    with rasterio.open(out) as ds:
        assert ds.transform.c == 3.0 and ds.width == 99
    out = pair_images(
        PairConfig(s1=s1, s2=s2, out=tmp_path / "b.tif", grid="EPSG:32633", resolution_m=20.0)
    )
    with rasterio.open(out) as ds:
        assert ds.res == (20.0, 20.0)


def test_errors(tmp_path: Path) -> None:
    s1 = s1_image(tmp_path / "s1.tif", 0.0, 100)
    s2 = s2_image(tmp_path / "s2.tif", 0.0, 100)
    far = s2_image(tmp_path / "far.tif", 50_000.0, 100)
    edge = s2_image(tmp_path / "edge.tif", 950.0, 100)  # 5 % overlap
    runner = CliRunner()
    cases = [
        (["--s1", str(s1), "--s2", str(far)], "do not overlap"),
        (["--s1", str(s1), "--s2", str(edge)], "overlap on only 5.0 %"),
        (["--s1", str(s2), "--s2", str(s1)], "looks like a Sentinel-2 image: pass it as --s2"),
        (["--s1", str(s1), "--s2", str(s1)], "looks like a Sentinel-1 image: pass it as --s1"),
        (["--s1", str(tmp_path / "missing.tif"), "--s2", str(s2)], "cannot open the raster"),
    ]
    for args, message in cases:
        out = tmp_path / "x.tif"
        result = runner.invoke(cli, ["pair", *args, "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert message in result.output, result.output
        assert not out.exists()
    # lowering --min-overlap accepts the 5 % pair
    assert (
        runner.invoke(
            cli,
            [
                "pair",
                "--s1",
                str(s1),
                "--s2",
                str(edge),
                "--min-overlap",
                "0.01",
                "--out",
                str(tmp_path / "ok.tif"),
                "-q",
            ],
        ).exit_code
        == 0
    )
    plain = write(
        tmp_path / "plain.tif",
        np.zeros((1, 5, 5), np.float32),
        ("VV",),
        Affine.identity(),
        crs=None,
    )
    with pytest.raises(ProductError, match="no georeference"):
        pair_images(PairConfig(s1=plain, s2=s2, out=tmp_path / "y.tif"))
    with pytest.raises(GeometryError):
        pair_images(PairConfig(s1=s1, s2=far, out=tmp_path / "z.tif"))


@pytest.mark.shared
def test_real_ssl4eo_pair(shared_dir: Path, tmp_path: Path) -> None:
    """Real S1 (GEE, EPSG:4326) and S2 L2A of SSL4EO-S12 location 0000200, grids ~3 m apart."""
    from sen_preproc.sentinel2.chain import S2Config, process_s2

    root = shared_dir / "fixtures" / "pairs" / "ssl4eo-s12"
    s1_dir = sorted((root / "s1" / "0000200").iterdir())[0]
    with rasterio.open(s1_dir / "VV.tif") as vv, rasterio.open(s1_dir / "VH.tif") as vh:
        stack = np.stack([vv.read(1), vh.read(1)]).astype(np.float32)
        s1 = write(
            tmp_path / "s1.tif",
            stack,
            ("VV", "VH"),
            vv.transform,
            crs=vv.crs.to_string(),
            nodata=np.nan,
            tags={"ACQUISITION_START": "2020-06-07T01:08:00Z", "SCALE": "db"},
        )
    s2 = process_s2(
        S2Config(
            product=sorted((root / "s2a" / "0000200").iterdir())[0],
            out=tmp_path / "s2.tif",
        )
    )
    result = CliRunner().invoke(
        cli, ["pair", "--s1", str(s1), "--s2", str(s2), "--out", str(tmp_path / "pair.tif"), "-q"]
    )
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "pair.tif") as ds, rasterio.open(s2) as s2ds:
        assert ds.crs == s2ds.crs and ds.transform.a == s2ds.transform.a
        assert 250 <= ds.width <= 264 and 250 <= ds.height <= 264
        data = ds.read()
        tags = ds.tags()
    assert not np.isnan(data).any()
    assert abs(float(np.mean(data[0])) - float(np.mean(stack[0]))) < 0.3  # VV mean kept (dB)
    assert float(tags["TIME_GAP_DAYS"]) == pytest.approx(2.8, abs=0.1)
    assert json.loads(tags["PROCESSING_STEPS"])[0]["s1_resampling"] == "bilinear in linear power"
