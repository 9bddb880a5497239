"""The GAN training step (pix2pix's objective, as MCcGAN trains it) on PyTorch Lightning.

Per batch, with manual optimisation of the two optimisers (Isola et al. 2017):

1. **discriminator**: ``L_D = ½ [GAN(D(x, y), real) + GAN(D(x, G(x)), fake)]``;
2. **generator**: ``L_G = GAN(D(x, G(x)), real) + λ · L1(G(x), y)``, λ = 100;

with ``GAN`` the binary cross-entropy on logits (``vanilla``) or the least-squares loss
(``lsgan``), Adam (lr 2e-4, β = 0.5, 0.999) for both and a learning rate constant for
``epochs`` then decaying linearly to zero over ``epochs_decay``. Invalid target pixels (clouds,
no data: ``mask`` 0) never enter a loss: the L1 is a masked mean, and both the real and the
generated image are zeroed there before the discriminator sees them, so whatever a cloudy pixel
holds has no effect on training.

Validation reports the masked L1, RMSE and PSNR of S2 at date II in the dataset's units
(reflectance x 10 000) and the SSIM (Gaussian window 11, σ 1.5) averaged over valid pixels,
with the same metrics for copying S2 at date I (``copy_*``), the baseline a model must beat.
"""

from __future__ import annotations

import math
import random
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mccgan.config import TrainConfig
from mccgan.data import Normalisation, denormalise
from mccgan.errors import ConfigError
from mccgan.registry import ModelSpec


