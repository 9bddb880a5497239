"""Band names shared by every step, defined once: S1 polarisations, S2 bands, the validity band.

Every senprep GeoTIFF names its bands with these (GDAL band descriptions): ``senprep s1`` writes
``VV``/``VH`` (or ``HH``/``HV``), ``senprep s2`` writes ``B2``, ``B3``, ... and ``valid``,
``senprep pair`` stacks ``VV, VH, B2, ..., valid``, and the dataset prefixes them with the date
(``I_VV``, ``II_B4``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sen_preproc.errors import OptionError

POLARISATIONS = ("VV", "VH", "HH", "HV")
"""Sentinel-1 polarisations (band names of ``senprep s1`` outputs)."""

S2_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
"""Sentinel-2 MSI bands, canonical names (band names of ``senprep s2`` outputs)."""

NATIVE_RESOLUTION_M = {
    "B1": 60.0,
    "B2": 10.0,
    "B3": 10.0,
    "B4": 10.0,
    "B5": 20.0,
    "B6": 20.0,
    "B7": 20.0,
    "B8": 10.0,
    "B8A": 20.0,
    "B9": 60.0,
    "B10": 60.0,
    "B11": 20.0,
    "B12": 20.0,
}
"""MSI native ground sampling distance of each band (m)."""

VALID_BAND = "valid"
"""Name of the validity band (1 = clear land/water, 0 = cloud, shadow, cirrus, no data)."""


def reflectance_scale(tags: Mapping[str, str], dtype: str) -> float | None:
    """Reflectance x this = the stored value of an S2 raster: its ``REFLECTANCE_SCALE`` (a
    ``senprep s2`` output) or ``S2_REFLECTANCE_SCALE`` (a pair) tag; untagged, by type as
    ``senprep s2`` codes it: float 0-1 (1), integers x 10 000; None for 8-bit data (digital
    numbers of a picture, not reflectance)."""
    text = tags.get("REFLECTANCE_SCALE", tags.get("S2_REFLECTANCE_SCALE"))
    if text is not None:
        return float(text)
    if dtype == "uint8":
        return None
    return 1.0 if dtype.startswith("float") else 10000.0


AUXILIARY_BANDS = (VALID_BAND, "filled")
"""Mask bands written beside the data (not data themselves: an output of masks only is empty)."""

RED_BAND, NIR_BAND = "B4", "B8"
"""The bands of NDVI = (NIR - red) / (NIR + red)."""


def is_polarisation(name: str) -> bool:
    """True for a Sentinel-1 band name (``VV``, ``vh``...)."""
    return name.upper() in POLARISATIONS


def is_s2_band(name: str) -> bool:
    """True for a canonical Sentinel-2 band name (``B2``, ``B8A``...)."""
    return name in S2_BANDS


def normalise_band(name: str) -> str:
    """``B02``/``b2``/``B2`` -> ``B2``; ``B8A``/``b8a`` -> ``B8A``.

    Raises
    ------
    OptionError
        For a name that is no Sentinel-2 band.
    """
    match = re.fullmatch(r"[Bb]0*(\d{1,2})([Aa]?)", name.strip())
    canonical = f"B{int(match.group(1))}{match.group(2).upper()}" if match else ""
    if canonical not in S2_BANDS:
        raise OptionError(f"unknown Sentinel-2 band {name!r}; use names like {', '.join(S2_BANDS)}")
    return canonical


def parse_polarisations(text: str | None) -> tuple[str, ...]:
    """``VV,VH`` / ``vv vh`` -> ``("VV", "VH")``; empty -> ``()`` (all in the product).

    Raises
    ------
    OptionError
        For a name that is no polarisation.
    """
    if not text:
        return ()
    pols = tuple(p.strip().upper() for p in text.replace(" ", ",").split(",") if p.strip())
    bad = [p for p in pols if p not in POLARISATIONS]
    if bad:
        raise OptionError(f"unknown polarisation {', '.join(bad)}; use {', '.join(POLARISATIONS)}")
    return pols
