"""``senprep s2``: radiometry, masks, inputs and errors (real fixtures + hand-made rasters)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sen_preproc.bands import normalise_band
from sen_preproc.cli.main import cli
from sen_preproc.errors import MissingDataError, OptionError
from sen_preproc.sentinel2.chain import S2Config, parse_bands, process_s2
from sen_preproc.sentinel2.product import baseline_offset, open_s2


def write_band(
    path: Path,
    data: np.ndarray,
    res: float,
    crs: str = "EPSG:32633",
    x0: float = 300000.0,
    y0: float = 4650000.0,
) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=Affine(res, 0, x0, 0, -res, y0),
    ) as ds:
        ds.write(data, 1)
    return path


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_band_names_and_offsets() -> None:
    assert [normalise_band(b) for b in ("B02", "b2", "B8A", "b8a", "B12")] == [
        "B2",
        "B2",
        "B8A",
        "B8A",
        "B12",
    ]
    with pytest.raises(OptionError, match=r"unknown Sentinel-2 band .B13."):
        normalise_band("B13")
    assert parse_bands("rgb") == ("B4", "B3", "B2") and parse_bands("rgbn") == (
        "B2",
        "B3",
        "B4",
        "B8",
    )
    with pytest.raises(OptionError):
        parse_bands("B2,B99")
    assert baseline_offset("04.00") == -1000 and baseline_offset("05.09") == -1000
    assert baseline_offset("02.14") == 0 and baseline_offset("") == 0


def test_folder_radiometry_resampling_and_mask(tmp_path: Path) -> None:
    """Hand-made DN: reflectance = (DN + offset)/10000, 20 m upsampled, 10 m averaged to 20 m."""
    folder = tmp_path / "S2B_MSIL2A_20230405T103619_N0509_R008_T31UFS_20230405T143155"
    folder.mkdir()
    b2 = np.full((6, 6), 1500, np.uint16)
    b2[0, 0] = 0  # nodata
    b2[2:4, 2:4] = [[1100, 1300], [1500, 1700]]
    write_band(folder / "B2.tif", b2, 10.0)
    write_band(folder / "B5.tif", np.full((3, 3), 3000, np.uint16), 20.0)
    scl = np.full((3, 3), 4, np.uint8)
    scl[0, 2] = 9  # cloud (20 m pixel covering 10 m rows 0-1, cols 4-5)
    write_band(folder / "SCL.tif", scl, 20.0)
    (folder / "metadata.json").write_text(
        json.dumps({"PRODUCT_ID": folder.name, "CLOUDY_PIXEL_PERCENTAGE": 11.0})
    )
    product = open_s2(folder)
    assert product.offsets["B2"] == -1000  # N0509 baseline from the product ID
    out = process_s2(S2Config(product=folder, bands=("B2", "B5"), out=tmp_path / "o.tif"))
    with rasterio.open(out) as ds:
        data = ds.read()
        assert (
            ds.descriptions == ("B2", "B5", "valid") and ds.dtypes[0] == "uint16" and ds.nodata == 0
        )
        assert ds.res == (10.0, 10.0)
        tags = ds.tags()
    assert data[0, 0, 0] == 0 and data[2, 0, 0] == 0  # nodata -> 0, invalid
    assert data[0, 1, 1] == 500  # (1500 - 1000) / 10000 * 10000
    assert data[0, 3, 3] == 700
    assert data[1, 3, 3] == 2000
    assert data[2, 0, 4] == 0 and data[2, 1, 5] == 0 and data[2, 4, 4] == 1  # cloud masked
    assert float(tags["CLOUD_FRACTION"]) == pytest.approx(4 / 35, abs=1e-4)
    # 20 m output: 10 m band averaged: block (2:4, 2:4) -> mean DN 1400 -> reflectance 0.04
    out20 = process_s2(
        S2Config(
            product=folder,
            bands=("B2",),
            resolution_m=20,
            dtype="float32",
            out=tmp_path / "o20.tif",
        )
    )
    with rasterio.open(out20) as ds:
        f = ds.read()
        assert ds.res == (20.0, 20.0) and ds.dtypes[0] == "float32"
    assert f[0, 1, 1] == pytest.approx(0.04)
    assert f[0, 0, 0] == pytest.approx(0.05)  # averaging ignores the nodata pixel of the block
    steps = json.loads(tags["PROCESSING_STEPS"])
    assert [s["step"] for s in steps] == ["read", "resample", "radiometry", "mask"]


@pytest.mark.shared
def test_real_partial_l2a_safe(shared_dir: Path, tmp_path: Path) -> None:
    safe = next((shared_dir / "fixtures" / "s2").glob("S2A_MSIL2A_*.SAFE"))
    product = open_s2(safe)
    assert (
        product.level == "L2A"
        and product.processing_baseline == "04.00"
        and product.offsets["B2"] == -1000
    )
    with pytest.raises(MissingDataError, match=r"B2 at 10 m is listed.*missing"):
        process_s2(S2Config(product=safe, out=tmp_path / "x.tif"))
    code, output = run(["s2", str(safe), "--out", str(tmp_path / "y.tif")])
    assert code == 1 and "use --resolution 60" in output and not (tmp_path / "y.tif").exists()
    out = process_s2(
        S2Config(
            product=safe,
            bands=("B2", "B3", "B4", "B8A"),
            resolution_m=60,
            out=tmp_path / "r60.tif",
        )
    )
    with rasterio.open(out) as ds, rasterio.open(product.bands["B4"][0].path) as raw:
        assert (ds.width, ds.height) == (1830, 1830) and ds.crs.to_epsg() == 32629
        got = ds.read(3)
        all_bands_ok = ds.read(1) > 0
        dn = raw.read(1)
        valid = ds.read(5)
        tags = ds.tags()
    ok = (dn > 0) & all_bands_ok  # a pixel with nodata in any band is nodata in all
    assert ok.sum() > 0.99 * (dn > 0).sum()
    expected = np.clip(dn[ok].astype(float) - 1000, 1, None)  # (DN - 1000)/10000 * 10000
    np.testing.assert_array_equal(got[ok], expected)
    cloud = float(tags["CLOUD_FRACTION"])
    assert 0.3 < cloud < 0.95 and valid.max() == 1  # the tile is ~60 % cloudy


@pytest.mark.shared
@pytest.mark.parametrize("source", ["ssl4eo", "bigearthnet"])
def test_real_band_folders(shared_dir: Path, tmp_path: Path, source: str) -> None:
    pairs = shared_dir / "fixtures" / "pairs"
    if source == "ssl4eo":
        folder = sorted((pairs / "ssl4eo-s12" / "s2a" / "0000200").iterdir())[0]
        epsg = 4326
    else:
        folder = sorted((pairs / "BigEarthNet-S2-Example").iterdir())[0]
        epsg = 32633 if "87_48" in folder.name else None
    code, output = run(
        ["s2", str(folder), "--bands", "rgbn", "--out", str(tmp_path / "o.tif"), "-q"]
    )
    assert code == 0, output
    with (
        rasterio.open(tmp_path / "o.tif") as ds,
        rasterio.open(open_s2(folder).bands["B4"][0].path) as raw,
    ):
        assert ds.descriptions == ("B2", "B3", "B4", "B8", "valid")
        if epsg:
            assert ds.crs.to_epsg() == epsg
        assert (ds.width, ds.height) == (raw.width, raw.height) and ds.transform == raw.transform
        np.testing.assert_array_equal(ds.read(3), raw.read(1))  # baseline < 04.00: no offset
        assert ds.read(5).min() == 1


def test_multiband_geotiff_input_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    data = np.stack([np.full((4, 4), v, np.uint16) for v in (1200, 1400, 1600)])
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=3,
        dtype="uint16",
        crs="EPSG:32633",
        transform=Affine(10, 0, 0, 0, -10, 40),
    ) as ds:
        ds.write(data)
        for i, name in enumerate(("B4", "B3", "B2"), start=1):
            ds.set_band_description(i, name)
    out = tmp_path / "o.tif"
    code, output = run(["s2", str(path), "--bands", "rgb", "--out", str(out), "-q"])
    assert code == 0, output
    with rasterio.open(out) as ds:
        assert ds.descriptions == ("B4", "B3", "B2", "valid")
        assert ds.read(1)[0, 0] == 1200 and ds.read(3)[0, 0] == 1600
    code, output = run(["s2", str(path), "--out", str(out), "-q"])  # exists, default bands
    assert code == 1 and "already exists" in output
    code, output = run(["s2", str(path), "--bands", "B8", "--out", str(tmp_path / "b8.tif")])
    assert (
        code == 1
        and "band B8 is not in this input" in output
        and not (tmp_path / "b8.tif").exists()
    )
    code, output = run(["s2", str(path), "--bands", "B13", "--out", str(tmp_path / "b.tif")])
    assert code == 2 and "unknown Sentinel-2 band" in output
    empty = tmp_path / "empty"
    empty.mkdir()
    code, output = run(["s2", str(empty), "--out", str(tmp_path / "e.tif")])
    assert code == 1 and "no Sentinel-2 band GeoTIFFs" in output
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"PK\x03\x04 truncated")
    code, output = run(["s2", str(bad_zip), "--out", str(tmp_path / "z.tif")])
    assert code == 1 and "not a readable zip" in output


def test_l1c_sen2cor_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sen_preproc.sentinel2 import sen2cor

    monkeypatch.setattr(sen2cor, "find_sen2cor", lambda: None)
    with pytest.raises(MissingDataError, match="L2A_Process on PATH"):
        sen2cor.run_sen2cor(tmp_path / "S2A_MSIL1C_x.SAFE", tmp_path / "out")


# --------------------------------------------------------------------------- generated products

from sen_preproc.testing.s2_factory import S2ProductSpec, scl_array, write_s2_product  # noqa: E402


@pytest.mark.parametrize(
    ("baseline", "zipped"), [("04.00", False), ("04.00", True), ("02.14", False)]
)
def test_generated_l2a_values_and_mask(tmp_path: Path, baseline: str, zipped: bool) -> None:
    spec = S2ProductSpec(processing_baseline=baseline, size_10m_px=60, cloud_box_px=(6, 6, 24, 24))
    product = write_s2_product(tmp_path / "p", spec, zipped=zipped)
    out = process_s2(S2Config(product=product, out=tmp_path / "o.tif"))
    s2in = open_s2(product)
    offset = -1000 if baseline == "04.00" else 0
    assert s2in.offsets["B4"] == offset
    with rasterio.open(out) as ds, rasterio.open(s2in.bands["B4"][0].path) as raw:
        assert ds.transform == raw.transform and ds.crs == raw.crs and ds.res == (10.0, 10.0)
        b4 = ds.read(3).astype(int)
        dn = raw.read(1).astype(int)
        valid = ds.read(5)
        tags = ds.tags()
    saturated = dn == 65535  # the product's SATURATED special value: no data, not 64535
    assert saturated.sum() == 3
    expected = np.where(saturated, 0, np.clip(dn + offset, 1, None))
    np.testing.assert_array_equal(b4, expected)  # exact ESA radiometry
    # valid: the 20 m SCL (pixel centres of the 10 m classification) brought to 10 m
    scl20 = scl_array(spec)[1::2, 1::2]
    scl10 = np.repeat(np.repeat(scl20, 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(valid, ~np.isin(scl10, (0, 1, 3, 8, 9, 10)) & ~saturated)
    assert float(tags["CLOUD_FRACTION"]) == pytest.approx(
        np.isin(scl10, (0, 1, 3, 8, 9, 10))[~saturated].mean(), abs=1e-3
    )
    assert tags["PROCESSING_BASELINE"] == baseline and tags["PROCESSING_LEVEL"] == "L2A"


def test_generated_20m_bands_and_crs(tmp_path: Path) -> None:
    spec = S2ProductSpec(size_10m_px=60, cloud_box_px=None)
    product = write_s2_product(tmp_path / "p", spec)
    out = process_s2(
        S2Config(
            product=product,
            bands=("B4", "B5", "B11"),
            resolution_m=20,
            out=tmp_path / "a.tif",
        )
    )
    with rasterio.open(out) as ds:
        assert ds.res == (20.0, 20.0) and (ds.width, ds.height) == (30, 30)
        assert ds.descriptions == ("B4", "B5", "B11", "valid")
    code, output = run(
        [
            "s2",
            str(product),
            "--crs",
            "EPSG:4326",
            "--dtype",
            "float32",
            "--out",
            str(tmp_path / "g.tif"),
            "-q",
        ]
    )
    assert code == 0, output
    with rasterio.open(tmp_path / "g.tif") as ds:
        assert ds.crs.to_epsg() == 4326 and ds.dtypes[0] == "float32"
        red = ds.read(3)
        assert 0.0 < np.nanmedian(red) < 0.2  # vegetation red reflectance ~0.05
    code, output = run(
        ["s2", str(product), "--aoi", "12.0,41.0,12.001,41.001", "--out", str(tmp_path / "far.tif")]
    )
    assert code == 1 and "does not intersect" in output and not (tmp_path / "far.tif").exists()


def test_l1c_warns_and_sen2cor_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import stat
    import sys

    spec = S2ProductSpec(level="L1C", size_10m_px=60, cloud_box_px=None)
    l1c = write_s2_product(tmp_path / "l1c", spec)
    code, output = run(["s2", str(l1c), "--out", str(tmp_path / "toa.tif")])
    assert code == 0 and "top-of-atmosphere" in output
    with rasterio.open(tmp_path / "toa.tif") as ds:
        assert ds.tags()["PROCESSING_LEVEL"] == "L1C" and ds.descriptions[-1] == "valid"
    # --atmcor sen2cor without L2A_Process on PATH: clear error, nothing written
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))
    code, output = run(["s2", str(l1c), "--atmcor", "sen2cor", "--out", str(tmp_path / "x.tif")])
    assert code == 1 and "L2A_Process on PATH" in output and not (tmp_path / "x.tif").exists()
    # a stand-in L2A_Process that writes an L2A product with the factory
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "L2A_Process"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\nfrom pathlib import Path\n"
        "from sen_preproc.testing.s2_factory import S2ProductSpec, write_s2_product\n"
        "out = Path(sys.argv[sys.argv.index('--output_dir') + 1])\n"
        "write_s2_product(out, S2ProductSpec(size_10m_px=60, cloud_box_px=None))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    code, output = run(
        ["s2", str(l1c), "--atmcor", "sen2cor", "--out", str(tmp_path / "boa.tif"), "-q"]
    )
    assert code == 0, output
    with rasterio.open(tmp_path / "boa.tif") as ds:
        tags = ds.tags()
    assert tags["PROCESSING_LEVEL"] == "L2A"
    assert {"step": "atmospheric-correction", "tool": "sen2cor"} in json.loads(
        tags["PROCESSING_STEPS"]
    )


@pytest.mark.shared
def test_ssl4eo_l1c_folder_warns_toa_and_unmasked(shared_dir: Path, tmp_path: Path) -> None:
    """An SSL4EO-S12 L1C band folder (s2c) got neither warning: it is Level-1C (top of
    atmosphere) and has no SCL (clouds not masked); and Sen2Cor cannot run on it."""
    folder = next((shared_dir / "fixtures" / "pairs" / "ssl4eo-s12" / "s2c").glob("*/*T43RCP"))
    assert open_s2(folder).level == "L1C"
    result = CliRunner().invoke(cli, ["s2", str(folder), "-o", str(tmp_path / "x.tif")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("WARNING:")]
    assert any("is Level-1C: writing top-of-atmosphere" in w for w in warnings), warnings
    assert any("clouds are not masked" in w for w in warnings), warnings
    code, output = run(["s2", str(folder), "--atmcor", "sen2cor", "-o", str(tmp_path / "y.tif")])
    assert code == 1 and "Sen2Cor needs the Level-1C SAFE product" in output
    assert not (tmp_path / "y.tif").exists()
