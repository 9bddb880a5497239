"""``mccgan train``: one training run, from a :class:`~mccgan.config.TrainConfig` to ``model.pt``.

::

    RUN/
      run.json                 the configuration, the datasets seen, versions (the run marker)
      checkpoints/last.ckpt    every epoch (and every N steps with checkpoint_every_steps)
      checkpoints/best.ckpt    the lowest validation L1
      checkpoints/interrupted.ckpt   after Ctrl-C
      logs/metrics.csv         per-step losses, per-epoch validation metrics (and TensorBoard
                               event files when tensorboard is installed)
      images/epoch_NNN.png     validation strips
      model.pt                 the exported generator (:mod:`mccgan.training.export`)

Training runs on PyTorch Lightning (manual optimisation of the two optimisers), so devices,
``ddp`` over several GPUs or nodes (torchrun, SLURM), mixed precision, checkpoints and resuming
come from it. ``--resume`` continues from the newest checkpoint with the model, optimisers,
schedulers, epoch, step and random states restored.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import lightning as L
import numpy as np
import torch
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader, Sampler

from mccgan import __version__
from mccgan.config import TrainConfig
from mccgan.data import TrainingData, load_training_data
from mccgan.devices import pick_device
from mccgan.errors import CheckpointError, ConfigError
from mccgan.registry import model_spec
from mccgan.training.callbacks import (
    INTERRUPTED_CKPT,
    BroadcastBuffers,
    EpochSeed,
    InterruptCheckpoint,
    StopAfterEpochs,
    ValidationImages,
)
from mccgan.training.checkpoint_io import StreamingCheckpointIO
from mccgan.training.export import export_model
from mccgan.training.module import GanModule, auto_depth
from sen_preproc.interrupts import Terminated
from sen_preproc.outputs import check_output_folder

LOGGER = logging.getLogger(__name__)
RUN_FORMAT = "mccgan-run"
BENIGN_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning 2.6 with torch 2.13
    r"Checkpoint directory .* exists and is not empty",  # resuming
    r"The number of training batches .* is smaller than the logging interval",
    r"Experiment logs directory .* exists",  # resuming: the CSV log is continued
    r"The '(train|val)_dataloader' does not have many workers",
)
RUN_ENTRIES = {"run.json", "checkpoints", "logs", "images", "model.pt"}


class EpochSampler(Sampler[int]):
    """A permutation of the indices drawn from ``(seed, epoch)``: the order does not depend on
    any global random state, so resumed runs see the same batches.

    A run resumed in the middle of an epoch (from ``interrupted.ckpt`` or a step checkpoint)
    starts after the batches the trainer has already done (``batches_done``, set to read the
    trainer's progress): Lightning then runs the remaining batches of the epoch, the same ones
    an uninterrupted run would have seen."""

    def __init__(self, size: int, seed: int, batch_size: int) -> None:
        self.size = size
        self.seed = seed
        self.batch_size = batch_size
        self.epoch = 0
        self.batches_done: Callable[[], int] = lambda: 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        return iter(order[self.batches_done() * self.batch_size :].tolist())

    def __len__(self) -> int:
        return self.size


@dataclass
class TrainResult:
    """What a run produced."""

    folder: Path
    model: Path | None
    metrics: dict[str, float]
    interrupted: bool
    epochs_done: int


def _foreign_run_entries(folder: Path) -> list[str] | None:
    try:
        document = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("format") != RUN_FORMAT:
        return None
    return sorted(p.name for p in folder.iterdir() if p.name not in RUN_ENTRIES)


def _resume_checkpoint(folder: Path) -> Path:
    checkpoints = [folder / "checkpoints" / name for name in (INTERRUPTED_CKPT, "last.ckpt")]
    found = [p for p in checkpoints if p.is_file()]
    if not found:
        raise CheckpointError(
            f"{folder}: nothing to resume (no checkpoints/last.ckpt); start without --resume"
        )
    return max(found, key=lambda p: p.stat().st_mtime_ns)


def _process_rank() -> int:
    """This process's global rank, as Lightning reads it from the environment at import
    (``RANK``, ``LOCAL_RANK``, ``SLURM_PROCID``; 0 when started alone)."""
    return int(getattr(rank_zero_only, "rank", 0))


def check_run_folder(config: TrainConfig) -> Path | None:
    """Check the run folder; returns the checkpoint to resume from (or None). Nothing is
    written: :func:`create_run_folder` clears and creates it once the data and the model
    are ready, so a run that fails to start leaves nothing behind.

    Only the first process checks and clears the folder: with ``ddp`` the other ranks (started
    by Lightning, torchrun or SLURM, their rank in the environment) start after it or beside it.
    """
    folder = Path(config.out)
    if config.resume:
        if _foreign_run_entries(folder) is None:
            raise ConfigError(
                f"{folder}: not an mccgan run folder; --resume needs the --out of an earlier run"
            )
        return _resume_checkpoint(folder)
    if _process_rank() != 0:
        return None
    check_output_folder(
        folder, overwrite=config.overwrite, inputs=[Path(p) for p in config.data],
        foreign_entries=_foreign_run_entries, kind="an mccgan run folder",
    )  # fmt: skip
    return None


def create_run_folder(config: TrainConfig) -> None:
    """Remove an earlier run's entries (``--overwrite``, checked by :func:`check_run_folder`)
    and create the folder. Only the first process (see :func:`check_run_folder`)."""
    folder = Path(config.out)
    if config.resume or _process_rank() != 0:
        return
    if folder.exists() and config.overwrite:
        for entry in RUN_ENTRIES:
            target = folder / entry
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    folder.mkdir(parents=True, exist_ok=True)


def _accelerator(device: str) -> str:
    """Lightning's accelerator name for ``--device``."""
    kind = pick_device(device).type
    return "gpu" if kind == "cuda" else kind


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing ``metrics.csv``; this one continues it (a
    resumed run keeps the history of its earlier sessions)."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = sorted(next(csv.reader(file), []))


class _ResumableCSVLogger(CSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return cast(ExperimentWriter, self._experiment)


def _loggers(folder: Path) -> list[Logger]:
    loggers: list[Logger] = [_ResumableCSVLogger(save_dir=str(folder), name="logs", version="")]
    try:
        import tensorboard  # noqa: F401
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(folder), name="logs", version="tensorboard"))
    except ImportError:
        pass
    return loggers


