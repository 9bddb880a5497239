"""Look-up tables sampled on (line, pixel) vectors and their bilinear interpolation.

Sentinel-1 calibration and noise annotations give values on a sparse grid: one vector every
~1 s of azimuth (``line``) with samples every ~40 range pixels (``pixel``). Interpolation is
separable: each vector is first interpolated linearly in pixel onto the requested columns, then
the rows are interpolated linearly in line. On a rectilinear grid this is exactly bilinear
interpolation; it also handles vectors whose pixel positions differ (common in noise LUTs,
which xarray-sentinel refuses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sen_preproc.errors import ProductError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LutGrid:
    """Values given as vectors at image lines, each over its own pixel positions.

    Attributes
    ----------
    lines : numpy.ndarray
        Image line of each vector, shape ``(n_vectors,)``, strictly increasing.
    pixels : tuple of numpy.ndarray
        Pixel (range sample) positions of each vector, increasing.
    values : tuple of numpy.ndarray
        LUT values of each vector, same lengths as ``pixels``.
    name : str
        What the LUT is (for error messages), e.g. ``"sigmaNought"``.
    """

    lines: npt.NDArray[np.int64]
    pixels: tuple[npt.NDArray[np.float64], ...]
    values: tuple[npt.NDArray[np.float64], ...]
    name: str = "lut"

    def __post_init__(self) -> None:
        if len(self.lines) == 0:
            raise ProductError(f"{self.name}: the LUT has no vectors")
        if np.any(np.diff(self.lines) <= 0):
            raise ProductError(f"{self.name}: the LUT's vector lines are not strictly increasing")
        if len(self.pixels) != len(self.lines) or len(self.values) != len(self.lines):
            raise ProductError(f"{self.name}: inconsistent LUT vector counts")
        for pix, val in zip(self.pixels, self.values, strict=True):
            if pix.shape != val.shape:
                raise ProductError(
                    f"{self.name}: a vector has {pix.size} pixels but {val.size} values"
                )
            if pix.size == 0:
                raise ProductError(f"{self.name}: a vector has no values")
            if not (np.all(np.isfinite(pix)) and np.all(np.isfinite(val))):
                raise ProductError(f"{self.name}: a vector holds non-numeric values")

    def interpolate(self, rows: npt.ArrayLike, cols: npt.ArrayLike) -> FloatArray:
        """Bilinearly interpolate the LUT on the grid ``rows x cols``.

        Parameters
        ----------
        rows, cols : array_like of int or float
            Image line and pixel coordinates (1-D).

        Returns
        -------
        numpy.ndarray
            float64 array of shape ``(len(rows), len(cols))``; values beyond the first/last
            vector or pixel are held constant (as SNAP does at the image edges).
        """
        rows_f = np.asarray(rows, dtype=np.float64)
        cols_f = np.asarray(cols, dtype=np.float64)
        # 1. each vector onto the requested columns
        per_vector = np.empty((len(self.lines), cols_f.size), dtype=np.float64)
        for k, (pix, val) in enumerate(zip(self.pixels, self.values, strict=True)):
            per_vector[k] = np.interp(cols_f, pix, val)
        if len(self.lines) == 1:
            return np.broadcast_to(per_vector[0], (rows_f.size, cols_f.size)).copy()
        # 2. linear in line between the two bracketing vectors
        line_pos = np.asarray(self.lines, dtype=np.float64)
        upper = np.clip(np.searchsorted(line_pos, rows_f, side="right"), 1, len(line_pos) - 1)
        lower = upper - 1
        weight = (rows_f - line_pos[lower]) / (line_pos[upper] - line_pos[lower])
        weight = np.clip(weight, 0.0, 1.0)[:, None]
        result: FloatArray = per_vector[lower] * (1.0 - weight) + per_vector[upper] * weight
        return result
