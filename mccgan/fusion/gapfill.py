"""Gap filling: the target date's clear pixels kept bit for bit, only the cloudy ones predicted.

At a cloudy pixel ``p`` whose nearest clear pixel ``q`` (Euclidean distance ``d`` px) lies
within ``feather_px``, the prediction is shifted by the real-minus-predicted difference at
``q``, fading linearly to nothing at ``feather_px`` into the cloud::

    filled(p) = pred(p) + max(0, 1 - d / feather_px) * (real(q) - pred(q))

so at the cloud's edge the filled values continue the real ones (no visible rim), and deep in
the cloud the model's prediction is used as it is. Clear pixels are never changed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage


def fill_gaps(
    real: npt.NDArray[np.float32],
    clear: npt.NDArray[np.bool_],
    pred: npt.NDArray[np.float32],
    feather_px: float,
) -> npt.NDArray[np.float32]:
    """Fill the non-clear pixels of ``real`` (``(bands, rows, cols)``) from ``pred``.

    Parameters
    ----------
    real, pred : array (bands, rows, cols)
        The target date's image and the prediction, same units; NaN where there is no data.
    clear : array (rows, cols) of bool
        Pixels of ``real`` to keep.
    feather_px : float
        Distance (px) into a cloud over which the edge difference fades (0: no feathering).

    Returns
    -------
    array (bands, rows, cols)
        ``real`` where clear, the (feathered) prediction elsewhere (NaN where it has none).
    """
    out = np.where(clear[None], real, pred).astype(np.float32)
    anchor = clear & np.isfinite(pred).all(axis=0)
    if feather_px <= 0 or not anchor.any() or anchor.all():
        return out
    distance, (rows, cols) = ndimage.distance_transform_edt(~anchor, return_indices=True)
    weight = np.clip(1.0 - distance / feather_px, 0.0, 1.0).astype(np.float32)
    weight[clear] = 0.0
    near = weight > 0
    if near.any():
        qr, qc = rows[near], cols[near]
        delta = real[:, qr, qc] - pred[:, qr, qc]
        out[:, near] = pred[:, near] + weight[near] * delta
    return out
