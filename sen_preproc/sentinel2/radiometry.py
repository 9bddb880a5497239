"""Sentinel-2 radiometry and validity: DN -> reflectance, SCL -> ``valid``, output encoding.

Shared by both engines of ``senprep s2`` (the Python chain and the SNAP post-processing).

* ESA convention: ``reflectance = (DN + offset) / quantification`` with the product's own
  ``BOA_ADD_OFFSET``/``RADIO_ADD_OFFSET`` (-1000 from processing baseline 04.00) and
  ``QUANTIFICATION_VALUE`` (10 000). DN 0 is NO_DATA and DN 65535 SATURATED (the products'
  ``Special_Values``): both become no data, never a reflectance.
* ``valid`` = 1 where every band holds data and the scene classification (SCL) is not one of
  the invalid classes (default: no data, saturated/defective, cloud shadow, cloud
  medium/high probability, thin cirrus).
* Output: reflectance x 10 000 as uint16 (nodata 0; the MCcGAN paper's 0..10 000 scale), or
  float32 reflectance (nodata NaN), plus the ``valid`` band.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sen_preproc.errors import OptionError

NODATA_DN = 0
SATURATED_DN = 65535
OUTPUT_SCALE = 10000.0
"""Reflectance x this = the uint16 output values."""
OUTPUT_DTYPES = ("uint16", "float32")
"""Choices of ``senprep s2 --dtype``."""
SCL_CLASSES = {
    0: "no data",
    1: "saturated or defective",
    2: "dark area pixels",
    3: "cloud shadows",
    4: "vegetation",
    5: "not vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud medium probability",
    9: "cloud high probability",
    10: "thin cirrus",
    11: "snow",
}
"""The L2A scene classification (Sen2Cor), class -> meaning."""
DEFAULT_INVALID_SCL = (0, 1, 3, 8, 9, 10)
"""SCL classes masked: no data, saturated/defective, cloud shadow, cloud medium/high, cirrus."""


def check_scl_classes(classes: Sequence[int]) -> tuple[int, ...]:
    """The classes, checked to be SCL classes (0..11).

    Raises
    ------
    OptionError
        For a number that is no SCL class.
    """
    bad = [c for c in classes if c not in SCL_CLASSES]
    if bad:
        raise OptionError(
            f"--invalid-classes {', '.join(map(str, bad))}: not SCL classes; use numbers 0..11 "
            f"({', '.join(f'{k} {v}' for k, v in SCL_CLASSES.items())})"
        )
    return tuple(classes)


def dn_to_reflectance(
    dn: npt.NDArray[np.float32], offset: float, quantification: float
) -> npt.NDArray[np.float32]:
    """``(DN + offset) / quantification``; NaN where DN is missing (NaN), 0 or 65535."""
    out = (dn + np.float32(offset)) / np.float32(quantification)
    out[(dn == NODATA_DN) | (dn >= SATURATED_DN)] = np.nan
    return out.astype(np.float32, copy=False)


def validity(
    data_ok: npt.NDArray[np.bool_],
    scl: npt.NDArray[np.float32] | None,
    invalid_classes: Sequence[int],
) -> npt.NDArray[np.bool_]:
    """``valid``: data in every band and an SCL class (NaN = none) not in ``invalid_classes``."""
    valid = data_ok.copy()
    if scl is not None:
        valid &= np.isfinite(scl) & ~np.isin(np.nan_to_num(scl, nan=0), list(invalid_classes))
    return valid


def encode_output(
    reflectance: npt.NDArray[np.float32],
    valid: npt.NDArray[np.bool_],
    dtype: str,
) -> npt.NDArray[np.generic]:
    """Bands ``(n, rows, cols)`` of reflectance (NaN = no data) + ``valid`` -> the output block
    ``(n + 1, rows, cols)``: uint16 x 10 000 (nodata 0, clipped to 1..65535) or float32.

    A pixel is no data in every band where any band is (so ``valid`` is 0 there too).
    """
    data_ok = np.all(np.isfinite(reflectance), axis=0)
    if dtype == "float32":
        values = np.where(data_ok, reflectance, np.float32(np.nan)).astype(np.float32)
        return np.concatenate([values, (valid & data_ok).astype(np.float32)[None]])
    scaled = np.clip(np.round(np.nan_to_num(reflectance) * OUTPUT_SCALE), 1, 65535)
    values16 = np.where(data_ok, scaled, 0).astype(np.uint16)
    return np.concatenate([values16, (valid & data_ok).astype(np.uint16)[None]])


class CloudCounter:
    """Accumulates the fraction of data pixels that are invalid (the ``CLOUD_FRACTION`` tag)."""

    def __init__(self) -> None:
        self.data = 0
        self.invalid = 0

    def add(self, data_ok: npt.NDArray[np.bool_], valid: npt.NDArray[np.bool_]) -> None:
        self.data += int(data_ok.sum())
        self.invalid += int((data_ok & ~valid).sum())

    @property
    def fraction(self) -> float:
        return self.invalid / self.data if self.data else 1.0
