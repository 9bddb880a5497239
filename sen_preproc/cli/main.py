"""``senprep``: thin click commands that build a frozen config and call one library function."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sen_preproc import __version__
from sen_preproc.cli.options import (
    allow_large_opt,
    aoi_opt,
    common_output_options,
    crs_opt,
    engine_opt,
    graph_output_options,
    grid_options,
    like_opt,
    overwrite_opt,
    parse_band_option,
    quiet_opt,
    s1_options,
    s2_options,
    sample_dtype_opt,
    snap_options,
    verbose_opt,
)
from sen_preproc.cli.progress import progress_bars
from sen_preproc.dataset.export import FORMATS as SPLIT_FORMATS
from sen_preproc.errors import SenPrepError
from sen_preproc.synth.build import DEFAULT_CENTRE as SYNTH_CENTRE
from sen_preproc.synth.build import DEFAULT_DATES as SYNTH_DATES

F = TypeVar("F", bound=Callable[..., Any])


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.INFO if verbose <= 1 else logging.DEBUG)
    if verbose == 0 and not quiet:
        level = logging.WARNING
    logging.basicConfig(
        level=level, format="%(levelname)s: %(message)s", stream=sys.stderr, force=True
    )
    # the package's info lines by default; one run's choice never outlives it (tests invoke
    # many commands in one process)
    logging.getLogger("sen_preproc").setLevel(
        logging.INFO if verbose == 0 and not quiet else logging.NOTSET
    )


def handle_errors(func: F) -> F:
    """Turn library errors into one-line click errors (exit code 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SenPrepError as err:
            raise click.ClickException(str(err)) from err

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="senprep")
def cli() -> None:
    """Sentinel-1 / Sentinel-2 preprocessing for SAR-optical fusion (MCcGAN)."""


def _snap_config(options: dict[str, Any]) -> Any:
    """Pop the SNAP options out of ``options`` into a SnapOptions."""
    from sen_preproc.snap.engine import SnapOptions

    names = ("gpt", "snap_version", "cache_size", "parallelism", "timeout_s", "split_graph")
    return SnapOptions(**{name: options.pop(name) for name in names})


def _chain_config(
    sensor: str, product: Path, out: Path | None, overwrite: bool, options: dict[str, Any]
) -> Any:
    """The frozen config of ``senprep s1``/``s2`` (and ``graph s1``/``s2``) from its options."""
    if sensor == "s1":
        from sen_preproc.sentinel1.chain import S1Config

        geoid = not options.pop("no_geoid")
        return S1Config(product=product, out=out, overwrite=overwrite, geoid=geoid, **options)
    from sen_preproc.sentinel2.chain import S2Config

    return S2Config(product=product, out=out, overwrite=overwrite, **options)


def _process(sensor: str, product: Path, options: dict[str, Any]) -> None:
    """The body of ``senprep s1`` and ``senprep s2``."""
    from sen_preproc.engines import process

    quiet, engine = options.pop("quiet"), options.pop("engine")
    _setup_logging(options.pop("verbose"), quiet)
    snap = _snap_config(options)
    out, overwrite = options.pop("out"), options.pop("overwrite")
    config = _chain_config(sensor, product, out, overwrite, options)
    click.echo(str(process(sensor, config, engine, snap, progress_bars(quiet))))


@cli.command("s1")
@click.argument("product", type=click.Path(path_type=Path))
@s1_options
@grid_options
@allow_large_opt
@engine_opt
@snap_options
@common_output_options
@handle_errors
def s1_command(product: Path, **options: Any) -> None:
    """Preprocess a Sentinel-1 GRD PRODUCT (.zip, .SAFE folder or manifest.safe) into a
    terrain-corrected, calibrated GeoTIFF (one band per polarisation)."""
    _process("s1", product, options)


@cli.command("s2")
@click.argument("product", type=click.Path(path_type=Path))
@s2_options
@crs_opt
@like_opt
@aoi_opt
@allow_large_opt
@engine_opt
@snap_options
@common_output_options
@handle_errors
def s2_command(product: Path, **options: Any) -> None:
    """Preprocess a Sentinel-2 PRODUCT (L2A/L1C SAFE zip or folder, a folder of band GeoTIFFs or a
    multi-band GeoTIFF) into a reflectance GeoTIFF with a 'valid' (cloud-free) band."""
    _process("s2", product, options)


