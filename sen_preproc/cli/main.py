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
    aoi_opt,
    common_output_options,
    crs_opt,
    grid_options,
    like_opt,
    overwrite_opt,
    quiet_opt,
    verbose_opt,
)
from sen_preproc.errors import SenPrepError

F = TypeVar("F", bound=Callable[..., Any])


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.INFO if verbose <= 1 else logging.DEBUG)
    if verbose == 0 and not quiet:
        level = logging.WARNING
    logging.basicConfig(
        level=level, format="%(levelname)s: %(message)s", stream=sys.stderr, force=True
    )
    if verbose == 0 and not quiet:
        logging.getLogger("sen_preproc").setLevel(logging.INFO)


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


def _split_pols(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    pols = tuple(p.strip().upper() for p in value.replace(" ", ",").split(",") if p.strip())
    bad = [p for p in pols if p not in ("VV", "VH", "HH", "HV")]
    if bad:
        raise click.BadParameter(f"unknown polarisation {', '.join(bad)}; use VV, VH, HH or HV")
    return pols


@cli.command("s1")
@click.argument("product", type=click.Path(path_type=Path))
@click.option(
    "--pol",
    "polarisations",
    callback=_split_pols,
    default=None,
    metavar="VV,VH",
    help="Polarisations to process (default: all in the product).",
)
@click.option(
    "--border-noise/--no-border-noise",
    default=False,
    show_default=True,
    help="Remove GRD border noise (useful for IPF < 2.9 products).",
)
@click.option(
    "--thermal-noise/--no-thermal-noise",
    default=True,
    show_default=True,
    help="Thermal noise removal (range x azimuth noise LUTs).",
)
@click.option(
    "--orbit-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Precise/restituted orbit file (.EOF, plain or zipped) replacing the annotation orbit.",
)
@click.option(
    "--calibration",
    type=click.Choice(["sigma0", "beta0", "gamma0"]),
    default="sigma0",
    show_default=True,
    help="Radiometric calibration target.",
)
@click.option(
    "--speckle",
    type=click.Choice(
        ["lee", "refined-lee", "lee-sigma", "frost", "gamma-map", "boxcar", "median", "none"]
    ),
    default="lee-sigma",
    show_default=True,
    help="Speckle filter (lee-sigma is SNAP's default).",
)
@click.option(
    "--window",
    "window_px",
    type=int,
    default=7,
    show_default=True,
    help="Speckle filter window size in pixels (odd).",
)
@click.option(
    "--dem",
    type=click.Path(path_type=Path),
    default=None,
    help="DEM GeoTIFF (any CRS). Without it the image is geocoded on the ellipsoid.",
)
@click.option(
    "--dem-datum",
    type=click.Choice(["auto", "egm96", "egm2008", "ellipsoid"]),
    default="auto",
    show_default=True,
    help="Vertical datum of the DEM heights (auto: from its CRS, else EGM96).",
)
@click.option(
    "--no-geoid",
    is_flag=True,
    default=False,
    help="Use the DEM heights as ellipsoidal heights (when PROJ's geoid grid is missing).",
)
@click.option(
    "--scale",
    type=click.Choice(["db", "linear"]),
    default="db",
    show_default=True,
    help="Output scale.",
)
@grid_options
@common_output_options
@handle_errors
def s1_command(
    product: Path, out: Path | None, overwrite: bool, quiet: bool, verbose: int, **options: Any
) -> None:
    """Preprocess a Sentinel-1 GRD PRODUCT (.zip, .SAFE folder or manifest.safe) into a
    terrain-corrected, calibrated GeoTIFF (one band per polarisation)."""
    from sen_preproc.s1 import S1Config, process_s1

    _setup_logging(verbose, quiet)
    no_geoid = options.pop("no_geoid")
    config = S1Config(
        product=product, out=out, overwrite=overwrite, quiet=quiet, geoid=not no_geoid, **options
    )
    path = process_s1(config)
    click.echo(str(path))


def _parse_band_option(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    from sen_preproc.s2 import parse_bands

    try:
        return parse_bands(value)
    except SenPrepError as err:
        raise click.BadParameter(str(err)) from err


def _parse_classes(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as err:
        raise click.BadParameter(f"{value!r}: give SCL class numbers like 0,1,3,8,9,10") from err


@cli.command("s2")
@click.argument("product", type=click.Path(path_type=Path))
@click.option(
    "--bands",
    callback=_parse_band_option,
    default="B2,B3,B4,B8",
    show_default=True,
    help="Bands to keep, e.g. B2,B3,B4,B8; 'rgb' (B4,B3,B2) and 'rgbn' (B2,B3,B4,B8) are the paper's sets.",
)
@click.option(
    "--resolution",
    "resolution_m",
    type=float,
    default=10.0,
    show_default=True,
    help="Output resolution in metres (20/60 m bands: bilinear upsampling; finer bands: averaging).",
)
@click.option(
    "--dtype",
    type=click.Choice(["uint16", "float32"]),
    default="uint16",
    show_default=True,
    help="uint16 = reflectance x 10000 (nodata 0); float32 = reflectance (nodata NaN).",
)
@click.option(
    "--invalid-classes",
    "invalid_scl",
    callback=_parse_classes,
    default="0,1,3,8,9,10",
    show_default=True,
    help="SCL classes marked invalid in the 'valid' band.",
)
@click.option(
    "--atmcor",
    type=click.Choice(["none", "sen2cor"]),
    default="none",
    show_default=True,
    help="For L1C input: run Sen2Cor (L2A_Process on PATH) first.",
)
@crs_opt
@like_opt
@aoi_opt
@common_output_options
@handle_errors
def s2_command(
    product: Path, out: Path | None, overwrite: bool, quiet: bool, verbose: int, **options: Any
) -> None:
    """Preprocess a Sentinel-2 PRODUCT (L2A/L1C SAFE zip or folder, a folder of band GeoTIFFs or a
    multi-band GeoTIFF) into a reflectance GeoTIFF with a 'valid' (cloud-free) band."""
    from sen_preproc.s2 import S2Config, process_s2

    _setup_logging(verbose, quiet)
    path = process_s2(
        S2Config(product=product, out=out, overwrite=overwrite, quiet=quiet, **options)
    )
    click.echo(str(path))


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
@overwrite_opt
@quiet_opt
@verbose_opt
@handle_errors
def pair_command(quiet: bool, verbose: int, **options: Any) -> None:
    """Co-register a Sentinel-1 and a Sentinel-2 GeoTIFF onto one grid, cropped to their overlap."""
    from sen_preproc.pair import PairConfig, pair_images

    _setup_logging(verbose, quiet)
    click.echo(str(pair_images(PairConfig(quiet=quiet, **options))))


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
    type=click.Choice(["tif", "jpg"]),
    multiple=True,
    default=("tif",),
    show_default=True,
    help="jpg additionally writes the paper's 8-bit JPGs.",
)
@overwrite_opt
@quiet_opt
@verbose_opt
@handle_errors
def split_command(
    quiet: bool, verbose: int, formats: tuple[str, ...], targets: tuple[Path, ...], **options: Any
) -> None:
    """Cut aligned pairs into the multi-temporal patch dataset (S1 I, S2 I, S1 II -> S2 II)."""
    from sen_preproc.split import SplitConfig, build_dataset

    _setup_logging(verbose, quiet)
    out = build_dataset(SplitConfig(quiet=quiet, jpg="jpg" in formats, targets=targets, **options))
    import json as _json

    counts = _json.loads((out / "stats.json").read_text())["counts"]
    click.echo(f"{out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def main() -> None:
    """Entry point for ``python -m sen_preproc``."""
    cli()


if __name__ == "__main__":
    main()
