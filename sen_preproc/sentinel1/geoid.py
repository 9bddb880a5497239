"""Geoid undulations from PROJ's grids: orthometric (EGM96/EGM2008) -> ellipsoidal heights.

DEMs such as SRTM and the Copernicus DEM give heights above the geoid; range-Doppler
geocoding needs heights above the WGS84 ellipsoid (``h = H + N``). The undulation ``N`` comes
from PROJ's geoid grid (Debian's ``proj-data`` ships ``egm96_15.gtx``). When the grid is missing
PROJ silently falls back to a null transformation, so we look for the file ourselves and ask
pyproj for the best operation only, failing with a clear message instead of a 50 m error.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyproj
from pyproj.exceptions import ProjError

from sen_preproc.errors import MissingDataError, OptionError

FloatArray = npt.NDArray[np.float64]

GEOID_MODELS = {
    # model: (vertical CRS code, grid file names PROJ may use)
    "egm96": ("EPSG:5773", ("egm96_15.gtx", "us_nga_egm96_15.tif")),
    "egm2008": ("EPSG:3855", ("egm08_25.gtx", "us_nga_egm08_25.tif")),
}
SYSTEM_PROJ_DIRS = ("/usr/share/proj", "/usr/local/share/proj", "/opt/homebrew/share/proj")


def _candidate_dirs() -> list[Path]:
    dirs = [Path(d) for d in pyproj.datadir.get_data_dir().split(os.pathsep) if d]
    for var in ("PROJ_DATA", "PROJ_LIB"):
        dirs += [Path(d) for d in os.environ.get(var, "").split(os.pathsep) if d]
    dirs += [Path(d) for d in SYSTEM_PROJ_DIRS]
    dirs.append(Path(pyproj.datadir.get_user_data_dir()))  # type: ignore[attr-defined]
    return dirs


def find_geoid_grid(model: str = "egm96") -> Path | None:
    """Return the path of the PROJ grid file for ``model``, or None when not installed."""
    _, names = _model(model)
    for folder in _candidate_dirs():
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None


def _model(model: str) -> tuple[str, tuple[str, ...]]:
    try:
        return GEOID_MODELS[model.lower()]
    except KeyError as err:
        raise OptionError(
            f"unknown geoid model {model!r}; use one of {', '.join(GEOID_MODELS)}"
        ) from err


@functools.lru_cache(maxsize=4)
def _transformer(model: str) -> pyproj.Transformer:
    vertical, names = _model(model)
    grid = find_geoid_grid(model)
    if grid is None:
        raise MissingDataError(
            f"geoid grid {names[0]} for {model.upper()} not found in PROJ's data folders; "
            "install it (Debian/Ubuntu: apt-get install proj-data; or `projsync --file "
            f"{names[1]}`), or pass --no-geoid if the DEM heights are already ellipsoidal"
        )
    folder = str(grid.parent)
    if folder not in pyproj.datadir.get_data_dir().split(os.pathsep):
        pyproj.datadir.append_data_dir(folder)
    return pyproj.Transformer.from_crs(
        f"EPSG:4326+{vertical.split(':')[1]}", "EPSG:4979", always_xy=True, only_best=True
    )


def geoid_undulation_m(
    lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike, model: str = "egm96"
) -> FloatArray:
    """Geoid height N above the WGS84 ellipsoid (m) at the given points.

    Parameters
    ----------
    lon_deg, lat_deg : array_like
        WGS84 longitude/latitude in degrees, same shape.
    model : str
        ``egm96`` or ``egm2008``.

    Raises
    ------
    MissingDataError
        When PROJ's grid for the model is not installed (message names the fix).
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    transformer = _transformer(model)
    try:
        _, _, h = transformer.transform(lon, lat, np.zeros_like(lon), errcheck=True)
    except ProjError as err:
        raise MissingDataError(
            f"PROJ could not apply the {model.upper()} geoid grid ({err}); install proj-data "
            "or pass --no-geoid"
        ) from err
    return np.asarray(h, dtype=np.float64)
