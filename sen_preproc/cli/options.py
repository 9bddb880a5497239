"""Options shared by several ``senprep`` commands, declared once (as rasterio's rio/options)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

out_opt = click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path, dir_okay=True),
    default=None,
    help="Output GeoTIFF (default: a name derived from the product ID, in the current folder).",
)
overwrite_opt = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace the output if it exists."
)
quiet_opt = click.option(
    "--quiet", "-q", is_flag=True, default=False, help="No progress bars or info messages."
)
verbose_opt = click.option("--verbose", "-v", count=True, help="More log messages (-vv: debug).")
aoi_opt = click.option(
    "--aoi",
    default=None,
    metavar="AOI",
    help="Area of interest in WGS84 lon/lat: 'minx,miny,maxx,maxy', a WKT geometry or a "
    "GeoJSON file. Applied before the heavy processing.",
)
crs_opt = click.option(
    "--crs",
    default=None,
    metavar="CRS",
    help="Output CRS, e.g. EPSG:32633 (default: s1 the UTM zone of the scene centre, s2 the product CRS).",
)
pixel_size_opt = click.option(
    "--pixel-size",
    "pixel_size_m",
    type=float,
    default=10.0,
    show_default=True,
    help="Output pixel size in metres.",
)
like_opt = click.option(
    "--like",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Reference raster: land exactly on its grid (CRS, transform, size), e.g. a Sentinel-2 tile.",
)


def common_output_options(func: F) -> F:
    """--out, --overwrite, --quiet, --verbose."""
    for option in (verbose_opt, quiet_opt, overwrite_opt, out_opt):
        func = option(func)
    return func


def grid_options(func: F) -> F:
    """--crs, --pixel-size, --like, --aoi."""
    for option in (aoi_opt, like_opt, pixel_size_opt, crs_opt):
        func = option(func)
    return func
