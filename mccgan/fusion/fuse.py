"""``mccgan fuse``: a cloud-free Sentinel-2-like image of a whole scene at the target date.

Two passes, each with bounded memory whatever the scene size:

1. **prediction**: the scene is cut into tiles of the model's patch size overlapping by at
   least the generator's effective receptive field (:mod:`mccgan.fusion.tiling`); one row of
   tiles is read at a time (windowed reads of the reference pair and the target S1, the latter
   resampled onto the reference grid in linear power), tiles go through the generator in
   batches, and the predictions are blended with a smooth window into accumulators of one tile
   row; finished rows go to a scratch image (memory, or a temporary GeoTIFF when large);
2. **output**: block by block, no data where an input is invalid, gap filling
   (:mod:`mccgan.fusion.gapfill`) when ``--target-s2`` is given, conversion to the output's
   type, into a COG written atomically (:class:`sen_preproc.raster_io.GeoTiffWriter`).

Evaluation semantics: BatchNorm and dropout in eval mode (the running statistics, a
deterministic output); with ``mc_dropout = N`` dropout stays on, the N passes are averaged and
their per-pixel standard deviation is written as uncertainty bands ``std_<band>``.
"""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from rasterio.windows import Window
from torch import nn

from mccgan import __version__
from mccgan.config import DEVICES, PRECISIONS
from mccgan.data import BandRange, Normalisation, _scale, denormalise
from mccgan.devices import pick_device
from mccgan.errors import ConfigError, DataError
from mccgan.fusion import OUTPUT_DTYPES
from mccgan.fusion.gapfill import fill_gaps
from mccgan.fusion.inputs import S2_SCALES, FusionInputs, all_finite, open_inputs
from mccgan.fusion.tiling import blend_window, effective_receptive_field, tile_starts
from mccgan.registry import model_spec
from mccgan.training.export import load_model
from sen_preproc import __version__ as senprep_version
from sen_preproc.bands import VALID_BAND, is_polarisation, reflectance_scale
from sen_preproc.grid import RasterGrid
from sen_preproc.outputs import check_output_file
from sen_preproc.pair import time_gap_days
from sen_preproc.progress import NO_PROGRESS, Progress
from sen_preproc.raster_io import GeoTiffWriter, ScratchStore

LOGGER = logging.getLogger(__name__)
OUTPUT_BLOCK_PX = 512


