"""Patch windows and leakage-free spatial splits (pure functions, exact arithmetic).

Patches of ``size_px`` at ``stride_px`` as the MCcGAN paper (and WHU-SEN-City) cut them:
``n = floor((length - size) / stride) + 1`` per axis, offsets ``0, stride, 2·stride, ...``.
With overlapping strides a random split leaks (neighbouring patches share pixels), so splits are
spatial: the scene is divided into disjoint blocks (row/column bands, or a test area) and a patch
belongs to a split only when it lies entirely inside that split's block; patches straddling two
blocks are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely.geometry

from sen_preproc.errors import OptionError

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Patch:
    """A patch window: top-left ``(row, col)`` and side ``size`` in pixels."""

    row: int
    col: int
    size: int


def patch_count(length_px: int, size_px: int, stride_px: int) -> int:
    """Number of patches along an axis of ``length_px`` pixels."""
    if size_px <= 0 or stride_px <= 0:
        raise OptionError(f"--size and --stride must be positive, got {size_px} and {stride_px}")
    if length_px < size_px:
        return 0
    return (length_px - size_px) // stride_px + 1


def patch_grid(height_px: int, width_px: int, size_px: int, stride_px: int) -> list[Patch]:
    """All patch windows of a ``height x width`` image, row-major."""
    rows = patch_count(height_px, size_px, stride_px)
    cols = patch_count(width_px, size_px, stride_px)
    return [Patch(r * stride_px, c * stride_px, size_px) for r in range(rows) for c in range(cols)]


@dataclass(frozen=True)
class SplitSpec:
    """How to split: ``axis`` (rows/cols) with fractions, and/or a test area (pixel box)."""

    axis: str = "rows"
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    test_box_px: tuple[float, float, float, float] | None = None  # (col0, row0, col1, row1)
    align_px: int = 1  # band boundaries snapped to multiples of this (the stride)


def parse_split(text: str) -> SplitSpec:
    """``rows:0.8,0.1,0.1`` / ``cols:0.9,0,0.1`` -> :class:`SplitSpec`."""
    axis, _, values = text.partition(":")
    axis = axis.strip().lower()
    try:
        fractions = tuple(float(v) for v in values.split(","))
    except ValueError as err:
        raise OptionError(f"invalid --split {text!r}; use e.g. rows:0.8,0.1,0.1") from err
    if axis not in ("rows", "cols") or len(fractions) != 3 or min(fractions) < 0:
        raise OptionError(
            f"invalid --split {text!r}; use rows:TRAIN,VAL,TEST or cols:TRAIN,VAL,TEST"
        )
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise OptionError(f"--split fractions must add up to 1, got {sum(fractions):g} in {text!r}")
    return SplitSpec(axis=axis, fractions=(fractions[0], fractions[1], fractions[2]))


def split_boundaries(
    length_px: int, fractions: tuple[float, float, float], align_px: int = 1
) -> tuple[int, int, int, int]:
    """Pixel boundaries ``0 <= b1 <= b2 <= length`` of the train/val/test bands, snapped to
    multiples of ``align_px`` (the stride, so no patch position is lost to a boundary)."""
    b1 = int(round(length_px * fractions[0] / align_px)) * align_px
    b2 = int(round(length_px * (fractions[0] + fractions[1]) / align_px)) * align_px
    return 0, min(b1, length_px), min(b2, length_px), length_px


def assign_split(patch: Patch, height_px: int, width_px: int, spec: SplitSpec) -> str | None:
    """The split of ``patch`` (``train``/``val``/``test``), or None when it straddles blocks."""
    fractions = spec.fractions
    if spec.test_box_px is not None:
        box = shapely.geometry.box(*spec.test_box_px)
        square = shapely.geometry.box(
            patch.col, patch.row, patch.col + patch.size, patch.row + patch.size
        )
        if box.contains(square):
            return "test"
        if box.intersection(square).area > 0:
            return None
        # outside the test area the band fractions only divide train and val
        total = (fractions[0] + fractions[1]) or 1.0
        fractions = (fractions[0] / total, fractions[1] / total, 0.0)
    length = height_px if spec.axis == "rows" else width_px
    start = patch.row if spec.axis == "rows" else patch.col
    bounds = split_boundaries(length, fractions, spec.align_px)
    for index, name in enumerate(SPLIT_NAMES):
        if bounds[index] <= start and start + patch.size <= bounds[index + 1]:
            return name
    return None
