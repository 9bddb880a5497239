"""Cut aligned pairs into the patch dataset the model trains on: ``senprep split``.

Inputs are outputs of ``senprep pair`` on one grid: a reference date (I) and one or more target
dates (II, III, ...). Each multi-temporal sample holds S1 I, S2 I, S1 II, S2 II (bands prefixed
``I_``/``II_``); ``--mono`` adds mono-temporal samples (S1/S2 of one date). Patches of
``--size`` at ``--stride`` (:mod:`sen_preproc.dataset.tiling`), spatial splits without leakage,
patches with too many invalid pixels skipped. The dataset folder is described in
:mod:`sen_preproc.dataset.schema`.

Three steps: :func:`plan_split` (inputs, units, grid, patches - headers only),
:func:`write_samples` (the one pass over the pixels) and :func:`summarise` (``dataset.json`` and
``stats.json``). The folder is written under a temporary name beside ``--out`` and renamed into
place at the end; ``--overwrite`` replaces only a dataset senprep wrote.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.transform import array_bounds
from rasterio.windows import from_bounds

from sen_preproc import __version__
from sen_preproc.dataset import export, schema
from sen_preproc.dataset.blocks import BlockReader
from sen_preproc.dataset.coding import SampleCoding, choose_coding
from sen_preproc.dataset.pairs import PairImage, common_grid, open_pairs
from sen_preproc.dataset.samples import SampleWriter
from sen_preproc.dataset.schema import DatasetInfo, ManifestRecord
from sen_preproc.dataset.stats import BandStats
from sen_preproc.dataset.tiling import (
    SPLIT_NAMES,
    Patch,
    SplitSpec,
    assign_split,
    parse_split,
    patch_grid,
)
from sen_preproc.errors import GeometryError, OptionError
from sen_preproc.grid import RasterGrid, parse_aoi, transform_geometry
from sen_preproc.interrupts import remove_stale_temporaries, temporary_path
from sen_preproc.outputs import check_output_folder, writing
from sen_preproc.progress import NO_PROGRESS, Progress, track

LOGGER = logging.getLogger(__name__)

GDAL_CACHE_MB = 64  # tiles are read exactly once (BlockReader): GDAL's cache need not hold any


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
    sample_dtype: str = "auto"
    overwrite: bool = False


@dataclass(frozen=True)
class SplitPlan:
    """What :func:`write_samples` cuts: pairs, common grid, coding and the patches by row."""

    pairs: tuple[PairImage, ...]
    grid: RasterGrid
    offsets: dict[Path, tuple[int, int]]
    spec: SplitSpec
    coding: SampleCoding  # one date's layers
    rows: dict[int, list[tuple[Patch, str]]]  # top row -> patches with their split
    dropped_boundary: int

    @property
    def ref(self) -> PairImage:
        return self.pairs[0]

    @property
    def targets(self) -> tuple[PairImage, ...]:
        return self.pairs[1:]

    @property
    def multi_coding(self) -> SampleCoding:
        return self.coding.prefixed(self.ref.label) + self.coding.prefixed(self.targets[0].label)


@dataclass
class WrittenSamples:
    """What :func:`write_samples` wrote."""

    records: list[ManifestRecord] = field(default_factory=list)
    stats: dict[str, BandStats] = field(default_factory=dict)
    skipped_invalid: int = 0


def _check_options(config: SplitConfig) -> None:
    if not config.targets:
        raise OptionError("give at least one --target pair")
    for target in config.targets:
        if Path(target).resolve() == Path(config.ref).resolve():
            raise OptionError(
                f"--target {target} is the --ref pair itself; give the pair of a later date"
            )
    if not 0.0 <= config.max_invalid <= 1.0:
        raise OptionError(f"--max-invalid must be within 0..1, got {config.max_invalid}")


def _test_box(test_area: str | None, grid: RasterGrid) -> tuple[float, float, float, float] | None:
    if not test_area:
        return None
    local = transform_geometry(parse_aoi(test_area), CRS.from_epsg(4326), grid.crs)
    window = from_bounds(*local.bounds, transform=grid.transform)
    box = (
        window.col_off,
        window.row_off,
        window.col_off + window.width,
        window.row_off + window.height,
    )
    inside = (max(box[0], 0), max(box[1], 0), min(box[2], grid.width), min(box[3], grid.height))
    if inside[0] >= inside[2] or inside[1] >= inside[3]:
        raise OptionError(
            f"--test-area {test_area!r} lies outside the pairs (their area is "
            f"{tuple(round(v) for v in grid.bounds)} in {grid.crs.to_string()}); give a test "
            "area inside the scene (lon/lat)"
        )
    return box


def plan_split(config: SplitConfig) -> SplitPlan:
    """Open and check the pairs, choose the coding, lay the patches out and assign their splits.

    Raises
    ------
    OptionError, ProductError, GeometryError
        Bad options, pairs that are not senprep pairs or differ in layout/units, grids that do
        not line up, or a scene smaller than one patch.
    """
    _check_options(config)
    split = parse_split(config.split)
    pairs = open_pairs(config.ref, config.targets)
    grid, offsets = common_grid(pairs)
    coding = choose_coding(pairs[0].names, pairs[0].s1_unit, pairs[0].s2_unit, config.sample_dtype)
    patches = patch_grid(grid.height, grid.width, config.size_px, config.stride_px)
    if not patches:
        raise GeometryError(
            f"{config.ref}: the pair ({grid.width}x{grid.height} px) is smaller than one "
            f"{config.size_px} px patch; use a smaller --size"
        )
    spec = SplitSpec(
        split.axis, split.fractions, _test_box(config.test_area, grid), align_px=config.stride_px
    )
    rows: dict[int, list[tuple[Patch, str]]] = {}
    dropped = 0
    for patch in patches:
        name = assign_split(patch, grid.height, grid.width, spec)
        if name is None:
            dropped += 1
        else:
            rows.setdefault(patch.row, []).append((patch, name))
    return SplitPlan(tuple(pairs), grid, offsets, spec, coding, rows, dropped)


def _window_sums(invalid: npt.NDArray[np.bool_], size_px: int) -> npt.NDArray[np.int64]:
    """Invalid pixels of each ``size x size`` window of a strip, by the window's first column."""
    cumulative = np.concatenate([[0], np.cumsum(invalid.sum(axis=0, dtype=np.int64))])
    sums: npt.NDArray[np.int64] = cumulative[size_px:] - cumulative[:-size_px]
    return sums


