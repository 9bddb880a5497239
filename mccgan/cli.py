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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
