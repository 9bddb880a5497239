"""The rasters ``mccgan fuse`` reads, resolved once and read block by block on the reference grid.

Inputs (any engine's outputs: only band names and tags matter):

* the reference date I: a ``senprep pair`` (``--ref``: its S1 and S2 bands and ``valid``), or
  ``--s1-ref`` + ``--s2-ref`` (the S2 image's grid is the reference grid; S1 is resampled onto
  it);
* the target date II's S1 (``--target-s1``): a ``senprep s1`` output or a pair (its S1 bands);
  resampled onto the reference grid, bilinearly in linear power, when it is not on it;
* optionally the target date's (cloudy) S2 (``--target-s2``, with its ``valid`` band) or a
  cloud ``--mask`` for gap filling.

Every block comes back in the model's units: S1 in dB, S2 in the model's reflectance scale,
NaN where there is no data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rasterio.warp import transform_bounds

from mccgan.errors import DataError
from sen_preproc.bands import VALID_BAND, reflectance_scale
from sen_preproc.errors import SenPrepError
from sen_preproc.grid import RasterGrid
from sen_preproc.pair import (
    RasterInfo,
    read_bands_on_grid,
    read_info,
    read_on_grid,
    read_raster_info,
)

FloatArray = npt.NDArray[np.float32]
S2_SCALES = {"reflectance_x10000": 10000.0, "reflectance": 1.0}
"""Reflectance scale of each S2 unit name (``REFLECTANCE_SCALE`` / ``S2_REFLECTANCE_SCALE``)."""


@dataclass(frozen=True)
class Layer:
    """Some bands of one raster: where they are and how to bring them to the model's units."""

    info: RasterInfo
    bands: tuple[int, ...]  # 1-based band indices, in the order wanted
    db: bool = True  # S1: the file holds dB (else linear power)
    scale: float = 1.0  # S2: multiply by this to reach the model's unit


def _open(path: Path, role: str, option: str) -> RasterInfo:
    try:
        return read_info(path, role)
    except SenPrepError as err:
        if role == "s1" and "no VV/VH/HH/HV" in str(err):
            raise DataError(
                f"{path}: no VV/VH/HH/HV bands; {option} needs S1 (a senprep s1 or pair output)"
            ) from err
        raise DataError(f"{err} (given as {option})") from err


def _s1_layer(info: RasterInfo, polarisations: tuple[str, ...], option: str) -> Layer:
    names = [d.upper() for d in info.descriptions]
    missing = [p for p in polarisations if p not in names]
    if missing:
        raise DataError(
            f"{info.path}: no {' or '.join(missing)} band (it has {', '.join(info.descriptions)}); "
            f"the model needs S1 {' and '.join(polarisations)} for {option}: process S1 with "
            f"senprep s1 --pol {','.join(polarisations)}"
        )
    scale_tag = info.tags.get("S1_SCALE", info.tags.get("SCALE", "db")).lower()
    return Layer(info, tuple(names.index(p) + 1 for p in polarisations), db=scale_tag == "db")


def _s2_scale(info: RasterInfo, unit: str) -> float:
    file_scale = reflectance_scale(info.tags, info.dtype)
    if file_scale is None:
        raise DataError(f"{info.path}: 8-bit data, not reflectance; give the output of senprep s2")
    return S2_SCALES[unit] / file_scale


def _s2_layer(info: RasterInfo, bands: tuple[str, ...], unit: str, option: str) -> Layer:
    names = list(info.descriptions)
    missing = [b for b in bands if b not in names]
    if missing:
        raise DataError(
            f"{info.path}: no {', '.join(missing)} (it has {', '.join(n for n in names if n)}); the "
            f"model predicts {', '.join(bands)} and needs them in {option}: use an image of this "
            "band layout or a model trained on it"
        )
    return Layer(info, tuple(names.index(b) + 1 for b in bands), scale=_s2_scale(info, unit))


def _valid_band(info: RasterInfo) -> int | None:
    names = list(info.descriptions)
    return names.index(VALID_BAND) + 1 if VALID_BAND in names else None


def _time(info: RasterInfo, *keys: str) -> str:
    return next((info.tags[k] for k in keys if info.tags.get(k)), "")