@dataclass(frozen=True)
class FuseConfig:
    """Options of ``mccgan fuse`` (see ``mccgan fuse --help``)."""

    model: Path
    target_s1: Path
    out: Path
    ref: Path | None = None
    s1_ref: Path | None = None
    s2_ref: Path | None = None
    target_s2: Path | None = None
    mask: Path | None = None
    tile_px: int = 0  # 0: the model's patch size
    overlap_px: int = -1  # -1: from the effective receptive field
    batch_size: int = 8
    device: str = "auto"
    precision: str = "32"
    mc_dropout: int = 0
    dtype: str = "auto"
    feather_px: float = 8.0
    overwrite: bool = False
    scratch_memory_mb: int = 512

    def validate(self) -> None:
        if self.tile_px < 0 or (0 < self.tile_px < 16):
            raise ConfigError(
                f"--tile-size must be 0 (the model's) or at least 16 px, got {self.tile_px}"
            )
        if self.overlap_px < -1:
            raise ConfigError(f"--overlap must be -1 (auto) or >= 0 px, got {self.overlap_px}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.mc_dropout < 0 or self.mc_dropout == 1:
            raise ConfigError(
                f"--mc-dropout must be 0 (off) or at least 2 passes, got {self.mc_dropout}"
            )
        if not (self.feather_px >= 0 and math.isfinite(self.feather_px)):
            raise ConfigError(f"--feather must be >= 0 px, got {self.feather_px}")
        for name, value, allowed in (("--device", self.device, DEVICES), ("--precision", self.precision, PRECISIONS),
                                     ("--dtype", self.dtype, OUTPUT_DTYPES)):  # fmt: skip
            if value not in allowed:
                raise ConfigError(f"{name} {value!r} is not one of {', '.join(allowed)}")


@dataclass(frozen=True)
class FuseResult:
    path: Path
    tiles: int
    tile_px: tuple[int, int]
    overlap_px: int
    receptive_field_px: int
    filled_fraction: float | None


def set_dropout(generator: nn.Module, active: bool) -> int:
    """Dropout layers on (MC dropout) or off; BatchNorm stays in eval mode. Returns the count."""
    count = 0
    for module in generator.modules():
        if isinstance(module, nn.Dropout):
            module.train(active)
            count += 1
    return count


class Predictor:
    """The generator with its normalisation: model-unit arrays in, model-unit arrays out."""

    def __init__(self, generator: nn.Module, normalisation: Normalisation, device: torch.device,
                 precision: str, mc_passes: int) -> None:  # fmt: skip
        self.generator = generator.to(device).eval()
        self.normalisation = normalisation
        self.device = device
        self.mc_passes = mc_passes
        if mc_passes and set_dropout(self.generator, True) == 0:
            raise ConfigError(
                "--mc-dropout: this model has no dropout layers (trained with dropout off)"
            )
        dtype = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}.get(precision)
        self.autocast_dtype = dtype if device.type == "cuda" else None
        n_s1 = sum(1 for b in normalisation.inputs if _is_s1(b))  # S1 I then S1 II, then S2 I
        self._ranges = (normalisation.inputs[: n_s1 // 2], normalisation.inputs[n_s1 // 2 : n_s1],
                        normalisation.inputs[n_s1:])  # fmt: skip

    def normalise(self, s1_ref: npt.NDArray[np.float32], s1_target: npt.NDArray[np.float32],
                  s2_ref: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:  # fmt: skip
        """The generator's input ``(channels, rows, cols)`` in the registry's order."""
        parts = [
            _scale(a, r, False)
            for a, r in zip((s1_ref, s1_target, s2_ref), self._ranges, strict=True)
        ]
        return np.concatenate(parts)

    @torch.inference_mode()
    def __call__(
        self, batch: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        """Predictions (and the MC standard deviation) for ``(N, channels, rows, cols)``."""
        x = torch.from_numpy(batch).to(self.device, non_blocking=True)
        runs = max(1, self.mc_passes)
        total, total_sq = None, None
        for _ in range(runs):
            with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                                enabled=self.autocast_dtype is not None):  # fmt: skip
                y = self.generator(x)
            y = denormalise(y.float(), self.normalisation.target)
            total = y if total is None else total + y
            if self.mc_passes:
                total_sq = y * y if total_sq is None else total_sq + y * y
        assert total is not None
        mean = total / runs
        std = None
        if total_sq is not None:
            std = (total_sq / runs - mean * mean).clamp_min(0).sqrt().cpu().numpy()
        return mean.cpu().numpy(), std


def _is_s1(band: BandRange) -> bool:
    return is_polarisation(band.name.split("_", 1)[-1])


class _RowAccumulator:
    """Weighted sums of the predictions over the rows not yet final (one tile row high)."""

    def __init__(self, channels: int, width: int) -> None:
        self.channels = channels
        self.width = width
        self.start = 0
        self.sums = np.zeros((channels, 0, width), dtype=np.float64)
        self.weights = np.zeros((0, width), dtype=np.float64)

    def extend_to(self, stop: int) -> None:
        rows = stop - self.start - self.weights.shape[0]
        if rows > 0:
            self.sums = np.concatenate(
                [self.sums, np.zeros((self.channels, rows, self.width))], axis=1
            )
            self.weights = np.concatenate([self.weights, np.zeros((rows, self.width))], axis=0)

    def add(
        self, row: int, col: int, values: npt.NDArray[np.float32], weight: npt.NDArray[np.float64]
    ) -> None:
        r = row - self.start
        h, w = weight.shape
        self.sums[:, r : r + h, col : col + w] += values * weight
        self.weights[r : r + h, col : col + w] += weight

    def pop(self, stop: int) -> npt.NDArray[np.float32]:
        """The blended rows ``[start, stop)`` (removed from the accumulator)."""
        n = stop - self.start
        with np.errstate(invalid="ignore", divide="ignore"):
            done = (self.sums[:, :n] / self.weights[:n]).astype(np.float32)
        self.sums = self.sums[:, n:]
        self.weights = self.weights[n:]
        self.start = stop
        return done


def _output_dtype(config: FuseConfig, inputs: FusionInputs) -> str:
    """``auto``: like ``senprep s2`` wrote the target (gap filling) or reference S2: uint16
    reflectance x 10 000, or float32 0-1 reflectance."""
    if config.dtype != "auto":
        return config.dtype
    like = inputs.s2_target.info if inputs.s2_target is not None else inputs.s2_ref.info
    return "float32" if reflectance_scale(like.tags, like.dtype) == 1.0 else "uint16"


def fuse_scene(config: FuseConfig, progress: Progress = NO_PROGRESS) -> FuseResult:
    """Predict the target date's S2 over the reference grid and write it (see the module)."""
    config.validate()
    inputs_given = [p for p in (config.model, config.ref, config.s1_ref, config.s2_ref, config.target_s1,
                                config.target_s2, config.mask) if p is not None]  # fmt: skip
    check_output_file(config.out, overwrite=config.overwrite, inputs=inputs_given)
    device = pick_device(config.device)
    generator, document = load_model(config.model)
    spec = model_spec(str(document["model"]))
    normalisation = Normalisation.from_dict(document["normalisation"])
    target_bands = tuple(document["bands"]["target"])
    polarisations = tuple(n.split("_", 1)[1] for n in document["bands"]["inputs"]
                          if n.startswith("I_") and is_polarisation(n.split("_", 1)[1]))  # fmt: skip
    if spec.inputs != ("s1_I", "s1_II", "s2_I"):
        raise DataError(
            f"{config.model}: model {spec.name} does not take S1 I, S1 II and S2 I; fuse needs one that does"
        )
    inputs = open_inputs(ref=config.ref, s1_ref=config.s1_ref, s2_ref=config.s2_ref, target_s1=config.target_s1,
                         target_s2=config.target_s2, mask=config.mask, polarisations=polarisations,
                         s2_bands=target_bands, s2_unit=normalisation.s2_unit)  # fmt: skip
    grid = inputs.grid
    patch = int(document.get("patch_px") or 256)
    tile = config.tile_px or patch
    tile_h, tile_w = min(tile, grid.height), min(tile, grid.width)
    erf = effective_receptive_field(generator, len(document["bands"]["inputs"]), min(patch, 256))
    if config.overlap_px >= 0:
        overlap = config.overlap_px
    else:
        overlap = min(tile // 2, max(2 * erf, tile // 8))
    overlap_h, overlap_w = min(overlap, tile_h - 1), min(overlap, tile_w - 1)
    if 0 <= config.overlap_px < erf and config.overlap_px < tile // 2:
        LOGGER.warning("--overlap %d px is below the generator's effective receptive field (%d px): tile edges may show",
                       config.overlap_px, erf)  # fmt: skip
    predictor = Predictor(generator, normalisation, device, config.precision, config.mc_dropout)
    rows = tile_starts(grid.height, tile_h, overlap_h)
    cols = tile_starts(grid.width, tile_w, overlap_w)
    weight = np.outer(blend_window(tile_h, overlap_h), blend_window(tile_w, overlap_w))
    LOGGER.info("%d x %d tiles of %d x %d px, overlap %d px (effective receptive field %d px), device %s",
                len(rows), len(cols), tile_h, tile_w, overlap, erf, device)  # fmt: skip
    channels = len(target_bands)
    names = list(target_bands) + [f"std_{b}" for b in target_bands] * bool(config.mc_dropout)
    budget = config.scratch_memory_mb << 20
    with ScratchStore([*names, "usable"], grid.height, grid.width, max_memory_bytes=budget,
                      owner=config.out) as scratch:  # fmt: skip
        _predict(
            inputs,
            predictor,
            scratch,
            rows,
            cols,
            (tile_h, tile_w),
            weight,
            channels,
            config,
            progress,
        )
        filled = _write_output(
            config, inputs, document, scratch, names, channels, overlap, erf, progress
        )
    LOGGER.info("wrote %s", config.out)
    return FuseResult(config.out, len(rows) * len(cols), (tile_h, tile_w), overlap, erf, filled)


def _predict(inputs: FusionInputs, predictor: Predictor, scratch: ScratchStore, rows: list[int], cols: list[int],
             tile: tuple[int, int], weight: npt.NDArray[np.float64], channels: int, config: FuseConfig,
             progress: Progress) -> None:  # fmt: skip
    grid = inputs.grid
    tile_h, tile_w = tile
    mc = bool(config.mc_dropout)
    accumulator = _RowAccumulator(channels * (2 if mc else 1), grid.width)

    def read_rows(start: int, stop: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        strip = grid.window_grid(Window(0, start, grid.width, stop - start))
        s1_ref, s2_ref, usable = inputs.read_reference(strip)
        s1_target = inputs.read_target_s1(strip)
        usable &= all_finite(s1_target)
        return predictor.normalise(s1_ref, s1_target, s2_ref), usable

    last: dict[str, Any] = {}

    def read_strip(row: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """The generator's input for rows ``[row, row + tile_h)``; the rows shared with the
        previous strip (the tile overlap) are taken from it, not read again."""
        kept = last["row"] + tile_h - row if last else 0
        if kept > 0:
            x_new, usable_new = read_rows(row + kept, row + tile_h)
            offset = row - last["row"]
            x = np.concatenate([last["x"][:, offset:], x_new], axis=1)
            usable = np.concatenate([last["usable"][offset:], usable_new], axis=0)
        else:
            x, usable = read_rows(row, row + tile_h)
        last.update(row=row, x=x, usable=usable)
        return x, usable

    task = progress.start("fuse", len(rows) * len(cols), "tile")
    # the next strip is read (GDAL decompression, resampling: the GIL released) while the
    # model runs on this one
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fuse-read") as reader:
        pending = reader.submit(read_strip, rows[0])
        try:
            for index, row in enumerate(rows):
                x, usable = pending.result()
                if index + 1 < len(rows):
                    pending = reader.submit(read_strip, rows[index + 1])
                accumulator.extend_to(row + tile_h)
                for start in range(0, len(cols), config.batch_size):
                    chunk = cols[start : start + config.batch_size]
                    batch = np.stack([x[:, :, c : c + tile_w] for c in chunk])
                    mean, std = predictor(batch)
                    for k, col in enumerate(chunk):
                        values = np.concatenate([mean[k], std[k]]) if std is not None else mean[k]
                        accumulator.add(row, col, values, weight)
                    task.advance(len(chunk))
                # the rows above the next tile row are final (the accumulator starts at ``row``)
                stop = rows[index + 1] if index + 1 < len(rows) else grid.height
                done = accumulator.pop(stop)
                for c in range(done.shape[0]):
                    scratch.write(scratch.names[c], row, done[c])
                scratch.write("usable", row, usable[: stop - row].astype(np.float32))
        finally:
            pending.cancel()
            task.close()


def _tags(config: FuseConfig, inputs: FusionInputs, document: dict[str, Any], overlap: int, erf: int,
          dtype: str) -> dict[str, str]:  # fmt: skip
    gap = time_gap_days(inputs.dates["REFERENCE_S2_TIME"], inputs.dates["TARGET_S1_TIME"])
    dropout = f"on, {config.mc_dropout} passes" if config.mc_dropout else "off"
    tiling = {"overlap_px": overlap, "effective_receptive_field_px": erf, "blend": "raised cosine",
              "batch_norm": "eval", "dropout": dropout}  # fmt: skip
    tags = {
        "MCCGAN_VERSION": __version__,
        "SENPREP_VERSION": senprep_version,
        "MODEL": str(document["model"]),
        "MODEL_FILE": str(config.model),
        "MODEL_CHECKSUM": str(document["checksum"]),
        "SENSING_TIME": inputs.dates["TARGET_S1_TIME"],
        "TIME_GAP_DAYS": f"{gap:.3f}" if gap is not None else "",
        "REFLECTANCE_SCALE": "10000" if dtype == "uint16" else "1",
        "INPUTS": json.dumps(inputs.paths),
        "TILING": json.dumps(tiling),
        "PROCESSING_TIME": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **inputs.dates,
    }
    return tags


def _write_output(config: FuseConfig, inputs: FusionInputs, document: dict[str, Any], scratch: ScratchStore,
                  names: list[str], channels: int, overlap: int, erf: int, progress: Progress) -> float | None:  # fmt: skip
    grid = inputs.grid
    dtype = _output_dtype(config, inputs)
    model_scale = S2_SCALES[Normalisation.from_dict(document["normalisation"]).s2_unit]
    out_scale = 10000.0 if dtype == "uint16" else 1.0
    factor = out_scale / model_scale
    gap = inputs.s2_target is not None
    band_names = [*names[:channels], VALID_BAND, *(["filled"] if gap else []), *names[channels:]]
    nodata = 0.0 if dtype == "uint16" else float("nan")
    filled_count, total_count = 0, 0
    halo = int(math.ceil(config.feather_px)) if gap else 0
    tags = _tags(config, inputs, document, overlap, erf, dtype)
    with GeoTiffWriter(config.out, grid, band_names, tags=tags, overwrite=config.overwrite, dtype=dtype,
                       nodata=nodata, inputs=[config.model, config.target_s1],
                       empty_hint="no pixel is valid in both dates' inputs") as writer:  # fmt: skip
        blocks = list(grid.blocks(OUTPUT_BLOCK_PX))
        task = progress.start("write", len(blocks), "block")
        for window in blocks:
            outer = _grow(window, halo, grid)
            pred = np.stack([scratch.read(n, outer) for n in names[:channels]])
            usable = scratch.read("usable", outer) == 1
            pred[:, ~usable] = np.nan
            r0, c0 = int(window.row_off - outer.row_off), int(window.col_off - outer.col_off)
            h, w = int(window.height), int(window.width)
            extra: list[npt.NDArray[np.float32]] = []
            if gap:
                real, clear = inputs.read_target_s2(grid.window_grid(outer))
                result = fill_gaps(real, clear, pred, config.feather_px)[
                    :, r0 : r0 + h, c0 : c0 + w
                ]
                clear_core = clear[r0 : r0 + h, c0 : c0 + w]
                has = all_finite(result)
                filled_count += int((has & ~clear_core).sum())
                total_count += int(has.sum())
                extra.append((has & ~clear_core).astype(np.float32))
            else:
                result = pred[:, r0 : r0 + h, c0 : c0 + w]
                has = all_finite(result)
            values = _convert(result * np.float32(factor), has, dtype)
            std = (
                np.stack([scratch.read(n, window) for n in names[channels:]])
                if names[channels:]
                else None
            )
            block = [*values, has.astype(np.float32), *extra]
            if std is not None:
                block.extend(_convert(std * np.float32(factor), has, dtype, low=0))
            writer.write(window, np.stack(block).astype(dtype))
            task.advance(1)
        task.close()
        filled = filled_count / total_count if gap and total_count else (0.0 if gap else None)
        if filled is not None:
            writer.tags["GAP_FILLED_FRACTION"] = f"{filled:.4f}"
            writer.tags["FEATHER_PX"] = f"{config.feather_px:g}"
        writer.commit()
    return filled


def _grow(window: Window, halo: int, grid: RasterGrid) -> Window:
    r0 = max(0, int(window.row_off) - halo)
    c0 = max(0, int(window.col_off) - halo)
    r1 = min(grid.height, int(window.row_off + window.height) + halo)
    c1 = min(grid.width, int(window.col_off + window.width) + halo)
    return Window(c0, r0, c1 - c0, r1 - r0)


def _convert(
    values: npt.NDArray[np.float32], has: npt.NDArray[np.bool_], dtype: str, low: int = 1
) -> npt.NDArray[Any]:
    """Model values to the output type: uint16 rounded and clipped to ``low``..65535 (0 = no
    data: reflectances start at 1; a standard deviation keeps its 0, the ``valid`` band says
    where there is data), float32 as they are (NaN = no data)."""
    if dtype == "uint16":
        out = np.clip(np.rint(np.nan_to_num(values, nan=0.0)), low, 65535)
        out[:, ~has] = 0
        return out
    out32 = values.astype(np.float32)
    out32[:, ~has] = np.nan
    return out32
