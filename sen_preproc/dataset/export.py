"""The paper's 8-bit JPG export of samples (``senprep split --format jpg``).

Per date of a sample: ``<id>_<date>_s1.jpg`` (VV, VH, VV as RGB, dB stretched over
``S1_RANGE_DB``) and ``<id>_<date>_s2.jpg`` (B4, B3, B2 stretched over ``S2_RANGE``): 8-bit images
as the MCcGAN paper trained on. The stretch is recorded in ``dataset.json`` (``jpg_scaling``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FORMATS = ("tif", "jpg")
"""Choices of ``senprep split --format`` (tif samples always; jpg in addition)."""
S1_RANGE_DB = (-25.0, 0.0)
S2_RANGE = {"reflectance_x10000": (0.0, 3000.0), "reflectance": (0.0, 0.3)}
FORMULA = "round((value - low) / (high - low) * 255), clipped to 0..255; S1 in dB"


def scaling(units: dict[str, str]) -> dict[str, Any]:
    """The stretch used for a dataset of ``units`` (for ``dataset.json``)."""
    return {"s1_db": S1_RANGE_DB, "s2": S2_RANGE[units["s2"]], "formula": FORMULA}


def to_uint8(
    data: npt.NDArray[np.float32], value_range: tuple[float, float]
) -> npt.NDArray[np.uint8]:
    """Linear stretch of ``value_range`` onto 0..255 (NaN -> 0)."""
    low, high = value_range
    scaled = (np.nan_to_num(data, nan=low) - low) / (high - low) * 255.0
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def write_jpgs(
    folder: Path,
    sample_id: str,
    data: npt.NDArray[np.float32],
    names: tuple[str, ...],
    units: dict[str, str],
) -> None:
    """Write the JPGs of one decoded sample (bands ``names`` like ``I_VV``, ``II_B4``)."""
    from PIL import Image

    for label in sorted({n.split("_", 1)[0] for n in names}):
        idx = {n.split("_", 1)[1]: i for i, n in enumerate(names) if n.startswith(f"{label}_")}
        s1 = [idx[b] for b in ("VV", "VH") if b in idx]
        rgb = [idx[b] for b in ("B4", "B3", "B2") if b in idx]
        if s1:
            chans = [data[i] for i in s1] + [data[s1[0]]] * (3 - len(s1))
            if units["s1"] == "linear":
                with np.errstate(divide="ignore", invalid="ignore"):
                    chans = [10.0 * np.log10(c) for c in chans]
            Image.fromarray(np.dstack([to_uint8(c, S1_RANGE_DB) for c in chans[:3]])).save(
                folder / f"{sample_id}_{label}_s1.jpg", quality=95
            )
        if len(rgb) == 3:
            s2_range = S2_RANGE[units["s2"]]
            Image.fromarray(np.dstack([to_uint8(data[i], s2_range) for i in rgb])).save(
                folder / f"{sample_id}_{label}_s2.jpg", quality=95
            )
