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
from collections import deque
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
from sen_preproc.dataset import (
    SAMPLE_NODATA,
    SampleWriter,
    band_coding,
    decode_sample,
    encode_block,
)
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


class BlockReader:
    """Rows of each pair, int16-encoded (see :mod:`sen_preproc.dataset`), decoded once.

    Each pair is read in blocks of rows aligned with the file's own tiles (``senprep pair``
    writes 512 px tiles), column chunk by column chunk, so every tile is decompressed exactly
    once with a small GDAL cache; each block is encoded to int16 and its invalid mask computed
    once per pixel (patches overlap 4x at the paper's 256/128). A background thread reads the
    next block while the current rows are cut and written (GDAL and numpy release the GIL).

    Parameters
    ----------
    datasets : dict
        Open rasterio datasets of the pairs, by path.
    offsets : dict
        (row, col) of the common grid's origin in each pair.
    width : int
        Width of the common grid (px).
    size_px : int
        Patch size (rows of a strip).
    layout : PairImage
        Band layout (the same for every pair).
    """

    def __init__(
        self,
        datasets: dict[Path, Any],
        offsets: dict[Path, tuple[int, int]],
        width: int,
        size_px: int,
        layout: PairImage,
    ) -> None:
        self.datasets = datasets
        self.offsets = offsets
        self.width = width
        self.size = size_px
        self.layout = layout
        self.band_scales, self.band_offsets = band_coding(list(layout.names))
        self._rows: dict[Path, int] = {}
        self._tile_cols: dict[Path, int] = {}
        for path, ds in datasets.items():
            block_rows, block_cols = ds.block_shapes[0]
            tiled = 16 <= block_rows <= 2048 and block_cols < ds.width
            self._rows[path] = block_rows if tiled else max(size_px, 256)
            self._tile_cols[path] = block_cols if tiled else ds.width
        self._cache: dict[tuple[Path, int], Future[tuple[Any, Any]]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="senprep-read")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._cache.clear()

    def _load(self, path: Path, index: int) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.bool_]]:
        ds = self.datasets[path]
        col0 = self.offsets[path][1]
        block = self._rows[path]
        top = index * block
        rows = max(0, min(block, ds.height - top))
        stored = np.full((ds.count, block, self.width), SAMPLE_NODATA, dtype=np.int16)
        if rows:
            # column chunks of whole tiles: ~32 MB of float32 at a time
            tile = self._tile_cols[path]
            step = max(tile, (32 << 20) // (4 * ds.count * block) // tile * tile)
            col = col0
            while col < col0 + self.width:
                stop = min(col0 + self.width, (col // tile) * tile + step)
                data = ds.read(window=Window(col, top, stop - col, rows), out_dtype="float32")
                stored[:, :rows, col - col0 : stop - col0] = encode_block(
                    data, self.band_scales, self.band_offsets
                )
                col = stop
        return stored, _invalid_mask(stored, self.layout)

    def _future(self, path: Path, index: int) -> Future[tuple[Any, Any]]:
        key = (path, index)
        if key not in self._cache:
            self._cache[key] = self._pool.submit(self._load, path, index)
        return self._cache[key]

    def strip(self, path: Path, row: int) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.bool_]]:
        """Grid rows ``[row, row + size)``: int16 bands ``(bands, size, width)`` and the invalid
        mask ``(size, width)``."""
        block = self._rows[path]
        top = self.offsets[path][0] + row
        first, last = top // block, (top + self.size - 1) // block
        for key in [k for k in self._cache if k[0] == path and k[1] < first]:
            del self._cache[key]  # blocks above the current strip are never needed again
        parts = [self._future(path, k).result() for k in range(first, last + 1)]
        if (last + 1) * block < self.datasets[path].height:
            self._future(path, last + 1)  # read ahead
        start = top - first * block
        if len(parts) == 1:
            stored, invalid = parts[0]
            return stored[:, start : start + self.size], invalid[start : start + self.size]
        stored = np.concatenate([p[0] for p in parts], axis=1)[:, start : start + self.size]
        invalid = np.concatenate([p[1] for p in parts], axis=0)[start : start + self.size]
        return stored, invalid


@dataclass
class BandStats:
    """Running per-band statistics over valid pixels, in stored (int16) units.

    Sums are float64 of integers, hence exact (< 2**53 for any dataset that fits on a disk);
    :meth:`as_dict` converts to physical units with the bands' scale and offset.
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
    def of(cls, stored: npt.NDArray[np.int16]) -> BandStats:
        """Statistics of one int16 sample ``(bands, rows, cols)`` (nodata excluded)."""
        flat = stored.reshape(stored.shape[0], -1)
        if not (flat == SAMPLE_NODATA).any():
            values = flat.astype(np.float64)
            return cls(
                np.full(flat.shape[0], float(flat.shape[1])),
                values.sum(axis=1),
                np.einsum("ij,ij->i", values, values),
                flat.min(axis=1).astype(np.float64),
                flat.max(axis=1).astype(np.float64),
            )
        stats = cls.empty(flat.shape[0])
        for band, row in enumerate(flat):
            good = row[row != SAMPLE_NODATA].astype(np.float64)
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

    def as_dict(self, names: list[str]) -> dict[str, dict[str, float]]:
        scales, offsets = band_coding(names)
        out = {}
        for i, name in enumerate(names):
            n, scale, offset = self.count[i], scales[i], offsets[i]
            mean = self.total[i] / n if n else float("nan")
            var = max(self.total_sq[i] / n - mean * mean, 0.0) if n else float("nan")
            out[name] = {
                "count": int(n),
                "mean": float(mean * scale + offset),
                "std": float(math.sqrt(var) * scale) if n else float("nan"),
                "min": float(self.minimum[i] * scale + offset) if n else float("nan"),
                "max": float(self.maximum[i] * scale + offset) if n else float("nan"),
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


def _window_sums(invalid: npt.NDArray[np.bool_], size_px: int) -> npt.NDArray[np.int64]:
    """Invalid pixels of each ``size x size`` window of a strip, by the window's first column."""
    cumulative = np.concatenate([[0], np.cumsum(invalid.sum(axis=0, dtype=np.int64))])
    sums: npt.NDArray[np.int64] = cumulative[size_px:] - cumulative[:-size_px]
    return sums


def _emit_sample(
    writer: SampleWriter,
    folder: Path,
    sample_id: str,
    strips: tuple[npt.NDArray[np.int16], ...],
    col: int,
    size_px: int,
    transform: Affine,
    tags: dict[str, str],
    names: list[str],
    train: bool,
    jpg: bool,
) -> BandStats | None:
    """Cut one sample out of the int16 strips, write it (and its JPGs); returns its training
    statistics (None outside the training split). Runs in a writer thread."""
    stored = np.concatenate([s[:, :, col : col + size_px] for s in strips])
    writer.write(folder / "samples" / f"{sample_id}.tif", stored, transform, tags)
    if jpg:
        _write_jpgs(folder / "jpg", sample_id, decode_sample(stored, *band_coding(names)), names)
    return BandStats.of(stored) if train else None


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
    layer_names = list(ref.names)
    multi_names = [f"{p.date_label}_{n}" for p in (ref, targets[0]) for n in layer_names]
    stats_multi = BandStats.empty(len(multi_names))
    stats_mono = BandStats.empty(len(layer_names))
    rows_manifest: list[dict[str, Any]] = []
    bar = progress or (lambda it, **kw: tqdm(it, disable=config.quiet, leave=False, **kw))
    by_row: dict[int, list[Patch]] = {}
    for patch in patches:
        by_row.setdefault(patch.row, []).append(patch)
    counts = {"kept": 0, "skipped_invalid": 0, "dropped_boundary": 0}
    size = config.size_px
    area = float(size * size)
    # tiles are read exactly once (BlockReader): GDAL's cache need not hold any
    env = rasterio.Env(GDAL_CACHEMAX=64)
    env.__enter__()
    datasets = {p.path: rasterio.open(p.path) for p in (ref, *targets)}
    reader = BlockReader(datasets, offsets, grid.width, size, ref)
    writers = {
        "multi": SampleWriter(grid.crs, multi_names, *band_coding(multi_names)),
        "mono": SampleWriter(grid.crs, layer_names, *band_coding(layer_names)),
    }
    # two writer threads: tifffile and numpy release the GIL while copying and writing
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="senprep-write")
    in_flight: deque[list[tuple[str, Future[BandStats | None]]]] = deque()

    def drain(keep_rows: int) -> None:
        """Wait for all but the last ``keep_rows`` rows of samples (bounded memory) and merge
        their training statistics in order, so the result does not depend on timing."""
        while len(in_flight) > keep_rows:
            for kind, future in in_flight.popleft():
                part = future.result()
                if part is not None:
                    (stats_multi if kind == "multi" else stats_mono).merge(part)

    try:
        for row, row_patches in bar(list(by_row.items()), desc="split", unit="row"):
            strips = {p.path: reader.strip(p.path, row) for p in (ref, *targets)}
            # invalid pixels per column of the strip: a patch's fraction is a window sum
            mono_cols = {k: _window_sums(inv, size) for k, (_, inv) in strips.items()}
            multi_cols = [
                _window_sums(strips[ref.path][1] | strips[t.path][1], size) for t in targets
            ]
            row_jobs: list[tuple[str, Future[BandStats | None]]] = []
            for patch in row_patches:
                split = assign_split(patch, grid.height, grid.width, spec)
                if split is None:
                    counts["dropped_boundary"] += 1
                    continue
                col = patch.col
                transform = grid.transform @ Affine.translation(col, row)
                left, top = transform @ (0, 0)
                right, bottom = transform @ (size, size)
                base = {
                    "row": row,
                    "col": col,
                    "size": size,
                    "split": split,
                    "minx": min(left, right),
                    "miny": min(top, bottom),
                    "maxx": max(left, right),
                    "maxy": max(top, bottom),
                    "crs": grid.crs.to_string(),
                }
                for t_index, target in enumerate(targets):
                    frac = float(multi_cols[t_index][col]) / area
                    if frac > config.max_invalid:
                        counts["skipped_invalid"] += 1
                        continue
                    sid = f"r{row:05d}_c{col:05d}_t{t_index}"
                    rel = f"samples/{sid}.tif"
                    tags = {
                        "SPLIT": split,
                        "DATE_I": ref.date,
                        "DATE_II": target.date,
                        "KIND": "multi",
                    }
                    parts = (strips[ref.path][0], strips[target.path][0])
                    job = pool.submit(
                        _emit_sample,
                        writers["multi"],
                        tmp,
                        sid,
                        parts,
                        col,
                        size,
                        transform,
                        tags,
                        multi_names,
                        split == "train",
                        config.jpg,
                    )
                    row_jobs.append(("multi", job))
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
                        frac = float(mono_cols[p.path][col]) / area
                        if frac > config.max_invalid:
                            counts["skipped_invalid"] += 1
                            continue
                        sid = f"r{row:05d}_c{col:05d}_mono{p.date_label}"
                        rel = f"samples/{sid}.tif"
                        job = pool.submit(
                            _emit_sample,
                            writers["mono"],
                            tmp,
                            sid,
                            (strips[p.path][0],),
                            col,
                            size,
                            transform,
                            {"SPLIT": split, "DATE": p.date, "KIND": "mono"},
                            layer_names,
                            split == "train",
                            False,
                        )
                        row_jobs.append(("mono", job))
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
            in_flight.append(row_jobs)
            drain(keep_rows=1)  # writing row r overlaps reading and cutting row r + 1
        drain(keep_rows=0)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        pool.shutdown(wait=True)
        reader.close()
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


def _invalid_mask(stored: npt.NDArray[np.int16], layout: PairImage) -> npt.NDArray[np.bool_]:
    """Pixels with no data in any S1/S2 band, or ``valid != 1`` (int16 bands, see
    :func:`sen_preproc.dataset.encode_block`)."""
    bands = layout.s1_index + layout.s2_index
    invalid: npt.NDArray[np.bool_] = stored[bands[0]] == SAMPLE_NODATA
    for band in bands[1:]:
        invalid |= stored[band] == SAMPLE_NODATA
    if layout.valid_index is not None:
        invalid |= stored[layout.valid_index] != 1
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
