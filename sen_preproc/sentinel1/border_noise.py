"""GRD border-noise removal (the low-valued noise strips at the near/far range edges).

Older IPF (< 2.9) GRD products carry strips of low, non-zero DN at the range edges of each
line. SNAP's Remove-GRD-Border-Noise (``borderLimit=500``, ``trimThreshold=0.5``) trims them
before calibration. We follow the same idea, vectorised per strip of lines: within
``border_limit_px`` samples of each range edge, the pixels outward of the first one whose
thermal-noise-corrected intensity reaches ``trim_threshold`` times the median intensity of the
line's interior are set to nodata. (SNAP's exact per-line search differs in detail; the result
on real border noise - a contiguous low strip against the edge - is the same.)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BORDER_LIMIT_PX = 500
TRIM_THRESHOLD = 0.5


def border_noise_mask(
    intensity_dn2: npt.NDArray[np.floating],
    col_start: int,
    image_samples: int,
    *,
    border_limit_px: int = BORDER_LIMIT_PX,
    trim_threshold: float = TRIM_THRESHOLD,
) -> npt.NDArray[np.bool_]:
    """Pixels of a window that are GRD border noise.

    Parameters
    ----------
    intensity_dn2 : numpy.ndarray
        Noise-corrected intensity ``DN² - N`` (DN² units), shape ``(rows, cols)``, NaN = nodata,
        whose column 0 is image sample ``col_start``.
    image_samples : int
        Samples per line of the whole image (to know where the far edge is).

    Returns
    -------
    numpy.ndarray
        bool, True for border-noise pixels.
    """
    rows, cols = intensity_dn2.shape
    mask = np.zeros((rows, cols), dtype=bool)
    limit = min(border_limit_px, image_samples // 4)
    if limit <= 0 or rows == 0:
        return mask
    values = np.nan_to_num(np.asarray(intensity_dn2, dtype=np.float64), nan=0.0)
    interior = values[:, max(limit - col_start, 0) : max(image_samples - limit - col_start, 0)]
    if interior.size == 0:
        return mask
    threshold = trim_threshold * np.median(interior, axis=1)
    threshold = np.where(threshold > 0, threshold, np.inf)[:, None]
    if col_start == 0:  # near-range edge in this window
        edge = values[:, :limit]
        good = edge >= threshold
        first = np.where(good.any(axis=1), good.argmax(axis=1), limit)
        mask[:, :limit] |= np.arange(limit)[None, :] < first[:, None]
    if col_start + cols == image_samples:  # far-range edge
        edge = values[:, cols - limit :][:, ::-1]
        good = edge >= threshold
        first = np.where(good.any(axis=1), good.argmax(axis=1), limit)
        mask[:, cols - limit :] |= (np.arange(limit)[None, :] < first[:, None])[:, ::-1]
    return mask
