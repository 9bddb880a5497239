"""Outputs with no information are refused, not written (issue 12, class 1): the atomic writer
counts the pixels holding data and publishes nothing when there are none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from rasterio.windows import Window

from sen_preproc.cli.main import cli
from sen_preproc.errors import EmptyOutputError
from sen_preproc.grid import RasterGrid
from sen_preproc.raster_io import GeoTiffWriter

GRID = RasterGrid(rasterio.crs.CRS.from_epsg(32633), Affine(10, 0, 300000, 0, -10, 4650000), 16, 12)


@pytest.mark.parametrize(
    ("names", "dtype", "nodata", "fill", "valid_pixels"),
    [
        (("VV", "VH"), "float32", float("nan"), np.nan, 0),  # all NaN
        (("B2", "B3", "valid"), "uint16", 0, 0, 0),  # all nodata; the mask band does not count
        (("B2", "valid"), "uint16", 0, 0, 1),  # one pixel with data
        (("change",), "uint8", None, 0, 16 * 12),  # no nodata value: every pixel is data
    ],
)
def test_writer_refuses_an_output_without_data(
    tmp_path: Path,
    names: tuple[str, ...],
    dtype: str,
    nodata: float | None,
    fill: float,
    valid_pixels: int,
) -> None:
    out = tmp_path / "o.tif"
    data = np.full((len(names), 12, 16), fill, dtype=dtype)
    if valid_pixels == 1:
        data[0, 5, 7] = 1234
    data[-1] = 1 if names[-1] == "valid" else data[-1]  # the valid band says 1: still no data
    with GeoTiffWriter(
        out, GRID, names, dtype=dtype, nodata=nodata, empty_hint="check --like"
    ) as writer:
        writer.write(Window(0, 0, 16, 6), data[:, :6])
        writer.write(Window(0, 6, 16, 6), data[:, 6:])
        assert writer.valid_pixels == valid_pixels
        if valid_pixels:
            writer.commit()
        else:
            with pytest.raises(
                EmptyOutputError, match=r"o\.tif: the result holds no valid pixel; check --like"
            ):
                writer.commit()
    assert out.exists() == bool(valid_pixels)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["o.tif"] if valid_pixels else [])


def test_writer_may_write_an_empty_output_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "o.tif"
    with GeoTiffWriter(out, GRID, ["VV"], require_data=False) as writer:
        writer.write(Window(0, 0, 16, 12), np.full((1, 12, 16), np.nan, np.float32))
        writer.commit()
    with rasterio.open(out) as ds:
        assert np.isnan(ds.read(1)).all()


def test_s2_like_a_grid_that_does_not_overlap(tmp_path: Path) -> None:
    """``senprep s2 --like`` a grid elsewhere wrote an all-zero raster with exit 0: now one line."""
    image = tmp_path / "stack.tif"
    far = tmp_path / "far.tif"
    for path, x0 in ((image, 300000), (far, 400000)):
        with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=3, dtype="uint16",
                           crs="EPSG:32633", transform=Affine(10, 0, x0, 0, -10, 4650000)) as ds:  # fmt: skip
            ds.write(np.full((3, 8, 8), 1500, np.uint16))
            ds.descriptions = ("B4", "B3", "B2")
    out = tmp_path / "o.tif"
    result = CliRunner().invoke(
        cli, ["s2", str(image), "--bands", "rgb", "--like", str(far), "-o", str(out), "-q"]
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "clouds are not masked" not in line]
    assert len(lines) == 1 and "holds no valid pixel" in lines[0] and str(out) in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["far.tif", "stack.tif"]


def test_s1_on_an_all_zero_product(s1b_safe: Path, tmp_path: Path) -> None:
    """The real S1B fixture's pixels are all zero: it wrote an all-NaN GeoTIFF with exit 0;
    now an error naming the output and the cause, nothing written, no warning lines before it."""
    out = tmp_path / "s1b.tif"
    aoi = "13.5,41.8,13.55,41.85"  # inside the footprint (a window: the test stays quick)
    result = CliRunner().invoke(
        cli, ["s1", str(s1b_safe), "--pol", "VV", "--aoi", aoi, "-o", str(out), "-q", "--no-geoid"]
    )
    assert result.exit_code == 1
    lines = [
        line for line in result.output.splitlines() if not line.startswith("WARNING: no --dem")
    ]
    assert len(lines) == 1 and "holds no valid pixel" in lines[0] and "all zero" in lines[0], (
        result.output
    )
    assert list(tmp_path.iterdir()) == []
