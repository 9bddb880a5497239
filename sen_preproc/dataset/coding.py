"""How sample values are stored: per-band int16 scale/offset codings chosen from what a pair holds.

A pair (``senprep pair``) says in its tags what its bands hold: ``S1_SCALE`` (``db`` or
``linear``) and ``S2_REFLECTANCE_SCALE`` (``10000``: reflectance x 10 000, as ``senprep s2``
writes uint16; ``1``: reflectance 0-1, as ``senprep s2 --dtype float32`` writes). The coding
follows those units, band by band (GDAL's convention ``value = stored * scale + offset``):

========================  ======  ===========  ========  ====================================
layer (unit)              dtype   scale        offset    stored exactly
========================  ======  ===========  ========  ====================================
S1 dB                     int16   0.01         0         to 0.01 dB, -327.67 .. +327.67 dB
S1 linear                 float32 1            0         losslessly (no uniform int16 step fits
                                                         σ0 from 1e-5 to 10)
S2 reflectance x 10 000   int16   1            32768     integers 1 .. 65535 exactly
S2 reflectance 0-1        int16   1e-4         3.1768    on S2's 1e-4 steps, -0.0999 .. 6.4535
valid                     int16   1            0         exactly
========================  ======  ===========  ========  ====================================

int16 is stored where every layer has an int16 coding (half the bytes of float32; nodata
``-32768``), float32 otherwise or with ``--sample-dtype float32`` (scale 1, offset 0, nodata
NaN). A finite value outside a band's int16 range is an error naming the band and
``--sample-dtype float32`` - never clipped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sen_preproc.bands import VALID_BAND, is_polarisation
from sen_preproc.errors import OptionError, ProductError

SAMPLE_NODATA = -32768
"""Nodata code of int16 samples (float32 samples use NaN)."""
SAMPLE_DTYPES = ("auto", "int16", "float32")
"""Choices of ``senprep split --sample-dtype``."""
S1_UNITS = ("db", "linear")
"""Values of a pair's ``S1_SCALE`` tag."""
S2_UNITS = {"10000": "reflectance_x10000", "1": "reflectance"}
"""A pair's ``S2_REFLECTANCE_SCALE`` tag -> the unit name recorded in ``dataset.json``."""

_INT16_MIN, _INT16_MAX = SAMPLE_NODATA + 1, 32767
_CHUNK_VALUES = 1 << 18  # encode in cache-sized pieces (1 MB of float32)


class CodingRangeError(ProductError):
    """A value falls outside the int16 range of its band's coding."""


@dataclass(frozen=True)
class BandCoding:
    """How one band is stored: ``value = stored * scale + offset``."""

    name: str
    role: str  # "s1", "s2" or "valid"
    scale: float
    offset: float


