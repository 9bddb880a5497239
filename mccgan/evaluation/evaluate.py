"""``mccgan evaluate``: predictions scored against the truth, as the paper's tables and figures.

Scene mode (``--pred``, ``--truth``): every prediction and, with ``--ref``, the copy of S2 at
date I (the baseline a model has to beat) are scored on the pixels they all hold, region by
region (``all``, then each ``--region``), with bounded memory (:mod:`.metrics` reads row
blocks). Patch mode (``--patches DATASET --model model.pt``): the model is run on the test
split of a ``senprep split`` dataset and scored on its patches, again beside the copy of S2 I.

The report folder holds ``metrics.json`` (every value, the unit, the PSNR peak, notes on
undefined values), ``metrics.csv`` (one row per region, method, band and metric),
``metrics.md`` (per region a table of metrics x methods for each band, the best in bold) and,
in scene mode, PNG figures (:mod:`.figures`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mccgan import __version__
from mccgan.errors import ConfigError, DataError
from mccgan.evaluation.metrics import Moments, Score, score_scene
from mccgan.evaluation.scene import (
    UNIT_DN8,
    UNIT_REFLECTANCE,
    BoolArray,
    FloatArray,
    Raster,
    Region,
    check_same_grid,
    open_raster,
    parse_region,
    require_bands,
    s2_bands,
    unit_factor,
)
from sen_preproc.interrupts import remove_stale_temporaries, temporary_path
from sen_preproc.outputs import check_output_folder, writing
from sen_preproc.progress import NO_PROGRESS, Progress

LOGGER = logging.getLogger(__name__)
FORMAT = "mccgan-evaluation"
COPY_LABEL = "copy S2 I"
REPORT_FILES = ("metrics.json", "metrics.csv", "metrics.md")
HIGHER_IS_BETTER = {"r2": True, "r": True, "kge": True, "psnr": True, "ssim": True,
                    "rmse": False, "mae": False, "sam_deg": False, "sam_rad": False}  # fmt: skip
METRIC_NAMES = {"rmse": "RMSE", "mae": "MAE", "bias": "bias", "r2": "R²", "r": "r", "kge": "KGE",
                "psnr": "PSNR (dB)", "ssim": "SSIM", "sam_deg": "SAM (°)", "sam_rad": "SAM (rad)",
                "n": "pixels"}  # fmt: skip
TABLE_METRICS = ("rmse", "mae", "r2", "kge", "ssim", "psnr")


@dataclass(frozen=True)
class EvaluateConfig:
    """Options of ``mccgan evaluate`` (see ``mccgan evaluate --help``)."""

    out: Path
    preds: tuple[tuple[str, Path], ...] = ()
    truth: Path | None = None
    ref: Path | None = None
    mask: Path | None = None
    regions: tuple[tuple[str, str], ...] = ()
    data_range: float | None = None
    patches: Path | None = None
    model: Path | None = None
    figures: bool = True
    overwrite: bool = False
    block_rows: int = 1024

    def validate(self) -> None:
        if self.patches is not None:
            if self.model is None:
                raise ConfigError(
                    "--patches evaluates a model on a dataset's test split: give --model model.pt"
                )
            if self.preds or self.truth:
                raise ConfigError("--patches replaces --pred/--truth: give one or the other")
        else:
            if not self.preds or self.truth is None:
                raise ConfigError(
                    "give --pred FUSED.tif (one or more) and --truth S2_II.tif, or --patches DATASET"
                )
            if self.model is not None:
                raise ConfigError("--model is for --patches; scene mode scores the --pred images")
        labels = [label for label, _ in self.preds] + [name for name, _ in self.regions]
        if len(set(labels)) != len(labels) or "all" in [name for name, _ in self.regions]:
            raise ConfigError(
                f"labels and region names must be unique (and not 'all'): {', '.join(labels)}"
            )
        if self.data_range is not None and not (
            self.data_range > 0 and math.isfinite(self.data_range)
        ):
            raise ConfigError(f"--data-range must be a positive number, got {self.data_range}")
        if self.block_rows < 16:
            raise ConfigError(f"block rows must be at least 16, got {self.block_rows}")


@dataclass
class Report:
    """What was measured: ``scores[region][label][band][metric]``."""

    scores: dict[str, dict[str, dict[str, dict[str, Score]]]]
    bands: tuple[str, ...]
    unit: str
    data_range: float
    inputs: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    uncertainty: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)

    def value(self, region: str, label: str, band: str, metric: str) -> float | None:
        return self.scores[region][label][band][metric].value


def parse_labelled(values: Sequence[str], option: str) -> tuple[tuple[str, Path], ...]:
    """``--pred FILE`` (labelled with the file's stem) or ``--pred LABEL=FILE``."""
    out = []
    for text in values:
        label, sep, path = text.partition("=")
        if not sep or Path(text).exists():
            label, path = "", text
        out.append((label or Path(path).stem, Path(path)))
    return tuple(out)


def _foreign_entries(folder: Path) -> list[str] | None:
    marker = folder / "metrics.json"
    try:
        if json.loads(marker.read_text()).get("format") != FORMAT:
            return None
    except (OSError, ValueError):
        return None
    return [p.name for p in folder.iterdir() if p.name not in REPORT_FILES and p.suffix != ".png"]


def evaluate(config: EvaluateConfig, progress: Progress = NO_PROGRESS) -> Report:
    """Score the predictions and write the report folder (atomically: a temporary folder
    renamed into place)."""
    config.validate()
    given = [p for _, p in config.preds] + [
        config.truth,
        config.ref,
        config.mask,
        config.patches,
        config.model,
    ]
    check_output_folder(config.out, overwrite=config.overwrite, inputs=given,
                        foreign_entries=_foreign_entries, kind="an mccgan evaluation report")  # fmt: skip
    if config.patches is not None:
        from mccgan.evaluation.patches import score_patches

        report = score_patches(config, progress)
        writer: Callable[[Path, Report], list[str]] | None = None
    else:
        report, writer = _score_files(config, progress)
    _write_report(config.out, report, writer if config.figures else None)
    return report


def _score_files(
    config: EvaluateConfig, progress: Progress
) -> tuple[Report, Callable[[Path, Report], list[str]]]:
    assert config.truth is not None
    truth = open_raster(config.truth, "--truth")
    preds = [open_raster(path, f"--pred {label}") for label, path in config.preds]
    bands = s2_bands(preds[0])
    if not bands:
        raise DataError(
            f"{preds[0].path}: no Sentinel-2 bands (B2, B3, ...); --pred needs an mccgan fuse output"
        )
    for raster in preds[1:]:
        if s2_bands(raster) != bands:
            raise DataError(
                f"{raster.path}: bands {', '.join(s2_bands(raster))} differ from {preds[0].path}'s "
                f"({', '.join(bands)}); compare predictions of the same bands"
            )
    ref = open_raster(config.ref, "--ref") if config.ref is not None else None
    mask = open_raster(config.mask, "--mask") if config.mask is not None else None
    regions = [parse_region(name, spec) for name, spec in config.regions]
    for raster in [
        *preds,
        *([ref] if ref else []),
        *([mask] if mask else []),
        *(r.raster for r in regions),
    ]:
        check_same_grid(raster, truth)
    require_bands(truth, bands)
    if ref is not None:
        require_bands(ref, bands)
    unit = UNIT_DN8 if truth.reflectance_scale is None else UNIT_REFLECTANCE
    factors = {"truth": unit_factor(truth, unit), **{r.option: unit_factor(r, unit) for r in preds}}
    if ref is not None:
        factors["ref"] = unit_factor(ref, unit)
    data_range = config.data_range or (255.0 if unit == UNIT_DN8 else 10000.0)
    labels = [label for label, _ in config.preds]
    sources: list[tuple[str, Raster, float]] = [
        (lab, r, factors[r.option]) for lab, r in zip(labels, preds, strict=True)
    ]
    if ref is not None:
        sources.append((COPY_LABEL, ref, factors["ref"]))

    def read_block(
        start: int, stop: int
    ) -> tuple[FloatArray, dict[str, FloatArray], dict[str, BoolArray]]:
        rows = (start, stop)
        truth_block = truth.read(bands, rows, factors["truth"])
        common = _holds_data(truth, truth_block, rows)
        values: dict[str, FloatArray] = {}
        for label, raster, factor in sources:
            block = raster.read(bands, rows, factor)
            common &= _holds_data(raster, block, rows)
            values[label] = block
        if mask is not None:
            common &= Region("mask", mask, 1, False).read(rows)
        masks = {"all": common}
        for region in regions:
            masks[region.name] = common & region.read(rows)
        return truth_block, values, masks

    ndvi = (bands.index("B4"), bands.index("B8")) if "B4" in bands and "B8" in bands else None
    uncertainty = _Uncertainty(sources, bands)

    def read_and_track(
        start: int, stop: int
    ) -> tuple[FloatArray, dict[str, FloatArray], dict[str, BoolArray]]:
        block = read_block(start, stop)
        if uncertainty.sources:
            uncertainty.add(start, stop, *block)
        return block

    task = progress.start("evaluate", None, "block")
    try:
        scores = score_scene(read_and_track, truth.grid.height, truth.grid.width, bands, data_range,
                             ndvi_bands=ndvi, block_rows=config.block_rows)  # fmt: skip
    finally:
        task.close()
    inputs: dict[str, Any] = {
        "truth": str(truth.path),
        "predictions": {lab: str(r.path) for lab, r, _ in sources},
    }
    if mask is not None:
        inputs["mask"] = str(mask.path)
    inputs["regions"] = {r.name: spec for r, (_, spec) in zip(regions, config.regions, strict=True)}
    report = Report(
        scores, bands, unit, data_range, inputs, _notes(scores), uncertainty=uncertainty.result()
    )

    def figures(folder: Path, report: Report) -> list[str]:
        from mccgan.evaluation.figures import write_figures

        return write_figures(folder, truth, sources, ref, bands, factors["truth"], mask)

    return report, figures


class _Uncertainty:
    """For predictions with ``std_<band>`` bands (``mccgan fuse --mc-dropout``): per band the
    Pearson correlation of the standard deviation with the absolute error (region ``all``),
    the mean standard deviation and the mean absolute error. Fed the blocks the metrics read
    (in row order, with their halo: only rows not seen before count), so nothing is read twice
    but the std bands."""

    def __init__(self, sources: Sequence[tuple[str, Raster, float]], bands: Sequence[str]) -> None:
        self.bands = list(bands)
        self.sources = [(label, raster, factor) for label, raster, factor in sources
                        if all(f"std_{b}" in raster.names for b in bands)]  # fmt: skip
        self.moments = {label: {b: Moments() for b in bands} for label, _, _ in self.sources}
        self.next_row = 0

    def add(self, start: int, stop: int, truth: FloatArray, values: Mapping[str, FloatArray],
            masks: Mapping[str, BoolArray]) -> None:  # fmt: skip
        first = max(start, self.next_row)
        if first >= stop:
            return
        self.next_row = stop
        new = slice(first - start, stop - start)
        keep = masks["all"][new]
        for label, raster, factor in self.sources:
            std = raster.read([f"std_{b}" for b in self.bands], (first, stop), factor)
            ok = keep & np.isfinite(std).all(axis=0)
            for k, band in enumerate(self.bands):
                error = np.abs(values[label][k][new][ok].astype(np.float64) - truth[k][new][ok])
                self.moments[label][band].merge(Moments.of(error, std[k][ok].astype(np.float64)))

    def result(self) -> dict[str, dict[str, dict[str, float | None]]]:
        out: dict[str, dict[str, dict[str, float | None]]] = {}
        for label, by_band in self.moments.items():
            out[label] = {}
            for band, m in by_band.items():
                denominator = math.sqrt(m.m2_t * m.m2_p)
                r = m.c_pt / denominator if denominator > 0 else None
                out[label][band] = {"r_std_abs_error": r, "mean_std": m.mean_p if m.n else None,
                                    "mean_abs_error": m.mean_t if m.n else None}  # fmt: skip
        return out


def _holds_data(raster: Raster, block: FloatArray, rows: tuple[int, int]) -> BoolArray:
    holds: BoolArray = np.asarray(np.isfinite(block).all(axis=0))
    valid = raster.read_valid(rows)
    if valid is not None:
        holds &= valid
    return holds


def _notes(scores: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Score]]]]) -> list[str]:
    notes = []
    for region, by_label in scores.items():
        for label, by_band in by_label.items():
            for band, by_metric in by_band.items():
                for metric, score in by_metric.items():
                    if score.note:
                        notes.append(f"{region} / {label} / {band} / {metric}: {score.note}")
    return notes


