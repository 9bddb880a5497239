"""The sample format of a ``senprep split`` dataset: encoding, writing and reading samples.

A sample is a small GeoTIFF (readable in QGIS): int16, one strip per band, uncompressed, with
per-band scale/offset (``value = stored * scale + offset``), band descriptions, nodata
``-32768`` and the dataset's tags. S1 dB are stored to 0.01 dB, S2 reflectance x 10 000 and
``valid`` exactly: half the bytes of float32, and reading back is a plain copy.

``PatchDataset(folder, split="train", kind="multi")`` indexes ``manifest.csv``; item ``i`` is a
dict of float32 arrays of shape ``(bands, size, size)``: for multi-temporal samples
``{"s1_I", "s2_I", "valid_I", "s1_II", "s2_II", "valid_II"}``, for mono samples
``{"s1", "s2", "valid"}`` (S1 in dB, S2 reflectance x 10 000 as written by ``senprep s2``).
The torch ``Dataset`` of ``mccgan`` wraps this class.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import numpy.typing as npt
import rasterio
import tifffile
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile

from sen_preproc.errors import MissingDataError, OptionError

S1_NAMES = ("VV", "VH", "HH", "HV")
SAMPLE_NODATA = -32768
S1_DB_STEP = 0.01
S2_OFFSET = 32768.0
_CHUNK_VALUES = 1 << 18  # encode in cache-sized pieces (1 MB of float32)

# GeoTIFF tags (OGC GeoTIFF 1.1; GDAL's private metadata and nodata tags)
_TAG_PIXEL_SCALE = 33550
_TAG_TIEPOINT = 33922
_TAG_TRANSFORMATION = 34264
_GEOKEY_TAGS = (34735, 34736, 34737)  # GeoKeyDirectory, GeoDoubleParams, GeoAsciiParams
_TAG_GDAL_METADATA = 42112
_TAG_GDAL_NODATA = 42113
_ASCII, _DOUBLE = 2, 12


def _gdal_text(value: str) -> str:
    """A value as GDAL stores it in its metadata XML: escaped by GDAL (CPLES_XML), then by the
    XML writer - GDAL unescapes twice when reading."""
    return escape(escape(value, {'"': "&quot;"}))


def _layer(name: str) -> str:
    return name.split("_", 1)[1] if "_" in name else name


def band_coding(names: Sequence[str]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-band ``(scales, offsets)`` of the int16 sample encoding for band ``names``.

    S1 bands (dB): scale 0.01; S2 bands (reflectance x 10 000, 0..65535): offset 32768, so
    0 - S2's nodata - maps onto the nodata code; ``valid``: as is.
    """
    scales = tuple(S1_DB_STEP if _layer(n) in S1_NAMES else 1.0 for n in names)
    offsets = tuple(
        0.0 if _layer(n) in S1_NAMES or _layer(n) == "valid" else S2_OFFSET for n in names
    )
    return scales, offsets


def encode_block(
    data: npt.NDArray[np.float32], scales: Sequence[float], offsets: Sequence[float]
) -> npt.NDArray[np.int16]:
    """float32 ``(bands, rows, cols)`` -> int16 with ``stored = round((value - offset) / scale)``,
    clipped to the int16 range above the nodata code; NaN -> ``SAMPLE_NODATA``.

    Works band by band on cache-sized chunks (a few passes over 1 MB instead of over the whole
    block), so a 13 238-px-wide block of rows is encoded at memory speed.
    """
    out = np.empty(data.shape, dtype=np.int16)
    src = data.reshape(data.shape[0], -1)
    dst = out.reshape(data.shape[0], -1)
    buf = np.empty(min(_CHUNK_VALUES, src.shape[1]), dtype=np.float32)
    nan = np.empty(buf.shape, dtype=np.bool_)
    for band, (scale, offset) in enumerate(zip(scales, offsets, strict=True)):
        inverse = np.float32(1.0 / scale)
        for start in range(0, src.shape[1], buf.size):
            piece = src[band, start : start + buf.size]
            work, isnan = buf[: piece.size], nan[: piece.size]
            np.subtract(piece, np.float32(offset), out=work)
            if scale != 1.0:
                np.multiply(work, inverse, out=work)
            np.rint(work, out=work)
            np.isnan(work, out=isnan)
            np.clip(work, SAMPLE_NODATA + 1, 32767, out=work)
            np.copyto(work, np.float32(SAMPLE_NODATA), where=isnan)
            np.copyto(dst[band, start : start + buf.size], work, casting="unsafe")
    return out


