"""SNAP's auxdata: where Apply-Orbit-File looks for orbit files, and placing ``--orbit-file`` there.

Offline, SNAP cannot download orbits; :func:`place_orbit_file` copies an ``.EOF`` into the
folder SNAP searches before trying to download.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sen_preproc.errors import OptionError, OrbitError

LOGGER = logging.getLogger(__name__)

_ORBIT_NAME = re.compile(
    r"^(?P<mission>S1[A-D])_OPER_AUX_(?P<kind>POEORB|RESORB)_OPOD_(?P<created>\d{8}T\d{6})_"
    r"V(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})(?P<ext>\.EOF(?:\.ZIP)?|\.ZIP)$",
    re.IGNORECASE,
)


def _read_properties(path: Path) -> dict[str, str]:
    """Java ``.properties`` (``key = value``, ``key: value``, ``#``/``!`` comments, ``\\``
    escapes and line continuations)."""
    try:
        text = path.read_text(encoding="latin-1")
    except OSError:
        return {}
    props: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            logical += line[:-1]
            continue
        logical += line
        match = re.match(r"((?:\\.|[^=:\s])+)\s*[=:\s]\s*(.*)", logical)
        if match:
            key = re.sub(r"\\(.)", r"\1", match.group(1))
            value = re.sub(
                r"\\(.)", lambda m: {"t": "\t", "n": "\n"}.get(m[1], m[1]), match.group(2)
            )
            props[key] = value.strip()
        logical = ""
    return props


def _substitute(value: str, variables: Mapping[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: variables.get(m[1], m[0]), value)


def snap_auxdata_dir(home: Path | None = None) -> Path:
    """SNAP's auxdata folder: ``AuxDataPath`` of ``~/.snap/etc/snap.auxdata.properties``, else
    ``~/.snap/auxdata``."""
    user_home = Path(home) if home is not None else Path.home()
    props = _read_properties(user_home / ".snap" / "etc" / "snap.auxdata.properties")
    value = props.get("AuxDataPath", "").strip()
    if value:
        value = _substitute(value, {"user.home": str(user_home)})
        if "${" not in value:
            return Path(value).expanduser()
    return user_home / ".snap" / "auxdata"


def s1_orbit_dir(kind: str, auxdata_dir: Path | None = None, *, home: Path | None = None) -> Path:
    """``<auxdata>/Orbits/Sentinel-1/POEORB`` (or ``RESORB``), honouring the
    ``OrbitFiles.sentinel1POEOrbitPath``/``...RESOrbitPath`` settings when ``auxdata_dir`` is
    not given."""
    kind = kind.upper()
    if kind not in ("POEORB", "RESORB"):
        raise OptionError(f"orbit kind {kind!r} must be POEORB or RESORB")
    if auxdata_dir is not None:
        return Path(auxdata_dir) / "Orbits" / "Sentinel-1" / kind
    user_home = Path(home) if home is not None else Path.home()
    auxdata = snap_auxdata_dir(user_home)
    props = _read_properties(user_home / ".snap" / "etc" / "snap.auxdata.properties")
    key = (
        "OrbitFiles.sentinel1POEOrbitPath"
        if kind == "POEORB"
        else "OrbitFiles.sentinel1RESOrbitPath"
    )
    value = _substitute(
        props.get(key, ""), {"AuxDataPath": str(auxdata), "user.home": str(user_home)}
    )
    if value and "${" not in value:
        return Path(value).expanduser()
    return auxdata / "Orbits" / "Sentinel-1" / kind


@dataclass(frozen=True)
class OrbitFileName:
    """Fields of an ESA Sentinel-1 orbit file name."""

    mission: str
    kind: str
    validity_start: datetime
    validity_stop: datetime


def parse_orbit_file_name(name: str) -> OrbitFileName:
    """``S1A_OPER_AUX_POEORB_OPOD_<created>_V<start>_<stop>.EOF[.zip]`` -> fields.

    Raises
    ------
    OrbitError
        When the name is not a Sentinel-1 POEORB/RESORB file name.
    """
    match = _ORBIT_NAME.match(name)
    if match is None:
        raise OrbitError(
            f"{name}: not a Sentinel-1 orbit file name (expected S1A_OPER_AUX_POEORB_OPOD_"
            "<created>_V<start>_<stop>.EOF, or RESORB, plain or .zip); SNAP finds orbit files "
            "by this name: keep the name ESA gave it"
        )
    start = datetime.strptime(match.group("start"), "%Y%m%dT%H%M%S")
    stop = datetime.strptime(match.group("stop"), "%Y%m%dT%H%M%S")
    if stop <= start:
        raise OrbitError(f"{name}: validity stop {stop} is not after its start {start}")
    return OrbitFileName(
        mission=match.group("mission").upper(),
        kind=match.group("kind").upper(),
        validity_start=start,
        validity_stop=stop,
    )


def _months(start: datetime, stop: datetime) -> list[tuple[int, int]]:
    months = []
    year, month = start.year, start.month
    while (year, month) <= (stop.year, stop.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _check_covers(src: Path, info: OrbitFileName, acquisition_time: datetime) -> None:
    if not info.validity_start <= acquisition_time <= info.validity_stop:
        raise OrbitError(
            f"{src}: validity {info.validity_start} – {info.validity_stop} does not cover "
            f"the acquisition {acquisition_time}; pass the orbit file of that day"
        )


def orbit_file_destination(
    eof: Path,
    acquisition_time: datetime,
    auxdata_dir: Path | None = None,
    *,
    home: Path | None = None,
) -> Path:
    """Where SNAP's Apply-Orbit-File looks for ``eof`` when it processes a product that starts
    at ``acquisition_time``: ``<orbits>/<S1A|S1B|S1C>/<YYYY>/<MM>/<name>`` (the path
    :func:`place_orbit_file` copies it to). Nothing is copied or created.

    Parameters
    ----------
    eof : Path
        An ESA-named orbit file (``S1x_OPER_AUX_POEORB|RESORB_OPOD_...EOF[.zip]``).
    acquisition_time : datetime
        Start of the product (naive UTC); must lie within the file's validity.
    auxdata_dir : Path, optional
        SNAP's auxdata folder; default as :func:`s1_orbit_dir` finds it.
    home : Path, optional
        User home (tests).

    Raises
    ------
    OrbitError
        When the name is not an ESA orbit file name or its validity misses the acquisition.
    """
    src = Path(eof).expanduser()
    info = parse_orbit_file_name(src.name)
    _check_covers(src, info, acquisition_time)
    folder = s1_orbit_dir(info.kind, auxdata_dir, home=home) / info.mission
    return folder / f"{acquisition_time.year:04d}" / f"{acquisition_time.month:02d}" / src.name


def place_orbit_file(
    eof: Path,
    auxdata_dir: Path | None = None,
    *,
    acquisition_time: datetime | None = None,
    home: Path | None = None,
    check_content: bool = True,
) -> Path:
    """Copy an orbit file (``--orbit-file``) to where SNAP's Apply-Orbit-File looks for it.

    SNAP searches ``<orbits>/<S1A|S1B|S1C>/<YYYY>/<MM>/`` with year and month of the
    *product's* state-vector time (``SentinelPODOrbitFile.findOrbitFile``), not of the orbit's
    validity start; a POEORB file starts ~1 h before its day, so one covering the 1st of a
    month starts in the previous month. The file is therefore copied into the month of
    ``acquisition_time`` when given, else into every month its validity window touches.

    Parameters
    ----------
    eof : Path
        ``S1x_OPER_AUX_POEORB|RESORB_OPOD_<created>_V<start>_<stop>.EOF`` (or ``.EOF.zip``).
    auxdata_dir : Path, optional
        SNAP's auxdata folder; default ``AuxDataPath`` of ``~/.snap/etc/snap.auxdata.properties``
        or ``~/.snap/auxdata`` (and the ``OrbitFiles.*`` settings).
    acquisition_time : datetime, optional
        Start of the product (naive UTC); must lie within the validity.
    home : Path, optional
        User home (tests).
    check_content : bool
        Also read the file (:func:`sen_preproc.sentinel1.orbit.read_orbit_file`) and check its mission.

    Returns
    -------
    Path
        The copy SNAP uses for ``acquisition_time`` (else the one of the validity's middle).

    Raises
    ------
    OrbitError
        Bad name, unreadable file, mission mismatch, acquisition outside the validity.
    """
    src = Path(eof).expanduser()
    info = parse_orbit_file_name(src.name)
    if not src.is_file():
        raise OrbitError(f"{src}: orbit file not found; pass an existing .EOF (or zipped) file")
    if check_content:
        from sen_preproc.sentinel1.orbit import read_orbit_file

        orbit = read_orbit_file(src)
        if orbit.mission and orbit.mission.upper() != info.mission:
            raise OrbitError(
                f"{src}: the file holds a {orbit.mission} orbit but is named {info.mission}; "
                "download the file again"
            )
    if acquisition_time is not None:
        _check_covers(src, info, acquisition_time)
        months = [(acquisition_time.year, acquisition_time.month)]
        primary = months[0]
    else:
        months = _months(info.validity_start, info.validity_stop)
        middle = info.validity_start + (info.validity_stop - info.validity_start) / 2
        primary = (middle.year, middle.month)
    base = s1_orbit_dir(info.kind, auxdata_dir, home=home) / info.mission
    result = base / f"{primary[0]:04d}" / f"{primary[1]:02d}" / src.name
    for year, month in months:
        folder = base / f"{year:04d}" / f"{month:02d}"
        target = folder / src.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not (target.exists() and target.stat().st_size == src.stat().st_size):
                tmp = folder / f".{src.name}.part-{os.getpid()}"
                shutil.copyfile(src, tmp)
                os.replace(tmp, target)
        except OSError as err:
            raise OrbitError(
                f"{src}: cannot copy the orbit file to {folder} ({err}); check the permissions "
                "of SNAP's auxdata folder"
            ) from err
        LOGGER.info("orbit file placed in %s", target)
    return result
