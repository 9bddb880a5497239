"""Cut aligned pairs into the patch dataset the model trains on: ``senprep split``.

Inputs are outputs of ``senprep pair`` on one grid: a reference date (I) and one or more target
dates (II, III, ...). Each multi-temporal sample holds S1 I, S2 I, S1 II, S2 II (bands prefixed
``I_``/``II_``); ``--mono`` adds mono-temporal samples (S1/S2 of one date). Patches of
``--size`` at ``--stride`` (see :mod:`sen_preproc.tiling`), spatial splits without leakage, patches
with too many invalid pixels skipped. Each sample is a georeferenced GeoTIFF; ``manifest.csv``
lists them, ``stats.json`` has per-band statistics of the training split and ``--format jpg``
adds the paper's 8-bit JPG export.

The dataset is written into a temporary folder renamed into place at the end.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError
from rasterio.windows import Window
from tqdm import tqdm

from sen_preproc import __version__
from sen_preproc.dataset import SAMPLE_NODATA, encode_sample
from sen_preproc.errors import (
    GeometryError,
    MissingDataError,
    OptionError,
    OutputExistsError,
    ProductError,
)
from sen_preproc.grid import RasterGrid, parse_aoi, transform_geometry
from sen_preproc.tiling import Patch, SplitSpec, assign_split, parse_split, patch_grid

LOGGER = logging.getLogger(__name__)

DATE_LABELS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")
S1_NAMES = ("VV", "VH", "HH", "HV")
JPG_S1_RANGE_DB = (-25.0, 0.0)
JPG_S2_RANGE = (0.0, 3000.0)  # reflectance x 10000


@dataclass(frozen=True)
class SplitConfig:
    """Options of ``senprep split``."""

    ref: Path
    targets: tuple[Path, ...]
    out: Path
    size_px: int = 256
    stride_px: int = 128
    mono: bool = False
    split: str = "rows:0.8,0.1,0.1"
    test_area: str | None = None
    max_invalid: float = 0.0
    jpg: bool = False
    overwrite: bool = False
    quiet: bool = False


@dataclass(frozen=True)
class PairImage:
    """An aligned pair GeoTIFF (output of ``senprep pair``)."""

    path: Path
    grid: RasterGrid
    names: tuple[str, ...]
    date: str
    date_label: str

    @property
    def s1_index(self) -> list[int]:
        return [i for i, n in enumerate(self.names) if n.upper() in S1_NAMES]

    @property
    def s2_index(self) -> list[int]:
        return [i for i, n in enumerate(self.names) if n.upper() not in S1_NAMES and n != "valid"]

    @property
    def valid_index(self) -> int | None:
        return self.names.index("valid") if "valid" in self.names else None


def open_pair(path: Path, label: str) -> PairImage:
    """Open and check an aligned pair."""
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise ProductError(f"{path}: no georeference; give the output of `senprep pair`")
            names = tuple(d or "" for d in ds.descriptions)
            grid = RasterGrid(ds.crs, ds.transform, ds.width, ds.height)
            tags = ds.tags()
    except RasterioIOError as err:
        raise MissingDataError(f"{path}: cannot open the pair ({err}); check the path") from err
    if not any(n.upper() in S1_NAMES for n in names) or not any(n.startswith("B") for n in names):
        raise ProductError(
            f"{path}: not an S1/S2 pair (bands {', '.join(names)}); give the output of `senprep pair`"
        )
    date = tags.get("S2_SENSING_TIME", "") or tags.get("S1_ACQUISITION_TIME", "")
    return PairImage(path=path, grid=grid, names=names, date=date, date_label=label)


def common_grid(pairs: list[PairImage]) -> tuple[RasterGrid, dict[Path, tuple[int, int]]]:
    """The grid shared by all pairs: their intersection on one pixel lattice.

    Pairs of different dates cropped to their own S1/S2 overlaps may differ by a few edge
    pixels; they must share CRS, pixel size and lattice (integer offsets) and band layout.

    Returns
    -------
    grid, offsets
        The common grid and, per pair, the (row, col) of its origin in that pair.
    """
    ref = pairs[0]
    t0 = ref.grid.transform
    bounds = list(ref.grid.bounds)
    for other in pairs[1:]:
        t = other.grid.transform
        col = (t.c - t0.c) / t0.a
        row = (t.f - t0.f) / t0.e
        if (
            other.grid.crs != ref.grid.crs
            or not math.isclose(t.a, t0.a, rel_tol=1e-9)
            or not math.isclose(t.e, t0.e, rel_tol=1e-9)
            or t.b != 0
            or t.d != 0
            or abs(col - round(col)) > 1e-6
            or abs(row - round(row)) > 1e-6
        ):
            raise GeometryError(
                f"{other.path} is not on the pixel grid of {ref.path} (CRS, pixel size or "
                "alignment differ); bring every date onto one grid (senprep s2 --like the first "
                "date's S2, then senprep pair)"
            )
        if other.names != ref.names:
            raise ProductError(
                f"{other.path} has bands {','.join(other.names)} but {ref.path} has "
                f"{','.join(ref.names)}; process every date with the same --bands/--pol"
            )
        left, bottom, right, top = other.grid.bounds
        bounds = [
            max(bounds[0], left),
            max(bounds[1], bottom),
            min(bounds[2], right),
            min(bounds[3], top),
        ]
    width = int(round((bounds[2] - bounds[0]) / abs(t0.a)))
    height = int(round((bounds[3] - bounds[1]) / abs(t0.e)))
    if width <= 0 or height <= 0:
        raise GeometryError(f"the pairs {', '.join(str(p.path) for p in pairs)} do not overlap")
    origin_x = bounds[0] if t0.a > 0 else bounds[2]
    origin_y = bounds[3] if t0.e < 0 else bounds[1]
    grid = RasterGrid(ref.grid.crs, Affine(t0.a, 0.0, origin_x, 0.0, t0.e, origin_y), width, height)
    offsets = {
        p.path: (
            int(round((origin_y - p.grid.transform.f) / p.grid.transform.e)),
            int(round((origin_x - p.grid.transform.c) / p.grid.transform.a)),
        )
        for p in pairs
    }
    return grid, offsets


class StripReader:
    """Rows ``[row, row + size)`` of each pair, read once: the image is read in blocks of
    ``stride`` rows and consecutive strips reuse the blocks they share (with the paper's
    256/128 every pixel is decoded once instead of twice)."""

    def __init__(
        self,
        datasets: dict[Path, Any],
        offsets: dict[Path, tuple[int, int]],
        width: int,
        size_px: int,
        stride_px: int,
    ) -> None:
        self.datasets = datasets
        self.offsets = offsets
        self.width = width
        self.size = size_px
        self.block = max(1, min(stride_px, size_px))
        self._cache: dict[tuple[Path, int], npt.NDArray[np.float32]] = {}

    def _block(self, path: Path, index: int) -> npt.NDArray[np.float32]:
        key = (path, index)
        if key not in self._cache:
            row0, col0 = self.offsets[path]
            ds = self.datasets[path]
            top = row0 + index * self.block
            rows = max(0, min(self.block, ds.height - top))
            data = np.full((ds.count, self.block, self.width), np.nan, dtype=np.float32)
            if rows:
                data[:, :rows] = ds.read(window=Window(col0, top, self.width, rows))
            self._cache[key] = data
        return self._cache[key]

    def strip(self, path: Path, row: int) -> npt.NDArray[np.float32]:
        first = row // self.block
        last = (row + self.size - 1) // self.block
        for key in [k for k in self._cache if k[0] == path and k[1] < first]:
            del self._cache[key]  # blocks above the current strip are never needed again
        blocks = [self._block(path, k) for k in range(first, last + 1)]
        start = row - first * self.block
        return np.concatenate(blocks, axis=1)[:, start : start + self.size]


@dataclass
class BandStats:
    """Running per-band statistics over valid pixels (float64 accumulators)."""

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

    def add(self, data: npt.NDArray[np.float32]) -> None:
        flat = data.reshape(data.shape[0], -1).astype(np.float64)
        ok = np.isfinite(flat)
        self.count += ok.sum(axis=1)
        zero = np.where(ok, flat, 0.0)
        self.total += zero.sum(axis=1)
        self.total_sq += (zero * zero).sum(axis=1)
        self.minimum = np.minimum(self.minimum, np.where(ok, flat, np.inf).min(axis=1))
        self.maximum = np.maximum(self.maximum, np.where(ok, flat, -np.inf).max(axis=1))

    def as_dict(self, names: list[str]) -> dict[str, dict[str, float]]:
        out = {}
        for i, name in enumerate(names):
            n = self.count[i]
            mean = self.total[i] / n if n else float("nan")
            var = max(self.total_sq[i] / n - mean * mean, 0.0) if n else float("nan")
            out[name] = {
                "count": int(n),
                "mean": float(mean),
                "std": float(math.sqrt(var)) if n else float("nan"),
                "min": float(self.minimum[i]) if n else float("nan"),
                "max": float(self.maximum[i]) if n else float("nan"),
            }
        return out


def _test_box(config: SplitConfig, grid: RasterGrid) -> tuple[float, float, float, float] | None:
    if not config.test_area:
        return None
    local = transform_geometry(parse_aoi(config.test_area), CRS.from_epsg(4326), grid.crs)
    inv = ~grid.transform
    xs, ys = zip(
        *[inv @ (x, y) for x in local.bounds[0::2] for y in local.bounds[1::2]], strict=True
    )
    return min(xs), min(ys), max(xs), max(ys)


def _to_jpg(
    data: npt.NDArray[np.float32], value_range: tuple[float, float]
) -> npt.NDArray[np.uint8]:
    low, high = value_range
    scaled = (np.nan_to_num(data, nan=low) - low) / (high - low) * 255.0
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def _write_sample(
    path: Path,
    data: npt.NDArray[np.float32],
    names: list[str],
    crs: CRS,
    transform: Affine,
    tags: dict[str, str],
) -> None:
    """Write a sample as int16 with per-band scale/offset (see :mod:`sen_preproc.dataset`):
    S1 dB to 0.01 dB, S2 reflectance x 10 000 exactly, ``valid`` exactly; half the bytes of
    float32, uncompressed so reading back is a plain copy."""
    encoded, scales, offsets = encode_sample(data, names)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype="int16",
        crs=crs,
        transform=transform,
        nodata=SAMPLE_NODATA,
        interleave="band",
    ) as ds:
        ds.write(encoded)
        ds.scales = scales
        ds.offsets = offsets
        for i, name in enumerate(names, start=1):
            ds.set_band_description(i, name)
        ds.update_tags(**tags)


def build_dataset(config: SplitConfig, progress: Callable[..., Any] | None = None) -> Path:
    """Write the patch dataset; returns its folder."""
    if not config.targets:
        raise OptionError("give at least one --target pair")
    if not 0.0 <= config.max_invalid <= 1.0:
        raise OptionError(f"--max-invalid must be within 0..1, got {config.max_invalid}")
    if config.out.exists() and any(config.out.iterdir()) and not config.overwrite:
        raise OutputExistsError(
            f"{config.out} already exists and is not empty; pass --overwrite to replace it"
        )
    spec: SplitSpec = parse_split(config.split)
    ref = open_pair(config.ref, DATE_LABELS[0])
    targets = [
        open_pair(p, DATE_LABELS[min(i + 1, len(DATE_LABELS) - 1)])
        for i, p in enumerate(config.targets)
    ]
    grid, offsets = common_grid([ref, *targets])
    patches = patch_grid(grid.height, grid.width, config.size_px, config.stride_px)
    if not patches:
        raise GeometryError(
            f"{config.ref}: the pair ({grid.width}x{grid.height} px) is smaller than one "
            f"{config.size_px} px patch; use a smaller --size"
        )
    spec = SplitSpec(spec.axis, spec.fractions, _test_box(config, grid), align_px=config.stride_px)
    tmp = config.out.with_name(f".{config.out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "samples").mkdir(parents=True)
    if config.jpg:
        (tmp / "jpg").mkdir()
    layer_names = [n for n in ref.names]
    multi_names = [f"{p.date_label}_{n}" for p in (ref, targets[0]) for n in layer_names]
    stats_multi = BandStats.empty(len(multi_names))
    stats_mono = BandStats.empty(len(layer_names))
    rows_manifest: list[dict[str, Any]] = []
    bar = progress or (lambda it, **kw: tqdm(it, disable=config.quiet, leave=False, **kw))
    # a small GDAL block cache: strips are read once (StripReader), caching them again in GDAL
    # would only add up to 5 % of the machine's RAM to the peak memory
    env = rasterio.Env(GDAL_CACHEMAX=128)
    env.__enter__()
    datasets = {p.path: rasterio.open(p.path) for p in (ref, *targets)}
    counts = {"kept": 0, "skipped_invalid": 0, "dropped_boundary": 0}
    # GDAL releases the GIL while writing: two writer threads overlap I/O with cutting
    pool = ThreadPoolExecutor(max_workers=2)
    pending: list[Future[None]] = []
    reader = StripReader(datasets, offsets, grid.width, config.size_px, config.stride_px)
    try:
        by_row: dict[int, list[Patch]] = {}
        for patch in patches:
            by_row.setdefault(patch.row, []).append(patch)
        for row, row_patches in bar(list(by_row.items()), desc="split", unit="row"):
            for future in pending:  # bounded memory: at most one row of samples in flight
                future.result()
            pending = []
            strips = {p.path: reader.strip(p.path, row) for p in (ref, *targets)}
            for patch in row_patches:
                split = assign_split(patch, grid.height, grid.width, spec)
                if split is None:
                    counts["dropped_boundary"] += 1
                    continue
                transform = (
                    grid.transform
                    @ Affine.translation(patch.col, 0)
                    @ Affine.translation(0, patch.row)
                )
                left, top = transform @ (0, 0)
                right, bottom = transform @ (config.size_px, config.size_px)
                cut = {
                    k: v[:, :, patch.col : patch.col + config.size_px] for k, v in strips.items()
                }
                invalid = {k: _invalid_mask(v, ref) for k, v in cut.items()}
                base = {
                    "row": patch.row,
                    "col": patch.col,
                    "size": config.size_px,
                    "split": split,
                    "minx": min(left, right),
                    "miny": min(top, bottom),
                    "maxx": max(left, right),
                    "maxy": max(top, bottom),
                    "crs": grid.crs.to_string(),
                }
                for t_index, target in enumerate(targets):
                    frac = float((invalid[ref.path] | invalid[target.path]).mean())
                    if frac > config.max_invalid:
                        counts["skipped_invalid"] += 1
                        continue
                    sid = f"r{patch.row:05d}_c{patch.col:05d}_t{t_index}"
                    data = np.concatenate([cut[ref.path], cut[target.path]])
                    names = [f"{ref.date_label}_{n}" for n in layer_names] + [
                        f"{target.date_label}_{n}" for n in layer_names
                    ]
                    rel = f"samples/{sid}.tif"
                    pending.append(
                        pool.submit(
                            _write_sample,
                            tmp / rel,
                            data,
                            names,
                            grid.crs,
                            transform,
                            {
                                "SPLIT": split,
                                "DATE_I": ref.date,
                                "DATE_II": target.date,
                                "KIND": "multi",
                            },
                        )
                    )
                    if split == "train":
                        stats_multi.add(data)
                    if config.jpg:
                        _write_jpgs(tmp / "jpg", sid, data, names)
                    rows_manifest.append(
                        base
                        | {
                            "sample_id": sid,
                            "kind": "multi",
                            "date_ref": ref.date,
                            "date_target": target.date,
                            "ref_pair": ref.path.name,
                            "target_pair": target.path.name,
                            "invalid_fraction": round(frac, 6),
                            "path": rel,
                        }
                    )
                    counts["kept"] += 1
                if config.mono:
                    for p in (ref, *targets):
                        frac = float(invalid[p.path].mean())
                        if frac > config.max_invalid:
                            counts["skipped_invalid"] += 1
                            continue
                        sid = f"r{patch.row:05d}_c{patch.col:05d}_mono{p.date_label}"
                        rel = f"samples/{sid}.tif"
                        pending.append(
                            pool.submit(
                                _write_sample,
                                tmp / rel,
                                cut[p.path],
                                layer_names,
                                grid.crs,
                                transform,
                                {"SPLIT": split, "DATE": p.date, "KIND": "mono"},
                            )
                        )
                        if split == "train":
                            stats_mono.add(cut[p.path])
                        rows_manifest.append(
                            base
                            | {
                                "sample_id": sid,
                                "kind": "mono",
                                "date_ref": p.date,
                                "date_target": "",
                                "ref_pair": p.path.name,
                                "target_pair": "",
                                "invalid_fraction": round(frac, 6),
                                "path": rel,
                            }
                        )
                        counts["kept"] += 1
        for future in pending:
            future.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        pool.shutdown(wait=True)
        for ds in datasets.values():
            ds.close()
        env.__exit__(None, None, None)
    if not rows_manifest:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GeometryError(
            f"{config.ref}: no patch passed --max-invalid {config.max_invalid} ({counts['skipped_invalid']} skipped as "
            "cloudy/invalid); raise --max-invalid or use clearer dates"
        )
    fields = [
        "sample_id",
        "kind",
        "split",
        "row",
        "col",
        "size",
        "minx",
        "miny",
        "maxx",
        "maxy",
        "crs",
        "date_ref",
        "date_target",
        "ref_pair",
        "target_pair",
        "invalid_fraction",
        "path",
    ]
    with open(tmp / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows_manifest)
    summary = {
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "senprep_version": __version__,
        "size_px": config.size_px,
        "stride_px": config.stride_px,
        "split": config.split,
        "test_area": config.test_area,
        "max_invalid": config.max_invalid,
        "grid": {
            "crs": grid.crs.to_string(),
            "transform": list(tuple(grid.transform)[:6]),
            "width": grid.width,
            "height": grid.height,
        },
        "pairs": {p.date_label: {"path": str(p.path), "date": p.date} for p in (ref, *targets)},
        "layers": layer_names,
        "counts": counts
        | {s: sum(1 for r in rows_manifest if r["split"] == s) for s in ("train", "val", "test")},
        "train_stats": {
            "multi": stats_multi.as_dict(multi_names),
            "mono": stats_mono.as_dict(layer_names) if config.mono else {},
        },
    }
    if config.jpg:
        summary["jpg_scaling"] = {
            "s1_db": JPG_S1_RANGE_DB,
            "s2_reflectance_x10000": JPG_S2_RANGE,
            "formula": "round((value - low) / (high - low) * 255), clipped to 0..255",
        }
    (tmp / "stats.json").write_text(json.dumps(summary, indent=2))
    per_split = {
        s: sum(1 for r in rows_manifest if r["split"] == s) for s in ("train", "val", "test")
    }
    for index, name in enumerate(("train", "val", "test")):
        if spec.fractions[index] > 0 and per_split[name] == 0:
            LOGGER.warning(
                "no %s samples: its band of the scene is narrower than one --size %d patch "
                "(or fully invalid); change --split or --size",
                name,
                config.size_px,
            )
    if config.out.exists():
        shutil.rmtree(config.out)
    os.replace(tmp, config.out)
    LOGGER.info("wrote %s: %s", config.out, summary["counts"])
    return config.out


def _invalid_mask(data: npt.NDArray[np.float32], layout: PairImage) -> npt.NDArray[np.bool_]:
    """Pixels with NaN in any S1/S2 band, or valid == 0."""
    bands = layout.s1_index + layout.s2_index
    invalid: npt.NDArray[np.bool_] = np.any(~np.isfinite(data[bands]), axis=0)
    if layout.valid_index is not None:
        invalid |= data[layout.valid_index] != 1
    return invalid


def _write_jpgs(folder: Path, sid: str, data: npt.NDArray[np.float32], names: list[str]) -> None:
    from PIL import Image

    for label in sorted({n.split("_", 1)[0] for n in names}):
        idx = {n.split("_", 1)[1]: i for i, n in enumerate(names) if n.startswith(f"{label}_")}
        s1 = [idx[b] for b in ("VV", "VH") if b in idx]
        rgb = [idx[b] for b in ("B4", "B3", "B2") if b in idx]
        if s1:
            chans = [data[i] for i in s1] + [data[s1[0]]] * (3 - len(s1))
            Image.fromarray(np.dstack([_to_jpg(c, JPG_S1_RANGE_DB) for c in chans[:3]])).save(
                folder / f"{sid}_{label}_s1.jpg", quality=95
            )
        if len(rgb) == 3:
            Image.fromarray(np.dstack([_to_jpg(data[i], JPG_S2_RANGE) for i in rgb])).save(
                folder / f"{sid}_{label}_s2.jpg", quality=95
            )
