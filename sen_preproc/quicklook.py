"""Quick-look images (PIL only): Sentinel-2 true colour, Sentinel-1 VV/VH composites, change
masks, side by side with captions.

* S2 RGB: B4, B3, B2 reflectance stretched linearly over 0..0.25 (×10 000: 0..2500), a gamma of
  0.8; no data black.
* S1: R = VV, G = VH, B = VV - VH (the usual dual-pol composite), VV over -20..0 dB, VH over
  -27..-7 dB, ratio over 2..12 dB.
* Change masks: one colour per event code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

CHANGE_COLOURS = {
    0: (40, 40, 40), 1: (60, 200, 60), 2: (240, 200, 40), 3: (150, 230, 150),
    4: (150, 90, 40), 5: (40, 110, 240), 6: (200, 140, 60),
}  # fmt: skip
"""Colour of each change code (none, growth, harvest, mowing, ploughing, flooding,
senescence)."""


def _stretch(
    values: npt.NDArray[np.floating], low: float, high: float, gamma: float = 1.0
) -> npt.NDArray[np.uint8]:
    scaled = np.clip((np.nan_to_num(values, nan=low) - low) / (high - low), 0.0, 1.0) ** gamma
    out: npt.NDArray[np.uint8] = np.round(scaled * 255).astype(np.uint8)
    return out


def s2_rgb(
    red: npt.NDArray[np.floating],
    green: npt.NDArray[np.floating],
    blue: npt.NDArray[np.floating],
    scale: float = 1.0,
) -> npt.NDArray[np.uint8]:
    """True colour from reflectance bands (``scale`` 10 000 for reflectance x 10 000)."""
    rgb = np.dstack([_stretch(b / scale, 0.0, 0.25, 0.8) for b in (red, green, blue)])
    missing = ~np.isfinite(red) | (red <= 0)
    rgb[missing] = 0
    return rgb


def s1_composite(
    vv_db: npt.NDArray[np.floating], vh_db: npt.NDArray[np.floating]
) -> npt.NDArray[np.uint8]:
    """Dual-pol composite (VV, VH, VV - VH) from dB."""
    return np.dstack(
        [
            _stretch(vv_db, -20.0, 0.0),
            _stretch(vh_db, -27.0, -7.0),
            _stretch(vv_db - vh_db, 2.0, 12.0),
        ]
    )


def change_colours(mask: npt.NDArray[np.integer]) -> npt.NDArray[np.uint8]:
    out = np.zeros((*mask.shape, 3), dtype=np.uint8)
    for code, colour in CHANGE_COLOURS.items():
        out[mask == code] = colour
    return out


def mosaic(
    panels: Sequence[tuple[str, npt.NDArray[np.uint8]]],
    path: Path,
    *,
    columns: int | None = None,
    width_px: int = 300,
) -> Path:
    """Panels (caption, RGB array) in a grid, each scaled to ``width_px``, written as PNG."""
    from PIL import Image, ImageDraw

    columns = columns or len(panels)
    rows = -(-len(panels) // columns)
    tiles = []
    for caption, rgb in panels:
        image = Image.fromarray(rgb)
        height = max(1, round(image.height * width_px / image.width))
        tiles.append((caption, image.resize((width_px, height), Image.Resampling.NEAREST)))
    cell_h = max(t.height for _, t in tiles) + 18
    sheet = Image.new("RGB", (columns * (width_px + 6) + 6, rows * cell_h + 6), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for index, (caption, tile) in enumerate(tiles):
        r, c = divmod(index, columns)
        x, y = 6 + c * (width_px + 6), 6 + r * cell_h
        sheet.paste(tile, (x, y + 16))
        draw.text((x, y + 2), caption, fill=(0, 0, 0))
    sheet.save(path)
    return path
