"""Patch windows, leakage-free splits, the dataset writer and reader (``senprep split``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sen_preproc.cli.main import cli
from sen_preproc.dataset import PatchDataset, read_sample
from sen_preproc.dataset.blocks import BlockReader
from sen_preproc.dataset.coding import (
    SAMPLE_NODATA,
    CodingRangeError,
    choose_coding,
    encode_block,
)
from sen_preproc.dataset.pairs import common_grid, open_pair
from sen_preproc.dataset.samples import SampleWriter
from sen_preproc.dataset.schema import read_stats
from sen_preproc.dataset.split import SplitConfig, build_dataset
from sen_preproc.dataset.tiling import (
    Patch,
    SplitSpec,
    assign_split,
    parse_split,
    patch_count,
    patch_grid,
)
from sen_preproc.errors import GeometryError, OptionError, ProductError

NAMES = ("VV", "VH", "B2", "B3", "B4", "B8", "valid")


def test_patch_counts_exact() -> None:
    assert patch_count(256, 256, 128) == 1
    assert patch_count(511, 256, 128) == 2
    assert patch_count(512, 256, 128) == 3
    assert patch_count(255, 256, 128) == 0
    # the paper's Dataset A: 13 238 x 8 825 px -> 102 x 67 patches
    assert patch_count(13238, 256, 128) == 102 and patch_count(8825, 256, 128) == 67
    grid = patch_grid(300, 520, 256, 128)
    assert [(p.row, p.col) for p in grid] == [(0, 0), (0, 128), (0, 256)]
    with pytest.raises(OptionError):
        patch_count(10, 0, 1)


def test_splits_never_overlap() -> None:
    height, width, size, stride = 4096, 1024, 256, 128
    spec = SplitSpec("rows", (0.8, 0.1, 0.1), align_px=stride)
    assigned: dict[str, list[Patch]] = {"train": [], "val": [], "test": []}
    for patch in patch_grid(height, width, size, stride):
        split = assign_split(patch, height, width, spec)
        if split:
            assigned[split].append(patch)
    assert all(assigned.values())
    for a in assigned:
        for b in assigned:
            if a == b:
                continue
            for p in assigned[a]:
                for q in assigned[b]:
                    overlap_rows = min(p.row + size, q.row + size) - max(p.row, q.row)
                    overlap_cols = min(p.col + size, q.col + size) - max(p.col, q.col)
                    assert overlap_rows <= 0 or overlap_cols <= 0, (a, p, b, q)
    # bands snapped to the stride: train rows 0..3328, val 3328..3712, test 3712..4096
    assert max(p.row + size for p in assigned["train"]) == 3328
    assert (
        min(p.row for p in assigned["val"]) == 3328 and min(p.row for p in assigned["test"]) == 3712
    )
    # a test box: inside -> test, touching -> dropped
    box = SplitSpec("rows", (0.9, 0.1, 0.0), test_box_px=(0, 0, 512, 512))
    assert assign_split(Patch(128, 128, 256), height, width, box) == "test"
    assert assign_split(Patch(384, 0, 256), height, width, box) is None
    assert assign_split(Patch(640, 0, 256), height, width, box) == "train"
    for bad in ("rows:0.5,0.5", "diag:0.8,0.1,0.1", "rows:0.8,0.3,0.1", "rows:a,b,c"):
        with pytest.raises(OptionError):
            parse_split(bad)


def write_pair(
    path: Path,
    height: int,
    width: int,
    seed: int,
    date: str,
    cloud: tuple[int, int, int, int] | None = None,
    x0: float = 300000.0,
    tile_px: int | None = None,
) -> Path:
    rng = np.random.default_rng(seed)
    data = np.empty((len(NAMES), height, width), np.float32)
    data[0] = rng.normal(-10, 1, (height, width))
    data[1] = rng.normal(-17, 1, (height, width))
    for i in range(2, 6):
        data[i] = rng.uniform(200, 4000, (height, width)).round()
    data[6] = 1
    if cloud:
        r0, c0, r1, c1 = cloud
        data[6, r0:r1, c0:c1] = 0
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=len(NAMES),
        dtype="float32",
        crs="EPSG:32633",
        transform=Affine(10, 0, x0, 0, -10, 4650000.0),
        nodata=np.nan,
        **({"tiled": True, "blockxsize": tile_px, "blockysize": tile_px} if tile_px else {}),
    ) as ds:
        ds.write(data)
        for i, name in enumerate(NAMES, start=1):
            ds.set_band_description(i, name)
        ds.update_tags(
            S2_SENSING_TIME=date,
            S1_ACQUISITION_TIME=date,
            S1_SCALE="db",
            S2_REFLECTANCE_SCALE="10000",
        )
    return path


def test_sample_encoding_round_trip() -> None:
    names = ["VV", "B2", "valid"]
    data = np.array([[[-12.344, np.nan]], [[np.nan, 65535.0]], [[1.0, 0.0]]], np.float32)
    coding = choose_coding(names, "db", "reflectance_x10000")
    stored = coding.encode(data)
    scales, offsets = coding.scales, coding.offsets
    assert scales == (0.01, 1.0, 1.0) and offsets == (0.0, 32768.0, 0.0)
    assert stored.dtype == np.int16 and stored[0, 0, 1] == -32768 and stored[1, 0, 0] == -32768
    decoded = (
        stored.astype(np.float32) * np.array(scales, np.float32)[:, None, None]
        + np.array(offsets, np.float32)[:, None, None]
    )
    assert decoded[0, 0, 0] == pytest.approx(-12.34, abs=1e-4) and decoded[1, 0, 1] == 65535.0
    assert decoded[2, 0, 0] == 1.0 and decoded[2, 0, 1] == 0.0
    np.testing.assert_array_equal(coding.decode(stored)[1:], data[1:])
    # the other units: 0-1 reflectance on 1e-4 steps, linear S1 as float32
    reflectance = choose_coding(names, "db", "reflectance")
    assert reflectance.dtype == "int16" and reflectance.bands[1].scale == 1e-4
    values = np.array([[[0.0]], [[-0.0999]], [[1.0]]], np.float32)
    assert reflectance.decode(reflectance.encode(values))[1, 0, 0] == pytest.approx(
        -0.0999, abs=1e-7
    )
    linear = choose_coding(names, "linear", "reflectance")
    assert linear.dtype == "float32" and linear.scales == (1.0, 1.0, 1.0)
    with pytest.raises(OptionError, match="--sample-dtype float32"):
        choose_coding(names, "linear", "reflectance", "int16")


def test_dataset_written_and_read_back(tmp_path: Path) -> None:
    ref = write_pair(tmp_path / "I.tif", 320, 64, 1, "2023-04-05T10:00:00Z", cloud=(0, 0, 10, 10))
    tgt = write_pair(tmp_path / "II.tif", 320, 64, 2, "2023-04-15T10:00:00Z")
    out = tmp_path / "ds"
    result = CliRunner().invoke(
        cli,
        [
            "split",
            "--ref",
            str(ref),
            "--target",
            str(tgt),
            "--out",
            str(out),
            "--size",
            "32",
            "--stride",
            "16",
            "--mono",
            "--format",
            "tif",
            "--format",
            "jpg",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    with open(out / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    info = json.loads((out / "dataset.json").read_text())
    stats = json.loads((out / "stats.json").read_text())
    multi = [r for r in rows if r["kind"] == "multi"]
    mono = [r for r in rows if r["kind"] == "mono"]
    # 19 x 3 patch positions; the cloud (rows/cols 0-9) spoils 1 position for I
    splits = {r["split"] for r in multi}
    assert splits == {"train", "val", "test"}
    assert len(mono) == 2 * len(multi) + 1  # date II keeps the cloudy position too
    assert all(float(r["invalid_fraction"]) == 0 for r in rows)
    assert info["counts"]["skipped_invalid"] >= 2
    # patch windows: the sample raster is exactly the pair's pixels, georeferenced
    first = multi[0]
    with (
        rasterio.open(out / first["path"]) as ds,
        rasterio.open(ref) as src,
        rasterio.open(tgt) as src2,
    ):
        r, c = int(first["row"]), int(first["col"])
        window = rasterio.windows.Window(c, r, 32, 32)
        got = read_sample(out / first["path"])
        for part, pair_ds in ((got[: len(NAMES)], src), (got[len(NAMES) :], src2)):
            expected = pair_ds.read(window=window)
            np.testing.assert_allclose(part[:2], expected[:2], atol=0.005)  # S1 dB to 0.01 dB
            np.testing.assert_array_equal(part[2:], expected[2:])  # S2 and valid exactly
        assert ds.transform == src.window_transform(window) and ds.crs == src.crs
        assert ds.descriptions[0] == "I_VV" and ds.descriptions[len(NAMES)] == "II_VV"
    # training statistics: mean of I_VV over training samples ~ -10
    assert stats["multi"]["I_VV"]["mean"] == pytest.approx(-10.0, abs=0.2)
    assert list((out / "jpg").glob("*_I_s2.jpg")) and info["jpg_scaling"]["s1_db"] == [-25.0, 0.0]
    assert info["format"] == "senprep-dataset" and info["format_version"] == 1
    assert [p["label"] for p in info["pairs"]] == ["I", "II"]
    assert info["pairs"][0]["path"] == str(ref.resolve())
    # reader
    train = PatchDataset(out, "train")
    sample = train[0]
    arrays = {"s1_I", "s2_I", "valid_I", "s1_II", "s2_II", "valid_II"}
    assert arrays <= set(sample)
    assert set(sample) - arrays == {
        "sample_id", "split", "crs", "bounds", "window", "date_ref", "date_target"
    }  # fmt: skip
    record = train.records[0]
    assert sample["window"] == rasterio.windows.Window(record.col, record.row, 32, 32)
    assert sample["crs"] == rasterio.crs.CRS.from_epsg(32633)
    with rasterio.open(out / record.path) as ds:
        assert tuple(sample["bounds"]) == pytest.approx(tuple(ds.bounds))
    assert sample["s1_I"].shape == (2, 32, 32) and sample["s2_II"].shape == (4, 32, 32)
    assert len(PatchDataset(out, None)) == len(multi)
    assert {"s1", "s2", "valid"} <= set(PatchDataset(out, "test", kind="mono")[0])
    # existing output is kept without --overwrite
    again = CliRunner().invoke(
        cli, ["split", "--ref", str(ref), "--target", str(tgt), "--out", str(out), "--size", "32"]
    )
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_multiple_targets_and_errors(tmp_path: Path) -> None:
    ref = write_pair(tmp_path / "I.tif", 64, 64, 1, "2023-04-05")
    t3 = write_pair(tmp_path / "III.tif", 64, 64, 3, "2023-05-05")
    t4 = write_pair(tmp_path / "IV.tif", 64, 64, 4, "2023-06-05")
    out = build_dataset(
        SplitConfig(
            ref=ref,
            targets=(t3, t4),
            out=tmp_path / "b",
            size_px=32,
            stride_px=32,
            split="rows:0.5,0,0.5",
        )
    ).folder
    with open(out / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["target_pair"] for r in rows} == {"III.tif", "IV.tif"} and len(rows) == 8
    # a date whose pair is 1 pixel (10 m) east: same lattice, the common 63 px wide part is used
    shifted = write_pair(tmp_path / "shift.tif", 64, 64, 5, "x", x0=300010.0)
    out = build_dataset(
        SplitConfig(
            ref=ref,
            targets=(shifted,),
            out=tmp_path / "c",
            size_px=32,
            stride_px=16,
            split="rows:1,0,0",
        )
    ).folder
    with open(out / "manifest.csv", newline="") as handle:
        first = next(csv.DictReader(handle))
    with (
        rasterio.open(out / first["path"]) as ds,
        rasterio.open(ref) as a,
        rasterio.open(shifted) as b,
    ):
        assert ds.transform.c == 300010.0
        window_a = rasterio.windows.Window(1, 0, 32, 32)
        window_b = rasterio.windows.Window(0, 0, 32, 32)
        got = read_sample(out / first["path"])
        np.testing.assert_array_equal(got[2 : len(NAMES)], a.read(window=window_a)[2:])
        np.testing.assert_array_equal(got[len(NAMES) + 2 :], b.read(window=window_b)[2:])
    off_lattice = write_pair(tmp_path / "off.tif", 64, 64, 5, "x", x0=300003.0)
    with pytest.raises(GeometryError, match="not on the pixel grid"):
        build_dataset(SplitConfig(ref=ref, targets=(off_lattice,), out=tmp_path / "g"))
    with pytest.raises(GeometryError, match="smaller than one"):
        build_dataset(SplitConfig(ref=ref, targets=(t3,), out=tmp_path / "d"))
    cloudy = write_pair(tmp_path / "cloudy.tif", 64, 64, 6, "x", cloud=(0, 0, 64, 64))
    with pytest.raises(GeometryError, match="no patch passed"):
        build_dataset(
            SplitConfig(ref=ref, targets=(cloudy,), out=tmp_path / "e", size_px=32, stride_px=32)
        )
    assert not (tmp_path / "e").exists() and not list(tmp_path.glob(".e.tmp-*"))
    s1_only = tmp_path / "s1only.tif"
    with rasterio.open(
        s1_only,
        "w",
        driver="GTiff",
        width=8,
        height=8,
        count=1,
        dtype="float32",
        crs="EPSG:32633",
        transform=Affine(10, 0, 0, 0, -10, 0),
    ) as ds:
        ds.write(np.zeros((1, 8, 8), np.float32))
        ds.set_band_description(1, "VV")
    with pytest.raises(ProductError, match="not an S1/S2 pair"):
        build_dataset(SplitConfig(ref=s1_only, targets=(t3,), out=tmp_path / "f"))


def test_reader_returns_every_training_sample(tmp_path: Path) -> None:
    """All training samples read back with the right shapes (speed: benches/bench_split.py)."""
    ref = write_pair(tmp_path / "I.tif", 96, 96, 1, "a")
    tgt = write_pair(tmp_path / "II.tif", 96, 96, 2, "b")
    out = build_dataset(
        SplitConfig(
            ref=ref,
            targets=(tgt,),
            out=tmp_path / "ds",
            size_px=32,
            stride_px=16,
            split="rows:1,0,0",
        )
    ).folder
    dataset = PatchDataset(out, "train")
    assert len(dataset) > 0
    arrays = [dataset[i]["s2_II"] for i in range(len(dataset))]
    assert len(arrays) == 25  # split rows:1,0,0 -> every one of the 5 x 5 positions is train
    assert all(a.shape == (4, 32, 32) for a in arrays)


def test_encode_block_matches_formula_across_chunks() -> None:
    """Chunked in-place encoding == the formula on the whole array (1.4 M values > 1 chunk)."""
    rng = np.random.default_rng(7)
    data = np.empty((3, 700, 1000), np.float32)
    data[0] = rng.normal(-12, 6, data.shape[1:])
    data[1] = rng.integers(1, 65536, data.shape[1:])  # the coding's domain: 0 is S2's nodata
    data[2] = rng.integers(0, 2, data.shape[1:])
    data[:, 300, 123] = np.nan
    scales, offsets = (0.01, 1.0, 1.0), (0.0, 32768.0, 0.0)
    got = encode_block(data, scales, offsets)
    with np.errstate(invalid="ignore"):
        raw = np.round(
            (data.astype(np.float64) - np.array(offsets)[:, None, None])
            / np.array(scales)[:, None, None]
        )
    expected = np.where(np.isnan(raw), SAMPLE_NODATA, raw)
    np.testing.assert_array_equal(got[1:], expected[1:].astype(np.int16))  # S2, valid: exact
    # S1 in float32 arithmetic: at most 0.005 dB (+ float32 rounding) from the true value
    inside = np.isfinite(data[0])
    decoded = got[0].astype(np.float64) * 0.01
    assert np.abs(decoded - data[0])[inside].max() <= 0.005 + 1e-5
    assert np.abs(got[0].astype(np.int64) - expected[0]).max() <= 1
    assert got[1, 300, 123] == -32768
    # beyond the int16 range (here 400 dB at 0.01 dB, in the last chunk): an error, not clipped
    data[0, 699, 999] = 400.0
    with pytest.raises(CodingRangeError, match=r"I_VV holds 400.*--sample-dtype float32"):
        encode_block(data, scales, offsets, ("I_VV", "I_B2", "I_valid"))
    data[0, 699, 999], data[1, 0, 0] = 0.0, 0.0
    with pytest.raises(CodingRangeError, match=r"I_B2 holds 0, outside .* 1 \.\. 65535"):
        encode_block(data, scales, offsets, ("I_VV", "I_B2", "I_valid"))


@pytest.mark.parametrize(
    "crs, transform",
    [
        ("EPSG:32633", Affine(10, 0, 300000, 0, -10, 4650000)),
        ("EPSG:4326", Affine(0.0001, 0, 12.5, 0, -0.0001, 42.0)),
        ("EPSG:3035", Affine(20, 0, 4321000, 0, -20, 3210000)),
        ("EPSG:32633", Affine(10, 2, 300000, 2, -10, 4650000)),  # rotated: full matrix tag
    ],
)
def test_sample_writer_is_read_by_gdal_like_its_own(
    tmp_path: Path, crs: str, transform: Affine
) -> None:
    """A sample written by SampleWriter (tifffile + GDAL's keys) reads in rasterio exactly like
    the same sample written by rasterio itself."""
    coding = choose_coding(["VV", "B2", "valid"], "db", "reflectance_x10000").prefixed("I")
    names, scales, offsets = list(coding.names), coding.scales, coding.offsets
    stored = np.random.default_rng(1).integers(-32768, 32767, (3, 24, 32)).astype(np.int16)
    tags = {"SPLIT": "train", "DATE_I": "a<b & \"c\" 'd' $x", "KIND": "multi"}
    SampleWriter(rasterio.crs.CRS.from_string(crs), coding).write(
        tmp_path / "fast.tif", stored, transform, tags
    )
    with rasterio.open(
        tmp_path / "gdal.tif",
        "w",
        driver="GTiff",
        width=32,
        height=24,
        count=3,
        dtype="int16",
        crs=crs,
        transform=transform,
        nodata=SAMPLE_NODATA,
    ) as ds:
        ds.write(stored)
        ds.scales, ds.offsets = scales, offsets
        ds.descriptions = tuple(names)
        ds.update_tags(**tags)
    with rasterio.open(tmp_path / "fast.tif") as fast, rasterio.open(tmp_path / "gdal.tif") as ref:
        assert fast.crs == ref.crs and fast.crs.to_epsg() == ref.crs.to_epsg()
        assert fast.transform.almost_equals(ref.transform, precision=1e-12)
        assert fast.descriptions == ref.descriptions == tuple(names)
        assert fast.scales == ref.scales and fast.offsets == ref.offsets
        assert fast.nodata == ref.nodata == SAMPLE_NODATA
        assert {k: fast.tags()[k] for k in tags} == tags
        assert fast.tags()["AREA_OR_POINT"] == ref.tags()["AREA_OR_POINT"] == "Area"
        np.testing.assert_array_equal(fast.read(), ref.read())
    np.testing.assert_array_equal(
        read_sample(tmp_path / "fast.tif"), read_sample(tmp_path / "gdal.tif")
    )


@pytest.mark.parametrize("tile_px", [None, 16, 48])
def test_block_reader_strips_equal_direct_reads(tmp_path: Path, tile_px: int | None) -> None:
    """Strips assembled from int16 blocks (tile-aligned, read ahead) == encoding a direct window
    read, for every stride row, with the common grid offset inside the second pair."""
    ref = write_pair(tmp_path / "I.tif", 150, 90, 1, "a", tile_px=tile_px)
    tgt = write_pair(tmp_path / "II.tif", 153, 97, 2, "b", x0=299950.0, tile_px=tile_px)
    pairs = [open_pair(ref, "I"), open_pair(tgt, "II")]
    grid, offsets = common_grid(pairs)
    assert offsets[tgt] == (0, 5) and (grid.width, grid.height) == (90, 150)
    coding = choose_coding(NAMES, "db", "reflectance_x10000")
    scales, offs = coding.scales, coding.offsets
    with rasterio.open(ref) as a, rasterio.open(tgt) as b:
        datasets = {ref: a, tgt: b}
        reader = BlockReader(datasets, offsets, grid.width, 32, coding)
        try:
            for row in range(0, 150 - 32 + 1, 16):
                for path, ds in datasets.items():
                    r0, c0 = offsets[path]
                    stored, invalid = reader.strip(path, row)
                    direct = ds.read(window=rasterio.windows.Window(c0, r0 + row, 90, 32))
                    np.testing.assert_array_equal(stored, encode_block(direct, scales, offs))
                    assert not invalid.any()
        finally:
            reader.close()


def test_training_statistics_exact(tmp_path: Path) -> None:
    """stats.json == statistics over the pixels of every training sample (overlaps counted as
    the model sees them), nodata excluded, in physical units."""
    ref = write_pair(tmp_path / "I.tif", 128, 96, 1, "a", cloud=(0, 0, 20, 20), tile_px=32)
    tgt = write_pair(tmp_path / "II.tif", 128, 96, 2, "b", tile_px=32)
    with rasterio.open(ref, "r+") as ds:  # a hole of no data in S1
        vv = ds.read(1)
        vv[40:44, 50:60] = np.nan
        ds.write(vv, 1)
    out = build_dataset(
        SplitConfig(
            ref=ref,
            targets=(tgt,),
            out=tmp_path / "ds",
            size_px=32,
            stride_px=16,
            split="rows:0.75,0.25,0",
            max_invalid=0.5,
            mono=True,
        )
    ).folder
    info = {"train_stats": read_stats(out)}
    for kind in ("multi", "mono"):
        samples = np.stack(
            [read_sample(out / r.path) for r in PatchDataset(out, "train", kind).records]
        ).astype(np.float64)
        names = list(info["train_stats"][kind])
        assert len(names) == samples.shape[1]
        for i, name in enumerate(names):
            values = samples[:, i][np.isfinite(samples[:, i])]
            got = info["train_stats"][kind][name]
            assert got["count"] == values.size
            assert got["mean"] == pytest.approx(values.mean(), rel=1e-6, abs=1e-6)
            assert got["std"] == pytest.approx(values.std(), rel=1e-5, abs=1e-6)
            assert got["min"] == pytest.approx(values.min(), abs=1e-4)
            assert got["max"] == pytest.approx(values.max(), abs=1e-4)
    assert (
        info["train_stats"]["multi"]["I_VV"]["count"]
        < info["train_stats"]["multi"]["II_VV"]["count"]
    )  # the NaN hole is excluded


@pytest.mark.shared
def test_real_ssl4eo_two_date_dataset(ssl4eo_pairs: tuple[Path, Path], tmp_path: Path) -> None:
    """SSL4EO-S12 location 0000200: real S1 (June, September) and S2 L2A (June, August) ->
    s2 (date II --like date I) -> pair (the ``ssl4eo_pairs`` fixture) -> split: a real
    two-date dataset."""
    pairs = list(ssl4eo_pairs)
    out = build_dataset(
        SplitConfig(
            ref=pairs[0],
            targets=(pairs[1],),
            out=tmp_path / "ds",
            size_px=64,
            stride_px=32,
            split="rows:0.5,0.25,0.25",
            max_invalid=0.01,
        )
    ).folder
    info = json.loads((out / "dataset.json").read_text())
    assert info["counts"]["kept"] > 10 and info["counts"]["train"] > 0
    assert info["pairs"][0]["date"].startswith("2020-06-04")
    assert info["pairs"][1]["date"].startswith("2020-08-13")
    sample = PatchDataset(out, "train")[0]
    assert sample["s1_I"].shape == (2, 64, 64) and np.isfinite(sample["s2_II"]).all()
    # June vs August: real change in NIR between the dates
    assert not np.allclose(sample["s2_I"][3], sample["s2_II"][3])


@pytest.mark.shared
def test_real_openeo_gfmap_clean_pair(shared_dir: Path, tmp_path: Path) -> None:
    """openeo-gfmap (Belgium, EPSG:32631, identical S1/S2 grids): the clean dates I = 2023-04-05
    and II = 2023-04-15, read with xarray + h5netcdf, written as GeoTIFFs, then s2 -> pair ->
    split."""
    pytest.importorskip("h5netcdf")
    pytest.importorskip("h5py")
    import xarray as xr

    from sen_preproc.pair import PairConfig, pair_images
    from sen_preproc.sentinel2.chain import S2Config, process_s2

    folder = shared_dir / "fixtures" / "pairs" / "openeo-gfmap"
    s1 = xr.open_dataset(folder / "cdse_sentinel1_grd.nc", engine="h5netcdf")
    s2 = xr.open_dataset(folder / "cdse_sentinel2_l2a.nc", engine="h5netcdf")
    crs = s2["crs"].attrs["crs_wkt"]
    xs, ys = s2.x.values, s2.y.values
    transform = Affine(
        xs[1] - xs[0], 0, xs[0] - (xs[1] - xs[0]) / 2, 0, ys[1] - ys[0], ys[0] - (ys[1] - ys[0]) / 2
    )
    pairs = []
    for label, day in (("I", "2023-04-05"), ("II", "2023-04-15")):
        s2_dir = tmp_path / f"S2_{label}_{day.replace('-', '')}T000000"
        s2_dir.mkdir()
        for var, name in (
            ("S2-L2A-B04", "B04"),
            ("S2-L2A-B08", "B08"),
            ("S2-L2A-B11", "B11"),
            ("S2-L2A-SCL", "SCL"),
        ):
            data = s2[var].sel(t=day).values.astype(np.uint16)
            with rasterio.open(
                s2_dir / f"{name}.tif",
                "w",
                driver="GTiff",
                width=data.shape[1],
                height=data.shape[0],
                count=1,
                dtype="uint16",
                crs=crs,
                transform=transform,
            ) as ds:
                ds.write(data, 1)
        (s2_dir / "metadata.json").write_text(
            json.dumps({"PRODUCT_ID": s2_dir.name, "SENSING_TIME": f"{day}T10:30:00Z"})
        )
        s2_tif = process_s2(
            S2Config(
                product=s2_dir,
                bands=("B4", "B8", "B11"),
                out=tmp_path / f"s2_{label}.tif",
            )
        )
        s1_day = s1.sel(t=s1.t.sel(t=day, method="nearest"))
        stack = []
        for var in ("S1-SIGMA0-VV", "S1-SIGMA0-VH"):
            dn = s1_day[var].values.astype(np.float64)
            db = np.where((dn == 65534) | (dn == 0), np.nan, 20 * np.log10(np.maximum(dn, 1)) - 83)
            stack.append(db.astype(np.float32))
        s1_tif = tmp_path / f"s1_{label}.tif"
        with rasterio.open(
            s1_tif,
            "w",
            driver="GTiff",
            width=64,
            height=66,
            count=2,
            dtype="float32",
            crs=crs,
            transform=transform,
            nodata=np.nan,
        ) as ds:
            ds.write(np.stack(stack))
            ds.set_band_description(1, "VV")
            ds.set_band_description(2, "VH")
            ds.update_tags(ACQUISITION_START=str(s1_day.t.values)[:19] + "Z", SCALE="db")
        pairs.append(
            pair_images(PairConfig(s1=s1_tif, s2=s2_tif, out=tmp_path / f"pair_{label}.tif"))
        )
    with rasterio.open(pairs[0]) as ds:
        assert (ds.width, ds.height) == (64, 66)  # identical grids: nothing resampled or cropped
        vv = ds.read(1)
        assert -25 < float(np.nanmedian(vv)) < 0  # plausible sigma0 dB over farmland
        assert float(ds.tags()["TIME_GAP_DAYS"]) < 6
    out = build_dataset(
        SplitConfig(
            ref=pairs[0],
            targets=(pairs[1],),
            out=tmp_path / "ds",
            size_px=32,
            stride_px=16,
            split="rows:0.5,0.25,0.25",
            max_invalid=0.05,
            mono=True,
        )
    ).folder
    info = json.loads((out / "dataset.json").read_text())
    stats = read_stats(out)
    assert info["counts"]["kept"] > 0 and info["counts"]["train"] > 0
    assert stats["multi"]["I_B8"]["mean"] > stats["multi"]["I_B4"]["mean"]  # NIR > red
