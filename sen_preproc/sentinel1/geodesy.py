"""WGS84 ellipsoid helpers: geodetic -> Earth-centred Earth-fixed (ECEF) coordinates.

Written with numpy instead of pyproj because terrain correction calls them on every output
pixel (tens of millions of points): the closed form below is several times faster than a
``pyproj.Transformer`` round trip and exact to well below a millimetre.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)


def geodetic_to_ecef(
    lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike, height_m: npt.ArrayLike
) -> FloatArray:
    """Convert WGS84 geodetic coordinates to ECEF.

    Parameters
    ----------
    lon_deg, lat_deg : array_like
        Longitude and latitude in degrees (EPSG:4326), broadcastable.
    height_m : array_like
        Height above the WGS84 ellipsoid in metres.

    Returns
    -------
    numpy.ndarray
        ECEF coordinates in metres, shape ``(3, *broadcast_shape)``.
    """
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    h = np.asarray(height_m, dtype=np.float64)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    nh_cos = (n + h) * cos_lat
    x = nh_cos * np.cos(lon)
    y = nh_cos * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z))
