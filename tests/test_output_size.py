"""Output-size estimates before heavy work (issue 12, class 2): absurd grids are refused with
the figures and an override; the estimate itself is exact."""

from __future__ import annotations

import logging
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from rasterio.crs import CRS

from sen_preproc import sizing
from sen_preproc.cli.main import cli
from sen_preproc.errors import OptionError
from sen_preproc.grid import RasterGrid
from sen_preproc.testing.s1_factory import S1ProductSpec, write_s1_grd_product
from sen_preproc.testing.s2_factory import write_s2_product

UTM = CRS.from_epsg(32633)


def utm_grid(width: int, height: int, pixel_m: float) -> RasterGrid:
    return RasterGrid(UTM, Affine(pixel_m, 0, 300_000, 0, -pixel_m, 5_000_000), width, height)


def test_estimate_figures(tmp_path: Path) -> None:
    estimate = sizing.check_output_size(
        utm_grid(400, 300, 5.0),
        bands=3,
        bytes_per_sample=2,
        input_pixel_size_m=10.0,
        out=tmp_path / "x.tif",
        fix="x",
    )
    assert estimate.pixels == 120_000 and estimate.bytes == 720_000
    assert estimate.densification == pytest.approx(4.0)


def test_geographic_pixel_area_uses_the_latitude() -> None:
    grid = RasterGrid(CRS.from_epsg(4326), Affine(1e-4, 0, 10.0, 0, -1e-4, 60.5), 100, 10_000)
    # centre latitude 60 deg: 11.132 m x 11.132 m x cos(60) = 61.96 m2
    assert sizing.pixel_area_m2(grid) == pytest.approx(11.132**2 * 0.5, rel=1e-6)


@pytest.mark.parametrize(
    ("count", "text"), [(999, "999 B"), (1500, "1.5 kB"), (2.5e9, "2.5 GB"), (7e15, "7.0 PB")]
)
def test_format_bytes(count: float, text: str) -> None:
    assert sizing.format_bytes(count) == text


@pytest.mark.parametrize(
    ("grid", "reason"),
    [
        (utm_grid(1000, 1000, 0.5), "400 output pixels per 10 m input pixel (limit 100)"),
        (utm_grid(50_000, 50_000, 10.0), "over 2 gigapixels per band"),
        (utm_grid(1, 1, 1e6), "a single pixel"),
    ],
)
def test_absurd_grids_are_refused_unless_allowed(
    grid: RasterGrid, reason: str, tmp_path: Path
) -> None:
    kwargs = {"bands": 2, "bytes_per_sample": 4, "input_pixel_size_m": 10.0, "fix": "a fix"}
    with pytest.raises(OptionError) as info:
        sizing.check_output_size(grid, out=tmp_path / "x.tif", **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    advice = "choose a smaller --pixel-size or a larger area" if grid.width == 1 else "choose a fix"
    assert reason in message and advice in message and "--allow-large-output" in message
    assert f"{grid.width} x {grid.height} px x 2 bands" in message
    sizing.check_output_size(grid, out=tmp_path / "x.tif", allow_large=True, **kwargs)  # type: ignore[arg-type]


def test_little_free_space_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10**9, 10**9 - 1000, 1000))
    with caplog.at_level(logging.WARNING):
        sizing.check_output_size(
            utm_grid(100, 100, 10.0),
            bands=1,
            bytes_per_sample=4,
            input_pixel_size_m=10.0,
            out=tmp_path / "x.tif",
            fix="x",
        )
    assert "may need up to 40.0 kB and the folder has 1.0 kB free" in caplog.text


# --------------------------------------------------------------------------- commands


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sizes")
    s1 = write_s1_grd_product(root / "s1", S1ProductSpec(lines=120, samples=160, seed=2))
    s2 = write_s2_product(root / "s2")
    return s1, s2


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "-q"])
    return result.exit_code, result.output


@pytest.mark.parametrize("pixel", ["0.1", "1e-9"])
def test_s1_tiny_pixel_size_is_refused(
    products: tuple[Path, Path], tmp_path: Path, pixel: str
) -> None:
    code, output = run(
        ["s1", str(products[0]), "--pixel-size", pixel, "-o", str(tmp_path / "o.tif")]
    )
    assert code == 1 and output.count("\n") == 1, output
    assert "output pixels per" in output and "--pixel-size" in output
    assert "--allow-large-output" in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_s1_allow_large_output_writes_the_dense_grid(
    products: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "dense.tif"
    args = ["s1", str(products[0]), "--pol", "VV", "--pixel-size", "0.9", "--speckle", "none"]
    code, output = run([*args, "-o", str(out)])
    assert code == 1 and "output pixels per" in output and "(limit 100)" in output, output
    code, output = run([*args, "--allow-large-output", "-o", str(out)])
    assert code == 0, output
    with rasterio.open(out) as ds:
        assert ds.res == (0.9, 0.9)


@pytest.mark.parametrize(
    ("resolution", "reason"), [("1e-9", "output pixels per"), ("1e6", "a single pixel")]
)
def test_s2_absurd_resolution_is_refused(
    products: tuple[Path, Path], tmp_path: Path, resolution: str, reason: str
) -> None:
    code, output = run(
        ["s2", str(products[1]), "--resolution", resolution, "-o", str(tmp_path / "o.tif")]
    )
    assert code == 1 and output.count("\n") == 1 and reason in output, output
    assert "--resolution" in output and "--allow-large-output" in output
    assert list(tmp_path.iterdir()) == []