def encode_sample(
    data: npt.NDArray[np.float32], names: list[str]
) -> tuple[npt.NDArray[np.int16], tuple[float, ...], tuple[float, ...]]:
    """float32 sample -> int16 + per-band (scale, offset): value = stored * scale + offset."""
    scales, offsets = band_coding(names)
    return encode_block(np.asarray(data, dtype=np.float32), scales, offsets), scales, offsets


def decode_sample(
    stored: npt.NDArray[np.int16],
    scales: Sequence[float],
    offsets: Sequence[float],
    nodata: float | None = SAMPLE_NODATA,
) -> npt.NDArray[np.float32]:
    """int16 ``(bands, rows, cols)`` -> float32 values, NaN where ``stored == nodata``."""
    values = np.empty(stored.shape, dtype=np.float32)
    for band, (scale, offset) in enumerate(zip(scales, offsets, strict=True)):
        out = values[band]
        if scale == 1.0:
            np.add(stored[band], np.float32(offset), out=out, dtype=np.float32)
        else:
            np.multiply(stored[band], np.float32(scale), out=out, dtype=np.float32)
            if offset:
                np.add(out, np.float32(offset), out=out)
    if nodata is not None:
        np.copyto(values, np.float32(np.nan), where=stored == nodata)
    return values


class SampleWriter:
    """Writes int16 samples of one dataset (same CRS and band layout) as GeoTIFFs.

    GDAL spends ~3 ms per file turning the CRS into GeoTIFF keys (PROJ look-ups): for thousands
    of small samples that is most of the time. So GDAL (rasterio) writes the CRS's GeoTIFF keys
    once, into an in-memory template, and tifffile writes each sample with those keys, its
    geotransform and GDAL's metadata/nodata tags - files GDAL reads exactly as its own (see
    ``tests/test_split.py``), ~1 ms each.

    Parameters
    ----------
    crs : rasterio CRS
        CRS of every sample.
    names : sequence of str
        Band descriptions, e.g. ``I_VV, ..., II_valid``.
    scales, offsets : sequence of float
        Per-band decoding (see :func:`band_coding`).
    """

    def __init__(
        self,
        crs: CRS,
        names: Sequence[str],
        scales: Sequence[float],
        offsets: Sequence[float],
    ) -> None:
        self.count = len(names)
        with MemoryFile() as memory:
            with memory.open(
                driver="GTiff",
                width=1,
                height=1,
                count=1,
                dtype="int16",
                crs=crs,
                transform=Affine(10.0, 0.0, 1000.0, 0.0, -10.0, 2000.0),
            ) as template:
                template.write(np.zeros((1, 1, 1), np.int16))
            with tifffile.TiffFile(io.BytesIO(memory.read())) as tif:
                tags = tif.pages[0].tags  # type: ignore[union-attr]
                self._geokeys = [
                    (code, tags[code].dtype, tags[code].count, tags[code].value, True)
                    for code in _GEOKEY_TAGS
                    if code in tags
                ]
        items = []
        for band, (name, scale, offset) in enumerate(zip(names, scales, offsets, strict=True)):
            for role, value in (
                ("description", name),
                ("scale", repr(scale)),
                ("offset", repr(offset)),
            ):
                items.append(
                    f'<Item name="{role.upper()}" sample="{band}" role="{role}">{_gdal_text(value)}</Item>'
                )
        self._band_items = "".join(items)

    def write(
        self,
        path: Path,
        stored: npt.NDArray[np.int16],
        transform: Affine,
        tags: Mapping[str, str],
    ) -> None:
        """Write ``stored`` (int16, ``(bands, rows, cols)``) with ``transform`` and ``tags``."""
        if stored.shape[0] != self.count:
            raise OptionError(f"{path}: {stored.shape[0]} bands given, the layout has {self.count}")
        if transform.b == 0 and transform.d == 0 and transform.a > 0 and transform.e < 0:
            geo = [
                (_TAG_PIXEL_SCALE, _DOUBLE, 3, (transform.a, -transform.e, 0.0), True),
                (_TAG_TIEPOINT, _DOUBLE, 6, (0.0, 0.0, 0.0, transform.c, transform.f, 0.0), True),
            ]
        else:
            matrix = (
                transform.a, transform.b, 0.0, transform.c,
                transform.d, transform.e, 0.0, transform.f,
                0.0, 0.0, 0.0, 0.0,
                0.0, 0.0, 0.0, 1.0,
            )  # fmt: skip
            geo = [(_TAG_TRANSFORMATION, _DOUBLE, 16, matrix, True)]
        dataset_items = "".join(
            f"<Item name={quoteattr(key)}>{_gdal_text(value)}</Item>" for key, value in tags.items()
        )
        metadata = f"<GDALMetadata>{dataset_items}{self._band_items}</GDALMetadata>"
        tifffile.imwrite(
            path,
            np.ascontiguousarray(stored),
            photometric="minisblack",
            planarconfig="separate",
            rowsperstrip=stored.shape[1],
            software=False,
            resolution=None,
            metadata=None,
            extratags=[
                *self._geokeys,
                *geo,
                (_TAG_GDAL_METADATA, _ASCII, 0, metadata, True),
                (_TAG_GDAL_NODATA, _ASCII, 0, str(SAMPLE_NODATA), True),
            ],
        )