def _emit_sample(
    writer: SampleWriter,
    folder: Path,
    sample_id: str,
    strips: tuple[npt.NDArray[np.generic], ...],
    col: int,
    size_px: int,
    transform: Affine,
    tags: dict[str, str],
    train: bool,
    jpg_units: dict[str, str] | None,
) -> BandStats | None:
    """Cut one sample out of the stored strips, write it (and its JPGs); returns its training
    statistics (None outside the training split). Runs in a writer thread."""
    stored = np.concatenate([s[:, :, col : col + size_px] for s in strips])
    writer.write(folder / schema.SAMPLES_DIR / f"{sample_id}.tif", stored, transform, tags)
    if jpg_units is not None:
        coding = writer.coding
        export.write_jpgs(
            folder / schema.JPG_DIR, sample_id, coding.decode(stored), coding.names, jpg_units
        )
    return BandStats.of(stored) if train else None


def write_samples(
    plan: SplitPlan, config: SplitConfig, folder: Path, progress: Progress = NO_PROGRESS
) -> WrittenSamples:
    """Cut and write every sample of ``plan`` into ``folder`` (one pass over the pixels).

    Each strip of rows is read once per pair (:class:`BlockReader`); a patch's invalid fraction
    is a window sum over column sums; two writer threads cut and write the samples while the
    next strip is read, with at most two rows of samples in flight (bounded memory).
    """
    size = config.size_px
    area = float(size * size)
    units = {"s1": plan.ref.s1_unit, "s2": plan.ref.s2_unit}
    jpg_units = units if config.jpg else None
    (folder / schema.SAMPLES_DIR).mkdir(parents=True)
    if config.jpg:
        (folder / schema.JPG_DIR).mkdir()
    writers = {
        "multi": SampleWriter(plan.grid.crs, plan.multi_coding),
        "mono": SampleWriter(plan.grid.crs, plan.coding),
    }
    result = WrittenSamples(
        stats={
            "multi": BandStats.empty(len(plan.multi_coding.bands)),
            "mono": BandStats.empty(len(plan.coding.bands)),
        }
    )
    crs_text = plan.grid.crs.to_string()
    in_flight: deque[list[tuple[str, Future[BandStats | None]]]] = deque()

    def drain(keep_rows: int) -> None:
        """Wait for all but the last ``keep_rows`` rows of samples and merge their training
        statistics in order, so the result does not depend on timing."""
        while len(in_flight) > keep_rows:
            for kind, future in in_flight.popleft():
                part = future.result()
                if part is not None:
                    result.stats[kind].merge(part)

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        datasets = {p.path: rasterio.open(p.path) for p in plan.pairs}
        reader = BlockReader(datasets, plan.offsets, plan.grid.width, size, plan.coding)
        # two writer threads: tifffile and numpy release the GIL while copying and writing
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="senprep-write")
        try:
            for row, row_patches in track(progress, list(plan.rows.items()), "split", "row"):
                strips = {p.path: reader.strip(p.path, row) for p in plan.pairs}
                mono_cols = {k: _window_sums(inv, size) for k, (_, inv) in strips.items()}
                multi_cols = [
                    _window_sums(strips[plan.ref.path][1] | strips[t.path][1], size)
                    for t in plan.targets
                ]
                jobs: list[tuple[str, Future[BandStats | None]]] = []
                for patch, split in row_patches:
                    col = patch.col
                    transform = plan.grid.transform @ Affine.translation(col, row)
                    west, south, east, north = array_bounds(size, size, transform)
                    base = {
                        "split": split, "row": row, "col": col, "size": size,
                        "minx": min(west, east), "miny": min(south, north),
                        "maxx": max(west, east), "maxy": max(south, north),
                        "crs": crs_text,
                    }  # fmt: skip
                    candidates: list[tuple[str, PairImage, PairImage | None, float]] = [
                        ("multi", plan.ref, target, float(multi_cols[i][col]) / area)
                        for i, target in enumerate(plan.targets)
                    ]
                    if config.mono:
                        candidates += [
                            ("mono", p, None, float(mono_cols[p.path][col]) / area)
                            for p in plan.pairs
                        ]
                    for kind, first, second, fraction in candidates:
                        if fraction > config.max_invalid:
                            result.skipped_invalid += 1
                            continue
                        parts: tuple[npt.NDArray[np.generic], ...]
                        if second is not None:
                            index = plan.targets.index(second)
                            sample_id = f"r{row:05d}_c{col:05d}_t{index}"
                            tags = {"SPLIT": split, "DATE_I": first.date, "DATE_II": second.date}
                            parts = (strips[first.path][0], strips[second.path][0])
                        else:
                            sample_id = f"r{row:05d}_c{col:05d}_mono{first.label}"
                            tags = {"SPLIT": split, "DATE": first.date}
                            parts = (strips[first.path][0],)
                        tags["KIND"] = kind
                        job = pool.submit(
                            _emit_sample, writers[kind], folder, sample_id, parts, col, size,
                            transform, tags, split == "train",
                            jpg_units if kind == "multi" else None,
                        )  # fmt: skip
                        jobs.append((kind, job))
                        result.records.append(
                            ManifestRecord(
                                sample_id=sample_id,
                                kind=kind,
                                ref_label=first.label,
                                target_label=second.label if second else "",
                                date_ref=first.date,
                                date_target=second.date if second else "",
                                ref_pair=first.path.name,
                                target_pair=second.path.name if second else "",
                                invalid_fraction=round(fraction, 6),
                                path=f"{schema.SAMPLES_DIR}/{sample_id}.tif",
                                **base,  # type: ignore[arg-type]
                            )
                        )
                in_flight.append(jobs)
                drain(keep_rows=1)  # writing row r overlaps reading and cutting row r + 1
            drain(keep_rows=0)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            reader.close()
            for ds in datasets.values():
                ds.close()
    return result


