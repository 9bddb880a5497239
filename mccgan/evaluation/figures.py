"""The report's figures (matplotlib, Agg): an RGB quick-look grid (S2 I, the truth, each
prediction, its absolute error), an NDVI grid, and a truth-vs-prediction density scatter per
band. Images are read decimated (at most ``QUICKLOOK_PX`` on a side), so memory stays small
whatever the scene size; the scatter uses the same decimated pixels.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.enums import Resampling

from mccgan.evaluation.scene import Raster, Region

QUICKLOOK_PX = 800
FloatArray = npt.NDArray[np.float32]


def _read_small(
    raster: Raster, bands: Sequence[str], factor: float, shape: tuple[int, int]
) -> FloatArray:
    with rasterio.open(raster.path) as ds:
        data = ds.read([raster.band_index(b) for b in bands], out_shape=(len(bands), *shape),
                       resampling=Resampling.nearest).astype(np.float32)  # fmt: skip
        valid = None
        if "valid" in raster.names:
            valid = (
                ds.read(raster.band_index("valid"), out_shape=shape, resampling=Resampling.nearest)
                == 1
            )
    if raster.nodata is not None and not math.isnan(raster.nodata):
        data[data == np.float32(raster.nodata)] = np.nan
    if valid is not None:
        data[:, ~valid] = np.nan
    return np.asarray(data * np.float32(factor), dtype=np.float32)


def _rgb(data: FloatArray, bands: Sequence[str], limits: tuple[float, float]) -> FloatArray:
    picks = (
        [bands.index(b) for b in ("B4", "B3", "B2")]
        if all(b in bands for b in ("B4", "B3", "B2"))
        else [0] * 3
    )
    low, high = limits
    rgb = np.clip((data[picks] - low) / (high - low), 0, 1).transpose(1, 2, 0)
    rgb[~np.isfinite(rgb).all(axis=2)] = 1.0  # no data: white
    return np.asarray(rgb, dtype=np.float32)


def _ndvi(data: FloatArray, bands: Sequence[str]) -> FloatArray:
    red, nir = data[bands.index("B4")], data[bands.index("B8")]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (nir - red) / (nir + red)
    out[~((nir + red) > 0)] = np.nan
    return np.asarray(out, dtype=np.float32)


def write_figures(folder: Path, truth: Raster, sources: Sequence[tuple[str, Raster, float]], ref: Raster | None,
                  bands: Sequence[str], truth_factor: float, mask: Raster | None) -> list[str]:  # fmt: skip
    """Write ``quicklook_rgb.png``, ``ndvi.png`` (with B4 and B8) and ``scatter.png`` into
    ``folder``; returns their names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    step = max(1, math.ceil(max(truth.grid.width, truth.grid.height) / QUICKLOOK_PX))
    shape = (math.ceil(truth.grid.height / step), math.ceil(truth.grid.width / step))
    truth_small = _read_small(truth, bands, truth_factor, shape)
    if mask is not None:
        keep = Region("mask", mask, 1, False)
        with rasterio.open(mask.path) as ds:
            inside = ds.read(keep.band, out_shape=shape, resampling=Resampling.nearest) != 0
        truth_small[:, ~inside] = np.nan
    preds = [(label, _read_small(r, bands, f, shape)) for label, r, f in sources if r is not ref]
    ref_small = next((_read_small(r, bands, f, shape) for _, r, f in sources if r is ref), None)
    # show the evaluated area only: the bounding box of the truth's valid (and masked) pixels
    shown = np.asarray(np.isfinite(truth_small).all(axis=0))
    rows, cols = np.flatnonzero(shown.any(axis=1)), np.flatnonzero(shown.any(axis=0))
    if rows.size and cols.size:
        box = np.s_[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        truth_small = truth_small[box]
        preds = [(label, p[box]) for label, p in preds]
        ref_small = ref_small[box] if ref_small is not None else None
    rgb_bands = [bands.index(b) for b in ("B4", "B3", "B2") if b in bands] or [0]
    finite = truth_small[rgb_bands][np.isfinite(truth_small[rgb_bands])]
    low, high = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    limits = (float(low), float(high) if high > low else float(low) + 1.0)
    written = []

    # RGB quick-looks: S2 I, truth, then each prediction above its absolute error
    columns = [("S2 I (reference)", ref_small)] if ref_small is not None else []
    columns += [("truth S2 II", truth_small)] + [(label, p) for label, p in preds]
    aspect = truth_small.shape[1] / max(1, truth_small.shape[2])
    panel_h = max(0.6, min(4.0, 3.2 * aspect))
    fig, axes = plt.subplots(2, len(columns), figsize=(3.2 * len(columns), 2 * panel_h + 1.0), squeeze=False,
                             layout="constrained")  # fmt: skip
    error_top = 0.25 * limits[1]
    for k, (title, data) in enumerate(columns):
        axes[0, k].imshow(_rgb(data, bands, limits))
        axes[0, k].set_title(title, fontsize=9)
        if title not in ("truth S2 II",):
            with warnings.catch_warnings():  # all-NaN pixels (no data) stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                error = np.nanmean(np.abs(data - truth_small), axis=0)
            im = axes[1, k].imshow(error, cmap="magma", vmin=0, vmax=error_top)
            axes[1, k].set_title(f"|error| mean over bands ({np.nanmean(error):.0f})", fontsize=8)
        else:
            im = None
            axes[1, k].set_visible(False)
        for ax in axes[:, k]:
            ax.set_xticks([])
            ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.8, label="absolute error")
    fig.suptitle("RGB (B4, B3, B2) and absolute error", fontsize=10)
    fig.savefig(folder / "quicklook_rgb.png", dpi=100)
    plt.close(fig)
    written.append("quicklook_rgb.png")

    if "B4" in bands and "B8" in bands:
        fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), panel_h + 0.8), squeeze=False,
                                 layout="constrained")  # fmt: skip
        for k, (title, data) in enumerate(columns):
            im = axes[0, k].imshow(_ndvi(data, bands), cmap="RdYlGn", vmin=-0.2, vmax=1.0)
            axes[0, k].set_title(title, fontsize=9)
            axes[0, k].set_xticks([])
            axes[0, k].set_yticks([])
        fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="NDVI")
        fig.savefig(folder / "ndvi.png", dpi=100)
        plt.close(fig)
        written.append("ndvi.png")

    scatter_rows = [(label, p) for label, p in preds] + (
        [("copy S2 I", ref_small)] if ref_small is not None else []
    )
    fig, axes = plt.subplots(len(scatter_rows), len(bands), figsize=(2.8 * len(bands), 2.8 * len(scatter_rows)),
                             squeeze=False)  # fmt: skip
    for i, (label, data) in enumerate(scatter_rows):
        for j, band in enumerate(bands):
            ax = axes[i, j]
            t, p = truth_small[j].ravel(), data[j].ravel()
            ok = np.isfinite(t) & np.isfinite(p)
            top = float(np.percentile(t[ok], 99.5)) * 1.1 if ok.any() else 1.0
            ax.hist2d(t[ok], p[ok], bins=80, range=[[0, top], [0, top]], cmap="viridis", cmin=1)
            ax.plot([0, top], [0, top], color="red", linewidth=0.8)
            ax.set_title(f"{label}: {band}", fontsize=8)
            ax.set_xlabel("truth", fontsize=7)
            ax.set_ylabel("prediction", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(folder / "scatter.png", dpi=100)
    plt.close(fig)
    written.append("scatter.png")
    return written
