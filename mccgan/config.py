"""The training configuration: command-line options and a YAML file merged into one frozen,
validated :class:`TrainConfig`, saved in every checkpoint and in the exported model.

Precedence: options given on the command line, then the YAML file (``--config``), then the
defaults. Unknown YAML keys and bad values are one clear line each.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mccgan.errors import ConfigError
from mccgan.networks import NORMS
from mccgan.registry import MODELS

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("32", "16-mixed", "bf16-mixed")
GAN_MODES = ("vanilla", "lsgan")
NORMALISATIONS = ("range", "stats")
STRATEGIES = ("auto", "ddp")
DEFAULT_S1_RANGES_DB = {
    "VV": (-25.0, 0.0),
    "VH": (-32.5, 0.0),
    "HH": (-25.0, 0.0),
    "HV": (-32.5, 0.0),
}
"""S1 dB clipped to these ranges, then mapped to [-1, 1] (the paper's normalisation)."""
DEFAULT_S2_RANGE = (0.0, 10000.0)
"""S2 reflectance x 10 000 clipped to this range, then mapped to [-1, 1]."""


@dataclass(frozen=True)
class TrainConfig:
    """Options of ``mccgan train`` (see ``mccgan train --help`` for each)."""

    data: tuple[str, ...]
    out: str
    model: str = "mccgan"
    epochs: int = 100
    epochs_decay: int = 100
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0
    gan_mode: str = "vanilla"
    ngf: int = 64
    ndf: int = 64
    depth: int = 0  # 0: as deep as the patch size allows, at most 8 (256 px -> 8)
    norm: str = "batch"
    dropout: bool = True
    residual: bool = False  # predict the change from S2 I (not in the paper)
    device: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32"
    workers: int = 0
    seed: int = 0
    deterministic: bool = (
        False  # torch's deterministic algorithms (GPU runs repeat bit for bit; slower)
    )
    augment: bool = False
    normalisation: str = "range"
    s1_ranges_db: dict[str, tuple[float, float]] = field(
        default_factory=lambda: dict(DEFAULT_S1_RANGES_DB)
    )
    s2_range: tuple[float, float] = DEFAULT_S2_RANGE
    checkpoint_every_steps: int = 0
    log_every_steps: int = 10
    images_every_epochs: int = 1
    stop_after_epochs: int = 0  # 0: run to the end; N: stop this run after N epochs (resume later)
    limit_train_batches: int = 0  # 0: all; N: N batches per epoch (quick trials, benches)
    resume: bool = False
    overwrite: bool = False

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.epochs_decay

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (for checkpoints, ``torch.load(weights_only=True)`` and YAML)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            if isinstance(value, dict):
                value = {k: list(v) for k, v in value.items()}
            out[f.name] = value
        return out

    def validate(self) -> None:
        """One clear line for the first bad value, naming its command-line option."""
        if not self.data:
            raise ConfigError("give at least one dataset with --data (a senprep split folder)")
        if self.model not in MODELS:
            raise ConfigError(f"model {self.model!r} is unknown; choose one of {', '.join(MODELS)}")
        positive = {"batch_size": self.batch_size, "ngf": self.ngf, "ndf": self.ndf,
                    "devices": self.devices, "num_nodes": self.num_nodes,
                    "log_every_steps": self.log_every_steps}  # fmt: skip
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{option_name(name)} must be a positive integer, got {value!r}")
        non_negative = {"epochs": self.epochs, "epochs_decay": self.epochs_decay,
                        "workers": self.workers, "seed": self.seed, "depth": self.depth,
                        "checkpoint_every_steps": self.checkpoint_every_steps,
                        "images_every_epochs": self.images_every_epochs,
                        "stop_after_epochs": self.stop_after_epochs,
                        "limit_train_batches": self.limit_train_batches}  # fmt: skip
        for name, value in non_negative.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"{option_name(name)} must be a non-negative integer, got {value!r}"
                )
        for name in ("augment", "dropout", "residual", "deterministic", "resume", "overwrite"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{option_name(name)} must be true or false, got {getattr(self, name)!r}"
                )
        if self.total_epochs < 1:
            raise ConfigError("--epochs + --epochs-decay must be at least 1")
        if self.depth and not 5 <= self.depth <= 10:
            raise ConfigError(f"--depth must be 0 (auto) or 5..10, got {self.depth}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1 and math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a learning rate in (0, 1), got {self.lr!r}")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise ConfigError(f"{option_name(name)} must be within [0, 1), got {value!r}")
        if not (isinstance(self.lambda_l1, (int, float)) and self.lambda_l1 >= 0):
            raise ConfigError(f"--lambda-l1 must be >= 0, got {self.lambda_l1!r}")
        choices = {"gan_mode": GAN_MODES, "norm": tuple(NORMS), "device": DEVICES,
                   "precision": PRECISIONS, "normalisation": NORMALISATIONS,
                   "strategy": STRATEGIES}  # fmt: skip
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"{name} {getattr(self, name)!r} is not one of {', '.join(allowed)}"
                )
        for pol, span in self.s1_ranges_db.items():
            _check_range(f"s1_ranges_db.{pol}", span)
        _check_range("s2_range", self.s2_range)


