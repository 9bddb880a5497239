"""Synthetic, format-faithful Sentinel-2 Level-2A and Level-1C SAFE products (tests, demo).

The writer produces a small tile subset laid out like ESA's ``SAFE_COMPACT`` products, element
by element (names, nesting, namespaces and attributes of the real files):

* **Level-2A** (``PRODUCT_TYPE`` ``S2MSI2A``)::

      <ID>.SAFE/
        manifest.safe
        MTD_MSIL2A.xml
        GRANULE/L2A_T<tile>_A<abs. orbit>_<datastrip start>/
          MTD_TL.xml
          IMG_DATA/R10m/T<tile>_<sensing>_{B02,B03,B04,B08,TCI,AOT,WVP}_10m.jp2
          IMG_DATA/R20m/T<tile>_<sensing>_{B01..B07,B8A,B11,B12,TCI,AOT,WVP,SCL}_20m.jp2
          IMG_DATA/R60m/T<tile>_<sensing>_{B01..B07,B8A,B09,B11,B12,TCI,AOT,WVP,SCL}_60m.jp2
          QI_DATA/MSK_CLDPRB_20m.jp2, QI_DATA/MSK_CLDPRB_60m.jp2

  exactly the file set of a real N0400 product (B08 only at 10 m, B01 also at 20 m, no B10).
* **Level-1C** (``S2MSI1C``): ``MTD_MSIL1C.xml`` and one folder
  ``GRANULE/L1C_T<tile>_A<orbit>_<datastrip start>/IMG_DATA/T<tile>_<sensing>_<band>.jp2`` holding
  B01..B12, B8A (and B10) at their native resolution plus ``TCI`` (10 m); no SCL, no masks.

Files the readers never need (``INSPIRE.xml``, ``HTML/``, ``DATASTRIP/``, ``AUX_DATA/``, detector
and quality masks, the preview) are not written and not listed in the manifest.

**Radiometry** (ESA convention): ``reflectance = (DN + offset) / Q`` with ``Q`` = 10000
(``BOA_QUANTIFICATION_VALUE`` for L2A, ``QUANTIFICATION_VALUE`` for L1C) and ``offset`` = -1000
(``BOA_ADD_OFFSET`` / ``RADIO_ADD_OFFSET``, one per ``band_id`` 0..12) from processing baseline
04.00 on; older baselines have no offset element at all (offset 0). The writer stores
``DN = round(reflectance * Q - offset)`` clipped to 1..65535 (0 is NODATA, 65535 SATURATED, as
the ``Special_Values`` say); see :func:`reflectance_to_dn`.

**Sampling**: every raster -- native or resampled (``B02_20m``, ``B02_60m``...) -- is the
reflectance field evaluated at the *pixel centres of its own grid* (no block averaging), so
``B8A_60m[i, j] = field(x_c, y_c, "B8A")`` with ``x_c = ulx + (j + 0.5) * 60``,
``y_c = uly - (i + 0.5) * 60``. All grids share the upper-left corner (same bounds).

**Scene classification** (:func:`scl_array`, 10 m grid): vegetation (4) with 120 m fields of
bare soil (5) and a lake (6) in the bottom-left; a bright square (:func:`bright_square_box`, SCL 5);
the cloud box (9) with its shadow (3) beside it; a 60 m patch of medium-probability cloud (8) and
one of thin cirrus (10); three saturated pixels (1). Coarser SCL rasters take the class of the
10 m pixel holding the coarse pixel centre (centres on 10 m pixel edges belong to the pixel at
the lower right): ``SCL_20m = scl[1::2, 1::2]``, ``SCL_60m = scl[3::6, 3::6]`` -- the same rule
:func:`default_reflectance` uses, so clouds in every band coincide with SCL 8/9/10 at every
resolution.

Units: lengths and coordinates in metres (UTM of ``S2ProductSpec.epsg``); angles in degrees;
reflectance as a fraction (0..1); times naive UTC.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from lxml import etree
from pyproj import Transformer

from sen_preproc.errors import OptionError
from sen_preproc.testing.s1_factory import (
    _prepare_output,
    _zip_tree,
)  # one zip writer for both factories

__all__ = [
    "AOT_VALUE",
    "BAND_IDS",
    "BRIGHT_SQUARE_REFLECTANCE",
    "CLOUD_PROBABILITY",
    "CLOUD_REFLECTANCE",
    "DEFAULT_S2_SPEC",
    "L1C_BANDS",
    "L2A_BANDS",
    "L2A_FILES",
    "LAND_REFLECTANCE",
    "QUANTIFICATION_VALUE",
    "SATURATED_REFLECTANCE",
    "SHADOW_FACTOR",
    "WVP_VALUE_CM",
    "ReflectanceField",
    "S2ProductSpec",
    "baseline_offset",
    "bright_square_box",
    "default_reflectance",
    "reflectance_to_dn",
    "s2_grid",
    "s2_product_id",
    "scl_array",
    "sun_angles",
    "write_s2_product",
]

FloatArray = npt.NDArray[np.float64]

ReflectanceField = Callable[[FloatArray, FloatArray, str], FloatArray]
"""``(x_m, y_m, band) -> reflectance`` (float64, same shape as ``x_m``); ``band`` like ``"B04"``,
``"B8A"``; ``x_m``/``y_m`` are UTM easting/northing (m) in ``S2ProductSpec.epsg``."""

# --- band tables ------------------------------------------------------------------------------

#: Native resolution (m) of each Level-2A reflectance band.
L2A_BANDS: dict[str, int] = {
    "B01": 60,
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B08": 10,
    "B8A": 20,
    "B09": 60,
    "B11": 20,
    "B12": 20,
}
#: Native resolution (m) of each Level-1C band (L2A's plus the cirrus band B10).
L1C_BANDS: dict[str, int] = {
    **{k: v for k, v in L2A_BANDS.items() if k not in ("B11", "B12")},
    "B10": 60,
    "B11": 20,
    "B12": 20,
}
#: ``band_id`` / ``bandId`` of each band in the metadata (0..12, B8A = 8, B10 = 10).
BAND_IDS: dict[str, int] = {
    b: i
    for i, b in enumerate(
        ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
    )
}
#: Files of a Level-2A product per resolution (m), in the real ``IMAGE_FILE`` order.
L2A_FILES: dict[int, tuple[str, ...]] = {
    10: tuple("B02 B03 B04 B08 TCI AOT WVP".split()),
    20: tuple("B01 B02 B03 B04 B05 B06 B07 B8A B11 B12 TCI AOT WVP SCL".split()),
    60: tuple("B01 B02 B03 B04 B05 B06 B07 B8A B09 B11 B12 TCI AOT WVP SCL".split()),
}
_L1C_FILES = tuple("B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B10 B11 B12 TCI".split())

QUANTIFICATION_VALUE = 10000.0
"""``BOA_QUANTIFICATION_VALUE`` (L2A) / ``QUANTIFICATION_VALUE`` (L1C): DN per unit reflectance."""
AOT_QUANTIFICATION = 1000.0
WVP_QUANTIFICATION = 1000.0
AOT_VALUE = 0.1
"""Constant aerosol optical thickness of the ``AOT`` rasters (DN = AOT * 1000)."""
WVP_VALUE_CM = 1.2
"""Constant water-vapour column of the ``WVP`` rasters (cm; DN = cm * 1000)."""


def _spectrum(values: str) -> dict[str, float]:
    return dict(zip(BAND_IDS, (float(v) for v in values.split()), strict=True))


#: Surface reflectance of the land-cover classes (SCL 4 vegetation, 5 bare soil, 6 water) per
#: band, B01..B12 in ``BAND_IDS`` order (B8A after B08).
LAND_REFLECTANCE: dict[int, dict[str, float]] = {
    4: _spectrum("0.03 0.04 0.07 0.05 0.11 0.23 0.28 0.30 0.31 0.30 0.01 0.18 0.09"),
    5: _spectrum("0.10 0.12 0.15 0.18 0.20 0.22 0.24 0.25 0.26 0.25 0.01 0.32 0.28"),
    6: _spectrum("0.06 0.05 0.04 0.03 0.02 0.015 0.012 0.01 0.01 0.005 0.002 0.005 0.003"),
}
LAND_MODULATION = 0.1
"""Relative amplitude of the smooth modulation of the land reflectance (see
:func:`default_reflectance`)."""
BRIGHT_SQUARE_REFLECTANCE = 0.5
"""Reflectance of the bright square in every band (no modulation)."""
CLOUD_REFLECTANCE = 0.6
"""Reflectance of cloud pixels (SCL 8, 9, 10) in every band."""
SHADOW_FACTOR = 0.3
"""Cloud-shadow pixels (SCL 3) have this fraction of the land reflectance under them."""
SATURATED_REFLECTANCE = 7.0
"""Value of the field at SCL 1 pixels: above ``(65535 + offset) / Q``, so their DN is 65535."""
#: ``MSK_CLDPRB`` value (percent) per SCL class; other classes 0.
CLOUD_PROBABILITY: dict[int, int] = {8: 65, 9: 95, 10: 20}

_SCL_TEXT = (
    "SC_NODATA",
    "SC_SATURATED_DEFECTIVE",
    "SC_DARK_FEATURE_SHADOW",
    "SC_CLOUD_SHADOW",
    "SC_VEGETATION",
    "SC_NOT_VEGETATED",
    "SC_WATER",
    "SC_UNCLASSIFIED",
    "SC_CLOUD_MEDIUM_PROBA",
    "SC_CLOUD_HIGH_PROBA",
    "SC_THIN_CIRRUS",
    "SC_SNOW_ICE",
)
_BRIGHT = 255  # internal land-cover code of the bright square

# Sentinel-2A spectral response summary (nm): min, max, central -- as in real N0400 metadata.
_WAVELENGTHS = (
    (412, 456, 442.7),
    (456, 533, 492.7),
    (538, 583, 559.8),
    (646, 684, 664.6),
    (695, 714, 704.1),
    (731, 749, 740.5),
    (769, 797, 782.8),
    (760, 907, 832.8),
    (837, 881, 864.7),
    (932, 958, 945.1),
    (1337, 1412, 1373.5),
    (1539, 1682, 1613.7),
    (2078, 2320, 2202.4),
)
_NATIVE_RES = {**L2A_BANDS, "B10": 60}
_PHYSICAL_GAINS = (
    4.10589348,
    3.75167664,
    4.17821228,
    4.50978749,
    5.19090354,
    4.85492584,
    4.51619442,
    6.13591171,
    5.1160038,
    8.49525017,
    54.83199041,
    35.15974393,
    106.2130944,
)

_MISSIONS: dict[str, dict[str, Any]] = {
    # A real acquisition (absolute orbit, datatake start) and the relative-orbit shift:
    # relative = (absolute + shift) mod 143 + 1.
    "S2A": {
        "name": "Sentinel-2A",
        "ref_orbit": 38058,
        "ref_time": datetime(2022, 10, 5, 11, 54, 11),
        "shift": 2,
        "irradiance": (
            1884.69,
            1959.66,
            1823.24,
            1512.06,
            1424.64,
            1287.61,
            1162.08,
            1041.63,
            955.32,
            812.92,
            367.15,
            245.59,
            85.25,
        ),
    },
    "S2B": {
        "name": "Sentinel-2B",
        "ref_orbit": 17949,
        "ref_time": datetime(2020, 8, 13, 5, 46, 39),
        "shift": -27,
        "irradiance": (
            1874.3,
            1959.75,
            1824.93,
            1512.79,
            1425.78,
            1291.13,
            1175.57,
            1041.28,
            953.93,
            817.58,
            365.41,
            247.08,
            87.75,
        ),
    },
}
_ORBITS_PER_CYCLE = 143
_ORBIT_PERIOD_S = 10 * 86_400 / _ORBITS_PER_CYCLE
_CENTRE = "SYNT"  # processing-centre code in the identifiers (real ones: ATOS, 2BPS, VGS1...)
_VIEW_ZENITH_DEG = 5.0  # nominal mean viewing incidence written to MTD_TL (every band)
_VIEW_AZIMUTH_DEG = 285.0
_SUN_GRID_STEP_M = 5000

_NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NS_PRODUCT = {
    "L2A": "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd",
    "L1C": "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd",
}
_NS_TILE = {
    "L2A": "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Tile_Metadata.xsd",
    "L1C": "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd",
}
_NS_MANIFEST = {
    "gml": "http://www.opengis.net/gml",
    "safe": "http://www.esa.int/safe/sentinel/1.1",
    "xfdu": "urn:ccsds:schema:xfdu:1",
}
_DOI = {"L2A": "https://doi.org/10.5270/S2_-znk9xsj", "L1C": "https://doi.org/10.5270/S2_-742ikth"}
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'


# --- product specification -------------------------------------------------------------------


@dataclass(frozen=True)
class S2ProductSpec:
    """What to generate.

    Attributes
    ----------
    tile : str
        MGRS tile, e.g. ``"33TTG"`` (UTM zone, latitude band, 100 km square).
    epsg : int
        UTM CRS of the tile: ``326zz`` (north) or ``327zz`` (south), ``zz`` = the tile's zone.
    ulx_m, uly_m : float
        Upper-left corner of the tile subset (UTM metres); shared by the 10, 20 and 60 m grids.
    size_10m_px : int
        The 10 m grid is ``size x size`` pixels; 20 m: ``size / 2``; 60 m: ``size / 6`` (so it
        must be a positive multiple of 6).
    sensing_time : datetime
        Datatake sensing start (naive UTC): ``PRODUCT_START_TIME``, the name's first date and the
        tile ``SENSING_TIME``.
    level : str
        ``"L2A"`` or ``"L1C"``.
    processing_baseline : str
        ``"NN.NN"``; from ``"04.00"`` on the metadata carry an offset of -1000 per band, before
        (e.g. ``"02.14"``) no offset element at all.
    mission : str
        ``"S2A"`` or ``"S2B"``.
    relative_orbit : int
        Relative orbit 1..143 (``R<nnn>`` in the name, ``SENSING_ORBIT_NUMBER``); the absolute
        orbit is the one nearest the nominal count at ``sensing_time`` that has this relative orbit.
    missing_bands : tuple of str
        Files listed in ``MTD_MSIL*.xml`` and the manifest but not written (a partial product):
        a code (``"B05"``, ``"SCL"``, ``"TCI"``, ``"AOT"``, ``"WVP"``) drops all its files, an L2A
        file name part (``"B02_10m"``) drops one resolution only.
    cloud_box_px : tuple of 4 int or None
        ``(row0, col0, row1, col1)`` (half-open, 10 m pixels) painted SCL 9; its shadow (SCL 3)
        is the box ``(row0 + h // 2, col1, row1 + h // 2, col1 + max(1, w // 2))`` (clipped to
        the grid). ``None``: no cloud, shadow, medium-cloud or cirrus pixels at all.
    seed : int
        Seed of the bare-soil field pattern, the phases of the smooth reflectance modulation and
        the positions of the saturated pixels.
    """

    tile: str = "33TTG"
    epsg: int = 32633
    ulx_m: float = 280000.0
    uly_m: float = 4660020.0
    size_10m_px: int = 120
    sensing_time: datetime = datetime(2021, 12, 23, 10, 3, 19)
    level: str = "L2A"
    processing_baseline: str = "04.00"
    mission: str = "S2A"
    relative_orbit: int = 122
    missing_bands: tuple[str, ...] = ()
    cloud_box_px: tuple[int, int, int, int] | None = (10, 10, 40, 40)
    seed: int = 0


DEFAULT_S2_SPEC = S2ProductSpec()


def _file_keys(spec: S2ProductSpec) -> list[tuple[str, int]]:
    """(code, resolution m) of every image file, in ``IMAGE_FILE`` order."""
    if spec.level == "L2A":
        return [(code, res) for res, codes in L2A_FILES.items() for code in codes]
    return [(code, 10 if code == "TCI" else L1C_BANDS[code]) for code in _L1C_FILES]


def _validate(spec: S2ProductSpec) -> None:
    def bad(name: str, value: object, allowed: str) -> OptionError:
        return OptionError(f"S2ProductSpec.{name}={value!r} is invalid: use {allowed}")

    if spec.level not in ("L2A", "L1C"):
        raise bad("level", spec.level, "'L2A' or 'L1C'")
    if spec.mission not in _MISSIONS:
        raise bad("mission", spec.mission, " / ".join(_MISSIONS))
    match = re.fullmatch(r"(\d{2})([C-HJ-NP-X])([A-HJ-NP-Z]{2})", str(spec.tile))
    if match is None or not 1 <= int(match.group(1)) <= 60:
        raise bad("tile", spec.tile, "an MGRS tile like '33TTG' (zone 01-60, band C-X)")
    zone, north = int(match.group(1)), match.group(2) >= "N"
    expected = (32600 if north else 32700) + zone
    if spec.epsg != expected:
        raise bad("epsg", spec.epsg, f"{expected} (UTM zone {zone} of tile {spec.tile})")
    if not re.fullmatch(r"\d{2}\.\d{2}", str(spec.processing_baseline)):
        raise bad("processing_baseline", spec.processing_baseline, "a version like '04.00'")
    if not isinstance(spec.size_10m_px, int) or spec.size_10m_px < 6 or spec.size_10m_px % 6:
        raise bad("size_10m_px", spec.size_10m_px, "a positive multiple of 6 (10 m pixels)")
    if not (math.isfinite(spec.ulx_m) and math.isfinite(spec.uly_m)):
        raise bad("ulx_m/uly_m", (spec.ulx_m, spec.uly_m), "finite UTM coordinates (m)")
    if not isinstance(spec.relative_orbit, int) or not 1 <= spec.relative_orbit <= 143:
        raise bad("relative_orbit", spec.relative_orbit, "an integer 1..143")
    if not isinstance(spec.sensing_time, datetime):
        raise bad("sensing_time", spec.sensing_time, "a datetime (UTC)")
    if spec.cloud_box_px is not None:
        box = tuple(spec.cloud_box_px)
        n = spec.size_10m_px
        if len(box) != 4 or not (0 <= box[0] < box[2] <= n and 0 <= box[1] < box[3] <= n):
            raise bad(
                "cloud_box_px",
                spec.cloud_box_px,
                f"(row0, col0, row1, col1) within 0..{n}, or None",
            )
    allowed = {code for code, _ in _file_keys(spec)}
    if spec.level == "L2A":
        allowed |= {f"{code}_{res}m" for code, res in _file_keys(spec)}
    unknown = [m for m in spec.missing_bands if m not in allowed]
    if unknown:
        raise bad("missing_bands", tuple(unknown), "names from " + ", ".join(sorted(allowed)))


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is None else t.astimezone(timezone.utc).replace(tzinfo=None)


def baseline_offset(processing_baseline: str) -> int:
    """Additive DN offset of a processing baseline: -1000 from ``"04.00"`` on, else 0."""
    major, minor = (int(p) for p in processing_baseline.split("."))
    return -1000 if (major, minor) >= (4, 0) else 0


# --- names -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Names:
    product_id: str
    absolute_orbit: int
    generation: datetime
    datastrip_start: datetime
    granule_dir: str
    granule_id: str
    datastrip_id: str
    l1c_tile_id: str
    datatake_id: str
    file_prefix: str


def _absolute_orbit(spec: S2ProductSpec) -> int:
    m = _MISSIONS[spec.mission]
    elapsed = (_utc(spec.sensing_time) - m["ref_time"]).total_seconds()
    base = round(m["ref_orbit"] + elapsed / _ORBIT_PERIOD_S)
    delta = (spec.relative_orbit - 1 - (base + m["shift"])) % _ORBITS_PER_CYCLE
    if delta > _ORBITS_PER_CYCLE // 2:
        delta -= _ORBITS_PER_CYCLE
    orbit = base + delta
    while orbit < 1:
        orbit += _ORBITS_PER_CYCLE
    return int(orbit)


def _fmt_t(t: datetime) -> str:
    return f"{t:%Y%m%dT%H%M%S}"


def _names(spec: S2ProductSpec) -> _Names:
    t = _utc(spec.sensing_time)
    generation = (t + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    ds_start = (t - timedelta(seconds=4)).replace(microsecond=0)
    orbit = _absolute_orbit(spec)
    lvl = spec.level
    nbase = "N" + spec.processing_baseline.replace(".", "")
    dotted = f"N{spec.processing_baseline}"
    pid = (
        f"{spec.mission}_MSI{lvl}_{_fmt_t(t)}_{nbase}_R{spec.relative_orbit:03d}"
        f"_T{spec.tile}_{_fmt_t(generation)}"
    )
    gen = _fmt_t(generation)
    l1c_gen = _fmt_t(generation - timedelta(hours=1))
    oper = f"{spec.mission}_OPER_MSI"
    tile_tail = f"A{orbit:06d}_T{spec.tile}_{dotted}"
    return _Names(
        product_id=pid,
        absolute_orbit=orbit,
        generation=generation,
        datastrip_start=ds_start,
        granule_dir=f"{lvl}_T{spec.tile}_A{orbit:06d}_{_fmt_t(ds_start)}",
        granule_id=f"{oper}_{lvl}_TL_{_CENTRE}_{gen}_{tile_tail}",
        datastrip_id=f"{oper}_{lvl}_DS_{_CENTRE}_{gen}_S{_fmt_t(ds_start)}_{dotted}",
        l1c_tile_id=f"{oper}_L1C_TL_{_CENTRE}_{l1c_gen}_{tile_tail}",
        datatake_id=f"G{spec.mission}_{_fmt_t(t)}_{orbit:06d}_{dotted}",
        file_prefix=f"T{spec.tile}_{_fmt_t(t)}",
    )


def s2_product_id(spec: S2ProductSpec = DEFAULT_S2_SPEC) -> str:
    """Product identifier, e.g. ``S2A_MSIL2A_20211223T100319_N0400_R122_T33TTG_20211223T120000``.

    The last field (generation time) is the sensing time plus 2 h, truncated to the hour.
    """
    _validate(spec)
    return _names(spec).product_id


def _image_rel(spec: S2ProductSpec, names: _Names, code: str, res: int) -> str:
    """``IMAGE_FILE`` text (path relative to the SAFE folder, without ``.jp2``)."""
    if spec.level == "L2A":
        return f"GRANULE/{names.granule_dir}/IMG_DATA/R{res}m/{names.file_prefix}_{code}_{res}m"
    return f"GRANULE/{names.granule_dir}/IMG_DATA/{names.file_prefix}_{code}"


def _is_missing(spec: S2ProductSpec, code: str, res: int) -> bool:
    return code in spec.missing_bands or f"{code}_{res}m" in spec.missing_bands


# --- grids and scene -------------------------------------------------------------------------


def s2_grid(spec: S2ProductSpec, resolution_m: int) -> tuple[Affine, int, int, str]:
    """Grid of one resolution.

    Parameters
    ----------
    spec : S2ProductSpec
        The product.
    resolution_m : int
        10, 20 or 60 (m).

    Returns
    -------
    transform : Affine
        ``Affine(res, 0, ulx_m, 0, -res, uly_m)`` (pixel corners; north up).
    width, height : int
        ``size_10m_px * 10 / res``.
    crs : str
        ``"EPSG:<epsg>"``.
    """
    _validate(spec)
    if resolution_m not in (10, 20, 60):
        raise OptionError(f"resolution_m={resolution_m!r} is invalid: use 10, 20 or 60 (m)")
    n = spec.size_10m_px * 10 // int(resolution_m)
    transform = Affine(float(resolution_m), 0.0, spec.ulx_m, 0.0, -float(resolution_m), spec.uly_m)
    return transform, n, n, f"EPSG:{spec.epsg}"


def _centres(spec: S2ProductSpec, res: int) -> tuple[FloatArray, FloatArray]:
    n = spec.size_10m_px * 10 // res
    centre = (np.arange(n, dtype=np.float64) + 0.5) * res
    x, y = np.meshgrid(spec.ulx_m + centre, spec.uly_m - centre)
    return x, y


def _snap6(value: float) -> int:
    return 6 * max(1, round(value / 6))


def _box(row0: int, col0: int, side: int, n: int) -> tuple[int, int, int, int]:
    row0, col0 = min(row0, n - side), min(col0, n - side)
    return row0, col0, row0 + side, col0 + side


def bright_square_box(spec: S2ProductSpec = DEFAULT_S2_SPEC) -> tuple[int, int, int, int]:
    """``(row0, col0, row1, col1)`` (half-open, 10 m pixels) of the bright square.

    Side ``6 * round(size / 60)`` pixels (at least 6) with its upper-left corner at pixel
    ``(6 * round(size / 12), 6 * round(0.7 * size / 6))`` -- ``(60, 84, 72, 96)`` for the default
    120-pixel grid: on the 60 m lattice, so it fills whole 20 m and 60 m pixels. SCL 5 there;
    reflectance :data:`BRIGHT_SQUARE_REFLECTANCE` in every band (unless cloud/shadow covers it).
    """
    n = spec.size_10m_px
    return _box(_snap6(0.5 * n), _snap6(0.7 * n), _snap6(0.1 * n), n)


def _land_cover(spec: S2ProductSpec) -> npt.NDArray[np.uint8]:
    """SCL 4/5/6 background plus :data:`_BRIGHT` for the bright square (10 m grid)."""
    n = spec.size_10m_px
    rows, cols = np.indices((n, n))
    land = np.full((n, n), 4, dtype=np.uint8)
    block = 12 if n >= 24 else 6  # 120 m fields: whole 20 m and 60 m pixels
    land[((rows // block) + 2 * (cols // block) + spec.seed) % 5 == 0] = 5
    land[(rows >= n - _snap6(0.2 * n)) & (cols < _snap6(0.5 * n))] = 6
    r0, c0, r1, c1 = bright_square_box(spec)
    land[r0:r1, c0:c1] = _BRIGHT
    return land


def _shadow_box(spec: S2ProductSpec) -> tuple[int, int, int, int] | None:
    if spec.cloud_box_px is None:
        return None
    r0, c0, r1, c1 = spec.cloud_box_px
    n = spec.size_10m_px
    h, w = r1 - r0, c1 - c0
    return min(r0 + h // 2, n), min(c1, n), min(r1 + h // 2, n), min(c1 + max(1, w // 2), n)


def scl_array(spec: S2ProductSpec = DEFAULT_S2_SPEC) -> npt.NDArray[np.uint8]:
    """Scene classification on the 10 m grid (uint8, ``size x size``), ESA SCL codes.

    Painted in this order (later wins):

    1. vegetation 4; bare-soil 5 on 120 m fields where ``(row // 12 + 2 * (col // 12) + seed)``
       is a multiple of 5; water 6 in the bottom-left (last ``6 * round(size / 30)`` rows, first
       ``6 * round(size / 12)`` columns); 5 on :func:`bright_square_box`;
    2. when ``cloud_box_px`` is set: a 6 x 6 (``6 * round(size / 120)``) patch of medium-probability
       cloud 8 at pixel ``(6 * round(size / 60), 6 * round(0.6 * size / 6))`` and one of thin
       cirrus 10 at ``(6 * round(size / 60), 6 * round(0.8 * size / 6))`` -- (12, 72) and (12, 96)
       for size 120;
    3. three saturated/defective pixels 1 drawn (``seed``) in the bottom-right quadrant on land
       outside the bright square, the cloud and the shadow boxes;
    4. the cloud shadow 3 and the cloud box 9 (see :class:`S2ProductSpec`).
    """
    _validate(spec)
    n = spec.size_10m_px
    land = _land_cover(spec)
    scl = np.where(land == _BRIGHT, 5, land).astype(np.uint8)
    shadow = _shadow_box(spec)
    boxes = [b for b in (spec.cloud_box_px, shadow) if b is not None]
    if spec.cloud_box_px is not None:
        side, row0 = _snap6(0.05 * n), _snap6(0.1 * n)
        for code, frac in ((8, 0.6), (10, 0.8)):
            r0, c0, r1, c1 = _box(row0, _snap6(frac * n), side, n)
            scl[r0:r1, c0:c1] = code
    rows, cols = np.indices((n, n))
    candidates = (rows >= n // 2) & (cols >= n // 2) & np.isin(scl, (4, 5)) & (land != _BRIGHT)
    for r0, c0, r1, c1 in boxes:
        candidates &= ~((rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1))
    flat = np.flatnonzero(candidates)
    if flat.size:
        rng = np.random.default_rng([spec.seed, 2])
        scl.flat[rng.choice(flat, size=min(3, flat.size), replace=False)] = 1
    if shadow is not None and spec.cloud_box_px is not None:
        r0, c0, r1, c1 = shadow
        scl[r0:r1, c0:c1] = 3
        r0, c0, r1, c1 = spec.cloud_box_px
        scl[r0:r1, c0:c1] = 9
    return scl


def _scl_at(spec: S2ProductSpec, scl: npt.NDArray[np.uint8], res: int) -> npt.NDArray[np.uint8]:
    step = res // 10
    return np.ascontiguousarray(scl[step // 2 :: step, step // 2 :: step])


def _pixel_index(
    spec: S2ProductSpec, x: FloatArray, y: FloatArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """10 m (row, col) holding each point; points on an edge go to the lower-right pixel; points
    outside the grid are clamped to the nearest edge pixel."""
    n = spec.size_10m_px
    col = np.floor((x - spec.ulx_m) / 10.0 + 1e-6).astype(np.intp)
    row = np.floor((spec.uly_m - y) / 10.0 + 1e-6).astype(np.intp)
    return np.clip(row, 0, n - 1), np.clip(col, 0, n - 1)


def _band_code(band: str) -> str:
    match = re.fullmatch(r"[Bb]0?(\d{1,2})([Aa]?)", band.strip())
    code = f"B{int(match.group(1)):02d}" if match else band
    if match and match.group(2):
        code = f"B{int(match.group(1))}A"
    if code not in BAND_IDS:
        raise OptionError(f"unknown Sentinel-2 band {band!r}: use one of {', '.join(BAND_IDS)}")
    return code


def default_reflectance(spec: S2ProductSpec = DEFAULT_S2_SPEC) -> ReflectanceField:
    """The default reflectance field of ``spec``.

    At a point ``(x, y)`` with 10 m pixel ``(row, col)`` (see module docstring for edges):

    * land (SCL 4/5/6 of the background): ``LAND_REFLECTANCE[class][band] * (1 + 0.1 *
      sin(2 pi (x - ulx) / L + p1) * cos(2 pi (uly - y) / L + p2))`` with ``L`` the subset extent
      and phases ``p1, p2`` drawn from ``seed`` -- vegetation has red (B04) 0.05, NIR (B08) 0.30;
    * the bright square (:func:`bright_square_box`): :data:`BRIGHT_SQUARE_REFLECTANCE`;
    * cloud shadow (SCL 3): :data:`SHADOW_FACTOR` times the above;
    * clouds (SCL 8, 9, 10): :data:`CLOUD_REFLECTANCE` in every band;
    * saturated (SCL 1): :data:`SATURATED_REFLECTANCE` (written as DN 65535).

    Returns
    -------
    callable
        ``(x_m, y_m, band) -> reflectance`` (float64, broadcast shape of ``x_m``, ``y_m``).
    """
    _validate(spec)
    scl = scl_array(spec)
    land = _land_cover(spec)
    phase = np.random.default_rng([spec.seed, 1]).uniform(0.0, 2.0 * np.pi, size=2)
    extent = spec.size_10m_px * 10.0
    luts: dict[str, FloatArray] = {}
    for code in BAND_IDS:
        lut = np.zeros(256, dtype=np.float64)
        for cls, spectrum in LAND_REFLECTANCE.items():
            lut[cls] = spectrum[code]
        luts[code] = lut

    def field(x_m: FloatArray, y_m: FloatArray, band: str) -> FloatArray:
        code = _band_code(band)
        x, y = np.broadcast_arrays(
            np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)
        )
        row, col = _pixel_index(spec, x, y)
        cls, cover = scl[row, col], land[row, col]
        wave = np.sin(2 * np.pi * (x - spec.ulx_m) / extent + phase[0]) * np.cos(
            2 * np.pi * (spec.uly_m - y) / extent + phase[1]
        )
        out = luts[code][cover] * (1.0 + LAND_MODULATION * wave)
        out = np.where(cover == _BRIGHT, BRIGHT_SQUARE_REFLECTANCE, out)
        out = np.where(cls == 3, SHADOW_FACTOR * out, out)
        out = np.where(np.isin(cls, (8, 9, 10)), CLOUD_REFLECTANCE, out)
        out = np.where(cls == 1, SATURATED_REFLECTANCE, out)
        return np.asarray(out, dtype=np.float64)

    return field


def reflectance_to_dn(
    reflectance: npt.ArrayLike, offset: int, quantification: float = QUANTIFICATION_VALUE
) -> npt.NDArray[np.uint16]:
    """Digital numbers ``round(reflectance * quantification - offset)`` clipped to 1..65535.

    Parameters
    ----------
    reflectance : array_like
        Reflectance (fraction; negative values down to ``offset / quantification`` survive).
    offset : int
        ESA additive offset (``BOA_ADD_OFFSET`` / ``RADIO_ADD_OFFSET``), e.g. -1000 or 0.
    quantification : float
        DN per unit reflectance (10000).

    Returns
    -------
    ndarray of uint16
        The inverse of ``reflectance = (DN + offset) / quantification`` up to rounding; NaN
        becomes 0 (NODATA), values at or above 65535 become 65535 (SATURATED).
    """
    refl = np.asarray(reflectance, dtype=np.float64)
    dn = np.rint(refl * float(quantification) - float(offset))
    dn = np.clip(np.nan_to_num(dn, nan=0.0, posinf=65535.0, neginf=1.0), 1.0, 65535.0)
    return np.where(np.isnan(refl), 0, dn).astype(np.uint16)


# --- geometry helpers for the metadata -------------------------------------------------------


def sun_angles(
    lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike, time: datetime
) -> tuple[FloatArray, FloatArray]:
    """Solar zenith and azimuth (degrees, azimuth clockwise from north) at ``time`` (UTC).

    The Astronomical Almanac's low-precision solar coordinates (about 0.01 degree from 1950 to
    2050) and the Greenwich mean sidereal time; no refraction, like the angles in ``MTD_TL.xml``.
    """
    days = (_utc(time) - datetime(2000, 1, 1, 12)).total_seconds() / 86_400.0
    mean_lon = math.radians((280.460 + 0.9856474 * days) % 360.0)
    anomaly = math.radians((357.528 + 0.9856003 * days) % 360.0)
    ecl_lon = mean_lon + math.radians(1.915 * math.sin(anomaly) + 0.020 * math.sin(2 * anomaly))
    obliquity = math.radians(23.439 - 4.0e-7 * days)
    decl = math.asin(math.sin(obliquity) * math.sin(ecl_lon))
    right_asc = math.atan2(math.cos(obliquity) * math.sin(ecl_lon), math.cos(ecl_lon))
    gmst_deg = (280.46061837 + 360.98564736629 * days) % 360.0
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    hour_angle = np.radians(gmst_deg + lon) - right_asc
    cos_zen = np.sin(lat) * math.sin(decl) + np.cos(lat) * math.cos(decl) * np.cos(hour_angle)
    zenith = np.degrees(np.arccos(np.clip(cos_zen, -1.0, 1.0)))
    azimuth = np.degrees(
        np.arctan2(
            -np.sin(hour_angle),
            math.tan(decl) * np.cos(lat) - np.sin(lat) * np.cos(hour_angle),
        )
    )
    return np.asarray(zenith, dtype=np.float64), np.asarray(azimuth % 360.0, dtype=np.float64)


def _earth_sun_u(t: datetime) -> float:
    """Earth-Sun distance correction ``U = 1 / d^2`` (d in AU; ~0.1 % accurate)."""
    mean_anomaly = 2 * math.pi * (t.timetuple().tm_yday - 4) / 365.256
    ecc = 0.01671
    d = 1 - ecc * math.cos(mean_anomaly + ecc * math.sin(mean_anomaly))
    return 1.0 / (d * d)


def _to_lonlat(spec: S2ProductSpec, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    tr = Transformer.from_crs(spec.epsg, 4326, always_xy=True)
    lon, lat = tr.transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


# --- XML -------------------------------------------------------------------------------------


def _num(value: float) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else repr(v)


def _iso_ms(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z"


def _iso_us(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%S.%f}Z"


def _sub(parent: Any, tag: str, text: object = None, **attrs: object) -> Any:
    el = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el


def _xml_bytes(root: Any) -> bytes:
    etree.indent(root, space="    ")
    body: bytes = etree.tostring(root, encoding="UTF-8")
    return _DECLARATION + body + b"\n"


def _scl_percentages(spec: S2ProductSpec, scl: npt.NDArray[np.uint8]) -> dict[int, float]:
    """Share (%) of each SCL class over the valid pixels of the 20 m SCL (Sen2Cor's grid)."""
    scl20 = _scl_at(spec, scl, 20)
    valid = scl20 != 0
    total = max(int(valid.sum()), 1)
    return {c: 100.0 * float(np.count_nonzero(scl20 == c)) / total for c in range(12)}


def _cloud_over_land(
    spec: S2ProductSpec, scl: npt.NDArray[np.uint8], water: npt.NDArray[np.bool_]
) -> float:
    scl20 = _scl_at(spec, scl, 20)
    on_land = ~_scl_at(spec, water.astype(np.uint8), 20).astype(bool)
    cloudy = np.isin(scl20, (8, 9, 10)) & on_land
    return 100.0 * float(cloudy.sum()) / max(int(on_land.sum()), 1)


@dataclass(frozen=True)
class _Scene:
    """What the metadata summarise: the 10 m scene classification and where water is."""

    scl: npt.NDArray[np.uint8]
    water: npt.NDArray[np.bool_]


def _product_xml(spec: S2ProductSpec, names: _Names, scene: _Scene) -> bytes:
    lvl = spec.level
    ns = _NS_PRODUCT[lvl]
    t = _utc(spec.sensing_time)
    root = etree.Element(
        f"{{{ns}}}Level-{lvl[1:]}_User_Product",
        {f"{{{_NS_XSI}}}schemaLocation": ns},
        nsmap={"n1": ns, "xsi": _NS_XSI},
    )
    general = _sub(root, f"{{{ns}}}General_Info")
    info = _sub(general, "Product_Info")
    _sub(info, "PRODUCT_START_TIME", _iso_ms(t))
    _sub(info, "PRODUCT_STOP_TIME", _iso_ms(t))
    _sub(info, "PRODUCT_URI", f"{names.product_id}.SAFE")
    _sub(info, "PROCESSING_LEVEL", f"Level-{lvl[1:]}")
    _sub(info, "PRODUCT_TYPE", f"S2MSI{lvl[1:]}")
    _sub(info, "PROCESSING_BASELINE", spec.processing_baseline)
    _sub(info, "PRODUCT_DOI", _DOI[lvl])
    _sub(info, "GENERATION_TIME", _iso_us(names.generation))
    _sub(info, "PREVIEW_IMAGE_URL", "Not applicable")
    _sub(info, "PREVIEW_GEO_INFO", "Not applicable")
    take = _sub(info, "Datatake", datatakeIdentifier=names.datatake_id)
    _sub(take, "SPACECRAFT_NAME", _MISSIONS[spec.mission]["name"])
    _sub(take, "DATATAKE_TYPE", "INS-NOBS")
    _sub(take, "DATATAKE_SENSING_START", _iso_ms(t))
    _sub(take, "SENSING_ORBIT_NUMBER", spec.relative_orbit)
    _sub(take, "SENSING_ORBIT_DIRECTION", "DESCENDING")
    _sub(_sub(info, "Query_Options", completeSingleTile="true"), "PRODUCT_FORMAT", "SAFE_COMPACT")
    granule = _sub(
        _sub(_sub(info, "Product_Organisation"), "Granule_List"),
        "Granule",
        datastripIdentifier=names.datastrip_id,
        granuleIdentifier=names.granule_id,
        imageFormat="JPEG2000",
    )
    for code, res in _file_keys(spec):
        _sub(granule, "IMAGE_FILE", _image_rel(spec, names, code, res))

    chars = _sub(general, "Product_Image_Characteristics")
    for text, index in (("NODATA", 0), ("SATURATED", 65535)):
        special = _sub(chars, "Special_Values")
        _sub(special, "SPECIAL_VALUE_TEXT", text)
        _sub(special, "SPECIAL_VALUE_INDEX", index)
    order = _sub(chars, "Image_Display_Order")
    for channel, index in (("RED_CHANNEL", 3), ("GREEN_CHANNEL", 2), ("BLUE_CHANNEL", 1)):
        _sub(order, channel, index)
    offset = baseline_offset(spec.processing_baseline)
    if lvl == "L2A":
        quant = _sub(chars, "QUANTIFICATION_VALUES_LIST")
        _sub(quant, "BOA_QUANTIFICATION_VALUE", _num(QUANTIFICATION_VALUE), unit="none")
        _sub(quant, "AOT_QUANTIFICATION_VALUE", f"{AOT_QUANTIFICATION:.1f}", unit="none")
        _sub(quant, "WVP_QUANTIFICATION_VALUE", f"{WVP_QUANTIFICATION:.1f}", unit="cm")
        list_tag, item_tag = "BOA_ADD_OFFSET_VALUES_LIST", "BOA_ADD_OFFSET"
    else:
        _sub(chars, "QUANTIFICATION_VALUE", _num(QUANTIFICATION_VALUE), unit="none")
        list_tag, item_tag = "Radiometric_Offset_List", "RADIO_ADD_OFFSET"
    if offset != 0:
        offsets = _sub(chars, list_tag)
        for band_id in BAND_IDS.values():
            _sub(offsets, item_tag, offset, band_id=band_id)
    conversion = _sub(chars, "Reflectance_Conversion")
    _sub(conversion, "U", repr(_earth_sun_u(t)))
    irradiance = _sub(conversion, "Solar_Irradiance_List")
    for band_id, e0 in enumerate(_MISSIONS[spec.mission]["irradiance"]):
        _sub(irradiance, "SOLAR_IRRADIANCE", e0, bandId=band_id, unit="W/m²/µm")
    spectral = _sub(chars, "Spectral_Information_List")
    for code, band_id in BAND_IDS.items():
        physical = f"B{int(code[1:3])}" if code != "B8A" else "B8A"
        item = _sub(spectral, "Spectral_Information", bandId=band_id, physicalBand=physical)
        _sub(item, "RESOLUTION", _NATIVE_RES[code])
        wave = _sub(item, "Wavelength")
        for tag, value in zip(("MIN", "MAX", "CENTRAL"), _WAVELENGTHS[band_id], strict=True):
            _sub(wave, tag, value, unit="nm")
    for band_id, gain in enumerate(_PHYSICAL_GAINS):
        _sub(chars, "PHYSICAL_GAINS", gain, bandId=band_id)
    _sub(chars, "REFERENCE_BAND", 3)
    if lvl == "L2A":
        classes = _sub(chars, "Scene_Classification_List")
        for index, text in enumerate(_SCL_TEXT):
            item = _sub(classes, "Scene_Classification_ID")
            _sub(item, "SCENE_CLASSIFICATION_TEXT", text)
            _sub(item, "SCENE_CLASSIFICATION_INDEX", index)

    geometric = _sub(root, f"{{{ns}}}Geometric_Info")
    outer = _sub(geometric, "Product_Footprint")
    extent = spec.size_10m_px * 10.0
    cx = np.array([0.0, extent, extent, 0.0, 0.0]) + spec.ulx_m
    cy = spec.uly_m - np.array([0.0, 0.0, extent, extent, 0.0])
    lon, lat = _to_lonlat(spec, cx, cy)
    positions = " ".join(
        f"{la!r} {lo!r}" for la, lo in zip(lat.tolist(), lon.tolist(), strict=True)
    )
    footprint = _sub(_sub(outer, "Product_Footprint"), "Global_Footprint")
    _sub(footprint, "EXT_POS_LIST", positions + " ")
    _sub(outer, "RASTER_CS_TYPE", "POINT")
    _sub(outer, "PIXEL_ORIGIN", 1)
    crs = _sub(geometric, "Coordinate_Reference_System")
    _sub(crs, "GEO_TABLES", "EPSG", version=1)
    _sub(crs, "HORIZONTAL_CS_TYPE", "GEOGRAPHIC")

    aux = _sub(root, f"{{{ns}}}Auxiliary_Data_Info")
    _sub(aux, "PRODUCTION_DEM_TYPE", "CopernicusDEM90")

    quality = _sub(root, f"{{{ns}}}Quality_Indicators_Info")
    pct = _scl_percentages(spec, scene.scl)
    cloud = pct[8] + pct[9] + pct[10]
    _sub(quality, "Cloud_Coverage_Assessment", f"{cloud:.6f}")
    if lvl == "L1C":
        _sub(quality, "Snow_Coverage_Assessment", f"{pct[11]:.1f}")
    technical = _sub(quality, "Technical_Quality_Assessment")
    _sub(technical, "DEGRADED_ANC_DATA_PERCENTAGE", "0.0")
    _sub(technical, "DEGRADED_MSI_DATA_PERCENTAGE", 0)
    checks = _sub(quality, "Quality_Control_Checks")
    inspections = _sub(checks, "Quality_Inspections")
    kinds = ["FORMAT_CORRECTNESS", "GENERAL_QUALITY", "GEOMETRIC_QUALITY"]
    kinds += ["L2A_QUALITY"] if lvl == "L2A" else []
    for kind in [*kinds, "RADIOMETRIC_QUALITY", "SENSOR_QUALITY"]:
        _sub(inspections, "quality_check", "PASSED", checkType=kind)
    _sub(checks, "Failed_Inspections")
    if lvl == "L2A":
        _image_content_qi(spec, scene, _sub(quality, "Image_Content_QI"), tile=False)
    return _xml_bytes(root)


def _image_content_qi(spec: S2ProductSpec, scene: _Scene, parent: Any, *, tile: bool) -> None:
    pct = _scl_percentages(spec, scene.scl)
    cloud = pct[8] + pct[9] + pct[10]
    if tile:
        _sub(parent, "CLOUDY_PIXEL_PERCENTAGE", f"{cloud:.6f}")
    over_land = _cloud_over_land(spec, scene.scl, scene.water)
    _sub(parent, "CLOUDY_PIXEL_OVER_LAND_PERCENTAGE", f"{over_land:.6f}")
    if tile:
        _sub(parent, "DEGRADED_MSI_DATA_PERCENTAGE", "0.000000")
    _sub(parent, "NODATA_PIXEL_PERCENTAGE", "0.000000")
    for tag, cls in (
        ("SATURATED_DEFECTIVE_PIXEL_PERCENTAGE", 1),
        ("DARK_FEATURES_PERCENTAGE", 2),
        ("CLOUD_SHADOW_PERCENTAGE", 3),
        ("VEGETATION_PERCENTAGE", 4),
        ("NOT_VEGETATED_PERCENTAGE", 5),
        ("WATER_PERCENTAGE", 6),
        ("UNCLASSIFIED_PERCENTAGE", 7),
        ("MEDIUM_PROBA_CLOUDS_PERCENTAGE", 8),
        ("HIGH_PROBA_CLOUDS_PERCENTAGE", 9),
        ("THIN_CIRRUS_PERCENTAGE", 10),
        ("SNOW_ICE_PERCENTAGE", 11),
    ):
        _sub(parent, tag, f"{pct[cls]:.6f}")
    for tag, value in (
        ("RADIATIVE_TRANSFER_ACCURACY", "0.0"),
        ("WATER_VAPOUR_RETRIEVAL_ACCURACY", "0.0"),
        ("AOT_RETRIEVAL_ACCURACY", "0.0"),
        ("AOT_RETRIEVAL_METHOD", "SEN2COR_DDV"),
        ("GRANULE_MEAN_AOT", f"{AOT_VALUE:.6f}"),
        ("GRANULE_MEAN_WV", f"{WVP_VALUE_CM:.6f}"),
        ("OZONE_SOURCE", "AUX_ECMWFT"),
        ("OZONE_VALUE", "300.000000"),
    ):
        _sub(parent, tag, value)


def _tile_xml(spec: S2ProductSpec, names: _Names, masks: list[str], scene: _Scene) -> bytes:
    lvl = spec.level
    ns = _NS_TILE[lvl]
    t = _utc(spec.sensing_time)
    root = etree.Element(
        f"{{{ns}}}Level-{lvl[1:]}_Tile_ID",
        {f"{{{_NS_XSI}}}schemaLocation": ns},
        nsmap={"n1": ns, "xsi": _NS_XSI},
    )
    general = _sub(root, f"{{{ns}}}General_Info")
    if lvl == "L2A":
        _sub(general, "L1C_TILE_ID", names.l1c_tile_id, metadataLevel="Brief")
    _sub(general, "TILE_ID", names.granule_id, metadataLevel="Brief")
    _sub(general, "DATASTRIP_ID", names.datastrip_id, metadataLevel="Standard")
    _sub(general, "DOWNLINK_PRIORITY", "NOMINAL", metadataLevel="Standard")
    _sub(general, "SENSING_TIME", _iso_us(t), metadataLevel="Standard")
    archive = _sub(general, "Archiving_Info", metadataLevel="Expertise")
    _sub(archive, "ARCHIVING_CENTRE", _CENTRE)
    _sub(archive, "ARCHIVING_TIME", _iso_us(names.generation + timedelta(minutes=30)))

    geometric = _sub(root, f"{{{ns}}}Geometric_Info")
    geocoding = _sub(geometric, "Tile_Geocoding", metadataLevel="Brief")
    zone = int(spec.tile[:2])
    hemisphere = "N" if spec.epsg < 32700 else "S"
    _sub(geocoding, "HORIZONTAL_CS_NAME", f"WGS84 / UTM zone {zone}{hemisphere}")
    _sub(geocoding, "HORIZONTAL_CS_CODE", f"EPSG:{spec.epsg}")
    for res in (10, 20, 60):
        size = _sub(geocoding, "Size", resolution=res)
        n = spec.size_10m_px * 10 // res
        _sub(size, "NROWS", n)
        _sub(size, "NCOLS", n)
    for res in (10, 20, 60):
        position = _sub(geocoding, "Geoposition", resolution=res)
        _sub(position, "ULX", _num(spec.ulx_m))
        _sub(position, "ULY", _num(spec.uly_m))
        _sub(position, "XDIM", res)
        _sub(position, "YDIM", -res)
    angles = _sub(geometric, "Tile_Angles", metadataLevel="Standard")
    extent = spec.size_10m_px * 10.0
    nodes = math.ceil(extent / _SUN_GRID_STEP_M) + 1
    offsets = np.arange(nodes, dtype=np.float64) * _SUN_GRID_STEP_M
    gx, gy = np.meshgrid(spec.ulx_m + offsets, spec.uly_m - offsets)
    zenith, azimuth = sun_angles(*_to_lonlat(spec, gx, gy), t)
    grid = _sub(angles, "Sun_Angles_Grid")
    for tag, values in (("Zenith", zenith), ("Azimuth", azimuth)):
        item = _sub(grid, tag)
        _sub(item, "COL_STEP", _SUN_GRID_STEP_M, unit="m")
        _sub(item, "ROW_STEP", _SUN_GRID_STEP_M, unit="m")
        table = _sub(item, "Values_List")
        for row in values:
            _sub(table, "VALUES", " ".join(f"{v:.4f}" for v in row))
    centre = np.array([spec.ulx_m + extent / 2]), np.array([spec.uly_m - extent / 2])
    zen_c, az_c = sun_angles(*_to_lonlat(spec, *centre), t)
    mean_sun = _sub(angles, "Mean_Sun_Angle")
    _sub(mean_sun, "ZENITH_ANGLE", repr(float(zen_c[0])), unit="deg")
    _sub(mean_sun, "AZIMUTH_ANGLE", repr(float(az_c[0])), unit="deg")
    views = _sub(angles, "Mean_Viewing_Incidence_Angle_List")
    for band_id in BAND_IDS.values():
        view = _sub(views, "Mean_Viewing_Incidence_Angle", bandId=band_id)
        _sub(view, "ZENITH_ANGLE", _VIEW_ZENITH_DEG, unit="deg")
        _sub(view, "AZIMUTH_ANGLE", _VIEW_AZIMUTH_DEG, unit="deg")

    quality = _sub(root, f"{{{ns}}}Quality_Indicators_Info", metadataLevel="Standard")
    content = _sub(quality, "Image_Content_QI")
    if lvl == "L2A":
        _image_content_qi(spec, scene, content, tile=True)
    else:
        pct = _scl_percentages(spec, scene.scl)
        _sub(content, "CLOUDY_PIXEL_PERCENTAGE", f"{pct[8] + pct[9] + pct[10]:.6f}")
        _sub(content, "DEGRADED_MSI_DATA_PERCENTAGE", "0.000000")
    if masks:
        pixel_qi = _sub(quality, "Pixel_Level_QI", geometry="FULL_RESOLUTION")
        for rel in masks:
            _sub(pixel_qi, "MASK_FILENAME", rel, type="MSK_CLDPRB")
    return _xml_bytes(root)


@dataclass(frozen=True)
class _DataObject:
    rel: str  # relative to the SAFE folder
    object_id: str
    unit_id: str
    mime: str
    group: str  # "product", "tile", "image" or "qi"


def _checksum(path: Path, sha3: bool) -> tuple[str, str]:
    h = hashlib.sha3_256() if sha3 else hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return ("SHA3-256", h.hexdigest().upper()) if sha3 else ("MD5", h.hexdigest())


def _manifest_xml(spec: S2ProductSpec, safe_dir: Path, objects: list[_DataObject]) -> bytes:
    lvl = spec.level
    xfdu = _NS_MANIFEST["xfdu"]
    root = etree.Element(
        f"{{{xfdu}}}XFDU",
        {"version": f"esa/safe/sentinel/1.1/sentinel-2/msi/archive_{lvl.lower()}_user_product"},
        nsmap=_NS_MANIFEST,
    )
    root.append(etree.Comment(" INFORMATION PACKAGE MAP SECTION "))
    package = _sub(root, "informationPackageMap")
    product = _sub(
        package,
        f"{{{xfdu}}}contentUnit",
        dmdID="acquisitionPeriod platform",
        pdiID="processing",
        textInfo=f"SENTINEL-2 MSI Level-{lvl[1:]} User Product",
        unitType=f"Product_Level-{lvl[1:]}",
    )

    def unit(parent: Any, obj: _DataObject, **attrs: str) -> None:
        el = _sub(parent, f"{{{xfdu}}}contentUnit", ID=obj.unit_id, **attrs)
        _sub(el, "dataObjectPointer", dataObjectID=obj.object_id)

    by_group = {g: [o for o in objects if o.group == g] for g in ("product", "tile", "image", "qi")}
    for obj in by_group["product"]:
        unit(product, obj, unitType="Metadata Unit")
    tile = _sub(
        _sub(product, f"{{{xfdu}}}contentUnit", ID="Tiles", textInfo="Tiles Container"),
        f"{{{xfdu}}}contentUnit",
        ID="Tile1",
        textInfo="Tile Container",
    )
    images = _sub(
        tile, f"{{{xfdu}}}contentUnit", ID="IMG_Data_Tile1", textInfo="Image Data Container"
    )
    for obj in by_group["image"]:
        unit(images, obj, textInfo="Image Data container", unitType="Measurement Data Unit")
    for obj in by_group["tile"]:
        unit(tile, obj, unitType="Metadata Unit")
    if by_group["qi"]:
        qi = _sub(
            tile, f"{{{xfdu}}}contentUnit", ID="QI_DATA_Tile1", textInfo="Quality Control Container"
        )
        for obj in by_group["qi"]:
            unit(qi, obj, textInfo="Quality Control Container", unitType="Measurement Data Unit")
    _sub(product, f"{{{xfdu}}}contentUnit", ID="AuxData", textInfo="Auxiliary Data container")

    root.append(etree.Comment(" METADATA OBJECT SECTION "))
    metadata = _sub(root, "metadataSection")
    for obj in by_group["product"] + by_group["tile"]:
        item = _sub(
            metadata,
            "metadataObject",
            ID=f"{obj.object_id}_Information",
            category="DMD",
            classification="DESCRIPTION",
        )
        _sub(item, "dataObjectPointer", dataObjectID=obj.object_id)

    section = _sub(root, "dataObjectSection")
    sha3 = baseline_offset(spec.processing_baseline) != 0  # N0400+ use SHA3-256, older MD5
    for obj in objects:
        path = safe_dir / obj.rel
        stream = _sub(
            _sub(section, "dataObject", ID=obj.object_id),
            "byteStream",
            mimeType=obj.mime,
            size=path.stat().st_size,
        )
        _sub(stream, "fileLocation", href=f"./{obj.rel}", locatorType="URL")
        name, digest = _checksum(path, sha3)
        _sub(stream, "checksum", digest, checksumName=name)
    return _xml_bytes(root)


def _l1c_object_ids(keys: list[tuple[str, int]]) -> dict[str, str]:
    """ESA L1C ids: ``IMG_DATA_Band_<res>m_<k>_Tile1`` (k counts within the resolution)."""
    counters: dict[int, int] = {}
    out: dict[str, str] = {}
    for code, res in keys:
        if code == "TCI":
            out[code] = "IMG_DATA_Band_TCI_Tile1"
            continue
        counters[res] = counters.get(res, 0) + 1
        out[code] = f"IMG_DATA_Band_{res}m_{counters[res]}_Tile1"
    return out


# --- rasters ---------------------------------------------------------------------------------


def _write_jp2(path: Path, data: npt.NDArray[Any], spec: S2ProductSpec, res: int) -> None:
    transform, width, height, crs = s2_grid(spec, res)
    bands = data if data.ndim == 3 else data[np.newaxis]
    with rasterio.open(
        path,
        "w",
        driver="JP2OpenJPEG",
        width=width,
        height=height,
        count=bands.shape[0],
        dtype=bands.dtype,
        crs=crs,
        transform=transform,
        QUALITY=100,
        REVERSIBLE="YES",
    ) as ds:
        ds.write(bands)


def _evaluate(
    field: ReflectanceField, spec: S2ProductSpec, code: str, res: int
) -> npt.NDArray[np.float64]:
    x, y = _centres(spec, res)
    out = np.asarray(field(x, y, code), dtype=np.float64)
    if out.shape != x.shape:
        raise OptionError(
            f"the reflectance field returned shape {out.shape} for band {code} at {res} m; "
            f"it must return one value per point, shape {x.shape}"
        )
    return out


ReflectanceRaster = Callable[[str, int], npt.NDArray[np.float64]]
"""``(band, resolution_m) -> reflectance`` on that resolution's grid (``size x size`` of the
subset at ``resolution_m``); ``band`` like ``"B04"``, ``"B8A"``."""


def _raster(
    spec: S2ProductSpec,
    code: str,
    res: int,
    field: ReflectanceField | ReflectanceRaster,
    scl: npt.NDArray[np.uint8],
    raster: bool = False,
) -> npt.NDArray[Any]:
    n = spec.size_10m_px * 10 // res

    def values(band: str) -> npt.NDArray[np.float64]:
        if not raster:
            return _evaluate(field, spec, band, res)  # type: ignore[arg-type]
        out = np.asarray(field(band, res), dtype=np.float64)  # type: ignore[call-arg, arg-type]
        if out.shape != (n, n):
            raise OptionError(
                f"the reflectance raster of band {band} at {res} m has shape {out.shape}; "
                f"it must be {(n, n)}"
            )
        return out

    if code == "SCL":
        return _scl_at(spec, scl, res)
    if code == "AOT":
        return np.full((n, n), round(AOT_VALUE * AOT_QUANTIFICATION), dtype=np.uint16)
    if code == "WVP":
        return np.full((n, n), round(WVP_VALUE_CM * WVP_QUANTIFICATION), dtype=np.uint16)
    if code == "TCI":  # reflectance 0..0.2 stretched to 1..255 (0 = no data), like ESA's TCI
        rgb = np.stack([values(b) for b in ("B04", "B03", "B02")])
        tci = np.clip(np.rint(np.nan_to_num(rgb, nan=0.0) * 1275.0), 1, 255)
        return np.where(np.isnan(rgb), 0, tci).astype(np.uint8)
    offset = baseline_offset(spec.processing_baseline)
    return reflectance_to_dn(values(code), offset)


# --- public writer ---------------------------------------------------------------------------


def write_s2_product(
    out_dir: Path,
    spec: S2ProductSpec = DEFAULT_S2_SPEC,
    *,
    reflectance: ReflectanceField | None = None,
    rasters: ReflectanceRaster | None = None,
    scl: npt.NDArray[np.uint8] | None = None,
    zipped: bool = False,
) -> Path:
    """Write a synthetic Sentinel-2 L2A or L1C SAFE product.

    Parameters
    ----------
    out_dir : Path
        Folder to write into (created if missing). An existing product of the same name there is
        replaced.
    spec : S2ProductSpec
        What to generate.
    reflectance : callable, optional
        ``(x_m, y_m, band) -> reflectance`` (L2A: bottom-of-atmosphere, L1C: top-of-atmosphere);
        default :func:`default_reflectance`.
    rasters : callable, optional
        ``(band, resolution_m) -> reflectance array`` on each resolution's grid, instead of
        ``reflectance`` (for scenes simulated as rasters, e.g. ``senprep synth``).
    scl : ndarray of uint8, optional
        The 10 m scene classification (``size x size``, ESA codes); default
        :func:`scl_array` of ``spec``. The 20/60 m SCL, the cloud probability masks and the
        metadata's cloud percentages come from it.
    zipped : bool
        Write ``<ID>.zip`` holding ``<ID>.SAFE/`` (like ESA's distribution) instead of the folder.

    Returns
    -------
    Path
        The ``<ID>.SAFE`` folder, or the ``<ID>.zip`` file when ``zipped``.

    Raises
    ------
    OptionError
        For an invalid ``spec`` or a field returning the wrong shape.
    """
    _validate(spec)
    names = _names(spec)
    field: ReflectanceField | ReflectanceRaster = (
        rasters
        if rasters is not None
        else (reflectance if reflectance is not None else default_reflectance(spec))
    )
    pid = names.product_id
    final, work_root, safe_dir = _prepare_output(Path(out_dir), pid, zipped)
    granule = safe_dir / "GRANULE" / names.granule_dir
    lvl = spec.level

    n = spec.size_10m_px
    if scl is None:
        scl = scl_array(spec)
        scene = _Scene(scl, _land_cover(spec) == 6)
    else:
        scl = np.asarray(scl, dtype=np.uint8)
        if scl.shape != (n, n):
            raise OptionError(
                f"the scene classification has shape {scl.shape}; it must be {(n, n)}"
            )
        scene = _Scene(scl, scl == 6)
    keys = _file_keys(spec)
    l1c_ids = _l1c_object_ids(keys)
    images: list[_DataObject] = []
    # the real L2A manifest lists the images by resolution and name, the L1C one in band order
    ordered = sorted(keys, key=lambda k: (k[1], k[0])) if lvl == "L2A" else keys
    for code, res in ordered:
        rel = _image_rel(spec, names, code, res) + ".jp2"
        (safe_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        _write_jp2(
            safe_dir / rel, _raster(spec, code, res, field, scl, rasters is not None), spec, res
        )
        base = f"IMG_DATA_Band_{code}_{res}m_Tile1" if lvl == "L2A" else l1c_ids[code]
        images.append(
            _DataObject(rel, f"{base}_Data", f"{base}_Unit", "application/octet-stream", "image")
        )

    qi: list[_DataObject] = []
    if lvl == "L2A":
        (granule / "QI_DATA").mkdir(parents=True, exist_ok=True)
        lut = np.zeros(256, dtype=np.uint8)
        for cls, probability in CLOUD_PROBABILITY.items():
            lut[cls] = probability
        for k, res in enumerate((20, 60)):
            rel = f"GRANULE/{names.granule_dir}/QI_DATA/MSK_CLDPRB_{res}m.jp2"
            _write_jp2(safe_dir / rel, lut[_scl_at(spec, scl, res)], spec, res)
            base = "CloudPrbMask_Tile1" if k == 0 else f"CloudPrbMask_{k}_Tile1"
            qi.append(
                _DataObject(rel, f"{base}_Data", f"{base}_Unit", "application/octet-stream", "qi")
            )

    tile_rel = f"GRANULE/{names.granule_dir}/MTD_TL.xml"
    (safe_dir / tile_rel).write_bytes(_tile_xml(spec, names, [o.rel for o in qi], scene))
    product_rel = f"MTD_MSI{lvl}.xml"
    (safe_dir / product_rel).write_bytes(_product_xml(spec, names, scene))
    level_tag = f"Level-{lvl[1:]}"
    objects = [
        _DataObject(
            product_rel,
            f"S2_{level_tag}_Product_Metadata",
            f"Product_Metadata_{level_tag}",
            "text/xml",
            "product",
        ),
        _DataObject(
            tile_rel,
            f"S2_{level_tag}_Tile1_Metadata",
            f"S2_{level_tag}_Tile1_Metadata_Unit",
            "application/xml",
            "tile",
        ),
        *images,
        *qi,
    ]
    (safe_dir / "manifest.safe").write_bytes(_manifest_xml(spec, safe_dir, objects))
    for code, res in keys:  # a partial product: listed everywhere, file lost
        if _is_missing(spec, code, res):
            (safe_dir / (_image_rel(spec, names, code, res) + ".jp2")).unlink()
    if not zipped:
        return safe_dir
    _zip_tree(safe_dir, final, names.generation)
    shutil.rmtree(work_root)
    return final
