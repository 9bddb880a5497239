"""``mccgan``: thin click commands that build a frozen config and call one library function."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from mccgan import __version__
from mccgan.config import DEFAULTS, DEVICES, GAN_MODES, NORMALISATIONS, PRECISIONS, STRATEGIES
from mccgan.errors import MccganError
from mccgan.fusion import OUTPUT_DTYPES
from mccgan.networks import NORMS
from mccgan.registry import MODELS
from sen_preproc.errors import SenPrepError

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Library errors as one line (exit 1); anything else keeps its traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (MccganError, SenPrepError) as err:
            raise click.ClickException(str(err)) from err

    return wrapper  # type: ignore[return-value]


def config_option(*param_decls: str, help: str = "", **attrs: Any) -> Callable[[F], F]:
    """A ``click.option`` for a :class:`~mccgan.config.TrainConfig` field: no click default
    (so that only options given on the command line override the YAML file), the field's
    default shown in the help."""
    name = next((d for d in param_decls if not d.startswith("-")), None)
    if name is None:
        name = param_decls[0].split("/")[0].lstrip("-").replace("-", "_")
    default = DEFAULTS[name]
    shown = default if not isinstance(default, bool) else str(default).lower()
    return click.option(
        *param_decls, default=None, help=f"{help} [default: {shown}]".strip(), **attrs
    )


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(
        level=level, format="%(levelname)s: %(message)s", stream=sys.stderr, force=True
    )
    for noisy in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose == 0 else level)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mccgan")
def cli() -> None:
    """MCcGAN: cloud-free Sentinel-2-like images from Sentinel-1 and an earlier Sentinel-2."""


@cli.command("train")
@click.option(
    "--data",
    multiple=True,
    help="A senprep split dataset folder (repeat to pool), or a text file listing them.",
)
@config_option("--model", type=click.Choice(sorted(MODELS)), help="Registry model.")
@click.option(
    "--out", "-o", type=str, default=None, help="Run folder (checkpoints, logs, images, model.pt)."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="YAML file of options (command-line options win).",
)
@config_option("--epochs", type=int, help="Epochs at the initial learning rate.")
@config_option("--epochs-decay", type=int, help="Epochs of linear decay to zero.")
@config_option("--batch-size", type=int, help="Samples per step (per device).")
@config_option("--lr", type=float, help="Adam learning rate (both networks).")
@config_option("--lambda-l1", type=float, help="Weight of the L1 term.")
@config_option("--gan-mode", type=click.Choice(GAN_MODES))
@config_option("--ngf", type=int, help="Generator filters of the first layer.")
@config_option("--ndf", type=int, help="Discriminator filters of the first layer.")
@config_option(
    "--depth", type=int, help="U-Net depth (0: as deep as the patch size allows, 8 at 256 px)."
)
@config_option("--norm", type=click.Choice(sorted(NORMS)))
@config_option("--augment/--no-augment", help="Random flips and 90° rotations.")
@config_option("--residual/--no-residual",
               help="Predict the change from S2 I (output = S2 I + network; not in the paper).")  # fmt: skip
@config_option("--normalisation", type=click.Choice(NORMALISATIONS),
              help="range: the paper's clipping ranges; stats: mean ± 3σ of the training split.")  # fmt: skip
@config_option("--device", type=click.Choice(DEVICES), help="auto: CUDA, else MPS, else CPU.")
@config_option("--devices", type=int, help="Devices (GPUs or CPU processes) per node.")
@config_option("--num-nodes", type=int)
@config_option("--strategy", type=click.Choice(STRATEGIES))
@config_option("--precision", type=click.Choice(PRECISIONS), help="Mixed precision on GPU.")
@config_option("--workers", type=int, help="DataLoader worker processes.")
@config_option("--seed", type=int, help="Seed of weights, sampling, augmentation and dropout.")
@config_option(
    "--deterministic/--no-deterministic",
    help="torch's deterministic algorithms: GPU runs repeat exactly (slower).",
)
@config_option("--log-every", "log_every_steps", type=int, help="Log the losses every N steps.")
@config_option(
    "--images-every",
    "images_every_epochs",
    type=int,
    help="Validation image strip every N epochs (0: none).",
)
@config_option(
    "--checkpoint-every",
    "checkpoint_every_steps",
    type=int,
    help="Also save a checkpoint every N steps (0: every epoch only).",
)
@config_option(
    "--stop-after-epochs",
    type=int,
    help="End this run after N epochs (continue later with --resume).",
)
@config_option("--limit-train-batches", type=int, help="Batches per epoch (0: all).")
@config_option(
    "--resume", is_flag=True, help="Continue the run in --out from its newest checkpoint."
)
@config_option("--overwrite", is_flag=True, help="Replace an earlier mccgan run in --out.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="No progress bar.")
@click.option("--verbose", "-v", count=True)
@click.pass_context
@handle_errors
def train_command(
    ctx: click.Context, /, config_path: Path | None, quiet: bool, verbose: int, **options: Any
) -> None:
    """Train a model on senprep split datasets; writes checkpoints, logs, validation images and
    model.pt into --out."""
    from mccgan.config import build_config
    from mccgan.training.run import train

    _setup_logging(verbose, quiet)
    given = {
        name: value
        for name, value in options.items()
        if ctx.get_parameter_source(name)
        in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
        and value is not None
    }
    config = build_config(given, config_path)
    result = train(config, quiet=quiet)
    if result.interrupted:
        click.echo(
            f"interrupted: saved {result.folder / 'checkpoints' / 'interrupted.ckpt'}; continue with --resume",
            err=True,
        )
        sys.exit(130)
    metrics = result.metrics
    line = ", ".join(f"{k.removeprefix('val/')} {v:.4g}" for k, v in sorted(metrics.items()))
    click.echo(f"{result.model}: {line}" if result.model else str(result.folder))


@cli.command("fuse")
@click.option("--model", "model", type=click.Path(path_type=Path), required=True,
              help="model.pt written by mccgan train.")  # fmt: skip
@click.option("--ref", type=click.Path(path_type=Path),
              help="Reference date I: a senprep pair (S1 + S2 + valid).")  # fmt: skip
@click.option("--s1-ref", type=click.Path(path_type=Path), help="Reference S1 (instead of --ref).")
@click.option("--s2-ref", type=click.Path(path_type=Path),
              help="Reference S2 (instead of --ref); its grid is the output grid.")  # fmt: skip
@click.option("--target-s1", type=click.Path(path_type=Path), required=True,
              help="S1 of the target date II (senprep s1 or pair); resampled onto the grid if needed.")  # fmt: skip
@click.option("--target-s2", type=click.Path(path_type=Path),
              help="Cloudy S2 of date II: keep its clear pixels, fill the rest (gap filling).")  # fmt: skip
@click.option("--mask", type=click.Path(path_type=Path),
              help="Cloud mask on the grid (1 = fill) instead of --target-s2's valid band.")  # fmt: skip
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output COG.")
@click.option("--tile-size", "tile_px", type=int, default=0, show_default=True,
              help="Tile size in px (0: the model's training patch size).")  # fmt: skip
@click.option("--overlap", "overlap_px", type=int, default=-1, show_default=True,
              help="Tile overlap in px (-1: from the generator's effective receptive field).")  # fmt: skip
@click.option(
    "--batch-size", type=int, default=8, show_default=True, help="Tiles per forward pass."
)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(PRECISIONS), default="32", show_default=True,
              help="Mixed precision (GPU only).")  # fmt: skip
@click.option("--mc-dropout", type=int, default=0, show_default=True,
              help="Keep dropout on, average N passes, write std_<band> uncertainty bands.")  # fmt: skip
@click.option("--dtype", type=click.Choice(OUTPUT_DTYPES), default="auto", show_default=True,
              help="auto: as the reference S2 (uint16 x 10 000, or float32 0-1).")  # fmt: skip
@click.option("--feather", "feather_px", type=float, default=8.0, show_default=True,
              help="Gap filling: px over which cloud edges blend into the real image.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace an earlier mccgan output.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="No progress bar.")
@click.option("--verbose", "-v", count=True)
@handle_errors
def fuse_command(quiet: bool, verbose: int, **options: Any) -> None:
    """A cloud-free S2-like image of the target date over the reference grid (COG)."""
    from mccgan.fusion.fuse import FuseConfig, fuse_scene
    from sen_preproc.cli.progress import progress_bars

    _setup_logging(verbose, quiet)
    result = fuse_scene(FuseConfig(**options), progress_bars(quiet))
    filled = (
        ""
        if result.filled_fraction is None
        else f", {100 * result.filled_fraction:.1f} % gap-filled"
    )
    click.echo(f"{result.path}: {result.tiles} tiles{filled}")


def _pairs(values: tuple[str, ...], option: str) -> tuple[tuple[str, str], ...]:
    out = []
    for text in values:
        name, sep, spec = text.partition("=")
        if not sep or not name or not spec:
            raise click.BadParameter(f"{text!r}: give NAME=FILE", param_hint=option)
        out.append((name, spec))
    return tuple(out)


@cli.command("evaluate")
@click.option("--pred", "preds", multiple=True, metavar="[LABEL=]FILE",
              help="Prediction (mccgan fuse output); repeat to compare several.")  # fmt: skip
@click.option("--truth", type=click.Path(path_type=Path),
              help="Truth S2 at date II (senprep s2 or pair output; its valid band is used).")  # fmt: skip
@click.option("--ref", type=click.Path(path_type=Path),
              help="S2 at date I (or its pair): adds the copy-the-reference baseline.")  # fmt: skip
@click.option(
    "--mask", type=click.Path(path_type=Path), help="Evaluate only where this raster is non-zero."
)
@click.option("--region", "regions", multiple=True, metavar="NAME=FILE[:[!]BAND]",
              help="Extra rows for a sub-area: where BAND (default the first) is non-zero, or zero with !.")  # fmt: skip
@click.option("--data-range", type=float,
              help="PSNR/SSIM peak (default 10000 for reflectance, 255 for 8-bit data).")  # fmt: skip
@click.option("--patches", type=click.Path(path_type=Path),
              help="Evaluate --model on the test split of this senprep split dataset instead.")  # fmt: skip
@click.option("--model", type=click.Path(path_type=Path), help="model.pt (with --patches).")
@click.option(
    "--figures/--no-figures", default=True, show_default=True, help="Write the PNG figures."
)
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Report folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier mccgan evaluation report.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="Print nothing but errors.")
@click.option("--verbose", "-v", count=True)
@handle_errors
def evaluate_command(preds: tuple[str, ...], regions: tuple[str, ...], quiet: bool, verbose: int,
                     **options: Any) -> None:  # fmt: skip
    """Score predictions against the truth (RMSE, MAE, R², KGE, SSIM, PSNR, SAM, NDVI) and write
    metrics.json, metrics.csv, metrics.md and figures into --out."""
    from mccgan.evaluation.evaluate import EvaluateConfig, evaluate, markdown_tables, parse_labelled
    from sen_preproc.cli.progress import progress_bars

    _setup_logging(verbose, quiet)
    config = EvaluateConfig(
        preds=parse_labelled(preds, "--pred"), regions=_pairs(regions, "--region"), **options
    )
    report = evaluate(config, progress_bars(quiet))
    if not quiet:
        click.echo(markdown_tables(report).rstrip())
    click.echo(f"report: {config.out / 'metrics.md'}")


def main() -> None:
    """Entry point of ``mccgan`` and ``python -m mccgan`` (SIGTERM/SIGHUP clean up like Ctrl-C:
    :mod:`sen_preproc.interrupts`)."""
    from sen_preproc.interrupts import run_command

    run_command(cli, "mccgan")


if __name__ == "__main__":
    main()
