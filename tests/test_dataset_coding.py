"""The sample coding follows what each pair says it holds (``S1_SCALE``, ``S2_REFLECTANCE_SCALE``).

Regression tests for the data-loss defect where ``dataset.band_coding`` chose scale and offset from
band names alone: a float32 (0-1) S2 pair read back as the constant 1.0 and linear S1 was
quantised to steps of 0.01.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from pair_files import write_tagged_pair

from sen_preproc.cli.main import cli
from sen_preproc.dataset import PatchDataset, read_sample
from sen_preproc.testing.s2_factory import S2ProductSpec, write_s2_product


def split(ref: Path, target: Path, out: Path, *extra: str) -> CliRunner:
    args = ["split", "--ref", str(ref), "--target", str(target), "-o", str(out)]
    args += ["--size", "32", "--stride", "32", "--max-invalid", "1", "-q", *extra]
    return CliRunner().invoke(cli, args)


def assert_read_back_equals_pairs(out: Path, ref: Path, target: Path, s1_atol: float) -> None:
    with rasterio.open(ref) as a, rasterio.open(target) as b:
        pairs = (a.read(), b.read())
    dataset = PatchDataset(out, None)
    assert len(dataset) == 9
    for index, record in enumerate(dataset.records):
        item = dataset[index]
        r, c, size = record.row, record.col, record.size
        for label, pair in zip(("I", "II"), pairs, strict=True):
            expected = pair[:, r : r + size, c : c + size]
            np.testing.assert_allclose(item[f"s1_{label}"], expected[:2], atol=s1_atol, rtol=0)
            got_s2 = item[f"s2_{label}"]
            if np.nanmax(expected[2:6]) > 10:  # reflectance x 10 000: integers, exactly
                np.testing.assert_array_equal(got_s2, expected[2:6])
            else:  # reflectance 0-1 on its 1e-4 steps
                np.testing.assert_allclose(got_s2, expected[2:6], atol=1e-6, rtol=0)
            np.testing.assert_array_equal(item[f"valid_{label}"], expected[6:7])


@pytest.mark.parametrize("s2_scale", ["10000", "1"])
@pytest.mark.parametrize("s1_scale", ["db", "linear"])
def test_read_back_equals_the_pairs_for_every_layout(
    tmp_path: Path, s1_scale: str, s2_scale: str
) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale=s1_scale, s2_scale=s2_scale)
    tgt = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale=s1_scale, s2_scale=s2_scale)
    result = split(ref, tgt, tmp_path / "ds")
    assert result.exit_code == 0, result.output
    # dB to its 0.01 dB step (+ float32 rounding); linear sigma0 losslessly (float32 samples)
    assert_read_back_equals_pairs(
        tmp_path / "ds", ref, tgt, s1_atol=0.005 + 1e-5 if s1_scale == "db" else 0.0
    )
    info = PatchDataset(tmp_path / "ds", None).info
    assert info.units == {
        "s1": s1_scale,
        "s2": "reflectance" if s2_scale == "1" else "reflectance_x10000",
    }


def test_float32_s2_through_the_pipeline(tmp_path: Path) -> None:
    """The reported reproduction: ``senprep s2 --dtype float32`` for two dates, ``pair``, ``split``."""
    pairs = []
    for day in (0, 10):
        spec = S2ProductSpec(
            size_10m_px=96,
            cloud_box_px=None,
            sensing_time=S2ProductSpec().sensing_time + timedelta(days=day),
        )
        product = write_s2_product(tmp_path / f"raw{day}", spec)
        s2 = tmp_path / f"s2_{day}.tif"
        result = CliRunner().invoke(
            cli, ["s2", str(product), "--dtype", "float32", "-o", str(s2), "-q"]
        )
        assert result.exit_code == 0, result.output
        s1 = write_tagged_pair(tmp_path / f"s1src_{day}.tif", day, s1_scale="db", s2_scale="1")
        with rasterio.open(s1, "r+") as ds, rasterio.open(s2) as ref:
            ds.transform, ds.crs = ref.transform, ref.crs
            ds.update_tags(SCALE="db", ACQUISITION_START=spec.sensing_time.isoformat())
        pair = tmp_path / f"pair_{day}.tif"
        result = CliRunner().invoke(
            cli, ["pair", "--s1", str(s1), "--s2", str(s2), "-o", str(pair), "-q"]
        )
        assert result.exit_code == 0, result.output
        pairs.append(pair)
    result = split(pairs[0], pairs[1], tmp_path / "ds")
    assert result.exit_code == 0, result.output
    with rasterio.open(pairs[0]) as ds:
        reflectance = ds.read(3)
    assert 0.0 < np.nanmin(reflectance) and np.nanpercentile(reflectance, 99) < 1.0
    dataset = PatchDataset(tmp_path / "ds", None)
    sample = dataset[0]
    assert np.unique(sample["s2_I"]).size > 100  # not the constant 1.0 of the defect
    record = dataset.records[0]
    r, c, size = record.row, record.col, record.size
    np.testing.assert_allclose(
        sample["s2_I"][0], reflectance[r : r + size, c : c + size], atol=1e-6, rtol=0
    )


def test_mixed_layouts_between_dates_are_refused(tmp_path: Path) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="1")
    tgt = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000")
    result = split(ref, tgt, tmp_path / "ds")
    assert result.exit_code == 1
    assert "II.tif" in result.output and "--dtype" in result.output
    assert not (tmp_path / "ds").exists()
    lin = write_tagged_pair(tmp_path / "III.tif", 2, s1_scale="linear", s2_scale="1")
    result = split(ref, lin, tmp_path / "ds")
    assert result.exit_code == 1 and "III.tif" in result.output and "--scale" in result.output


def test_unknown_layout_and_lossy_int16_are_refused(tmp_path: Path) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000")
    tgt = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000")
    with rasterio.open(tgt, "r+") as ds:
        ds.update_tags(S2_REFLECTANCE_SCALE="255")
    result = split(ref, tgt, tmp_path / "ds")
    assert result.exit_code == 1 and "II.tif" in result.output and "255" in result.output
    lin_a = write_tagged_pair(tmp_path / "a.tif", 0, s1_scale="linear", s2_scale="10000")
    lin_b = write_tagged_pair(tmp_path / "b.tif", 1, s1_scale="linear", s2_scale="10000")
    result = split(lin_a, lin_b, tmp_path / "ds", "--sample-dtype", "int16")
    assert result.exit_code == 1 and "--sample-dtype float32" in result.output
    assert not (tmp_path / "ds").exists()


def test_values_outside_the_int16_coding_are_an_error_not_clipped(tmp_path: Path) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000")
    tgt = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000")
    with rasterio.open(tgt, "r+") as ds:
        vv = ds.read(1)
        vv[40, 40] = 500.0  # 500 dB cannot be stored in int16 at 0.01 dB
        ds.write(vv, 1)
    result = split(ref, tgt, tmp_path / "ds")
    assert result.exit_code == 1
    assert "VV" in result.output and "--sample-dtype float32" in result.output
    assert not (tmp_path / "ds").exists()
    result = split(ref, tgt, tmp_path / "ds", "--sample-dtype", "float32")
    assert result.exit_code == 0, result.output
    item = next(
        it
        for it in (PatchDataset(tmp_path / "ds", None)[i] for i in range(9))
        if (it["window"].row_off, it["window"].col_off) == (32, 32)
    )
    assert item["s1_II"][0, 8, 8] == 500.0
    assert read_sample(tmp_path / "ds" / "samples" / f"{item['sample_id']}.tif").dtype == np.float32


def test_any_number_of_targets_keeps_every_mono_sample(tmp_path: Path) -> None:
    """Labels went I..VIII and then repeated, so mono samples of dates IX, X overwrote VIII's."""
    pairs = [
        write_tagged_pair(tmp_path / f"d{i}.tif", i, s1_scale="db", s2_scale="10000", size=32)
        for i in range(10)
    ]
    args = ["split", "--ref", str(pairs[0])]
    for pair in pairs[1:]:
        args += ["--target", str(pair)]
    args += ["-o", str(tmp_path / "ds"), "--size", "32", "--mono", "--max-invalid", "1", "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    mono = PatchDataset(tmp_path / "ds", None, kind="mono")
    multi = PatchDataset(tmp_path / "ds", None)
    assert len(multi) == 9 and len(mono) == 10
    labels = [r.ref_label for r in mono.records]
    assert labels == ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
    files = list((tmp_path / "ds" / "samples").iterdir())
    assert len(files) == 19  # every sample its own file
    for index, record in enumerate(mono.records):
        with rasterio.open(pairs[index]) as ds:
            np.testing.assert_allclose(mono[index]["s1"][0], ds.read(1), atol=0.005 + 1e-5)
        assert record.date_ref.startswith("2023-04-")