@cli.command("pair")
@click.option(
    "--s1", "s1", type=click.Path(path_type=Path), required=True, help="Output of `senprep s1`."
)
@click.option(
    "--s2", "s2", type=click.Path(path_type=Path), required=True, help="Output of `senprep s2`."
)
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), required=True, help="Aligned stack GeoTIFF."
)
@click.option(
    "--grid",
    default="s2",
    show_default=True,
    metavar="s2|s1|EPSG:xxxx",
    help="Target grid: the S2 grid (S1 resampled once), the S1 grid, or a CRS with --resolution.",
)
@click.option(
    "--resolution",
    "resolution_m",
    type=float,
    default=None,
    help="Pixel size for --grid EPSG:xxxx (CRS units).",
)
@click.option(
    "--min-overlap",
    type=float,
    default=0.10,
    show_default=True,
    help="Minimum overlap, as a fraction of the smaller valid footprint.",
)
@allow_large_opt
@overwrite_opt
@quiet_opt
@verbose_opt
@handle_errors
def pair_command(quiet: bool, verbose: int, **options: Any) -> None:
    """Co-register a Sentinel-1 and a Sentinel-2 GeoTIFF onto one grid, cropped to their overlap."""
    from sen_preproc.pair import PairConfig, pair_images

    _setup_logging(verbose, quiet)
    click.echo(str(pair_images(PairConfig(**options), progress_bars(quiet))))


