"""The dataset as a versioned contract: dataset.json, manifest.csv, stats.json and their reader."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pair_files import write_tagged_pair

from sen_preproc.cli.main import cli
from sen_preproc.dataset import DatasetError, PatchDataset, read_info
from sen_preproc.dataset.schema import (
    FORMAT_VERSION,
    MANIFEST_FIELDS,
    foreign_entries,
    read_manifest,
    read_stats,
)
from sen_preproc.dataset.transforms import Standardise
from sen_preproc.errors import MissingDataError, OptionError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("schema")
    ref = write_tagged_pair(base / "I.tif", 0, s1_scale="db", s2_scale="10000")
    tgt = write_tagged_pair(base / "II.tif", 1, s1_scale="db", s2_scale="10000")
    out = base / "ds"
    result = CliRunner().invoke(
        cli,
        ["split", "--ref", str(ref), "--target", str(tgt), "-o", str(out), "--size", "32",
         "--stride", "16", "--max-invalid", "1", "--mono", "--split", "rows:0.5,0.25,0.25", "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def copy(dataset: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(dataset, tmp_path / "copy"))


def test_dataset_json_describes_the_folder(dataset: Path) -> None:
    info = read_info(dataset)
    raw = info.raw
    assert raw["format"] == "senprep-dataset" and raw["format_version"] == FORMAT_VERSION
    assert info.layers == ("VV", "VH", "B2", "B3", "B4", "B8", "valid")
    assert info.units == {"s1": "db", "s2": "reflectance_x10000"}
    assert (
        info.coding["multi"].names[:2] == ("I_VV", "I_VH") and len(info.coding["multi"].bands) == 14
    )
    assert info.coding["mono"].names == info.layers
    assert [(b.scale, b.offset) for b in info.coding["mono"].bands][:3] == [
        (0.01, 0.0), (0.01, 0.0), (1.0, 32768.0)
    ]  # fmt: skip
    assert (info.size_px, info.stride_px) == (32, 16)
    assert raw["parameters"]["split"] == "rows:0.5,0.25,0.25" and raw["parameters"]["mono"]
    assert [p["label"] for p in raw["pairs"]] == ["I", "II"]
    assert raw["pairs"][0]["bytes"] == (dataset.parent / "I.tif").stat().st_size
    assert raw["pairs"][1]["tags"]["SENPREP_VERSION"] == "test"
    records = read_manifest(dataset)
    assert (
        raw["counts"]["kept"]
        == len(records)
        == sum(raw["counts"][s] for s in ("train", "val", "test"))
    )
    with open(dataset / "manifest.csv", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == MANIFEST_FIELDS
    # stats.json is the training split's, per kind, keyed by the coding's band names
    stats = read_stats(dataset)
    assert set(stats["multi"]) == set(info.coding["multi"].names)
    assert set(stats["mono"]) == set(info.layers)


def test_reader_refuses_other_versions_and_damage(dataset: Path, tmp_path: Path) -> None:
    folder = copy(dataset, tmp_path)
    document = json.loads((folder / "dataset.json").read_text())
    (folder / "dataset.json").write_text(json.dumps(document | {"format_version": 99}))
    with pytest.raises(DatasetError, match=r"format 99 is newer.*upgrade senprep"):
        PatchDataset(folder)
    (folder / "dataset.json").write_text(json.dumps(document | {"format_version": 0}))
    with pytest.raises(DatasetError, match=r"dataset format 0.*write it again"):
        PatchDataset(folder)
    (folder / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not readable JSON"):
        PatchDataset(folder)
    (folder / "dataset.json").write_text(
        json.dumps({k: v for k, v in document.items() if k != "bands"})
    )
    with pytest.raises(DatasetError, match="damaged"):
        PatchDataset(folder)
    (folder / "dataset.json").unlink()
    with pytest.raises(DatasetError, match="older senprep"):
        PatchDataset(folder)  # a dataset of the format before dataset.json existed
    with pytest.raises(DatasetError, match=r"no dataset\.json"):
        PatchDataset(tmp_path)


def test_reader_names_a_damaged_manifest(dataset: Path, tmp_path: Path) -> None:
    folder = copy(dataset, tmp_path)
    with open(folder / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(folder / "manifest.csv", "w", newline="") as handle:
        fields = [f for f in MANIFEST_FIELDS if f not in ("split", "path")]
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(DatasetError, match="columns split, path missing"):
        PatchDataset(folder)
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows([*rows[:3], rows[3] | {"row": "twelve"}])
    with pytest.raises(DatasetError, match="line 5"):
        PatchDataset(folder)


def test_reader_names_missing_sample_files(dataset: Path, tmp_path: Path) -> None:
    folder = copy(dataset, tmp_path)
    records = read_manifest(folder)
    train = [r for r in records if r.split == "train" and r.kind == "multi"]
    (folder / train[1].path).unlink()
    with pytest.raises(
        MissingDataError, match=rf"1 of {len(train)} samples .* \(first: {train[1].path}\)"
    ):
        PatchDataset(folder, "train")
    assert len(PatchDataset(folder, "test")) > 0  # other splits still read


def test_item_georeference_and_transforms(dataset: Path) -> None:
    import rasterio

    train = PatchDataset(dataset, "train")
    item = train[3]
    record = train.records[3]
    with rasterio.open(dataset / record.path) as ds:
        assert tuple(item["bounds"]) == pytest.approx(tuple(ds.bounds))
        assert item["crs"] == ds.crs
    with rasterio.open(dataset.parent / "I.tif") as pair:
        assert pair.window_bounds(item["window"]) == pytest.approx(tuple(item["bounds"]))
    assert train.band_names("s2_II") == ("II_B2", "II_B3", "II_B4", "II_B8")
    # standardisation with the training statistics: the training split ends up ~N(0, 1)
    standard = PatchDataset(dataset, "train", transforms=Standardise.from_dataset(train))
    values = np.concatenate([standard[i]["s1_I"][0].ravel() for i in range(len(standard))])
    values = values[np.isfinite(values)]
    assert abs(values.mean()) < 0.05 and abs(values.std() - 1.0) < 0.05
    assert np.array_equal(standard[0]["valid_I"], train[0]["valid_I"])  # masks untouched
    mean, std = train.band_stats("s1_I")
    np.testing.assert_allclose(standard[0]["s1_I"], (train[0]["s1_I"] - mean) / std, rtol=1e-5)
    # any callable works as a transform, and it runs last
    flipped = PatchDataset(
        dataset, "train", transforms=lambda it: it | {"s2_I": it["s2_I"][:, ::-1]}
    )
    np.testing.assert_array_equal(flipped[0]["s2_I"], train[0]["s2_I"][:, ::-1])
    with pytest.raises(OptionError, match="split must be one of"):
        PatchDataset(dataset, "training")


def test_foreign_entries_lists_what_senprep_did_not_write(dataset: Path, tmp_path: Path) -> None:
    folder = copy(dataset, tmp_path)
    assert foreign_entries(folder) == []
    (folder / "samples" / "extra.png").write_bytes(b"x")
    (folder / "README").write_text("mine")
    assert foreign_entries(folder) == ["README", "samples/extra.png"]
    assert foreign_entries(tmp_path) is None  # not a dataset at all