def _json_value(score: Score) -> float | str | None:
    if score.value is None:
        return None
    if math.isinf(score.value):
        return "inf" if score.value > 0 else "-inf"
    return float(score.value)


def _format(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "∞"
    if metric == "n":
        return f"{value:.0f}"
    if metric in ("rmse", "mae", "bias"):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.4f}"
    if metric in ("psnr", "sam_deg"):
        return f"{value:.2f}"
    return f"{value:.4f}"


def markdown_tables(report: Report) -> str:
    """Per region: rows band x metric, columns the methods, the best value in bold."""
    out = io.StringIO()
    for region, by_label in report.scores.items():
        labels = list(by_label)
        count = by_label[labels[0]][report.bands[0]]["n"].value or 0
        out.write(f"### {region} ({count:.0f} pixels)\n\n")
        out.write("| band | metric | " + " | ".join(labels) + " |\n")
        out.write("|---|---|" + "---|" * len(labels) + "\n")
        columns = [*report.bands, *(["NDVI"] if "NDVI" in by_label[labels[0]] else [])]
        rows = [(band, metric) for band in columns for metric in TABLE_METRICS]
        rows += [("all", "sam_deg"), ("all", "rmse")]
        for band, metric in rows:
            values = [by_label[label][band][metric].value for label in labels]
            best = _best(metric, values)
            cells = [
                f"**{_format(metric, v)}**" if i in best else _format(metric, v)
                for i, v in enumerate(values)
            ]
            out.write(f"| {band} | {METRIC_NAMES[metric]} | " + " | ".join(cells) + " |\n")
        out.write("\n")
    return out.getvalue()


