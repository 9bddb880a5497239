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
from sen_preproc.cli.options import common_output_options, grid_options
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


def main() -> None:
    """Entry point for ``python -m sen_preproc``."""
    cli()


if __name__ == "__main__":
    main()