def summarise(
    plan: SplitPlan, config: SplitConfig, written: WrittenSamples
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``dataset.json`` document and the ``stats.json`` statistics of a written dataset."""
    per_split = {s: sum(1 for r in written.records if r.split == s) for s in SPLIT_NAMES}
    counts = {
        "kept": len(written.records),
        "skipped_invalid": written.skipped_invalid,
        "dropped_boundary": plan.dropped_boundary,
        **per_split,
    }
    units = {"s1": plan.ref.s1_unit, "s2": plan.ref.s2_unit}
    grid = plan.grid
    document: dict[str, Any] = {
        "senprep_version": __version__,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "layers": list(plan.ref.names),
        "units": units,
        "sample_dtype": plan.coding.dtype,
        "nodata": "nan" if plan.coding.dtype == "float32" else int(plan.coding.nodata),
        "bands": {
            "multi": schema.coding_document(plan.multi_coding),
            "mono": schema.coding_document(plan.coding),
        },
        "parameters": {
            "size_px": config.size_px,
            "stride_px": config.stride_px,
            "split": config.split,
            "test_area": config.test_area,
            "max_invalid": config.max_invalid,
            "mono": config.mono,
            "formats": ["tif", "jpg"] if config.jpg else ["tif"],
            "sample_dtype": config.sample_dtype,
        },
        "grid": {
            "crs": grid.crs.to_wkt(),
            "crs_string": grid.crs.to_string(),
            "transform": list(tuple(grid.transform)[:6]),
            "width": grid.width,
            "height": grid.height,
        },
        "pairs": [p.provenance() for p in plan.pairs],
        "counts": counts,
    }
    if config.jpg:
        document["jpg_scaling"] = export.scaling(units)
    stats = {
        "multi": written.stats["multi"].as_dict(plan.multi_coding),
        "mono": written.stats["mono"].as_dict(plan.coding) if config.mono else {},
    }
    for index, name in enumerate(SPLIT_NAMES):
        if plan.spec.fractions[index] > 0 and per_split[name] == 0:
            LOGGER.warning(
                "no %s samples: its band of the scene is narrower than one --size %d patch "
                "(or fully invalid); change --split or --size",
                name,
                config.size_px,
            )
    return document, stats


def _publish(tmp: Path, out: Path) -> None:
    """Rename the finished folder into place; an old dataset there is removed only after."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def build_dataset(config: SplitConfig, progress: Progress = NO_PROGRESS) -> DatasetInfo:
    """Write the patch dataset; returns its description (``dataset.json``)."""
    check_output_folder(
        config.out,
        overwrite=config.overwrite,
        inputs=(config.ref, *config.targets),
        foreign_entries=schema.foreign_entries,
        kind="a senprep dataset",
    )
    plan = plan_split(config)
    remove_stale_temporaries(config.out)
    tmp = temporary_path(config.out, "tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with writing(config.out, hold_native=False):
            written = write_samples(plan, config, tmp, progress)
            if not written.records:
                raise GeometryError(
                    f"{config.ref}: no patch passed --max-invalid {config.max_invalid} "
                    f"({written.skipped_invalid} skipped as cloudy/invalid); raise --max-invalid "
                    "or use clearer dates"
                )
            document, stats = summarise(plan, config, written)
            schema.write_dataset_files(tmp, document, written.records, stats)
            _publish(tmp, config.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    LOGGER.info("wrote %s: %s", config.out, document["counts"])
    return schema.read_info(config.out)