def _uncertainty_lines(report: Report) -> str:
    lines = []
    for label, by_band in report.uncertainty.items():
        for band, v in by_band.items():
            lines.append(f"- uncertainty ({label}, {band}): r(std, |error|) = {_format('r', v['r_std_abs_error'])}, "
                         f"mean std {_format('rmse', v['mean_std'])}, mean |error| {_format('rmse', v['mean_abs_error'])}\n")  # fmt: skip
    return "".join(lines)


def _best(metric: str, values: Sequence[float | None]) -> set[int]:
    known = [(i, v) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if len(known) < 2 or metric not in HIGHER_IS_BETTER:
        return set()
    pick = max if HIGHER_IS_BETTER[metric] else min
    target = pick(v for _, v in known)
    return {i for i, v in known if v == target}


def _write_report(
    out: Path, report: Report, figures: Callable[[Path, Report], list[str]] | None
) -> None:
    remove_stale_temporaries(out)
    temp = temporary_path(out, "tmp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        with writing(out, hold_native=False):
            if figures is not None:
                report.figures = figures(temp, report)
            document = {
                "format": FORMAT,
                "format_version": 1,
                "mccgan_version": __version__,
                "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "unit": report.unit,
                "data_range": report.data_range,
                "psnr": f"10 log10(peak^2 / MSE), peak = {report.data_range:g} ({report.unit})",
                "r2": "1 - SS_res / SS_tot (coefficient of determination against the truth)",
                "kge": "Kling-Gupta efficiency (Gupta et al. 2009)",
                "ssim": "Wang et al. 2004, Gaussian window sigma 1.5 (11 px), K1 0.01, K2 0.03",
                "bands": list(report.bands),
                "inputs": report.inputs,
                "scores": {
                    region: {
                        label: {
                            band: {m: _json_value(s) for m, s in metrics.items()}
                            for band, metrics in by_band.items()
                        }
                        for label, by_band in by_label.items()
                    }
                    for region, by_label in report.scores.items()
                },
                "uncertainty": report.uncertainty,
                "notes": report.notes,
                "figures": report.figures,
            }
            (temp / "metrics.json").write_text(
                json.dumps(document, indent=2, allow_nan=False) + "\n"
            )
            with open(temp / "metrics.csv", "w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(["region", "method", "band", "metric", "value"])
                for region, by_label in report.scores.items():
                    for label, by_band in by_label.items():
                        for band, metrics in by_band.items():
                            for metric, score in metrics.items():
                                value = _json_value(score)
                                writer.writerow(
                                    [region, label, band, metric, "" if value is None else value]
                                )
            header = (f"# Evaluation\n\nUnit: {report.unit}; PSNR peak {report.data_range:g}; "
                      f"truth {report.inputs.get('truth', '')}\n\n")  # fmt: skip
            notes = "".join(f"- {n}\n" for n in report.notes) + _uncertainty_lines(report)
            pictures = "".join(f"![{Path(f).stem}]({f})\n" for f in report.figures)
            text = (
                header
                + markdown_tables(report)
                + (f"Notes:\n\n{notes}\n" if notes else "")
                + pictures
            )
            (temp / "metrics.md").write_text(text)
            os.chmod(temp, 0o755)
            if out.exists():
                shutil.rmtree(out)
            temp.rename(out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