def _loaders(
    config: TrainConfig, data: TrainingData, distributed: bool, accelerator: str
) -> tuple[DataLoader[Any], DataLoader[Any] | None, Any]:
    pin = accelerator == "gpu"
    # own generators: starting an iterator then draws its workers' base seed from them, not
    # from the global RNG (which a resumed run restores mid-epoch, after the iterator started)
    common: dict[str, Any] = {"batch_size": config.batch_size, "num_workers": config.workers,
                              "pin_memory": pin, "persistent_workers": config.workers > 0}  # fmt: skip
    sampler = None if distributed else EpochSampler(len(data.train), config.seed, config.batch_size)
    train = DataLoader(data.train, sampler=sampler, shuffle=distributed, drop_last=False,
                       generator=torch.Generator().manual_seed(config.seed), **common)  # fmt: skip
    val = (
        DataLoader(
            data.val, shuffle=False, generator=torch.Generator().manual_seed(config.seed), **common
        )
        if data.val is not None
        else None
    )
    return train, val, sampler


def _sample_size(data: TrainingData) -> int:
    first = data.train.datasets[0].patches  # type: ignore[attr-defined]
    return int(first.info.size_px)


def train(
    config: TrainConfig, *, quiet: bool = False, callbacks: list[Any] | None = None
) -> TrainResult:
    """Run ``config`` (validated) to the end, or to ``stop_after_epochs``, or to Ctrl-C."""
    config.validate()
    spec = model_spec(config.model)
    resume_from = check_run_folder(config)
    folder = Path(config.out)
    L.seed_everything(config.seed, workers=True, verbose=False)
    data = load_training_data(config, spec)
    depth = config.depth or auto_depth(_sample_size(data))
    module = GanModule(spec, config, data.normalisation, data.in_channels, data.out_channels, depth)
    accelerator = _accelerator(config.device)
    distributed = config.devices * config.num_nodes > 1
    train_loader, val_loader, sampler = _loaders(config, data, distributed, accelerator)
    create_run_folder(config)
    checkpoints = folder / "checkpoints"
    monitor = "val/l1" if val_loader is not None else None
    callback_list: list[Any] = [
        ModelCheckpoint(dirpath=str(checkpoints), filename="best", monitor=monitor, mode="min",
                        save_top_k=1, save_last=True, auto_insert_metric_name=False,
                        enable_version_counter=False),
        EpochSeed(data, sampler),
        BroadcastBuffers(),
        StopAfterEpochs(config.stop_after_epochs, config.total_epochs),
        ValidationImages(folder / "images", config.images_every_epochs),
    ]  # fmt: skip
    if config.checkpoint_every_steps:
        callback_list.append(
            ModelCheckpoint(
                dirpath=str(checkpoints),
                filename="step",
                every_n_train_steps=2 * config.checkpoint_every_steps,
                save_top_k=1,
                save_last=True,
                enable_version_counter=False,
            )
        )
    interrupt = InterruptCheckpoint(checkpoints)
    callback_list.append(interrupt)
    if not quiet:  # refreshed every log_every_steps: reading the losses syncs a GPU
        callback_list.append(TQDMProgressBar(refresh_rate=config.log_every_steps))
    callback_list += callbacks or []
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        # the discriminator's step leaves the generator's parameters without gradients (and
        # the generator's step the discriminator's): DDP must look for unused parameters
        strategy=DDPStrategy(find_unused_parameters=True)
        if config.strategy == "ddp" or distributed
        else "auto",
        precision=config.precision,  # type: ignore[arg-type]
        max_epochs=config.total_epochs,
        limit_train_batches=config.limit_train_batches or None,
        log_every_n_steps=config.log_every_steps,
        num_sanity_val_steps=0,
        enable_progress_bar=not quiet,
        enable_model_summary=False,
        # torch's deterministic mode fills every new tensor (~6 % of a CPU step); the CPU
        # kernels used here are deterministic without it (the resume tests check bit-equality)
        deterministic=config.deterministic,
        default_root_dir=str(folder),
        logger=_loggers(folder),
        callbacks=callback_list,
        plugins=[StreamingCheckpointIO()],
    )
    if (
        sampler is not None
    ):  # batches of the current epoch done: 0, or those before a mid-epoch checkpoint
        sampler.batches_done = lambda: int(trainer.fit_loop.epoch_loop.batch_progress.current.ready)
    if trainer.global_rank == 0:
        _write_run_json(folder, config, data, resume_from)
    sigint_handler = signal.getsignal(signal.SIGINT)
    try:
        with warnings.catch_warnings():
            for message in BENIGN_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
            if sampler is not None:  # it resumes mid-epoch (with DDP's sampler, the warning stays)
                warnings.filterwarnings(
                    "ignore", message="You're resuming from a checkpoint that ended before"
                )
            trainer.fit(
                module,
                train_loader,
                val_loader,
                ckpt_path=str(resume_from) if resume_from else None,
            )
    except SystemExit:  # Lightning's answer to Ctrl-C, after InterruptCheckpoint saved
        if interrupt.saved:
            return TrainResult(folder, None, {}, True, trainer.current_epoch)
        raise
    except Terminated:  # SIGTERM / SIGHUP: the checkpoint is saved, the CLI exits 128 + signal
        if interrupt.saved:
            LOGGER.warning("saved %s; continue with --resume", checkpoints / INTERRUPTED_CKPT)
        raise
    finally:  # Lightning ignores SIGINT from the first Ctrl-C on; give the caller its handler back
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint_handler)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    model_path = None
    if trainer.global_rank == 0:
        model_path = _export(folder, module, spec.name, data, config, callback_list[0], metrics)
        (checkpoints / INTERRUPTED_CKPT).unlink(missing_ok=True)
    return TrainResult(folder, model_path, metrics, False, trainer.current_epoch)