def _overlap_fraction(info: RasterInfo, grid: RasterGrid) -> float:
    assert info.grid is not None
    left, bottom, right, top = transform_bounds(
        info.grid.crs, grid.crs, *info.grid.bounds, densify_pts=21
    )
    g_left, g_bottom, g_right, g_top = grid.bounds
    width = max(0.0, min(right, g_right) - max(left, g_left))
    height = max(0.0, min(top, g_top) - max(bottom, g_bottom))
    return float(width * height / ((g_right - g_left) * (g_top - g_bottom)))


@dataclass(frozen=True)
class FusionInputs:
    """The resolved inputs of one fusion."""

    grid: RasterGrid
    s1_ref: Layer
    s2_ref: Layer
    valid_ref: int | None  # band of s2_ref.info
    s1_target: Layer
    s2_target: Layer | None
    valid_target: int | None
    mask: Layer | None
    dates: dict[str, str]
    paths: dict[str, str]

    def read_reference(
        self, block: RasterGrid
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        """S1 I (dB), S2 I (model unit) and where date I is usable, on ``block`` (a window of
        the reference grid: the S2 file is read as it is, in one call with its ``valid`` band,
        and with the S1 bands too when they are in the same file, a ``senprep pair``)."""
        same = self.s1_ref.info.path == self.s2_ref.info.path
        s1_bands = list(self.s1_ref.bands) if same else []
        valid = [self.valid_ref] if self.valid_ref is not None else []
        data = read_bands_on_grid(self.s2_ref.info, [*s1_bands, *self.s2_ref.bands, *valid], block,
                                  to_linear=False, categorical=False)  # fmt: skip
        n1, n2 = len(s1_bands), len(self.s2_ref.bands)
        s1 = _to_db(data[:n1], self.s1_ref.db) if same else _read_s1(self.s1_ref, block)
        s2 = _scaled(data[n1 : n1 + n2], self.s2_ref.scale)
        usable = all_finite(s1) & all_finite(s2)
        if valid:
            usable &= data[n1 + n2] == 1
        return s1, s2, usable

    def read_target_s1(self, block: RasterGrid) -> FloatArray:
        return _read_s1(self.s1_target, block)

    def read_target_s2(self, block: RasterGrid) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """The target date's S2 (model unit) and its clear pixels (kept as they are)."""
        assert self.s2_target is not None
        use_valid = self.mask is None and self.valid_target is not None
        valid = [self.valid_target] if use_valid and self.valid_target is not None else []
        data = read_bands_on_grid(self.s2_target.info, [*self.s2_target.bands, *valid], block,
                                  to_linear=False, categorical=False)  # fmt: skip
        n = len(self.s2_target.bands)
        s2 = _scaled(data[:n], self.s2_target.scale)
        clear = all_finite(s2)
        if self.mask is not None:
            cloud = read_on_grid(
                self.mask.info, self.mask.bands[0], block, to_linear=False, categorical=True
            )
            clear &= cloud == 0
        elif valid:
            clear &= data[n] == 1
        return s2, clear


def all_finite(stack: FloatArray) -> npt.NDArray[np.bool_]:
    """Pixels of a ``(bands, rows, cols)`` stack finite in every band."""
    return np.asarray(np.isfinite(stack).all(axis=0))


def _to_db(values: FloatArray, db: bool) -> FloatArray:
    """S1 values in dB (converted from linear power unless ``db``); NaN where not finite."""
    if db:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (10.0 * np.log10(values)).astype(np.float32)
    out[~np.isfinite(out)] = np.nan
    return out


def _scaled(values: FloatArray, scale: float) -> FloatArray:
    if scale != 1.0:
        values *= np.float32(scale)
    return values


def _read_s1(layer: Layer, block: RasterGrid) -> FloatArray:
    """S1 bands on ``block`` in dB (resampled in linear power when not on its grid)."""
    data = read_bands_on_grid(layer.info, layer.bands, block, to_linear=layer.db, categorical=False)
    return _to_db(data, layer.db)


def open_inputs(
    *,
    ref: Path | None,
    s1_ref: Path | None,
    s2_ref: Path | None,
    target_s1: Path,
    target_s2: Path | None,
    mask: Path | None,
    polarisations: tuple[str, ...],
    s2_bands: tuple[str, ...],
    s2_unit: str,
    min_overlap: float = 0.5,
) -> FusionInputs:
    """Resolve and check the inputs against the model's needs.

    Raises
    ------
    DataError
        A missing or non-georeferenced input, missing bands (the model's S1 polarisations or
        S2 bands), inputs that do not overlap the reference grid, or a gap-filling target or
        mask not on the reference grid.
    """
    if ref is not None and (s1_ref is not None or s2_ref is not None):
        raise DataError("give either --ref (a senprep pair) or --s1-ref and --s2-ref, not both")
    if ref is None and (s1_ref is None or s2_ref is None):
        raise DataError(
            "give the reference date: --ref PAIR (senprep pair) or both --s1-ref and --s2-ref"
        )
    if ref is not None:
        s1_info = _open(ref, "s1", "--ref")
        s2_info = _open(ref, "s2", "--ref")
    else:
        assert s1_ref is not None and s2_ref is not None
        s1_info = _open(s1_ref, "s1", "--s1-ref")
        s2_info = _open(s2_ref, "s2", "--s2-ref")
    assert s2_info.grid is not None
    grid = s2_info.grid
    s1_layer = _s1_layer(s1_info, polarisations, "--ref" if ref else "--s1-ref")
    s2_layer = _s2_layer(s2_info, s2_bands, s2_unit, "--ref" if ref else "--s2-ref")
    target_info = _open(target_s1, "s1", "--target-s1")
    target_layer = _s1_layer(target_info, polarisations, "--target-s1")
    for info, option in ((s1_info, "--s1-ref"), (target_info, "--target-s1")):
        fraction = _overlap_fraction(info, grid)
        if fraction < min_overlap:
            raise DataError(
                f"{info.path}: covers {100 * fraction:.0f} % of the reference grid of {s2_info.path} "
                f"(at least {100 * min_overlap:.0f} % needed); give {option} of the same area"
            )
    gap_layer, gap_valid, mask_layer = None, None, None
    if target_s2 is not None:
        gap_info = _open(target_s2, "s2", "--target-s2")
        assert gap_info.grid is not None
        if not gap_info.grid.same_as(grid):
            raise DataError(
                f"{target_s2}: not on the reference grid of {s2_info.path}; write it with "
                f"senprep s2 --like {s2_info.path} (gap filling keeps its clear pixels as they are)"
            )
        gap_layer = _s2_layer(gap_info, s2_bands, s2_unit, "--target-s2")
        gap_valid = _valid_band(gap_info)
        if mask is None and gap_valid is None:
            raise DataError(
                f"{target_s2}: no valid band to tell clear from cloudy pixels; give --mask CLOUDS.tif"
            )
    if mask is not None:
        if target_s2 is None:
            raise DataError("--mask marks the cloudy pixels of --target-s2; give --target-s2 too")
        mask_info = _open_mask(mask)
        assert mask_info.grid is not None
        if not mask_info.grid.same_as(grid):
            raise DataError(
                f"{mask}: not on the reference grid of {s2_info.path}; give a mask on that grid"
            )
        mask_layer = Layer(mask_info, (1,))
    dates = {
        "REFERENCE_S2_TIME": _time(s2_info, "S2_SENSING_TIME", "SENSING_TIME"),
        "REFERENCE_S1_TIME": _time(s1_info, "S1_ACQUISITION_TIME", "ACQUISITION_START"),
        "TARGET_S1_TIME": _time(target_info, "S1_ACQUISITION_TIME", "ACQUISITION_START"),
    }
    paths = {
        "reference_s1": str(s1_info.path),
        "reference_s2": str(s2_info.path),
        "target_s1": str(target_s1),
    }
    if target_s2 is not None:
        paths["target_s2"] = str(target_s2)
        assert gap_layer is not None
        dates["TARGET_S2_TIME"] = _time(gap_layer.info, "S2_SENSING_TIME", "SENSING_TIME")
    if mask is not None:
        paths["mask"] = str(mask)
    return FusionInputs(
        grid=grid,
        s1_ref=s1_layer,
        s2_ref=s2_layer,
        valid_ref=_valid_band(s2_info),
        s1_target=target_layer,
        s2_target=gap_layer,
        valid_target=gap_valid,
        mask=mask_layer,
        dates=dates,
        paths=paths,
    )


def _open_mask(path: Path) -> RasterInfo:
    return read_raster_info(path, "--mask")


__all__ = ["FusionInputs", "Layer", "all_finite", "open_inputs"]
