"""Options shared by several ``senprep`` commands, declared once (as rasterio's rio/options)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sen_preproc.bands import parse_polarisations
from sen_preproc.dataset.coding import SAMPLE_DTYPES
from sen_preproc.engines import ENGINES
from sen_preproc.errors import SenPrepError
from sen_preproc.sentinel1.calibration import CALIBRATION_LUTS
from sen_preproc.sentinel1.chain import DEM_DATUMS, SCALES
from sen_preproc.sentinel1.speckle import SPECKLE_FILTERS
from sen_preproc.sentinel2.chain import ATMCOR_CHOICES
from sen_preproc.sentinel2.radiometry import DEFAULT_INVALID_SCL, OUTPUT_DTYPES

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
allow_large_opt = click.option(
    "--allow-large-output",
    "allow_large_output",
    is_flag=True,
    default=False,
    help="Write an output grid even when it is over 100x denser than the input or over 2 "
    "gigapixels per band (refused otherwise: usually a mistyped pixel size).",
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


# --------------------------------------------------------------------- processing chains


def _split_pols(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, ...]:
    try:
        return parse_polarisations(value)
    except SenPrepError as err:
        raise click.BadParameter(str(err)) from err


def parse_band_option(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    from sen_preproc.sentinel2.chain import parse_bands

    try:
        return parse_bands(value)
    except SenPrepError as err:
        raise click.BadParameter(str(err)) from err


def _parse_classes(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as err:
        raise click.BadParameter(f"{value!r}: give SCL class numbers like 0,1,3,8,9,10") from err


def _stack(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


s1_options = _stack(
    [
        click.option(
            "--pol",
            "polarisations",
            callback=_split_pols,
            default=None,
            metavar="VV,VH",
            help="Polarisations to process (default: all in the product).",
        ),
        click.option(
            "--border-noise/--no-border-noise",
            default=False,
            show_default=True,
            help="Remove GRD border noise (useful for IPF < 2.9 products).",
        ),
        click.option(
            "--thermal-noise/--no-thermal-noise",
            default=True,
            show_default=True,
            help="Thermal noise removal (range x azimuth noise LUTs).",
        ),
        click.option(
            "--orbit-file",
            type=click.Path(path_type=Path),
            default=None,
            help="Precise/restituted orbit file (.EOF, plain or zipped) replacing the annotation orbit.",
        ),
        click.option(
            "--calibration",
            type=click.Choice(list(CALIBRATION_LUTS)),
            default="sigma0",
            show_default=True,
            help="Radiometric calibration target.",
        ),
        click.option(
            "--speckle",
            type=click.Choice(SPECKLE_FILTERS),
            default="lee-sigma",
            show_default=True,
            help="Speckle filter (lee-sigma is SNAP's default).",
        ),
        click.option(
            "--window",
            "window_px",
            type=int,
            default=7,
            show_default=True,
            help="Speckle filter window size in pixels (odd).",
        ),
        click.option(
            "--dem",
            type=click.Path(path_type=Path),
            default=None,
            help="DEM GeoTIFF (any CRS). Without it the image is geocoded on the ellipsoid.",
        ),
        click.option(
            "--dem-datum",
            type=click.Choice(DEM_DATUMS),
            default="auto",
            show_default=True,
            help="Vertical datum of the DEM heights (auto: from its CRS, else EGM96).",
        ),
        click.option(
            "--no-geoid",
            is_flag=True,
            default=False,
            help="Use the DEM heights as ellipsoidal heights (when PROJ's geoid grid is missing).",
        ),
        click.option(
            "--scale",
            type=click.Choice(SCALES),
            default="db",
            show_default=True,
            help="Output scale.",
        ),
    ]
)
"""The Sentinel-1 chain's options (``senprep s1``, ``senprep graph s1``)."""

