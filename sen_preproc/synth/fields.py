"""Spatially correlated random fields on a pixel grid (FFT synthesis), deterministic for a seed.

* :func:`gaussian_field` - zero-mean, unit-variance Gaussian field with a Gaussian covariance of
  correlation length ``length_px`` (within-field texture, soil moisture, relief details);
* :func:`fractal_field` - power-law (``1/f^beta``) noise, the spectral model of cloud
  fields (Lovejoy 1982; Cahalan et al. 1994 found ``beta ~ 5/3`` for cloud liquid water), used
  for cloud shapes and haze.

Both are synthesised in the Fourier domain on the padded grid, so the cost is a few FFTs of the
grid (a 2000 x 2000 px field takes ~1 s), and their statistics do not depend on the grid size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _spectrum_grid(shape: tuple[int, int]) -> tuple[FloatArray, FloatArray]:
    ky = np.fft.fftfreq(shape[0])[:, None].astype(np.float64)
    kx = np.fft.rfftfreq(shape[1])[None, :].astype(np.float64)
    return ky, kx


def _synthesise(
    shape: tuple[int, int], amplitude: FloatArray, rng: np.random.Generator
) -> FloatArray:
    noise = rng.standard_normal((shape[0], shape[1] // 2 + 1)) + 1j * rng.standard_normal(
        (shape[0], shape[1] // 2 + 1)
    )
    field = np.fft.irfft2(noise * amplitude, s=shape)
    std = float(field.std())
    out: FloatArray = (field - field.mean()) / (std if std > 0 else 1.0)
    return out


def gaussian_field(
    shape: tuple[int, int], length_px: float, rng: np.random.Generator
) -> FloatArray:
    """Gaussian random field, mean 0, standard deviation 1, Gaussian covariance with
    correlation length ``length_px`` (pixels; the covariance falls to 1/e at that lag)."""
    padded = (shape[0] + int(2 * length_px) + 2, shape[1] + int(2 * length_px) + 2)
    ky, kx = _spectrum_grid(padded)
    k2 = kx * kx + ky * ky
    # covariance exp(-r^2 / L^2)  <->  power spectrum exp(-pi^2 L^2 k^2)
    amplitude = np.exp(-0.5 * (np.pi * length_px) ** 2 * k2)
    field = _synthesise(padded, amplitude, rng)[: shape[0], : shape[1]]
    out: FloatArray = (field - field.mean()) / max(float(field.std()), 1e-12)
    return out


def fractal_field(
    shape: tuple[int, int],
    beta: float,
    rng: np.random.Generator,
    outer_scale_px: float | None = None,
) -> FloatArray:
    """Power-law noise with spectrum ``|k|^-beta`` (mean 0, standard deviation 1).

    ``outer_scale_px`` caps the largest structures (the spectrum is flat below
    ``1 / outer_scale_px``), default the grid size.
    """
    ky, kx = _spectrum_grid(shape)
    k = np.sqrt(kx * kx + ky * ky)
    k0 = 1.0 / (outer_scale_px or max(shape))
    amplitude = np.maximum(k, k0) ** (-0.5 * beta)
    amplitude[0, 0] = 0.0
    return _synthesise(shape, amplitude, rng)