def gan_loss(logits: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """The adversarial loss of ``logits`` against all-real or all-fake labels."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` ``(N, C, H, W)`` over the pixels where ``mask`` ``(N, 1, H, W)`` is
    true (0 when there are none)."""
    weights = mask.to(values.dtype).expand_as(values)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def linear_decay(epochs: int, epochs_decay: int) -> Any:
    """pix2pix's ``linear`` policy: factor 1 for ``epochs``, then down to 0 over ``epochs_decay``."""

    def factor(epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - epochs) / float(epochs_decay + 1)

    return factor


def masked_ssim(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, data_range: float
) -> torch.Tensor:
    """SSIM map (torchmetrics, Gaussian 11, σ 1.5) averaged over valid pixels.

    The windows of pixels near a cloud reach into it: there the target takes the prediction's
    values, so what a cloudy pixel holds never changes the result."""
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    filled = torch.where(mask, target, pred)
    _, full = ssim(pred.float(), filled.float(), data_range=data_range, return_full_image=True)
    return masked_mean(full, mask)  # type: ignore[arg-type]


def residual_options(
    spec: ModelSpec, normalisation: Normalisation, in_channels: int, out_channels: int
) -> dict[str, list[Any]]:
    """What :class:`~mccgan.networks.ResidualGenerator` needs: the input channels of S2 I (the
    last ``out_channels`` when the model takes S2 I last) and the affine map from their
    normalisation to the target's."""
    if spec.inputs[-1] != "s2_I" or spec.target != "s2_II":
        raise ConfigError(f"--residual: model {spec.name} does not take S2 I to predict S2 II")
    first = in_channels - out_channels
    scale, offset = [], []
    for source, target in zip(normalisation.inputs[first:], normalisation.target, strict=True):
        a = (source.high - source.low) / (target.high - target.low)
        scale.append(a)
        offset.append(a - 1.0 + 2.0 * (source.low - target.low) / (target.high - target.low))
    return {"channels": list(range(first, in_channels)), "scale": scale, "offset": offset}


class GanModule(L.LightningModule):
    """Generator + discriminator of a registry model, trained as a conditional GAN."""

    def __init__(
        self,
        spec: ModelSpec,
        config: TrainConfig,
        normalisation: Normalisation,
        in_channels: int,
        out_channels: int,
        depth: int,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.spec = spec
        self.config = config
        self.normalisation = normalisation
        self.generator_options = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "ngf": config.ngf,
            "depth": depth,
            "norm": config.norm,
            "dropout": config.dropout,
            "residual": residual_options(spec, normalisation, in_channels, out_channels)
            if config.residual
            else None,
        }
        self.generator = spec.build_generator(**self.generator_options)
        self.discriminator = (
            spec.build_discriminator(in_channels + out_channels, ndf=config.ndf, norm=config.norm)
            if spec.adversarial and spec.build_discriminator is not None
            else None
        )
        self.data_range = normalisation.target[0].high - normalisation.target[0].low
        self.preview: list[dict[str, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.generator(x)
        return out

    def configure_optimizers(self) -> Any:
        betas = (self.config.beta1, self.config.beta2)
        factor = linear_decay(self.config.epochs, self.config.epochs_decay)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.config.lr, betas=betas)
        optimizers = [opt_g]
        if self.discriminator is not None:
            optimizers.append(
                torch.optim.Adam(self.discriminator.parameters(), lr=self.config.lr, betas=betas)
            )
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]
        return optimizers, schedulers

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> None:
        x, y, mask = batch["input"], batch["target"], batch["mask"]
        optimizers = self.optimizers()
        opt_g, opt_d = (
            (optimizers[0], optimizers[1]) if isinstance(optimizers, list) else (optimizers, None)
        )
        fake = self.generator(x)
        zero = torch.zeros((), device=x.device, dtype=fake.dtype)
        real_pair = torch.cat([x, torch.where(mask, y, zero)], dim=1)
        logs: dict[str, torch.Tensor] = {}
        if self.discriminator is not None and opt_d is not None:
            self.toggle_optimizer(opt_d)
            fake_pair = torch.cat([x, torch.where(mask, fake, zero).detach()], dim=1)
            loss_d = 0.5 * (
                gan_loss(self.discriminator(real_pair), True, self.config.gan_mode)
                + gan_loss(self.discriminator(fake_pair), False, self.config.gan_mode)
            )
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()
            self.untoggle_optimizer(opt_d)
            logs["loss_d"] = loss_d.detach()
        self.toggle_optimizer(opt_g)
        l1 = masked_mean((fake - y).abs(), mask)
        loss_g = self.config.lambda_l1 * l1
        if self.discriminator is not None:
            fake_pair = torch.cat([x, torch.where(mask, fake, zero)], dim=1)
            loss_g_gan = gan_loss(self.discriminator(fake_pair), True, self.config.gan_mode)
            loss_g = loss_g + loss_g_gan
            logs["loss_g_gan"] = loss_g_gan.detach()
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        logs["loss_g"] = loss_g.detach()
        logs["loss_l1"] = l1.detach()
        self.log_dict(
            {f"train/{k}": v for k, v in logs.items()}, prog_bar=True, on_step=True, on_epoch=False
        )

    def on_train_epoch_end(self) -> None:
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()  # type: ignore[union-attr]
        optimizers = self.optimizers()
        first = optimizers[0] if isinstance(optimizers, list) else optimizers
        self.log("train/lr", first.param_groups[0]["lr"], sync_dist=True)

    def _metrics(
        self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, prefix: str
    ) -> dict[str, torch.Tensor]:
        ranges = self.normalisation.target
        pred_u, target_u = denormalise(pred.float(), ranges), denormalise(target.float(), ranges)
        l1 = masked_mean((pred_u - target_u).abs(), mask)
        mse = masked_mean((pred_u - target_u) ** 2, mask)
        psnr = 10.0 * torch.log10(self.data_range**2 / mse.clamp_min(1e-12))
        ssim = masked_ssim(pred_u, target_u, mask, self.data_range)
        return {
            f"{prefix}l1": l1,
            f"{prefix}rmse": mse.sqrt(),
            f"{prefix}psnr": psnr,
            f"{prefix}ssim": ssim,
        }

    def validation_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> None:
        x, y, mask = batch["input"], batch["target"], batch["mask"]
        fake = self.generator(x)
        size = x.shape[0]
        self.log_dict({f"val/{k}": v for k, v in self._metrics(fake, y, mask, "").items()},
                      prog_bar=False, on_epoch=True, batch_size=size, sync_dist=True)  # fmt: skip
        if "copy" in batch:
            copy = self._metrics(batch["copy"], y, mask, "copy_")
            self.log_dict(
                {f"val/{k}": v for k, v in copy.items()},
                on_epoch=True,
                batch_size=size,
                sync_dist=True,
            )
        if len(self.preview) < 4:
            for i in range(min(size, 4 - len(self.preview))):
                self.preview.append({
                    "copy": batch["copy"][i].detach().cpu() if "copy" in batch else y[i].detach().cpu(),
                    "target": y[i].detach().cpu(), "fake": fake[i].detach().float().cpu(),
                    "mask": mask[i].detach().cpu(),
                })  # fmt: skip

    def on_validation_epoch_start(self) -> None:
        self.preview = []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Also the random states, so a resumed run continues the same trajectory."""
        checkpoint["rng_states"] = {
            "torch": torch.get_rng_state(),
            # numpy's global generator: other libraries (and user callbacks) may draw from it
            "numpy": _numpy_state_to_tensors(np.random.get_state()),  # noqa: NPY002
            "python": random.getstate(),
        }
        if torch.cuda.is_available():
            checkpoint["rng_states"]["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint["mccgan"] = {
            "config": self.config.to_dict(),
            "normalisation": self.normalisation.to_dict(),
            "generator": dict(self.generator_options),
            "model": self.spec.name,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get("rng_states")
        if not states:
            return
        torch.set_rng_state(states["torch"])
        np.random.set_state(_numpy_state_from_tensors(states["numpy"]))  # noqa: NPY002
        random.setstate(states["python"])
        if "cuda" in states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])


def _numpy_state_to_tensors(state: Any) -> tuple[Any, ...]:
    """numpy's RNG state with its key array as a tensor, so that checkpoints load with
    ``torch.load(weights_only=True)`` (Lightning's default when resuming)."""
    name, keys, position, has_gauss, cached = state
    return (
        str(name),
        torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        int(position),
        int(has_gauss),
        float(cached),
    )


def _numpy_state_from_tensors(state: tuple[Any, ...]) -> tuple[Any, ...]:
    name, keys, position, has_gauss, cached = state
    return (name, keys.numpy().astype(np.uint32), position, has_gauss, cached)


def auto_depth(size_px: int, maximum: int = 8) -> int:
    """The U-Net depth for ``size_px`` patches: as deep as the size allows (the innermost
    level 1 x 1), at most ``maximum`` (256 px -> 8, the paper's network)."""
    return max(5, min(maximum, int(math.floor(math.log2(max(size_px, 32))))))


def count(module: nn.Module | None) -> int:
    return sum(p.numel() for p in module.parameters()) if module is not None else 0
