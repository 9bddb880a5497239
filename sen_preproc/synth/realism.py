"""Statistics that say whether an S1/S2 scene looks like real data (simulated or real alike).

For one co-registered scene (S1 VV/VH in dB, S2 reflectance; NaN = no data):

* **distributions**: percentiles 5/25/50/75/95 of VV, VH (dB), B2, B3, B4, B8 (reflectance) and
  NDVI;
* **relations across parcels**: the scene cut into 5 x 5 px blocks (50 m, about a small
  field's interior; speckle averaged), Pearson correlations VV-VH and VH-NDVI over the blocks;
* **spatial autocorrelation length** of VV (dB) and of NIR reflectance: the lag (m) at which the
  radially averaged autocorrelation (Wiener-Khinchin, via FFT) falls below 1/e.

:func:`scene_statistics` returns them as a flat dict; :func:`real_ranges` gives the range
(min, max) each statistic spans over several real scenes, for :func:`outside_ranges`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
PERCENTILES = (5, 25, 50, 75, 95)
BLOCK_PX = 5


def _finite(values: FloatArray) -> FloatArray:
    out: FloatArray = values[np.isfinite(values)]
    return out


def autocorrelation_length_m(image: FloatArray, pixel_m: float) -> float:
    """Lag (m) where the radially averaged autocorrelation of ``image`` drops below 1/e
    (NaN filled with the mean; linear interpolation between integer lags)."""
    values = np.asarray(image, dtype=np.float64)
    mean = float(np.nanmean(values))
    filled = np.where(np.isfinite(values), values - mean, 0.0)
    rows, cols = filled.shape
    spectrum = np.fft.rfft2(filled, s=(2 * rows, 2 * cols))
    acf = np.fft.irfft2(np.abs(spectrum) ** 2, s=(2 * rows, 2 * cols))
    acf = np.fft.fftshift(acf)
    acf /= acf[rows, cols]
    yy, xx = np.indices(acf.shape)
    radius = np.hypot(yy - rows, xx - cols).astype(np.int64)
    limit = min(rows, cols) // 2
    inside = radius < limit
    profile = np.bincount(radius[inside], acf[inside]) / np.bincount(radius[inside])
    below = np.flatnonzero(profile < np.exp(-1.0))
    if below.size == 0:
        return float(limit * pixel_m)
    k = int(below[0])
    a, b = profile[k - 1], profile[k]
    frac = (a - np.exp(-1.0)) / (a - b) if a != b else 0.0
    return float((k - 1 + frac) * pixel_m)


def _blocks(image: FloatArray) -> FloatArray:
    rows, cols = (s // BLOCK_PX * BLOCK_PX for s in image.shape)
    cut = image[:rows, :cols].reshape(rows // BLOCK_PX, BLOCK_PX, cols // BLOCK_PX, BLOCK_PX)
    with np.errstate(invalid="ignore"):
        out: FloatArray = (
            np.nanmean(cut, axis=(1, 3)) if np.isnan(cut).any() else cut.mean(axis=(1, 3))
        )
    return out


def _correlation(a: FloatArray, b: FloatArray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def scene_statistics(
    vv_db: FloatArray,
    vh_db: FloatArray,
    bands: Mapping[str, FloatArray],
    pixel_m: float = 10.0,
) -> dict[str, float]:
    """The statistics of one scene; ``bands`` has reflectance (0-1) ``B2``, ``B3``, ``B4``,
    ``B8`` on the S1 grid."""
    red, nir = bands["B4"], bands["B8"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (nir - red) / (nir + red)
    stats: dict[str, float] = {}
    for name, values in (("VV", vv_db), ("VH", vh_db), *bands.items(), ("NDVI", ndvi)):
        finite = _finite(np.asarray(values, dtype=np.float64))
        for p, v in zip(PERCENTILES, np.percentile(finite, PERCENTILES), strict=True):
            stats[f"{name}_p{p}"] = float(v)
    # relations across 50 m blocks (in dB of block-mean linear power for S1)
    lin_vv = _blocks(10 ** (np.asarray(vv_db, np.float64) / 10))
    lin_vh = _blocks(10 ** (np.asarray(vh_db, np.float64) / 10))
    block_vv, block_vh = 10 * np.log10(lin_vv), 10 * np.log10(lin_vh)
    block_ndvi = _blocks(np.asarray(ndvi, np.float64))
    stats["corr_VV_VH"] = _correlation(block_vv, block_vh)
    stats["corr_VH_NDVI"] = _correlation(block_vh, block_ndvi)
    stats["acl_VV_m"] = autocorrelation_length_m(np.asarray(vv_db, np.float64), pixel_m)
    stats["acl_B8_m"] = autocorrelation_length_m(np.asarray(nir, np.float64), pixel_m)
    return stats


def real_ranges(scenes: Sequence[Mapping[str, float]]) -> dict[str, tuple[float, float]]:
    """Per statistic, (min, max) over real scenes (NaN values ignored)."""
    keys = set().union(*scenes)
    out = {}
    for key in sorted(keys):
        values = [s[key] for s in scenes if key in s and np.isfinite(s[key])]
        if values:
            out[key] = (min(values), max(values))
    return out


def outside_ranges(
    stats: Mapping[str, float],
    ranges: Mapping[str, tuple[float, float]],
    tolerance: Mapping[str, float],
) -> dict[str, tuple[float, tuple[float, float]]]:
    """The statistics of ``stats`` outside ``ranges`` widened by ``tolerance`` (absolute, per
    statistic-name prefix such as ``VV``, ``corr``, ``acl``); empty when all are inside."""
    bad = {}
    for key, (low, high) in ranges.items():
        if key not in stats:
            continue
        prefix = key.split("_")[0]
        slack = tolerance.get(key, tolerance.get(prefix, 0.0))
        value = stats[key]
        if not (low - slack <= value <= high + slack):
            bad[key] = (value, (low, high))
    return bad


Scene = tuple[str, FloatArray, FloatArray, dict[str, FloatArray]]
"""(name, VV dB, VH dB, {B2, B3, B4, B8: reflectance}) on one grid."""


def _read(path: object, band: int = 1) -> FloatArray:
    import rasterio

    with rasterio.open(path) as ds:  # type: ignore[arg-type]
        data: FloatArray = ds.read(band).astype(np.float64)
        if ds.nodata is not None and np.isfinite(ds.nodata):
            data[data == ds.nodata] = np.nan
    return data


def _crop(*arrays: FloatArray) -> list[FloatArray]:
    rows = min(a.shape[0] for a in arrays)
    cols = min(a.shape[1] for a in arrays)
    return [a[:rows, :cols] for a in arrays]


def reference_scenes(pairs_dir: object) -> list[Scene]:
    """The real co-located S1/S2 scenes of ``shared/fixtures/pairs`` (TerraMind's five areas,
    SSL4EO-S12's two dates, BigEarthNet's six patches), S2 reflectance as fractions.

    TerraMind's S1 is radiometrically terrain-corrected γ0; the others σ0 (GEE/ESA GRD).
    """
    from pathlib import Path

    root = Path(str(pairs_dir))
    scenes: list[Scene] = []
    terramind = root / "terramind"
    for s1 in sorted((terramind / "S1RTC").glob("*.tif")):
        s2 = terramind / "S2L2A" / s1.name
        bands = {
            name: _read(s2, index) / 10000.0
            for name, index in (("B2", 2), ("B3", 3), ("B4", 4), ("B8", 8))
        }
        scenes.append((f"terramind/{s1.stem}", _read(s1, 1), _read(s1, 2), bands))
    ssl = root / "ssl4eo-s12"
    s1_dirs = sorted((ssl / "s1").glob("*/*"))
    s2_dirs = sorted((ssl / "s2a").glob("*/*"))
    for s1_dir, s2_dir in zip(s1_dirs, s2_dirs, strict=False):
        vv, vh = _read(s1_dir / "VV.tif"), _read(s1_dir / "VH.tif")
        raw = {b: _read(s2_dir / f"{b}.tif") / 10000.0 for b in ("B2", "B3", "B4", "B8")}
        cropped = _crop(vv, vh, *raw.values())
        scenes.append(
            (
                f"ssl4eo/{s2_dir.name[:8]}",
                cropped[0],
                cropped[1],
                dict(zip(raw, cropped[2:], strict=True)),
            )
        )
    for s1_dir in sorted((root / "BigEarthNet-S1-Example").glob("*")):
        suffix = "_".join(s1_dir.name.split("_")[-2:])
        match = next((root / "BigEarthNet-S2-Example").glob(f"*_{suffix}"), None)
        if match is None:
            continue
        s2_dir = match
        vv = _read(next(s1_dir.glob("*_VV.tif")))
        vh = _read(next(s1_dir.glob("*_VH.tif")))
        raw = {
            b: _read(next(s2_dir.glob(f"*_{code}.tif"))) / 10000.0
            for b, code in (("B2", "B02"), ("B3", "B03"), ("B4", "B04"), ("B8", "B08"))
        }
        cropped = _crop(vv, vh, *raw.values())
        scenes.append(
            (
                f"bigearthnet/{suffix}",
                cropped[0],
                cropped[1],
                dict(zip(raw, cropped[2:], strict=True)),
            )
        )
    return scenes