def read_sample(path: str | Path) -> npt.NDArray[np.float32]:
    """Decode a sample file to float32 (NaN where no data), shape ``(bands, size, size)``."""
    with rasterio.open(path) as ds:
        stored = ds.read()
        scales, offsets, nodata = ds.scales, ds.offsets, ds.nodata
    return decode_sample(stored, scales, offsets, nodata)


def _block_slice(indices: list[int]) -> slice | list[int]:
    """A slice for consecutive band indices (a view instead of a copy), else the list."""
    if indices and indices == list(range(indices[0], indices[-1] + 1)):
        return slice(indices[0], indices[-1] + 1)
    return indices


class PatchDataset:
    """Random access to the samples of a ``senprep split`` dataset.

    Parameters
    ----------
    folder : path-like
        The dataset folder (with ``manifest.csv`` and ``stats.json``).
    split : str or None
        ``train``, ``val``, ``test`` or None for all.
    kind : str
        ``multi`` (default) or ``mono``.
    """

    def __init__(
        self, folder: str | Path, split: str | None = "train", kind: str = "multi"
    ) -> None:
        self.folder = Path(folder)
        manifest = self.folder / "manifest.csv"
        if not manifest.is_file():
            raise MissingDataError(
                f"{self.folder}: no manifest.csv; give a folder written by `senprep split`"
            )
        if kind not in ("multi", "mono"):
            raise OptionError(f"kind must be multi or mono, got {kind!r}")
        with open(manifest, newline="") as handle:
            rows = list(csv.DictReader(handle))
        self.records = [
            r for r in rows if r["kind"] == kind and (split is None or r["split"] == split)
        ]
        self.kind = kind
        self.info: dict[str, Any] = json.loads((self.folder / "stats.json").read_text())
        self.layers: list[str] = list(self.info["layers"])
        n = len(self.layers)
        s1 = [i for i, name in enumerate(self.layers) if name in S1_NAMES]
        s2 = [i for i, name in enumerate(self.layers) if name not in S1_NAMES and name != "valid"]
        valid = [self.layers.index("valid")] if "valid" in self.layers else []
        suffixes = ("",) if kind == "mono" else ("_I", "_II")
        self._parts: list[tuple[str, slice | list[int]]] = []
        for date, suffix in enumerate(suffixes):
            for key, indices in (("s1", s1), ("s2", s2), ("valid", valid)):
                if indices:
                    shifted = [i + date * n for i in indices]
                    self._parts.append((f"{key}{suffix}", _block_slice(shifted)))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, npt.NDArray[np.float32]]:
        data = read_sample(self.folder / self.records[index]["path"])
        return {key: data[where] for key, where in self._parts}