def _check_range(name: str, span: Any) -> None:
    try:
        low, high = (float(v) for v in span)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name} must be [low, high], got {span!r}") from err
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(f"{name} must be [low, high] with low < high, got {span!r}")


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in FIELDS.values() if f.default is not dataclasses.MISSING
}
"""The default of each option that has one (shown by ``mccgan train --help``)."""


def _coerce(name: str, value: Any) -> Any:
    if name == "data":
        return tuple(str(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
    if name == "s1_ranges_db":
        if not isinstance(value, Mapping):
            raise ConfigError(f"s1_ranges_db must map polarisations to [low, high], got {value!r}")
        return {str(k).upper(): tuple(v) for k, v in value.items()}
    if name == "s2_range":
        return tuple(value) if isinstance(value, (list, tuple)) else value
    if name in (
        "out",
        "model",
        "gan_mode",
        "norm",
        "device",
        "precision",
        "normalisation",
        "strategy",
    ):
        return str(value)
    return value


def load_yaml(path: Path) -> dict[str, Any]:
    """The options of a YAML file (a mapping of :class:`TrainConfig` field names)."""
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the configuration ({err}); check --config") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML ({problem}{where}); fix the file") from err
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"{path}: the configuration must be a mapping of options, got {type(document).__name__}"
        )
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown option(s) {', '.join(unknown)}; valid ones: {', '.join(sorted(FIELDS))}"
        )
    return document


def build_config(cli_options: Mapping[str, Any], yaml_path: Path | None = None) -> TrainConfig:
    """Merge ``cli_options`` (only those given on the command line) over the YAML file and
    the defaults, coerce and validate."""
    merged: dict[str, Any] = {}
    if yaml_path is not None:
        merged.update(load_yaml(yaml_path))
    merged.update({k: v for k, v in cli_options.items() if v is not None})
    missing = [name for name in ("data", "out") if name not in merged]
    if missing:
        raise ConfigError(
            f"give {' and '.join('--' + m for m in missing)} (or set them in --config)"
        )
    try:
        config = TrainConfig(**{k: _coerce(k, v) for k, v in merged.items()})
    except TypeError as err:
        raise ConfigError(f"invalid configuration ({err})") from err
    config.validate()
    return config


_OPTION_NAMES = {
    "log_every_steps": "--log-every",
    "checkpoint_every_steps": "--checkpoint-every",
    "images_every_epochs": "--images-every",
}


def option_name(field_name: str) -> str:
    """The command-line option of a config field (``epochs_decay`` -> ``--epochs-decay``);
    the same key names the value in a ``--config`` YAML file."""
    return _OPTION_NAMES.get(field_name, "--" + field_name.replace("_", "-"))


def config_from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """The inverse of :meth:`TrainConfig.to_dict` (checkpoints, exported models)."""
    known = {k: _coerce(k, v) for k, v in values.items() if k in FIELDS}
    return TrainConfig(**known)