def _write_run_json(
    folder: Path, config: TrainConfig, data: TrainingData, resume_from: Path | None
) -> None:
    path = folder / "run.json"
    document: dict[str, Any] = {}
    if path.is_file():
        document = json.loads(path.read_text())
    runs = document.get("sessions", [])
    runs.append({"started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "resumed_from": str(resume_from) if resume_from else None})  # fmt: skip
    document = {
        "format": RUN_FORMAT,
        "mccgan_version": __version__,
        "config": config.to_dict(),
        "datasets": data.datasets,
        "normalisation": data.normalisation.to_dict(),
        "sessions": runs,
    }
    path.write_text(json.dumps(document, indent=1))


def _export(folder: Path, module: GanModule, model: str, data: TrainingData, config: TrainConfig,
            checkpoint: ModelCheckpoint, metrics: dict[str, float]) -> Path:  # fmt: skip
    """``model.pt`` from the best checkpoint (lowest validation L1), else the last weights."""
    best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    generator = module.generator
    if best is not None and best.is_file():
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        weights = {
            k.removeprefix("generator."): v for k, v in state.items() if k.startswith("generator.")
        }
        generator = module.spec.build_generator(**module.generator_options)
        generator.load_state_dict(weights)
        if checkpoint.best_model_score is not None:
            metrics = metrics | {"best_val/l1": float(checkpoint.best_model_score)}
    first = data.train.datasets[0].patches  # type: ignore[attr-defined]
    bands = {
        "inputs": [n for key in module.spec.inputs for n in first.band_names(key)],
        "target": list(data.target_bands),
    }
    return export_model(
        folder / "model.pt", generator, model=model, generator_options=module.generator_options,
        bands=bands, normalisation=data.normalisation.to_dict(), config=config.to_dict(),
        datasets=data.datasets, metrics=metrics, patch_px=_sample_size(data),
    )  # fmt: skip
