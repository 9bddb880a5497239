"""``senprep synth``: the simulated landscape, through the senprep chain, against its truth.

One small scene (3 km, three dates bracketing the cereal/rapeseed harvest, 30 % cloud after the
first date) is generated once and processed with ``senprep s1`` (``--speckle none``, so class
means compare with the model without a filter's bias) and ``senprep s2``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from scipy import ndimage

from sen_preproc.cli.main import cli
from sen_preproc.synth.landscape import CODE

DATES = ("2023-05-01", "2023-06-20", "2023-07-29")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("synth")
    out = base / "scene"
    code, output = run(
        "synth", "-o", str(out), "--size-km", "3", "--dates", ",".join(DATES), "--clouds",
        "0.3", "--seed", "3", "-q",
    )  # fmt: skip
    assert code == 0, output
    doc = json.loads((out / "scenario.json").read_text())
    s2_out, s1_out = [], []
    for date in doc["dates"]:
        stamp = date["s2"]["time"][:10].replace("-", "")
        s2_product = out / "raw" / f"{date['s2']['product']}.SAFE"
        s1_product = out / "raw" / f"{date['s1']['product']}.SAFE"
        s2 = base / f"s2_{stamp}.tif"
        code, output = run("s2", str(s2_product), "-o", str(s2), "-q")
        assert code == 0, output
        s1 = base / f"s1_{stamp}.tif"
        code, output = run(
            "s1", str(s1_product), "--dem", str(out / "raw" / "dem.tif"), "--like", str(s2),
            "--speckle", "none", "-o", str(s1), "-q",
        )  # fmt: skip
        assert code == 0, output
        s2_out.append(s2)
        s1_out.append(s1)
    return {"out": out, "doc": doc, "s2": s2_out, "s1": s1_out}


def db_mean(linear_db: np.ndarray, mask: np.ndarray) -> float:
    """Mean of linear power over ``mask``, in dB (the unbiased class level under speckle)."""
    values = linear_db[mask & np.isfinite(linear_db)]
    return float(10 * np.log10(np.mean(10 ** (values / 10))))


def test_products_and_truth_are_written(scene: dict) -> None:
    out, doc = Path(scene["out"]), scene["doc"]
    names = sorted(p.name for p in (out / "raw").iterdir())
    assert sum(n.startswith("S1A_IW_GRDH_1SDV_") and n.endswith(".SAFE") for n in names) == 3
    assert sum(n.startswith(("S2A_MSIL2A_", "S2B_MSIL2A_")) for n in names) == 3
    assert "dem.tif" in names
    assert doc["format"] == "senprep-synth" and [d["label"] for d in doc["dates"]] == [
        "I",
        "II",
        "III",
    ]
    # S1 on its 12-day cycle: within 6 days of each S2 date, never on the same time of day
    for date in doc["dates"]:
        gap = abs(np.datetime64(date["s1"]["time"][:19]) - np.datetime64(date["s2"]["time"][:19]))
        assert gap <= np.timedelta64(6 * 24 + 12, "h")
    s1_days = [np.datetime64(d["s1"]["time"][:10]) for d in doc["dates"]]
    assert all(
        int((b - a) / np.timedelta64(1, "D")) % 12 == 0 for a, b in itertools.pairwise(s1_days)
    )
    truth = out / "truth"
    assert {p.name for p in truth.glob("change_*.tif")} == {
        "change_20230501_20230620.tif", "change_20230501_20230729.tif", "change_20230620_20230729.tif"
    }  # fmt: skip
    with rasterio.open(truth / "landcover.tif") as lc, rasterio.open(scene["s2"][0]) as s2:
        assert lc.transform == s2.transform and lc.crs == s2.crs and lc.shape == s2.shape
        classes = set(np.unique(lc.read(1)))
    assert {1, 2, 3, 4, 5, 8, 9, 10} <= classes  # crops, grass, water, buildings, roads
    # parcels of realistic sizes (1-30 ha), not a grid
    areas = [p["area_ha"] for p in doc["parcels"] if p["area_ha"] > 0.5]
    assert 1.0 <= np.median(areas) <= 30.0 and max(areas) < 60
    # the DEM is Copernicus-like: geographic, 1 arcsec, EGM96 heights when PROJ's grid exists
    with rasterio.open(out / "raw" / "dem.tif") as dem:
        assert dem.crs.is_geographic and dem.res[0] == pytest.approx(1 / 3600)
        assert dem.tags()["DEM_DATUM"] in ("egm96", "ellipsoid")


def test_clear_s2_pixels_equal_the_truth_exactly(scene: dict) -> None:
    out, doc = Path(scene["out"]), scene["doc"]
    for date, s2 in zip(doc["dates"], scene["s2"], strict=True):
        product = read(s2)
        truth = read(out / date["truth"]["reflectance"])
        valid = product[-1] == 1
        assert valid.mean() > 0.3
        for band in range(truth.shape[0]):
            np.testing.assert_array_equal(product[band][valid], truth[band][valid])


def test_scl_flags_every_pixel_the_atmosphere_touched(scene: dict) -> None:
    out, doc = Path(scene["out"]), scene["doc"]
    # date I is clear; the later dates are cloudy by about the requested 30 %
    assert doc["dates"][0]["s2"]["cloud_fraction"] < 0.01
    for date, s2 in zip(doc["dates"][1:], scene["s2"][1:], strict=True):
        product = read(s2)
        truth = read(out / date["truth"]["reflectance"])
        changed = (product[:-1] != truth).any(axis=0)  # cloud, haze, cirrus or shadow
        valid = product[-1] == 1
        assert changed.mean() > 0.15 and not (changed & valid).any()
        # flagged pixels are really different (the mask is not just conservative)
        assert (changed & ~valid).sum() > 0.8 * (~valid).sum()
        # clouds brighten the blue band, shadows darken the near-infrared
        scl20 = rasterio.open(
            next(
                (out / "raw").glob(
                    f"{date['s2']['product']}.SAFE/GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2"
                )
            )
        ).read(1)
        scl10 = np.repeat(np.repeat(scl20, 2, axis=0), 2, axis=1)
        clouds, shadows = scl10 == 9, scl10 == 3
        assert clouds.any() and shadows.any()
        assert np.median(product[0][clouds].astype(float) - truth[0][clouds]) > 2000
        assert np.median(product[3][shadows].astype(float) - truth[3][shadows]) < -500


def test_class_means_follow_the_model(scene: dict) -> None:
    out, doc = Path(scene["out"]), scene["doc"]
    cover = read(out / "truth" / "landcover.tif")[0]
    for date, s1 in zip(doc["dates"], scene["s1"], strict=True):
        vv, vh = read(s1)
        model = read(out / date["truth"]["sigma0"])
        # open water away from its banks (terrain correction resamples across the shore)
        water = ndimage.binary_erosion(cover == CODE["water"], iterations=2)
        assert water.sum() > 100
        assert db_mean(vv, water) < -18.0
        assert db_mean(vv, cover == CODE["building"]) > -5.0
        forest = np.isin(cover, (CODE["deciduous_forest"], CODE["coniferous_forest"]))
        if forest.sum() > 200:
            assert abs(db_mean(vh, forest) - db_mean(model[1], forest)) < 1.0
        # field interiors (resampling mixes the neighbours in; towns' double bounce dominates)
        town = ndimage.binary_dilation(cover == CODE["building"], iterations=4)
        for code in (CODE["winter_cereal"], CODE["maize"], CODE["grassland"]):
            mask = ndimage.binary_erosion(cover == code, iterations=2) & ~town
            for band in (0, 1):
                processed = (vv, vh)[band]
                assert abs(db_mean(processed, mask) - db_mean(model[band], mask)) < 1.0


def test_harvest_is_seen_by_both_sensors(scene: dict) -> None:
    out, doc = Path(scene["out"]), scene["doc"]
    parcels = read(out / "truth" / "parcels.tif")[0]
    second, third = doc["dates"][1], doc["dates"][2]
    after_s2 = max(second["s2"]["time"], second["s1"]["time"])[:10]
    before_s2 = min(third["s2"]["time"], third["s1"]["time"])[:10]
    harvested = {
        e["parcel"] for e in doc["events"]
        if e["type"] == "harvest" and after_s2 < e["date"] < before_s2
    }  # fmt: skip
    # ... and left as stubble until date III (a ploughed field is rough, bright soil)
    harvested -= {
        e["parcel"] for e in doc["events"] if e["type"] == "ploughing" and e["date"] <= before_s2
    }
    # fields flooded at date II (the scenario's flood) look like water then: left out here
    flooded = read(out / "truth" / "change_20230501_20230620.tif")[0] == 5
    large = [p for p in harvested if (parcels == p).sum() > 300 and not flooded[parcels == p].any()]
    assert len(large) >= 3, "the scene should hold harvested parcels between dates II and III"
    s2_ii, s2_iii = read(scene["s2"][1]), read(scene["s2"][2])
    s1_ii, s1_iii = read(scene["s1"][1]), read(scene["s1"][2])

    def ndvi(image: np.ndarray) -> np.ndarray:
        red, nir = image[2].astype(float), image[3].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):  # nodata pixels: 0 / 0
            return (nir - red) / (nir + red)

    checked = 0
    for parcel in large:
        mask = parcels == parcel
        clear = mask & (s2_ii[-1] == 1) & (s2_iii[-1] == 1)
        assert db_mean(s1_iii[1], mask) <= db_mean(s1_ii[1], mask) - 3.0
        if clear.sum() > 50:
            assert np.mean(ndvi(s2_ii)[clear]) - np.mean(ndvi(s2_iii)[clear]) >= 0.3
            checked += 1
    assert checked >= 1
    change = read(out / "truth" / "change_20230620_20230729.tif")[0]
    assert all((change[parcels == p] == 2).mean() > 0.9 for p in large)  # recorded as harvest


def test_same_seed_same_bytes_other_seed_other_scene(tmp_path: Path) -> None:
    args = ("--size-km", "1.2", "--dates", "2023-05-01,2023-06-01", "-q")
    assert run("synth", "-o", str(tmp_path / "a"), *args)[0] == 0
    assert run("synth", "-o", str(tmp_path / "b"), *args)[0] == 0
    assert run("synth", "-o", str(tmp_path / "c"), *args, "--seed", "1")[0] == 0

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    a, b, c = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert a == b
    assert a["truth/landcover.tif"] != c["truth/landcover.tif"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--size-km", "0"), "--size-km 0"),
        (("--dates", "2023-06-01,2023-05-01"), "--dates must increase"),
        (("--dates", "2023-02-30"), "is not a date"),
        (("--dates", "2022-12-20,2023-01-10"), "within one year"),
        (("--bands", "B2,B13"), "unknown Sentinel-2 band 'B13'"),
        (("--bands", "B10"), "no B10"),
        (("--clouds", "lots"), "--clouds 'lots'"),
        (("--clouds", "1.5"), "within 0..0.9"),
        (("--dates", "2023-05-01,2023-06-01,2023-07-01", "--clouds", "0,0.3"), "2 fractions for 3"),
        (("--centre", "4.7,88"), "latitude -80..80"),
        (("--centre", "east"), "LON,LAT"),
    ],
)
def test_bad_options_give_clear_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, output = run("synth", "-o", str(tmp_path / "x"), *args)
    assert code != 0 and message in output, output
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x*"))


def test_other_zone_and_southern_hemisphere(tmp_path: Path) -> None:
    out = tmp_path / "south"
    code, output = run(
        "synth", "-o", str(out), "--size-km", "1.2", "--dates", "2023-01-10,2023-02-15",
        "--centre", "-58.5,-34.2", "--clouds", "none", "--zip", "-q",
    )  # fmt: skip
    assert code == 0, output
    doc = json.loads((out / "scenario.json").read_text())
    assert doc["location"]["epsg"] == 32721 and doc["location"]["tile"].startswith("21H")
    zips = sorted(p.name for p in (out / "raw").glob("*.zip"))
    assert len(zips) == 4
    s2 = tmp_path / "s2.tif"
    s2_zip = next((out / "raw").glob("S2*.zip"))
    assert run("s2", str(s2_zip), "-o", str(s2), "-q")[0] == 0
    with rasterio.open(s2) as ds:
        assert ds.crs.to_epsg() == 32721


REALISM_TOLERANCE = {"VV": 1.0, "VH": 1.0, "B2": 0.01, "B3": 0.01, "B4": 0.01, "B8": 0.01,
                     "NDVI": 0.05, "corr": 0.1, "acl": 10.0}  # fmt: skip
"""How far outside the real scenes' range a statistic may fall: dB, reflectance, NDVI,
correlation coefficient, metres."""


@pytest.mark.shared
def test_generated_scene_lies_within_the_real_ranges(scene: dict, shared_dir: Path) -> None:
    """Distributions of VV, VH, B2-B8 and NDVI (percentiles 5..95), the VV-VH and VH-NDVI
    correlations across 50 m blocks and the autocorrelation lengths of VV and NIR of the clear
    date lie within the range the real pairs of shared/ span (TerraMind's five areas, SSL4EO,
    BigEarthNet) widened by REALISM_TOLERANCE."""
    from sen_preproc.synth.realism import (
        outside_ranges,
        real_ranges,
        reference_scenes,
        scene_statistics,
    )

    real = [
        scene_statistics(vv, vh, b)
        for _, vv, vh, b in reference_scenes(shared_dir / "fixtures" / "pairs")
    ]
    assert len(real) >= 10
    ranges = real_ranges(real)
    s2, s1 = read(scene["s2"][0]).astype(np.float64), read(scene["s1"][0]).astype(np.float64)
    valid = s2[-1] == 1
    bands = {
        b: np.where(valid, s2[i] / 10000.0, np.nan) for i, b in enumerate(("B2", "B3", "B4", "B8"))
    }
    stats = scene_statistics(s1[0], s1[1], bands)
    assert len(ranges) == len(stats) == 7 * 5 + 4
    assert outside_ranges(stats, ranges, REALISM_TOLERANCE) == {}
    # and the physics it relies on: vegetation raises VH and NDVI together, VV and VH covary
    assert stats["corr_VH_NDVI"] > 0.2 and stats["corr_VV_VH"] > 0.5
