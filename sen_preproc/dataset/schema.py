"""The dataset contract: what a ``senprep split`` folder holds, written and read here only.

::

    DATASET/
      dataset.json    format + version, band layout and units, sample coding, the pairs'
                      provenance, the split parameters, the grid and the counts (the marker
                      that makes the folder senprep's)
      manifest.csv    one row per sample (MANIFEST_FIELDS)
      stats.json      per-band statistics of the training split, in physical units
      samples/        one GeoTIFF per sample (:mod:`sen_preproc.dataset.samples`)
      jpg/            with --format jpg: the paper's 8-bit JPGs

``FORMAT_VERSION`` changes whenever a reader of the previous version would misread the folder;
readers refuse other versions with one line saying what to do.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from sen_preproc.dataset.coding import BandCoding, SampleCoding
from sen_preproc.errors import MissingDataError, ProductError

FORMAT = "senprep-dataset"
FORMAT_VERSION = 1
DATASET_JSON = "dataset.json"
MANIFEST_CSV = "manifest.csv"
STATS_JSON = "stats.json"
SAMPLES_DIR = "samples"
JPG_DIR = "jpg"
KINDS = ("multi", "mono")
"""Sample kinds: multi-temporal (S1 I, S2 I, S1 II, S2 II) and mono-temporal (one date)."""

_SAMPLE_NAME = re.compile(
    r"r\d{5,}_c\d{5,}_(?:t\d+|mono[IVXLCDM]+)(?:_[IVXLCDM]+_s[12])?\.(?:tif|jpg)"
)


class DatasetError(ProductError):
    """A dataset folder is missing, damaged, or of another format version."""


@dataclass(frozen=True)
class ManifestRecord:
    """One row of ``manifest.csv``: a sample, its window on the common grid and its dates.

    ``row``/``col``/``size`` are pixels of the dataset grid; ``minx..maxy`` the sample's bounds
    in the dataset CRS (``crs``); ``ref_label``/``target_label`` the date labels (I, II, ...;
    ``target_label`` empty for mono samples, whose date is ``ref_label``).
    """

    sample_id: str
    kind: str
    split: str
    row: int
    col: int
    size: int
    minx: float
    miny: float
    maxx: float
    maxy: float
    crs: str
    ref_label: str
    target_label: str
    date_ref: str
    date_target: str
    ref_pair: str
    target_pair: str
    invalid_fraction: float
    path: str


MANIFEST_FIELDS = tuple(f.name for f in fields(ManifestRecord))
_TYPES = {f.name: f.type for f in fields(ManifestRecord)}


@dataclass(frozen=True)
class DatasetInfo:
    """``dataset.json``, validated.

    Attributes
    ----------
    folder : Path
        The dataset folder.
    layers : tuple of str
        Band layout of each date (``VV, VH, B2, ..., valid``).
    units : dict
        ``{"s1": "db" | "linear", "s2": "reflectance_x10000" | "reflectance"}``.
    coding : dict
        Per kind (``multi``, ``mono``): the sample coding (dtype, band names, scale/offset).
    size_px, stride_px : int
        Patch size and stride.
    crs : str
        CRS of the samples (WKT).
    raw : dict
        The whole document (provenance, parameters, counts...).
    """

    folder: Path
    layers: tuple[str, ...]
    units: dict[str, str]
    coding: dict[str, SampleCoding]
    size_px: int
    stride_px: int
    crs: str
    raw: dict[str, Any]


def is_dataset(folder: Path) -> bool:
    """True when ``folder`` holds senprep's ``dataset.json`` marker (any version)."""
    try:
        document = json.loads((folder / DATASET_JSON).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("format") == FORMAT


def foreign_entries(folder: Path) -> list[str] | None:
    """For :func:`sen_preproc.outputs.check_output_folder`: None when ``folder`` is no dataset,
    else the entries in it that senprep did not write."""
    if not is_dataset(folder):
        return None
    own = {DATASET_JSON, MANIFEST_CSV, STATS_JSON, SAMPLES_DIR, JPG_DIR}
    foreign = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name not in own:
            foreign.append(entry.name)
        elif entry.name in (SAMPLES_DIR, JPG_DIR):
            if not entry.is_dir(follow_symlinks=False):
                foreign.append(entry.name)
                continue
            foreign += [
                f"{entry.name}/{sub.name}"
                for sub in os.scandir(entry.path)
                if not (_SAMPLE_NAME.fullmatch(sub.name) and sub.is_file(follow_symlinks=False))
            ]
        elif not entry.is_file(follow_symlinks=False):
            foreign.append(entry.name)
    return foreign


def coding_document(coding: SampleCoding) -> list[dict[str, Any]]:
    return [asdict(band) for band in coding.bands]


def write_dataset_files(
    folder: Path,
    document: dict[str, Any],
    records: Sequence[ManifestRecord],
    stats: dict[str, Any],
) -> None:
    """Write ``dataset.json`` (``document`` plus the format keys), ``manifest.csv`` and
    ``stats.json`` into ``folder``."""
    with open(folder / MANIFEST_CSV, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(asdict(r) for r in records)
    (folder / STATS_JSON).write_text(
        json.dumps({"format_version": FORMAT_VERSION, "split": "train", **stats}, indent=2)
    )
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **document}
    (folder / DATASET_JSON).write_text(json.dumps(full, indent=2))


def _fix(folder: Path) -> str:
    return f"write it again with `senprep split ... -o {folder}`"


def read_info(folder: str | Path) -> DatasetInfo:
    """Read and check ``dataset.json``.

    Raises
    ------
    DatasetError
        No dataset, a damaged ``dataset.json``, or another format version.
    """
    folder = Path(folder)
    path = folder / DATASET_JSON
    if not path.is_file():
        if (folder / MANIFEST_CSV).is_file():
            raise DatasetError(
                f"{folder}: written by an older senprep (no {DATASET_JSON}); {_fix(folder)}"
            )
        raise DatasetError(f"{folder}: no {DATASET_JSON}; give a folder written by `senprep split`")
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: not readable JSON ({err}); {_fix(folder)}") from err
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DatasetError(f"{path}: not a senprep dataset description; {_fix(folder)}")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise DatasetError(
                f"{folder}: dataset format {version} is newer than this senprep reads "
                f"({FORMAT_VERSION}); upgrade senprep"
            )
        raise DatasetError(
            f"{folder}: dataset format {version!r}, this senprep reads {FORMAT_VERSION}; "
            f"{_fix(folder)}"
        )
    try:
        coding = {
            kind: SampleCoding(
                str(document["sample_dtype"]),
                tuple(BandCoding(**band) for band in document["bands"][kind]),
            )
            for kind in document["bands"]
        }
        return DatasetInfo(
            folder=folder,
            layers=tuple(document["layers"]),
            units=dict(document["units"]),
            coding=coding,
            size_px=int(document["parameters"]["size_px"]),
            stride_px=int(document["parameters"]["stride_px"]),
            crs=str(document["grid"]["crs"]),
            raw=document,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetError(
            f"{path}: damaged ({type(err).__name__}: {err}); {_fix(folder)}"
        ) from err


def read_stats(folder: str | Path) -> dict[str, dict[str, dict[str, float]]]:
    """``stats.json``: per kind, per band ``{count, mean, std, min, max}`` of the training split."""
    path = Path(folder) / STATS_JSON
    try:
        document = json.loads(path.read_text())
        return {kind: document[kind] for kind in KINDS if kind in document}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"{path}: missing or damaged ({err}); {_fix(Path(folder))}") from err


def read_manifest(folder: str | Path) -> list[ManifestRecord]:
    """Read and check ``manifest.csv``.

    Raises
    ------
    DatasetError
        Missing file or columns, or a value of the wrong type (the line is named).
    """
    folder = Path(folder)
    path = folder / MANIFEST_CSV
    try:
        handle = open(path, newline="")
    except OSError as err:
        raise DatasetError(f"{path}: cannot read the manifest ({err}); {_fix(folder)}") from err
    with handle:
        reader = csv.DictReader(handle)
        missing = [name for name in MANIFEST_FIELDS if name not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(
                f"{path}: damaged manifest, columns {', '.join(missing)} missing; {_fix(folder)}"
            )
        records = []
        for line, row in enumerate(reader, start=2):
            try:
                records.append(ManifestRecord(**{k: _convert(k, row[k]) for k in MANIFEST_FIELDS}))
            except (TypeError, ValueError) as err:
                raise DatasetError(
                    f"{path}: damaged manifest, line {line} ({err}); {_fix(folder)}"
                ) from err
    return records


def _convert(name: str, text: str | None) -> Any:
    if text is None:
        raise ValueError(f"no value for {name}")
    kind = _TYPES[name]
    if kind in ("int", int):
        return int(text)
    if kind in ("float", float):
        return float(text)
    return text


def check_sample_files(folder: Path, records: Sequence[ManifestRecord]) -> None:
    """Every listed sample file exists.

    Raises
    ------
    MissingDataError
        Naming how many are missing and the first one.
    """
    try:
        present = {f"{SAMPLES_DIR}/{entry.name}" for entry in os.scandir(folder / SAMPLES_DIR)}
    except OSError:
        present = set()
    missing = [r.path for r in records if r.path not in present]
    if missing:
        raise MissingDataError(
            f"{folder}: {len(missing)} of {len(records)} samples listed in {MANIFEST_CSV} are "
            f"missing (first: {missing[0]}); the dataset is incomplete: {_fix(folder)}"
        )
