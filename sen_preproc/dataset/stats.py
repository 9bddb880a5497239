"""Per-band statistics of the training split (``stats.json``), accumulated sample by sample."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sen_preproc.dataset.coding import SAMPLE_NODATA, SampleCoding


@dataclass
class BandStats:
    """Running per-band statistics over valid pixels, in stored units.

    For int16 samples the sums are float64 of integers, hence exact (< 2**53 for any dataset
    that fits on a disk); :meth:`as_dict` converts to physical units with the bands' scale and
    offset. float32 samples are summed in float64.
    """

    count: npt.NDArray[np.float64]
    total: npt.NDArray[np.float64]
    total_sq: npt.NDArray[np.float64]
    minimum: npt.NDArray[np.float64]
    maximum: npt.NDArray[np.float64]

    @classmethod
    def empty(cls, bands: int) -> BandStats:
        return cls(
            np.zeros(bands),
            np.zeros(bands),
            np.zeros(bands),
            np.full(bands, np.inf),
            np.full(bands, -np.inf),
        )

    @classmethod
    def of(cls, stored: npt.NDArray[np.generic]) -> BandStats:
        """Statistics of one stored sample ``(bands, rows, cols)`` (int16 nodata or NaN
        excluded)."""
        flat = stored.reshape(stored.shape[0], -1)
        missing = np.isnan(flat) if flat.dtype.kind == "f" else flat == SAMPLE_NODATA
        if not missing.any():
            values = flat.astype(np.float64)
            return cls(
                np.full(flat.shape[0], float(flat.shape[1])),
                values.sum(axis=1),
                np.einsum("ij,ij->i", values, values),
                values.min(axis=1),
                values.max(axis=1),
            )
        stats = cls.empty(flat.shape[0])
        for band, (row, gone) in enumerate(zip(flat, missing, strict=True)):
            good = row[~gone].astype(np.float64)
            if good.size:
                stats.count[band] = good.size
                stats.total[band] = good.sum()
                stats.total_sq[band] = good @ good
                stats.minimum[band] = good.min()
                stats.maximum[band] = good.max()
        return stats

    def merge(self, other: BandStats) -> None:
        self.count += other.count
        self.total += other.total
        self.total_sq += other.total_sq
        self.minimum = np.minimum(self.minimum, other.minimum)
        self.maximum = np.maximum(self.maximum, other.maximum)

    def as_dict(self, coding: SampleCoding) -> dict[str, dict[str, float]]:
        """``{band: {count, mean, std, min, max}}`` in physical units (NaN without pixels)."""
        out = {}
        for i, band in enumerate(coding.bands):
            n, scale, offset = self.count[i], band.scale, band.offset
            mean = self.total[i] / n if n else float("nan")
            var = max(self.total_sq[i] / n - mean * mean, 0.0) if n else float("nan")
            out[band.name] = {
                "count": int(n),
                "mean": float(mean * scale + offset),
                "std": float(math.sqrt(var) * scale) if n else float("nan"),
                "min": float(self.minimum[i] * scale + offset) if n else float("nan"),
                "max": float(self.maximum[i] * scale + offset) if n else float("nan"),
            }
        return out
