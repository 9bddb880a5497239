"""The MCcGAN discriminator: a PatchGAN of five convolutions (Isola et al. 2017).

4 x 4 convolutions of 64-128-256-512-1 filters at ``ndf = 64`` with strides 2-2-2-1-1,
LeakyReLU 0.2 after all but the last, batch normalisation after the second to fourth: each
output logit judges a 70 x 70 pixel patch of the concatenated condition and image. At
``ndf = 64`` the network has 2 768 705 parameters for a 6-channel input.
"""

from __future__ import annotations

import torch
from torch import nn

from mccgan.networks.unet import _norm_layer


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator.

    Parameters
    ----------
    in_channels : int
        Condition plus image channels (MCcGAN: 2 + 2 + C + C).
    ndf : int
        Filters of the first convolution.
    n_layers : int
        Stride-2 convolutions after the first (3: the 70 x 70 PatchGAN).
    norm : str
        ``batch`` or ``instance``.
    """

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"
    ) -> None:
        super().__init__()
        make_norm = _norm_layer(norm)
        use_bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            previous, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * previous, ndf * mult, 4, stride=stride, padding=1, bias=use_bias),
                make_norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` -> logits ``(N, 1, H', W')`` (30 x 30 for 256 x 256)."""
        out: torch.Tensor = self.model(x)
        return out


def receptive_field_px(n_layers: int = 3) -> int:
    """Receptive field (pixels) of one output logit of :class:`PatchDiscriminator`."""
    kernel, strides = 4, [2] * n_layers + [1, 1]
    field = 1
    for stride in reversed(strides):
        field = (field - 1) * stride + kernel
    return field