@dataclass(frozen=True)
class SampleCoding:
    """The codings of all bands of a sample kind, and its dtype (``int16`` or ``float32``)."""

    dtype: str
    bands: tuple[BandCoding, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bands)

    @property
    def scales(self) -> tuple[float, ...]:
        return tuple(b.scale for b in self.bands)

    @property
    def offsets(self) -> tuple[float, ...]:
        return tuple(b.offset for b in self.bands)

    @property
    def nodata(self) -> float:
        """The stored nodata value: ``-32768`` (int16) or NaN (float32)."""
        return float(SAMPLE_NODATA) if self.dtype == "int16" else float("nan")

    def prefixed(self, label: str) -> SampleCoding:
        """The same coding with band names prefixed by a date label (``I_VV``)."""
        return SampleCoding(
            self.dtype,
            tuple(BandCoding(f"{label}_{b.name}", b.role, b.scale, b.offset) for b in self.bands),
        )

    def __add__(self, other: SampleCoding) -> SampleCoding:
        if other.dtype != self.dtype:
            raise OptionError(f"cannot join {self.dtype} and {other.dtype} sample codings")
        return SampleCoding(self.dtype, self.bands + other.bands)

    def encode(self, data: npt.NDArray[np.float32]) -> npt.NDArray[np.generic]:
        """float32 ``(bands, rows, cols)`` -> stored values (see :func:`encode_block`)."""
        if self.dtype == "float32":
            return np.asarray(data, dtype=np.float32)
        return encode_block(data, self.scales, self.offsets, self.names)

    def decode(self, stored: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
        """Stored values -> float32 values, NaN where no data."""
        if self.dtype == "float32":
            return np.asarray(stored, dtype=np.float32)
        return decode_sample(stored, self.scales, self.offsets)  # type: ignore[arg-type]

    def invalid(self, stored: npt.NDArray[np.generic]) -> npt.NDArray[np.bool_]:
        """Stored ``(bands, rows, cols)`` -> ``(rows, cols)``: no data in any S1/S2 band, or
        ``valid != 1``."""
        data = [i for i, b in enumerate(self.bands) if b.role != "valid"]
        valid = [i for i, b in enumerate(self.bands) if b.role == "valid"]

        def missing(band: int) -> npt.NDArray[np.bool_]:
            values = stored[band]
            gone: npt.NDArray[np.bool_] = (
                np.isnan(values) if self.dtype == "float32" else values == SAMPLE_NODATA
            )
            return gone

        out = missing(data[0])
        for band in data[1:]:
            out |= missing(band)
        for band in valid:
            out |= stored[band] != 1
        return out


def layer_role(name: str) -> str:
    """``s1`` for a polarisation, ``valid`` for the validity band, ``s2`` otherwise."""
    if is_polarisation(name):
        return "s1"
    return "valid" if name == VALID_BAND else "s2"


def choose_coding(
    layers: Sequence[str], s1_unit: str, s2_unit: str, sample_dtype: str = "auto"
) -> SampleCoding:
    """The coding of the layers of a pair (``VV, VH, B2, ..., valid``) holding S1 in
    ``s1_unit`` (``db``/``linear``) and S2 in ``s2_unit`` (``reflectance_x10000`` or
    ``reflectance``).

    Raises
    ------
    OptionError
        ``sample_dtype`` is ``int16`` but a layer cannot be stored as int16 without loss.
    """
    if sample_dtype not in SAMPLE_DTYPES:
        raise OptionError(
            f"--sample-dtype must be one of {', '.join(SAMPLE_DTYPES)}, got {sample_dtype!r}"
        )
    int16: list[BandCoding | None] = []
    for name in layers:
        role = layer_role(name)
        if role == "valid":
            int16.append(BandCoding(name, role, 1.0, 0.0))
        elif role == "s1":
            int16.append(BandCoding(name, role, 0.01, 0.0) if s1_unit == "db" else None)
        elif s2_unit == "reflectance_x10000":
            int16.append(BandCoding(name, role, 1.0, 32768.0))
        else:
            int16.append(BandCoding(name, role, 1e-4, 3.1768))
    lossy = [name for name, coding in zip(layers, int16, strict=True) if coding is None]
    if sample_dtype == "int16" and lossy:
        raise OptionError(
            f"{', '.join(lossy)} in {s1_unit} units cannot be stored as int16 without loss; use "
            "--sample-dtype float32 (or auto), or write S1 in dB (senprep s1 --scale db)"
        )
    if sample_dtype == "float32" or lossy:
        return SampleCoding(
            "float32", tuple(BandCoding(n, layer_role(n), 1.0, 0.0) for n in layers)
        )
    return SampleCoding("int16", tuple(c for c in int16 if c is not None))


def encode_block(
    data: npt.NDArray[np.float32],
    scales: Sequence[float],
    offsets: Sequence[float],
    names: Sequence[str] | None = None,
) -> npt.NDArray[np.int16]:
    """float32 ``(bands, rows, cols)`` -> int16 with ``stored = round((value - offset) / scale)``;
    NaN -> ``SAMPLE_NODATA``.

    Works band by band on cache-sized chunks (a few passes over 1 MB instead of over the whole
    block), so a 13 238-px-wide block of rows is encoded at memory speed.

    Raises
    ------
    CodingRangeError
        A finite value lies outside the band's int16 range (it would be clipped).
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
            if work.size and (
                np.fmax.reduce(work) > _INT16_MAX or np.fmin.reduce(work) < _INT16_MIN
            ):  # fmax/fmin skip NaN
                name = names[band] if names is not None else f"band {band + 1}"
                bad = piece[(work > _INT16_MAX) | (work < _INT16_MIN)]
                low, high = offset + _INT16_MIN * scale, offset + _INT16_MAX * scale
                raise CodingRangeError(
                    f"{name} holds {float(bad[0]):g}, outside the int16 coding's range "
                    f"{low:g} .. {high:g}; use --sample-dtype float32 to store it losslessly"
                )
            np.isnan(work, out=isnan)
            np.copyto(work, np.float32(SAMPLE_NODATA), where=isnan)
            np.copyto(dst[band, start : start + buf.size], work, casting="unsafe")
    return out


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
    if nodata is not None and not np.isnan(nodata):
        np.copyto(values, np.float32(np.nan), where=stored == nodata)
    return values