@cli.command("split")
@click.option(
    "--ref",
    type=click.Path(path_type=Path),
    required=True,
    help="Aligned pair of the reference date (I).",
)
@click.option(
    "--target",
    "targets",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="Aligned pair of a target date (II); repeat for several targets (III, IV, ...).",
)
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Dataset folder.")
@click.option(
    "--size", "size_px", type=int, default=256, show_default=True, help="Patch size (px)."
)
@click.option(
    "--stride", "stride_px", type=int, default=128, show_default=True, help="Patch stride (px)."
)
@click.option(
    "--mono",
    is_flag=True,
    default=False,
    help="Also write mono-temporal samples (S1/S2 of one date).",
)
@click.option(
    "--split",
    default="rows:0.8,0.1,0.1",
    show_default=True,
    help="Spatial train/val/test split: rows:TRAIN,VAL,TEST or cols:... (whole bands of the scene).",
)
@click.option(
    "--test-area",
    default=None,
    metavar="AOI",
    help="Test area (lon/lat bbox, WKT or GeoJSON); the other patches go to train/val.",
)
@click.option(
    "--max-invalid",
    type=float,
    default=0.0,
    show_default=True,
    help="Skip patches whose invalid/cloudy fraction exceeds this.",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(SPLIT_FORMATS),
    multiple=True,
    default=("tif",),
    show_default=True,
    help="jpg additionally writes the paper's 8-bit JPGs.",
)
@sample_dtype_opt
@overwrite_opt
@quiet_opt
@verbose_opt
@handle_errors
def split_command(
    quiet: bool, verbose: int, formats: tuple[str, ...], targets: tuple[Path, ...], **options: Any
) -> None:
    """Cut aligned pairs into the multi-temporal patch dataset (S1 I, S2 I, S1 II -> S2 II)."""
    from sen_preproc.dataset.split import SplitConfig, build_dataset

    _setup_logging(verbose, quiet)
    config = SplitConfig(jpg="jpg" in formats, targets=targets, **options)
    info = build_dataset(config, progress=progress_bars(quiet))
    counts = info.raw["counts"]
    click.echo(f"{info.folder}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _parse_centre(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError as err:
        raise click.BadParameter(f"{value!r}: give LON,LAT in degrees, e.g. 4.75,50.65") from err
    return lon, lat


def _split_dates(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@cli.command("synth")
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Scene folder.")
@click.option(
    "--size-km", type=float, default=6.0, show_default=True, help="Side of the square region (km)."
)
@click.option(
    "--dates",
    callback=_split_dates,
    default=",".join(SYNTH_DATES),
    show_default=True,
    help="Sentinel-2 dates (YYYY-MM-DD, increasing, one year); S1 follows its repeat cycle.",
)
@click.option(
    "--bands",
    callback=parse_band_option,
    default="B2,B3,B4,B8",
    show_default=True,
    help="Bands of the truth rasters (the products hold every L2A band).",
)
@click.option(
    "--clouds",
    default="auto",
    show_default=True,
    metavar="auto|none|FRACTION",
    help="Cloud cover: auto (first date clear, others 5-35 %), none, a fraction for the dates after the first, or one fraction per date (0,0.3,0).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same bytes)."
)
@click.option(
    "--centre",
    callback=_parse_centre,
    default=",".join(f"{v:g}" for v in SYNTH_CENTRE),
    show_default=True,
    metavar="LON,LAT",
    help="Centre of the region (any UTM zone).",
)
@click.option(
    "--s1-repeat",
    "s1_repeat_days",
    type=click.Choice(["6", "12"]),
    default="12",
    show_default=True,
    callback=lambda ctx, param, value: int(value),
    help="Sentinel-1 repeat cycle (days): 12 for one satellite, 6 for two.",
)
@click.option(
    "--ascending",
    is_flag=True,
    default=False,
    help="Sentinel-1 ascending passes (default descending).",
)
@click.option(
    "--zip",
    "zipped",
    is_flag=True,
    default=False,
    help="Zip the SAFE products as ESA distributes them.",
)
@overwrite_opt
@quiet_opt
@verbose_opt
@handle_errors
def synth_command(quiet: bool, verbose: int, **options: Any) -> None:
    """Simulate a region observed by Sentinel-1 and Sentinel-2 at several dates: raw SAFE
    products, a DEM, the truth (cloud-free reflectance, land cover, vegetation, changes) and
    scenario.json."""
    from sen_preproc.synth.build import SynthConfig, build_synth

    _setup_logging(verbose, quiet)
    click.echo(str(build_synth(SynthConfig(**options), progress_bars(quiet))))


@cli.group("graph")
def graph_group() -> None:
    """Write the concrete SNAP GPT graph for a product without running it (for SNAP Desktop's
    Graph Builder or a cluster's own gpt)."""


def _graph_version(snap_version: str | None, gpt: Path | None) -> Any:
    from sen_preproc.errors import GptNotFoundError
    from sen_preproc.snap.engine import SnapOptions, snap_version_for
    from sen_preproc.snap.install import find_gpt

    install = None
    if snap_version is None:
        try:
            install = find_gpt(gpt)
        except GptNotFoundError:
            install = None
    return snap_version_for(SnapOptions(gpt=gpt, snap_version=snap_version), install)


def _graph(sensor: str, product: Path, options: dict[str, Any]) -> None:
    """The body of ``senprep graph s1`` and ``senprep graph s2``."""
    from sen_preproc.snap.engine import render_graph, write_graph_file

    verbose = options.pop("verbose")
    _setup_logging(verbose, verbose == 0)
    out, target, overwrite = options.pop("out"), options.pop("target"), options.pop("overwrite")
    version = _graph_version(options.pop("snap_version"), options.pop("gpt"))
    config = _chain_config(sensor, product, None, False, options)
    rendered, _ = render_graph(sensor, config, target, version)
    click.echo(str(write_graph_file(rendered, out, overwrite=overwrite, inputs=config.inputs())))


@graph_group.command("s1")
@click.argument("product", type=click.Path(path_type=Path))
@s1_options
@grid_options
@allow_large_opt
@graph_output_options
@handle_errors
def graph_s1_command(product: Path, **options: Any) -> None:
    """The Sentinel-1 GRD graph for PRODUCT, with the options of `senprep s1`."""
    _graph("s1", product, options)


@graph_group.command("s2")
@click.argument("product", type=click.Path(path_type=Path))
@s2_options
@crs_opt
@like_opt
@aoi_opt
@allow_large_opt
@graph_output_options
@handle_errors
def graph_s2_command(product: Path, **options: Any) -> None:
    """The Sentinel-2 graph for PRODUCT (L2A; L1C with --atmcor sen2cor runs Sen2Cor)."""
    _graph("s2", product, options)


@graph_group.command("collocate")
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    required=True,
    help="Reference product (its grid is kept).",
)
@click.option(
    "--secondary",
    type=click.Path(path_type=Path),
    required=True,
    help="Product resampled onto the reference grid.",
)
@click.option(
    "--resampling",
    default="BILINEAR_INTERPOLATION",
    show_default=True,
    help="Collocate's resampling (NEAREST_NEIGHBOUR, BILINEAR_INTERPOLATION, CUBIC_CONVOLUTION, ...).",
)
@graph_output_options
@handle_errors
def graph_collocate_command(
    reference: Path,
    secondary: Path,
    resampling: str,
    out: Path,
    target: Path | None,
    snap_version: str | None,
    gpt: Path | None,
    overwrite: bool,
    verbose: int,
) -> None:
    """S1/S2 collocation: the secondary resampled onto the reference grid (SNAP's Collocate)."""
    from sen_preproc.snap.engine import collocate_options, write_graph_file
    from sen_preproc.snap.render import render_collocate

    _setup_logging(verbose, verbose == 0)
    target = target or Path.cwd() / "collocated.tif"
    options = collocate_options(reference, secondary, target, resampling)
    version = _graph_version(snap_version, gpt)
    rendered = render_collocate(options, version)
    click.echo(
        str(write_graph_file(rendered, out, overwrite=overwrite, inputs=(reference, secondary)))
    )


@cli.command("doctor")
@click.option("--gpt", type=click.Path(path_type=Path), default=None, help="gpt to check.")
def doctor_command(gpt: Path | None) -> None:
    """Check the installation: SNAP/gpt, Java heap, auxdata, esa_snappy, Sen2Cor, PROJ grids, GPU.

    Exits 0 even when optional parts are missing (the Python engine needs none of them)."""
    from sen_preproc.doctor import format_report, run_checks

    logging.basicConfig(level=logging.ERROR, force=True)
    click.echo(format_report(run_checks(gpt=gpt)))


def main() -> None:
    """Entry point of ``senprep`` and ``python -m sen_preproc`` (SIGTERM/SIGHUP clean up like
    Ctrl-C: :mod:`sen_preproc.interrupts`)."""
    from sen_preproc.interrupts import run_command

    run_command(cli, "senprep")


if __name__ == "__main__":
    main()
