"""Options that were accepted and then ignored or misused (issue 12, "also"): refused in one line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from conftest import find_shared_dir
from pair_files import write_tagged_pair

from sen_preproc.cli.main import cli


def test_split_target_equal_to_ref(tmp_path: Path) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000", size=64)
    result = CliRunner().invoke(
        cli, ["split", "--ref", str(ref), "--target", str(ref), "-o", str(tmp_path / "ds")]
    )
    assert result.exit_code != 0 and "is the --ref pair itself" in result.output
    assert result.output.strip().count("\n") == 0 and not (tmp_path / "ds").exists()


def test_pair_resolution_with_an_image_grid(tmp_path: Path) -> None:
    s1 = write_tagged_pair(tmp_path / "s1.tif", 0, s1_scale="db", s2_scale="10000", size=64)
    s2 = write_tagged_pair(tmp_path / "s2.tif", 1, s1_scale="db", s2_scale="10000", size=64)
    for grid in ("s2", "s1"):
        out = tmp_path / f"pair_{grid}.tif"
        result = CliRunner().invoke(cli, ["pair", "--s1", str(s1), "--s2", str(s2), "--grid", grid,
                                          "--resolution", "20", "-o", str(out)])  # fmt: skip
        assert result.exit_code != 0, result.output
        assert f"--grid {grid} keeps" in result.output and "drop --resolution" in result.output
        assert not out.exists()


def test_s2_product_given_to_s1(tmp_path: Path) -> None:
    """A Sentinel-2 SAFE given to ``senprep s1`` said "platform SENTINEL" (real manifests
    write familyName SENTINEL + number 2A): now it names the right command."""
    from sen_preproc.testing.s2_factory import S2ProductSpec, write_s2_product

    product = write_s2_product(tmp_path / "p", S2ProductSpec(size_10m_px=60))
    result = CliRunner().invoke(cli, ["s1", str(product), "-o", str(tmp_path / "o.tif")])
    assert (
        result.exit_code == 1 and "this is a Sentinel-2 product; use `senprep s2`" in result.output
    )
    assert not (tmp_path / "o.tif").exists()
    shared = find_shared_dir()  # SENPREP_SHARED or ../shared, when present
    real = sorted((shared / "fixtures" / "s2").glob("S2*_MSIL*.SAFE"))[:1] if shared else []
    for safe in real:  # a real manifest: familyName SENTINEL, number 2A
        result = CliRunner().invoke(cli, ["s1", str(safe), "-o", str(tmp_path / "r.tif")])
        assert result.exit_code == 1 and "this is a Sentinel-2 product" in result.output, (
            result.output
        )
