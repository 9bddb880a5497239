"""``--overwrite`` replaces only what senprep itself wrote, never an input, never a foreign folder.

Regression tests for the data-loss defect where ``senprep split -o DIR --overwrite`` deleted
whatever folder ``DIR`` was (the user's inputs included) and ``-o`` equal to an input was
silently replaced.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from pair_files import write_tagged_pair

from sen_preproc.cli.main import cli
from sen_preproc.testing.s1_factory import S1ProductSpec, write_s1_grd_product
from sen_preproc.testing.s2_factory import S2ProductSpec, write_s2_product


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_split_overwrite_never_deletes_a_foreign_folder(tmp_path: Path) -> None:
    """The reported reproduction: ``-o w --overwrite`` where ``w`` holds the inputs."""
    work = tmp_path / "w"
    work.mkdir()
    ref = write_tagged_pair(work / "pair_I.tif", 0, s1_scale="db", s2_scale="10000")
    tgt = write_tagged_pair(work / "pair_II.tif", 1, s1_scale="db", s2_scale="10000")
    (work / "notes.txt").write_text("x\n")
    before = snapshot(work)
    split = ("split", "--ref", str(ref), "--target", str(tgt), "--size", "48", "--stride", "24")
    code, output = invoke(*split, "-o", str(work), "--overwrite")
    assert code == 1 and str(work) in output and "input" in output
    assert snapshot(work) == before
    assert not list(tmp_path.glob(".*"))  # no temporary folder left beside it
    # a parent folder (-o ..) and the current folder are refused alike
    code, output = invoke(*split, "-o", str(tmp_path), "--overwrite")
    assert code == 1 and snapshot(work) == before


def test_split_overwrite_replaces_its_own_dataset_only(tmp_path: Path) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000")
    tgt = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000")
    out = tmp_path / "ds"
    split = ("split", "--ref", str(ref), "--target", str(tgt), "--size", "48", "--stride", "24",
             "--max-invalid", "1")  # fmt: skip
    assert invoke(*split, "-o", str(out), "-q")[0] == 0
    code, output = invoke(*split, "-o", str(out), "-q")
    assert code == 1 and "--overwrite" in output
    assert invoke(*split, "-o", str(out), "--overwrite", "-q")[0] == 0
    assert (out / "dataset.json").is_file()
    # a file the user added to the dataset folder protects it
    (out / "my_notes.md").write_text("mine")
    code, output = invoke(*split, "-o", str(out), "--overwrite", "-q")
    assert code == 1 and "my_notes.md" in output
    assert (out / "my_notes.md").read_text() == "mine"
    # an input inside the output folder protects it too
    (out / "my_notes.md").unlink()
    inner = shutil.copy(ref, out / "samples" / "I_copy.tif")
    code, output = invoke(*split[:2], str(inner), *split[3:], "-o", str(out), "--overwrite", "-q")
    assert code == 1 and "input" in output and Path(inner).exists()
    # a file given as the dataset folder
    code, output = invoke(*split, "-o", str(ref), "--overwrite")
    assert code == 1 and Path(ref).is_file()


def test_split_accepts_an_empty_folder(tmp_path: Path) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000")
    tgt = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000")
    (tmp_path / "empty").mkdir()
    code, output = invoke(
        "split", "--ref", str(ref), "--target", str(tgt), "--size", "48", "-o",
        str(tmp_path / "empty"), "--max-invalid", "1", "-q",
    )  # fmt: skip
    assert code == 0, output
    assert (tmp_path / "empty" / "manifest.csv").is_file()


def foreign_tif(path: Path) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8",
        crs="EPSG:32633", transform=Affine(10, 0, 0, 0, -10, 0),
    ) as ds:  # fmt: skip
        ds.write(np.ones((1, 4, 4), np.uint8))
    return path


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("safety")
    s2 = write_s2_product(base / "s2", S2ProductSpec(size_10m_px=60, cloud_box_px=None))
    s1 = write_s1_grd_product(
        base / "s1", S1ProductSpec(lines=80, samples=100, polarisations=("VV",), seed=2)
    )
    return {"s1": s1, "s2": s2, "base": base}


def test_s2_output_equal_to_an_input_is_refused(products: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "s2.tif"
    assert invoke("s2", str(products["s2"]), "-o", str(out), "-q")[0] == 0
    like = shutil.copy(out, tmp_path / "like.tif")
    before = Path(like).read_bytes()
    code, output = invoke(
        "s2", str(products["s2"]), "--like", str(like), "-o", str(like), "--overwrite", "-q"
    )
    assert code == 1 and "input" in output and Path(like).read_bytes() == before
    # a file senprep did not write is never replaced, --overwrite or not
    other = foreign_tif(tmp_path / "mine.tif")
    before = other.read_bytes()
    code, output = invoke("s2", str(products["s2"]), "-o", str(other), "--overwrite", "-q")
    assert code == 1 and "not written by senprep" in output and other.read_bytes() == before
    # its own earlier output is replaced
    assert invoke("s2", str(products["s2"]), "-o", str(out), "--overwrite", "-q")[0] == 0


def test_s1_output_equal_to_an_input_is_refused(products: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "s1.tif"
    assert invoke("s1", str(products["s1"]), "--speckle", "none", "-o", str(out), "-q")[0] == 0
    before = out.read_bytes()
    code, output = invoke(
        "s1", str(products["s1"]), "--like", str(out), "-o", str(out), "--overwrite", "-q"
    )
    assert code == 1 and "input" in output and out.read_bytes() == before
    other = foreign_tif(tmp_path / "mine.tif")
    code, output = invoke("s1", str(products["s1"]), "-o", str(other), "--overwrite", "-q")
    assert code == 1 and "not written by senprep" in output


def test_pair_output_equal_to_an_input_is_refused(tmp_path: Path) -> None:
    from test_pair import s1_image, s2_image

    s1 = s1_image(tmp_path / "s1.tif", 0.0, 60)
    s2 = s2_image(tmp_path / "s2.tif", 0.0, 60)
    for victim in (s1, s2):
        before = victim.read_bytes()
        code, output = invoke(
            "pair", "--s1", str(s1), "--s2", str(s2), "-o", str(victim), "--overwrite", "-q"
        )
        assert code == 1 and "input" in output and victim.read_bytes() == before


def test_graph_output_rules(products: dict[str, Path], tmp_path: Path) -> None:
    graph = tmp_path / "g.xml"
    assert invoke("graph", "s2", str(products["s2"]), "-o", str(graph))[0] == 0
    assert invoke("graph", "s2", str(products["s2"]), "-o", str(graph), "--overwrite")[0] == 0
    mine = tmp_path / "mine.xml"
    mine.write_text("<graph>my own</graph>")
    code, output = invoke("graph", "s2", str(products["s2"]), "-o", str(mine), "--overwrite")
    assert code == 1 and "not written by senprep" in output
    assert mine.read_text() == "<graph>my own</graph>"
    s1_tif = foreign_tif(tmp_path / "ref.tif")
    code, output = invoke(
        "graph", "collocate", "--reference", str(s1_tif), "--secondary", str(s1_tif),
        "-o", str(s1_tif), "--overwrite",
    )  # fmt: skip
    assert code == 1 and "input" in output
