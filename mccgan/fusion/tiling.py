"""Sliding-window geometry for full-scene inference: tile origins, blending weights, and the
generator's effective receptive field (how far a pixel's prediction looks).

Overlapping tiles are blended with a separable raised-cosine window that never reaches zero
(a pixel at a tile's edge keeps weight ``floor``): the weighted mean of the overlapping
predictions changes smoothly from one tile to the next, so no seam is visible, and where tiles
agree (a model that reproduces an input band) the blend returns that value exactly.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import torch
from torch import nn


def tile_starts(length_px: int, tile_px: int, overlap_px: int) -> list[int]:
    """Origins of tiles of ``tile_px`` covering ``[0, length_px)`` with at least
    ``overlap_px`` of overlap between neighbours; the last tile ends at ``length_px``.

    A scene shorter than a tile has one tile (of the scene's length).
    """
    if tile_px < 1 or not 0 <= overlap_px < tile_px:
        raise ValueError(
            f"tile {tile_px} px with overlap {overlap_px} px: need 0 <= overlap < tile"
        )
    if length_px <= tile_px:
        return [0]
    stride = tile_px - overlap_px
    count = math.ceil((length_px - tile_px) / stride) + 1
    # spread the tiles evenly between 0 and length - tile (overlaps >= overlap_px)
    return [round(i * (length_px - tile_px) / (count - 1)) for i in range(count)]


def blend_window(tile_px: int, overlap_px: int, floor: float = 1e-3) -> npt.NDArray[np.float64]:
    """1-D blending weights of a tile: a raised-cosine ramp over ``overlap_px`` at both ends,
    1 in between, never below ``floor``. The 2-D window is the outer product."""
    weights = np.ones(tile_px, dtype=np.float64)
    ramp = min(overlap_px, tile_px // 2)
    if ramp > 0:
        x = (np.arange(ramp) + 0.5) / ramp
        rise = 0.5 - 0.5 * np.cos(np.pi * x)
        weights[:ramp] = rise
        weights[tile_px - ramp :] = rise[::-1]
    return np.maximum(weights, floor)


def effective_receptive_field(
    generator: nn.Module, in_channels: int, size_px: int, fraction: float = 0.99
) -> int:
    """The radius (px) around an output pixel holding ``fraction`` of the absolute gradient of
    that pixel with respect to the input (random input, eval mode; Luo et al. 2016): how far
    the generator effectively looks, which the tile overlap must cover."""
    was_training = generator.training
    generator.eval()
    try:
        x = torch.zeros(1, in_channels, size_px, size_px).uniform_(
            -1, 1, generator=torch.Generator().manual_seed(0)
        )
        x.requires_grad_(True)
        out = generator(x)
        centre = size_px // 2
        out[:, :, centre, centre].sum().backward()
        assert x.grad is not None
        grad = x.grad.abs().sum(dim=(0, 1)).numpy().astype(np.float64)
    finally:
        generator.train(was_training)
    rows, cols = np.indices(grad.shape)
    radius = np.maximum(np.abs(rows - centre), np.abs(cols - centre)).ravel()
    order = np.argsort(radius, kind="stable")
    cumulative = np.cumsum(grad.ravel()[order])
    total = cumulative[-1]
    if total <= 0:
        return 0
    index = int(np.searchsorted(cumulative, fraction * total))
    return int(radius[order][min(index, radius.size - 1)])