s2_options = _stack(
    [
        click.option(
            "--bands",
            callback=parse_band_option,
            default="B2,B3,B4,B8",
            show_default=True,
            help="Bands to keep, e.g. B2,B3,B4,B8; 'rgb' (B4,B3,B2) and 'rgbn' (B2,B3,B4,B8) are the paper's sets.",
        ),
        click.option(
            "--resolution",
            "resolution_m",
            type=float,
            default=10.0,
            show_default=True,
            help="Output resolution in metres (20/60 m bands: bilinear upsampling; finer bands: averaging).",
        ),
        click.option(
            "--dtype",
            type=click.Choice(OUTPUT_DTYPES),
            default="uint16",
            show_default=True,
            help="uint16 = reflectance x 10000 (nodata 0); float32 = reflectance (nodata NaN).",
        ),
        click.option(
            "--invalid-classes",
            "invalid_scl",
            callback=_parse_classes,
            default=",".join(map(str, DEFAULT_INVALID_SCL)),
            show_default=True,
            help="SCL classes marked invalid in the 'valid' band.",
        ),
        click.option(
            "--atmcor",
            type=click.Choice(ATMCOR_CHOICES),
            default="none",
            show_default=True,
            help="For L1C input: run Sen2Cor (L2A_Process on PATH) first.",
        ),
    ]
)
"""The Sentinel-2 chain's options (``senprep s2``, ``senprep graph s2``)."""


sample_dtype_opt = click.option(
    "--sample-dtype",
    type=click.Choice(SAMPLE_DTYPES),
    default="auto",
    show_default=True,
    help="Sample storage: int16 with per-band scale/offset (auto: where lossless to the stated "
    "step) or float32 (lossless for anything).",
)


# --------------------------------------------------------------------- the SNAP engine

engine_opt = click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="python",
    show_default=True,
    help="python: the built-in engine; snap: ESA SNAP's gpt with the graphs in graphs/; "
    "auto: SNAP when a gpt is found, else python.",
)

_SNAP_OPTIONS: list[Callable[[F], F]] = [
    click.option(
        "--gpt",
        type=click.Path(path_type=Path),
        default=None,
        help="SNAP's gpt executable (default: $SENPREP_GPT, $SNAP_HOME/bin/gpt, PATH, the "
        "usual install folders).",
    ),
    click.option(
        "--snap-version",
        default=None,
        metavar="X.Y",
        help="Render graphs for this SNAP version (default: detected from the installation).",
    ),
    click.option(
        "--gpt-cache",
        "cache_size",
        default=None,
        metavar="SIZE",
        help="gpt tile cache (-c), e.g. 4G (default: about two thirds of gpt's Java heap).",
    ),
    click.option(
        "--gpt-threads",
        "parallelism",
        type=int,
        default=None,
        help="gpt parallelism (-q; default: the cores available).",
    ),
    click.option(
        "--timeout",
        "timeout_s",
        type=float,
        default=None,
        help="Stop gpt after this many seconds.",
    ),
    click.option(
        "--split-graph",
        is_flag=True,
        default=False,
        help="Run the graph as several gpt calls with BEAM-DIMAP intermediates (less memory).",
    ),
]


def snap_options(func: F) -> F:
    """--gpt, --snap-version, --gpt-cache, --gpt-threads, --timeout, --split-graph."""
    return _stack(_SNAP_OPTIONS)(func)


# --------------------------------------------------------------------- senprep graph

_graph_out = click.option(
    "--out", "-o", type=click.Path(path_type=Path), required=True, help="Graph XML file to write."
)
_graph_target = click.option(
    "--target",
    type=click.Path(path_type=Path),
    default=None,
    help="The GeoTIFF the graph's Write node writes (default: the name senprep would use).",
)
_graph_version = click.option(
    "--snap-version",
    default=None,
    metavar="X.Y",
    help="SNAP version to render for (default: the installed gpt's, else 10).",
)
_graph_gpt = click.option(
    "--gpt", type=click.Path(path_type=Path), default=None, help="gpt whose version to use."
)


def graph_output_options(func: F) -> F:
    """--out (graph XML), --target, --snap-version, --gpt, --overwrite, --verbose."""
    return _stack(
        [_graph_out, _graph_target, _graph_version, _graph_gpt, overwrite_opt, verbose_opt]
    )(func)
