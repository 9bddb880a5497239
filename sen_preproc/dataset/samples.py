"""The sample file: a small georeferenced GeoTIFF per sample, written fast, read by any GIS.

A sample is int16 (or float32, see :mod:`sen_preproc.dataset.coding`), one strip per band,
uncompressed, with per-band scale/offset (GDAL's ``value = stored * scale + offset``), band
descriptions (``I_VV, ..., II_valid``), nodata (``-32768`` or NaN) and the dataset's tags: QGIS
and rasterio read it like any GeoTIFF, and reading it back is a plain copy.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import numpy.typing as npt
import rasterio
import tifffile
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile

from sen_preproc.dataset.coding import SampleCoding, decode_sample
from sen_preproc.errors import OptionError

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


class SampleWriter:
    """Writes the samples of one dataset (same CRS and band layout) as GeoTIFFs.

    GDAL spends ~3 ms per file turning the CRS into GeoTIFF keys (PROJ look-ups): for thousands
    of small samples that is most of the time. So GDAL (rasterio) writes the CRS's GeoTIFF keys
    once, into an in-memory template, and tifffile writes each sample with those keys, its
    geotransform and GDAL's metadata/nodata tags - files GDAL reads exactly as its own (see
    ``tests/test_split.py``), ~1 ms each.

    Parameters
    ----------
    crs : rasterio CRS
        CRS of every sample.
    coding : SampleCoding
        dtype, band descriptions (e.g. ``I_VV, ..., II_valid``) and per-band scale/offset.
    """

    def __init__(self, crs: CRS, coding: SampleCoding) -> None:
        self.coding = coding
        self.count = len(coding.bands)
        self._nodata = "nan" if coding.dtype == "float32" else str(int(coding.nodata))
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
        for band, coded in enumerate(coding.bands):
            for role, value in (
                ("description", coded.name),
                ("scale", repr(coded.scale)),
                ("offset", repr(coded.offset)),
            ):
                items.append(
                    f'<Item name="{role.upper()}" sample="{band}" role="{role}">{_gdal_text(value)}</Item>'
                )
        self._band_items = "".join(items)

    def write(
        self,
        path: Path,
        stored: npt.NDArray[np.generic],
        transform: Affine,
        tags: Mapping[str, str],
    ) -> None:
        """Write ``stored`` (the coding's dtype, ``(bands, rows, cols)``) with ``transform`` and
        ``tags``."""
        if stored.shape[0] != self.count or stored.dtype != np.dtype(self.coding.dtype):
            raise OptionError(
                f"{path}: {stored.shape[0]} {stored.dtype} bands given, the layout has "
                f"{self.count} {self.coding.dtype} bands"
            )
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
                (_TAG_GDAL_NODATA, _ASCII, 0, self._nodata, True),
            ],
        )


def read_sample(path: str | Path) -> npt.NDArray[np.float32]:
    """Decode a sample file to float32 (NaN where no data), shape ``(bands, size, size)``."""
    with rasterio.open(path) as ds:
        stored = ds.read()
        scales, offsets, nodata = ds.scales, ds.offsets, ds.nodata
    if stored.dtype == np.float32:
        values: npt.NDArray[np.float32] = stored
        return values
    return decode_sample(stored, scales, offsets, nodata)
