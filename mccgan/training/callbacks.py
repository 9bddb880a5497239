"""Training callbacks: epoch-seeded augmentation, validation image strips, Ctrl-C checkpoint,
and stopping a run after N epochs (to resume it later, e.g. under a cluster's time limit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from mccgan.data import TrainingData, denormalise
from mccgan.training.module import GanModule
from sen_preproc import quicklook
from sen_preproc.interrupts import Terminated

INTERRUPTED_CKPT = "interrupted.ckpt"


class EpochSeed(Callback):
    """Tells the datasets (augmentations) and the sampler which epoch starts."""

    def __init__(self, data: TrainingData, sampler: Any | None) -> None:
        self.data = data
        self.sampler = sampler

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.data.set_epoch(trainer.current_epoch)
        if self.sampler is not None and hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(trainer.current_epoch)


class StopAfterEpochs(Callback):
    """Ends this run after ``epochs`` epochs from where it started (0: never)."""

    def __init__(self, epochs: int, total: int) -> None:
        self.epochs = epochs
        self.total = total

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.epochs:
            trainer.fit_loop.max_epochs = min(self.total, trainer.current_epoch + self.epochs)


class BroadcastBuffers(Callback):
    """With several processes, copies rank 0's buffers (BatchNorm running statistics) to the
    others before validation and at the end. DDP does so at the start of each training step,
    so after the last step of an epoch the ranks' statistics differ by their last batches;
    this makes validation, checkpoints and the exported model the same on every rank.
    (SyncBatchNorm would be the alternative, but it runs on GPUs only.)"""

    def _broadcast(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (
            trainer.world_size > 1
            and torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            for buffer in pl_module.buffers():
                torch.distributed.broadcast(buffer, src=0)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._broadcast(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._broadcast(trainer, pl_module)


class InterruptCheckpoint(Callback):
    """On Ctrl-C, SIGTERM or SIGHUP (a scheduler's pre-emption), saves
    ``checkpoints/interrupted.ckpt`` (``--resume`` continues from it)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / INTERRUPTED_CKPT
        self.saved = False

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        stopped = isinstance(exception, (KeyboardInterrupt, Terminated))
        if stopped and trainer.global_rank == 0:
            trainer.save_checkpoint(self.path)
            self.saved = True


def _rgb(image: torch.Tensor, bands: tuple[str, ...], scale: float) -> np.ndarray:
    order = [bands.index(b) for b in ("B4", "B3", "B2") if b in bands]
    if len(order) < 3:
        order = [0, min(1, len(bands) - 1), min(2, len(bands) - 1)]
    r, g, b = (image[i].numpy().astype(np.float64) for i in order)
    return quicklook.s2_rgb(r, g, b, scale)


class ValidationImages(Callback):
    """A PNG strip of validation samples every ``every_epochs`` epochs and after the last:
    S2 I, S2 II real (invalid pixels black), S2 II generated (true colour)."""

    def __init__(self, folder: Path, every_epochs: int) -> None:
        self.folder = folder
        self.every = every_epochs

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.every or trainer.global_rank != 0 or trainer.sanity_checking:
            return
        last = trainer.max_epochs is not None and trainer.current_epoch == trainer.max_epochs - 1
        if trainer.current_epoch % self.every and not last:
            return
        if not isinstance(pl_module, GanModule) or not pl_module.preview:
            return
        preview = pl_module.preview
        normalisation = pl_module.normalisation
        bands = normalisation.target_bands
        scale = 10000.0 if normalisation.s2_unit == "reflectance_x10000" else 1.0
        panels = []
        for index, sample in enumerate(preview):
            images = {
                k: denormalise(sample[k], normalisation.target) for k in ("copy", "target", "fake")
            }
            masked = images["target"].clone()
            masked[:, ~sample["mask"][0]] = 0.0  # invalid pixels black
            panels += [
                (f"{index}: S2 I", _rgb(images["copy"], bands, scale)),
                (f"{index}: S2 II real (valid)", _rgb(masked, bands, scale)),
                (f"{index}: S2 II generated", _rgb(images["fake"], bands, scale)),
            ]
        self.folder.mkdir(parents=True, exist_ok=True)
        quicklook.mosaic(
            panels, self.folder / f"epoch_{trainer.current_epoch:03d}.png", columns=3, width_px=160
        )
