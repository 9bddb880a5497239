"""Output-size sanity checks, made before any heavy work.

A mistyped ``--pixel-size 0.1`` (or ``--resolution 1e-9``, or a ``--like`` grid at 10 cm) used
to run on and write gigabytes. Every command that chooses an output grid estimates it first:

* its size (pixels x bands x bytes, uncompressed) is logged;
* it is refused when it is more than :data:`MAX_DENSIFICATION` times denser than the input's
  pixels, or holds more than :data:`MAX_OUTPUT_PIXELS` pixels per band, with the figures and the
  fix; ``--allow-large-output`` writes it anyway;
* a warning is given when the uncompressed estimate exceeds the free space of the output folder
  (DEFLATE usually halves it, so this is only a warning).

Memory does not grow with the output: the chains work in blocks and spill their scratch images
to disk beyond ``max_memory_bytes``.
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from sen_preproc.errors import OptionError
from sen_preproc.grid import RasterGrid

LOGGER = logging.getLogger(__name__)

MAX_DENSIFICATION = 100.0
"""Most output pixels per input pixel (by area) accepted without ``--allow-large-output``."""

MAX_OUTPUT_PIXELS = 2_000_000_000
"""Most pixels per band accepted without ``--allow-large-output`` (a whole S1 IW scene at 10 m
is ~0.4 Gpx, an S2 tile at 10 m 0.12 Gpx)."""

METRES_PER_DEGREE = 111_320.0

ALLOW_OPTION = "--allow-large-output"


@dataclass(frozen=True)
class OutputEstimate:
    """What an output grid will cost."""

    width: int
    height: int
    bands: int
    bytes_per_sample: int
    pixel_area_m2: float
    input_pixel_area_m2: float

    @property
    def pixels(self) -> int:
        """Pixels per band."""
        return self.width * self.height

    @property
    def bytes(self) -> int:
        """Uncompressed size in bytes."""
        return self.pixels * self.bands * self.bytes_per_sample

    @property
    def densification(self) -> float:
        """Output pixels per input pixel over the same area."""
        return self.input_pixel_area_m2 / self.pixel_area_m2


def pixel_area_m2(grid: RasterGrid) -> float:
    """Ground area of one pixel of ``grid`` in m² (degrees converted at the grid's latitude)."""
    width_px, height_px = grid.pixel_size
    area = abs(width_px * height_px)
    if grid.crs.is_geographic:
        lat = grid.transform.f + grid.transform.e * grid.height / 2
        area *= METRES_PER_DEGREE**2 * max(math.cos(math.radians(lat)), 1e-3)
    return area


def format_bytes(count: float) -> str:
    """``1.5 GB``-style size (decimal units)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def check_output_size(
    grid: RasterGrid,
    *,
    bands: int,
    bytes_per_sample: int,
    input_pixel_size_m: float,
    out: Path,
    fix: str,
    option: str = "--pixel-size",
    allow_large: bool = False,
) -> OutputEstimate:
    """Estimate the output of ``grid`` and refuse absurd requests.

    Parameters
    ----------
    grid : RasterGrid
        The output grid.
    bands, bytes_per_sample : int
        Bands written (data and auxiliary) and bytes per sample (2 for uint16, 4 for float32).
    input_pixel_size_m : float
        The input's pixel spacing in metres (its finest, for several inputs).
    out : Path
        The output file (its folder's free space is checked).
    fix : str
        The option that sets the grid, for the message (e.g. ``"a larger --pixel-size"``).
    option : str
        The pixel-size option, for the advice on a single-pixel grid.
    allow_large : bool
        ``--allow-large-output``: log the estimate but refuse nothing.

    Raises
    ------
    OptionError
        The grid is over :data:`MAX_DENSIFICATION` times denser than the input or over
        :data:`MAX_OUTPUT_PIXELS` per band, unless ``allow_large``.
    """
    estimate = OutputEstimate(
        width=grid.width,
        height=grid.height,
        bands=bands,
        bytes_per_sample=bytes_per_sample,
        pixel_area_m2=pixel_area_m2(grid),
        input_pixel_area_m2=input_pixel_size_m**2,
    )
    size = (
        f"{grid.width} x {grid.height} px x {bands} bands ({format_bytes(estimate.bytes)} "
        "uncompressed)"
    )
    LOGGER.info("output %s, %.3g output pixels per input pixel", size, estimate.densification)
    reasons = []
    if estimate.densification > MAX_DENSIFICATION:
        reasons.append(
            f"{estimate.densification:.3g} output pixels per {input_pixel_size_m:g} m input pixel "
            f"(limit {MAX_DENSIFICATION:g})"
        )
    if estimate.pixels > MAX_OUTPUT_PIXELS:
        reasons.append(f"over {MAX_OUTPUT_PIXELS / 1e9:g} gigapixels per band")
    if estimate.pixels == 1:
        reasons.append("a single pixel (the pixel size is larger than the area)")
    if reasons and not allow_large:
        advice = (
            f"choose a smaller {option} or a larger area"
            if estimate.pixels == 1
            else f"choose {fix}"
        )
        raise OptionError(
            f"{out}: the output grid would be {size}: {'; '.join(reasons)}; {advice}, or "
            f"pass {ALLOW_OPTION} to write it anyway"
        )
    try:
        free = shutil.disk_usage(out.parent).free
    except OSError:
        return estimate
    if estimate.bytes > free:
        LOGGER.warning(
            "%s: the output may need up to %s and the folder has %s free",
            out,
            format_bytes(estimate.bytes),
            format_bytes(free),
        )
    return estimate
