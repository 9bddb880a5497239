"""Networks of mccgan (plain ``nn.Module`` s needing nothing but torch)."""

from __future__ import annotations

from torch import nn

from mccgan.networks.patchgan import PatchDiscriminator, receptive_field_px
from mccgan.networks.unet import NORMS, ResidualGenerator, UNetGenerator


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """pix2pix's initialisation: convolution weights ~ N(0, std), biases 0; normalisation
    weights ~ N(1, std), biases 0. Draws from torch's global generator (seed it first)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm2d, nn.InstanceNorm2d)) and layer.weight is not None:
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)
    return module


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "NORMS",
    "PatchDiscriminator",
    "ResidualGenerator",
    "UNetGenerator",
    "count_parameters",
    "init_weights",
    "receptive_field_px",
]
