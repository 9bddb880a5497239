"""Radiometric calibration of GRD digital numbers (ESA S1-RS-MDA-52-7448, SNAP Calibration).

``sigma0 = (DN² - N) / A²`` with ``A`` the sigmaNought (betaNought, gamma) LUT interpolated
bilinearly in line/pixel and ``N`` the thermal-noise LUT (see :mod:`sen_preproc.sentinel1.thermal_noise`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sen_preproc.errors import OptionError
from sen_preproc.sentinel1.luts import LutGrid

FloatArray = npt.NDArray[np.float64]

CALIBRATION_LUTS = {"sigma0": "sigmaNought", "beta0": "betaNought", "gamma0": "gamma"}
"""Calibration target -> annotation LUT name."""

NOISE_FLOOR_DN2 = 1e-5
"""Denoised intensities below this are set to it, as SNAP's ThermalNoiseRemoval does
(``clipNegativeValues``), in DN² units before calibration."""


def calibration_lut_name(target: str) -> str:
    """Annotation LUT name for a calibration target (``sigma0``, ``beta0`` or ``gamma0``)."""
    try:
        return CALIBRATION_LUTS[target]
    except KeyError as err:
        raise OptionError(
            f"unknown calibration target {target!r}; use one of {', '.join(CALIBRATION_LUTS)}"
        ) from err


def calibrate_dn(
    dn: npt.NDArray[np.generic],
    calibration_lut: LutGrid,
    row_start: int,
    col_start: int,
    noise_dn2: FloatArray | None = None,
    *,
    clip_negative: bool = True,
) -> npt.NDArray[np.float32]:
    """Calibrate a window of GRD digital numbers to linear backscatter.

    Parameters
    ----------
    dn : numpy.ndarray
        Amplitude DN (uint16), shape ``(rows, cols)``, at image offset
        ``(row_start, col_start)``. DN = 0 is nodata.
    calibration_lut : LutGrid
        The sigmaNought, betaNought or gamma LUT.
    noise_dn2 : numpy.ndarray, optional
        Thermal-noise power for the same window (DN² units); ``None`` skips noise removal.
        Pixels where the noise LUT is 0 are left un-denoised (SNAP convention).
    clip_negative : bool
        Set denoised intensities below :data:`NOISE_FLOOR_DN2` to it (SNAP default).

    Returns
    -------
    numpy.ndarray
        float32 linear backscatter (m²/m²), NaN where DN = 0.
    """
    rows, cols = dn.shape
    amplitude = calibration_lut.interpolate(
        np.arange(row_start, row_start + rows), np.arange(col_start, col_start + cols)
    )
    intensity = dn.astype(np.float64) ** 2
    valid = np.asarray(dn, dtype=np.float64) > 0
    if noise_dn2 is not None:
        intensity -= noise_dn2
        if clip_negative:
            np.maximum(intensity, NOISE_FLOOR_DN2, out=intensity)
    result = intensity / (amplitude * amplitude)
    result[~valid] = np.nan
    return result.astype(np.float32)
