"""Pair GeoTIFFs as ``senprep pair`` writes them, for the dataset tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

NAMES = ("VV", "VH", "B2", "B3", "B4", "B8", "valid")


def write_tagged_pair(
    path: Path, seed: int, *, s1_scale: str, s2_scale: str, size: int = 96
) -> Path:
    """A pair GeoTIFF as ``senprep pair`` writes it (float32, NaN nodata, its unit tags)."""
    rng = np.random.default_rng(seed)
    data = np.empty((len(NAMES), size, size), np.float32)
    vv = rng.normal(-11, 3, (size, size))
    vh = rng.normal(-18, 3, (size, size))
    if s1_scale == "linear":
        vv, vh = 10 ** (vv / 10), 10 ** (vh / 10)  # sigma0 ~ 0.0003 .. 0.3
    data[0], data[1] = vv, vh
    dn = rng.integers(1, 6500, (4, size, size)).astype(np.float32)
    data[2:6] = dn if s2_scale == "10000" else (dn - 1000) / np.float32(10000)  # N0400 offset
    data[6] = 1
    data[6, :8, :8] = 0
    data[:6, -3:, -3:] = np.nan
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=len(NAMES),
        dtype="float32",
        crs="EPSG:32633",
        transform=Affine(10, 0, 300000, 0, -10, 4650000),
        nodata=np.nan,
    ) as ds:
        ds.write(data)
        for i, name in enumerate(NAMES, start=1):
            ds.set_band_description(i, name)
        ds.update_tags(
            S1_SCALE=s1_scale,
            S2_REFLECTANCE_SCALE=s2_scale,
            S2_SENSING_TIME=f"2023-04-{5 + 10 * seed:02d}T10:00:00Z",
            S1_ACQUISITION_TIME=f"2023-04-{5 + 10 * seed:02d}T05:00:00Z",
            SENPREP_VERSION="test",
        )
    return path
