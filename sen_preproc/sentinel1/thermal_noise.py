"""Thermal-noise LUTs of Sentinel-1 GRD products (ESA MPC-0392, SNAP ThermalNoiseRemoval).

``N(l, p) = noiseRangeLut(l, p) x noiseAzimuthLut(l)`` for IPF >= 2.9, where the range LUT is
bilinear between vectors and the azimuth LUT is linear in line within the block (sub-swath
rectangle) containing the pixel; older IPFs have the range LUT only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sen_preproc.sentinel1.product import NoiseModel

FloatArray = npt.NDArray[np.float64]


def compute_noise_lut(
    noise: NoiseModel, row_start: int, row_stop: int, col_start: int, col_stop: int
) -> FloatArray:
    """Noise power (DN² units) for the image window ``[row_start:row_stop, col_start:col_stop]``.

    Every azimuth block intersecting the window is applied to its own rectangle (blocks cover
    different sub-swaths and, for long products, different line ranges); pixels covered by no
    block keep the range LUT alone.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(row_stop - row_start, col_stop - col_start)``.
    """
    rows = np.arange(row_start, row_stop)
    cols = np.arange(col_start, col_stop)
    lut = noise.range_lut.interpolate(rows, cols)
    for block in noise.azimuth_blocks:
        r0 = max(block.first_line, row_start)
        r1 = min(block.last_line + 1, row_stop)
        c0 = max(block.first_sample, col_start)
        c1 = min(block.last_sample + 1, col_stop)
        if r0 >= r1 or c0 >= c1 or block.lines.size == 0:
            continue
        profile = np.interp(np.arange(r0, r1), block.lines, block.values)
        lut[r0 - row_start : r1 - row_start, c0 - col_start : c1 - col_start] *= profile[:, None]
    return lut
