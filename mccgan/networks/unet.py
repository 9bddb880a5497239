"""The MCcGAN generator: a U-Net of ``depth`` down-sampling and ``depth`` up-sampling layers.

Xiong et al. (2021, Section 2.5) use the pix2pix generator (Isola et al. 2017): eight 4 x 4
stride-2 convolutions (64-128-256-512-512-512-512-512 filters at ``ngf = 64``; LeakyReLU 0.2
before each but the first; batch normalisation after each but the first and the innermost),
then eight 4 x 4 stride-2 transposed convolutions back up, each fed the concatenation of the
layer above and the matching encoder layer (ReLU before each; batch normalisation after each
but the last; dropout 0.5 in the three deepest blocks above the innermost), and a Tanh output.
Convolutions followed by batch normalisation carry no bias (it would be absorbed). At
``ngf = 64`` the 3 -> 3 network has 54 413 955 parameters.

Inputs whose sides are not multiples of ``2 ** depth`` are reflect-padded and the output
cropped back, so any size works.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batch": functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True),
    "instance": functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False),
}
"""Normalisation layers by name (``--norm``)."""


def _norm_layer(norm: str) -> Callable[[int], nn.Module]:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; use one of {', '.join(NORMS)}")
    return NORMS[norm]


class _Block(nn.Module):
    """One U-Net level: down-convolution, the inner levels, up-convolution, skip concatenation.

    ``outer`` channels come in (and go out, before the concatenation); ``inner`` are the
    channels of this level's encoder output.
    """

    def __init__(
        self,
        outer: int,
        inner: int,
        *,
        submodule: nn.Module | None,
        input_channels: int | None = None,
        outermost: bool = False,
        dropout: bool = False,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.outermost = outermost
        make_norm = _norm_layer(norm)
        use_bias = norm == "instance"  # batch norm absorbs the bias
        incoming = input_channels if input_channels is not None else outer
        down = nn.Conv2d(incoming, inner, 4, stride=2, padding=1, bias=use_bias)
        layers: list[nn.Module]
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1)
            layers = [down, submodule, nn.ReLU(True), up, nn.Tanh()]  # type: ignore[list-item]
        elif submodule is None:  # innermost: no normalisation after the down-convolution
            up = nn.ConvTranspose2d(inner, outer, 4, stride=2, padding=1, bias=use_bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, make_norm(outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1, bias=use_bias)
            layers = [nn.LeakyReLU(0.2, True), down, make_norm(inner), submodule]
            layers += [nn.ReLU(True), up, make_norm(outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            out: torch.Tensor = self.model(x)
            return out
        return torch.cat([x, self.model(x)], dim=1)


class UNetGenerator(nn.Module):
    """U-Net generator (``2 * depth`` layers).

    Parameters
    ----------
    in_channels : int
        Input channels (MCcGAN: 2 + 2 + C, S1 I, S1 II, S2 I).
    out_channels : int
        Output channels (C, the S2 bands at date II).
    ngf : int
        Filters of the first layer (doubling to ``8 * ngf``).
    depth : int
        Down-sampling layers (8 for 256 x 256 inputs: the innermost level is 1 x 1).
    norm : str
        ``batch`` or ``instance``.
    dropout : bool
        Dropout 0.5 in the three deepest decoder blocks above the innermost.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        depth: int = 8,
        norm: str = "batch",
        dropout: bool = True,
    ) -> None:
        super().__init__()
        if depth < 5:
            raise ValueError(f"depth {depth} is too small; the U-Net needs at least 5 levels")
        _norm_layer(norm)
        self.depth = depth
        block = _Block(ngf * 8, ngf * 8, submodule=None, norm=norm)
        for _ in range(depth - 5):
            block = _Block(ngf * 8, ngf * 8, submodule=block, dropout=dropout, norm=norm)
        block = _Block(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = _Block(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = _Block(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = _Block(
            out_channels,
            ngf,
            submodule=block,
            input_channels=in_channels,
            outermost=True,
            norm=norm,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` -> ``(N, out_channels, H, W)`` in [-1, 1]."""
        multiple = 2**self.depth
        height, width = x.shape[-2:]
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        out: torch.Tensor = self.model(x)
        return out[..., :height, :width]


class ResidualGenerator(nn.Module):
    """A generator predicting the change from date I: ``clamp(a * x[copy] + b + G(x), -1, 1)``.

    ``x[copy]`` are the input channels of S2 at date I (normalised with the input ranges), ``a``
    and ``b`` map them onto the target's normalisation, so the network ``G`` (the U-Net, tanh
    output) only has to produce what changed: where nothing did, its output near 0 returns the
    date-I reflectance. Not in the paper; ``mccgan train --residual`` (closes most of the gap
    to copying S2 I on stable fields).
    """

    def __init__(self, core: nn.Module, copy_channels: list[int], scale: list[float],
                 offset: list[float]) -> None:  # fmt: skip
        super().__init__()
        if not len(copy_channels) == len(scale) == len(offset):
            raise ValueError("copy_channels, scale and offset need one value per output channel")
        self.core = core
        self.copy_channels = list(copy_channels)
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("offset", torch.tensor(offset, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale, offset = cast(torch.Tensor, self.scale), cast(torch.Tensor, self.offset)
        base = x[:, self.copy_channels] * scale + offset
        out: torch.Tensor = (base + self.core(x)).clamp(-1.0, 1.0)
        return out
