"""Synthetic, format-faithful Sentinel-1 IW GRD SAFE products for tests, benches and the demo.

The generator writes a complete SAFE folder (or a zip of it, like ESA's distribution) whose
files follow the real ones element by element: ``manifest.safe``, one annotation XML, one
``calibration-*.xml`` and one ``noise-*.xml`` per polarisation and one uint16 measurement
GeoTIFF per polarisation. Every number in it comes from one analytic, self-consistent
acquisition geometry, so a processor run on the product can be checked exactly:

* **Orbit**: a circular orbit (radius :data:`ORBIT_RADIUS_M`, inclination
  :data:`ORBIT_INCLINATION_DEG`) in an inertial frame that coincides with the Earth-fixed WGS84
  frame (ECEF) at the middle line time; ECEF position and velocity are analytic (the velocity is
  the inertial velocity minus ``omega x r``, ``omega`` = :data:`EARTH_ROTATION_RATE`). The node
  and phase are solved numerically so that at the middle line the zero-Doppler point on the
  ellipsoid at mid-range is the scene centre, the radar looks right, the pass is the requested
  one and the first sample has the requested incidence angle.
* **Image grid**: line ``k`` is acquired at ``t0 + k * dt`` (``dt`` = annotation
  ``azimuthTimeInterval`` = pixel spacing / ground speed, adjusted so that the last line time is
  a whole microsecond); sample ``j`` lies at ground range ``j * pixel_spacing`` measured along
  the ellipsoid on the zero-Doppler curve from the near edge, whose slant range ``sr0`` is the
  same for every line. The slant range of a pixel is given *exactly* by the annotation
  ``grsrCoefficients`` (slant range as a polynomial of ground range, ``gr0 = 0``), linearly
  interpolated in azimuth time between ``coordinateConversion`` records (one per second, the
  first one second before the first line, the last at or after the last line), and
  ``srgrCoefficients`` hold the inverse (ground range as a polynomial of ``slant range - sr0``).
  This is the ESA convention read by ``xarray_sentinel.slant_range_time_to_ground_range``.
* **Forward geolocation**: a pixel is the point ``P`` with ``|P - S| = R`` and
  ``(P - S) . V = 0`` on the right of the track, at the ellipsoidal height given by the terrain
  (iterated until the height error is below a millimetre).
* **Radiometry**: ``DN = round(sqrt(sigma0 * A**2 + N))`` with ``A`` the ``sigmaNought`` LUT
  (bilinear in line/pixel) and ``N`` the thermal noise (range LUT, bilinear, times the azimuth
  LUT of the sub-swath block, linear in line) -- the inverse of ESA's
  ``sigma0 = (DN**2 - N) / A**2``.

Units: angles in degrees unless named ``_rad``; lengths in metres; times in seconds since
``S1ProductSpec.start_time`` (naive UTC) unless they are ``datetime64[ns]``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import shutil
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.errors
import rasterio.windows
from affine import Affine
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from scipy import optimize

from sen_preproc.errors import OptionError

__all__ = [
    "BACKGROUND_SIGMA0",
    "BRIGHT_SQUARE_FRACTIONS",
    "BRIGHT_SQUARE_SIGMA0",
    "DEFAULT_SPEC",
    "BrightSquare",
    "HeightField",
    "OrbitModel",
    "S1Geometry",
    "S1ProductSpec",
    "Sigma0Field",
    "bright_squares",
    "default_sigma0",
    "ecef_to_geodetic",
    "gaussian_hill",
    "geodetic_to_ecef",
    "product_geometry",
    "product_id",
    "sigma0_to_dn",
    "write_dem",
    "write_orbit_file",
    "write_s1_grd_product",
]

FloatArray = npt.NDArray[np.float64]

Sigma0Field = Callable[[FloatArray, FloatArray, str], FloatArray]
"""``(lon_deg, lat_deg, polarisation) -> linear sigma0`` (float64, same shape)."""

HeightField = Callable[[FloatArray, FloatArray], FloatArray]
"""``(lon_deg, lat_deg) -> ellipsoidal height above WGS84`` in metres."""

# --- physical and mission constants ----------------------------------------------------------

WGS84_A = 6_378_137.0  # semi-major axis, m
WGS84_B = 6_356_752.314245  # semi-minor axis, m (as written in real annotations)
WGS84_E2 = 1.0 - (WGS84_B / WGS84_A) ** 2
GM_EARTH = 3.986004418e14  # m^3 s^-2
EARTH_ROTATION_RATE = 7.2921159e-5  # rad / s
SPEED_OF_LIGHT = 299_792_458.0  # m / s
ORBIT_RADIUS_M = 7_071_000.0  # ~693 km altitude, Sentinel-1 reference orbit
ORBIT_INCLINATION_DEG = 98.18
RANGE_SAMPLING_RATE_HZ = 6.434523812571428e07  # as in real IW annotations
RADAR_FREQUENCY_HZ = 5.405000454334350e09
AZIMUTH_STEERING_RATE_DEG_S = 1.590368784
ABSOLUTE_CALIBRATION_CONSTANT = 1.393
DN_CALIBRATION_VALUE = 401.5858  # the constant ``dn`` LUT of real IW GRDH products
TAI_MINUS_UTC_S = 37.0  # leap seconds since 2017
UT1_MINUS_UTC_S = -0.1  # a plausible constant (real files carry the IERS value)
NOMINAL_ORBIT_PERIOD_S = 12 * 86_400 / 175  # 175 orbits in a 12-day repeat cycle

#: Default radar backscatter (linear sigma0) of the smooth background, per polarisation.
BACKGROUND_SIGMA0: dict[str, float] = {"VV": 0.05, "HH": 0.05, "VH": 0.01, "HV": 0.01}
#: Linear sigma0 of the bright squares of the default field (all polarisations).
BRIGHT_SQUARE_SIGMA0 = 0.5
#: Centres of the default bright squares as (line, sample) fractions of the image, geolocated
#: on the ellipsoid (height 0) to fix their lon/lat (see :func:`bright_squares`).
BRIGHT_SQUARE_FRACTIONS: tuple[tuple[float, float], ...] = ((0.25, 0.25), (0.5, 0.7), (0.75, 0.4))

_MISSIONS: dict[str, dict[str, Any]] = {
    # reference absolute orbit + its ascending node time, relative-orbit offset, cycle offset
    "S1A": {
        "ref_orbit": 36201,
        "ref_anx": datetime(2021, 1, 19, 2, 22, 31, 388113),
        "rel_offset": 73,
        "cycle_offset": 15,
        "nssdc": "2014-016A",
    },
    "S1B": {
        "ref_orbit": 30148,
        "ref_anx": datetime(2021, 12, 23, 4, 33, 35, 556206),
        "rel_offset": 27,
        "cycle_offset": 7,
        "nssdc": "2016-025A",
    },
    "S1C": {
        "ref_orbit": 1500,
        "ref_anx": datetime(2025, 3, 1, 0, 0, 0),
        "rel_offset": 73,
        "cycle_offset": 0,
        "nssdc": "2024-235A",
    },
}
_POLARISATION_CODES = {
    ("VV",): "SV",
    ("VV", "VH"): "DV",
    ("HH",): "SH",
    ("HH", "HV"): "DH",
}
_SUBSWATHS = {"IW": ("IW1", "IW2", "IW3"), "EW": ("EW1", "EW2", "EW3", "EW4", "EW5")}
_PRODUCT_LEVEL = {"GRD": 1, "SLC": 1, "RAW": 0, "OCN": 2}
_TIME_FMT = "%Y-%m-%dT%H:%M:%S.%f"
_MAX_CHUNK_PIXELS = 1 << 21  # bounded memory: ~2M pixels per measurement chunk
_MAX_GEOLOCATION_POINTS = 1 << 19


# --- product specification -------------------------------------------------------------------

_DEFAULT_START = datetime(2021, 12, 23, 5, 11, 22, 594441)


@dataclass(frozen=True)
class S1ProductSpec:
    """What to generate.

    Attributes
    ----------
    centre_lon_deg, centre_lat_deg : float
        Scene centre (degrees): the zero-Doppler ellipsoid point of the middle line and middle
        sample.
    lines, samples : int
        Image size: azimuth lines and range samples.
    pixel_spacing_m : float
        Ground-range and azimuth pixel spacing (m).
    start_time : datetime
        First line azimuth time (naive UTC, microsecond resolution).
    mission : str
        ``"S1A"``, ``"S1B"`` (or ``"S1C"``).
    pass_direction : str
        ``"ASCENDING"`` or ``"DESCENDING"``.
    polarisations : tuple of str
        ``("VV", "VH")``, ``("VV",)``, ``("HH", "HV")`` or ``("HH",)``.
    product_type : str
        Written into the names and the XML: ``"GRD"``; ``"SLC"``, ``"OCN"`` and ``"RAW"`` are
        accepted (the files keep the GRD layout) so that readers' error paths can be tested.
    mode : str
        ``"IW"`` (3 sub-swaths) or ``"EW"`` (5 sub-swaths).
    resolution_class : str
        ``"H"``, ``"M"`` or ``"F"`` (the H in GRDH).
    ipf_version : str
        Processor version, e.g. ``"003.40"``. From ``002.90`` the noise XML has
        ``noiseRangeVectorList`` + ``noiseAzimuthVectorList`` (one block per sub-swath); older
        versions get a single range-only ``noiseVectorList``/``noiseLut``.
    near_incidence_deg : float
        Ellipsoid incidence angle at the first sample of the middle line (degrees).
    noise_power : float
        Typical thermal-noise power in DN^2 (scale of the range noise LUT).
    calibration_constant_beta : float
        Value of the (constant) ``betaNought`` LUT.
    speckle_looks : float or None
        ``None``: no speckle; else sigma0 is multiplied by Gamma(L, 1/L) noise.
    seed : int
        Seed of the speckle generator.
    geolocation_step_px : int
        Forward-geolocate every Nth line/sample for the measurement and interpolate bilinearly
        in between (use > 1 for big products).
    block_lines : int
        Maximum lines per measurement write (memory stays bounded whatever the size).
    """

    centre_lon_deg: float = 12.5
    centre_lat_deg: float = 42.0
    lines: int = 300
    samples: int = 400
    pixel_spacing_m: float = 10.0
    start_time: datetime = _DEFAULT_START
    mission: str = "S1B"
    pass_direction: str = "DESCENDING"
    polarisations: tuple[str, ...] = ("VV", "VH")
    product_type: str = "GRD"
    mode: str = "IW"
    resolution_class: str = "H"
    ipf_version: str = "003.40"
    near_incidence_deg: float = 35.0
    noise_power: float = 30.0
    calibration_constant_beta: float = 474.0
    speckle_looks: float | None = None
    seed: int = 0
    geolocation_step_px: int = 1
    block_lines: int = 512


DEFAULT_SPEC = S1ProductSpec()


def _validate(spec: S1ProductSpec) -> None:
    def bad(name: str, value: object, allowed: str) -> OptionError:
        return OptionError(f"S1ProductSpec.{name}={value!r} is invalid: use {allowed}")

    if spec.mission not in _MISSIONS:
        raise bad("mission", spec.mission, " / ".join(_MISSIONS))
    if spec.pass_direction not in ("ASCENDING", "DESCENDING"):
        raise bad("pass_direction", spec.pass_direction, "'ASCENDING' or 'DESCENDING'")
    if tuple(spec.polarisations) not in _POLARISATION_CODES:
        raise bad("polarisations", spec.polarisations, "one of " + str(list(_POLARISATION_CODES)))
    if spec.product_type not in _PRODUCT_LEVEL:
        raise bad("product_type", spec.product_type, "GRD (or SLC/OCN/RAW for error tests)")
    if spec.mode not in _SUBSWATHS:
        raise bad("mode", spec.mode, "'IW' or 'EW'")
    if spec.resolution_class not in ("H", "M", "F"):
        raise bad("resolution_class", spec.resolution_class, "'H', 'M' or 'F'")
    if spec.lines < 2 or spec.samples < 2:
        raise bad("lines/samples", (spec.lines, spec.samples), "at least 2 x 2")
    if spec.samples < 3 * len(_SUBSWATHS[spec.mode]):
        raise bad("samples", spec.samples, f">= {3 * len(_SUBSWATHS[spec.mode])} for {spec.mode}")
    if not spec.pixel_spacing_m > 0:
        raise bad("pixel_spacing_m", spec.pixel_spacing_m, "a positive number of metres")
    if not 15.0 <= spec.near_incidence_deg <= 50.0:
        raise bad("near_incidence_deg", spec.near_incidence_deg, "15..50 degrees")
    if abs(spec.centre_lat_deg) > 75.0:
        raise bad("centre_lat_deg", spec.centre_lat_deg, "a latitude within +-75 degrees")
    if spec.geolocation_step_px < 1 or spec.block_lines < 1:
        raise bad("geolocation_step_px/block_lines", spec.block_lines, "positive integers")
    if spec.speckle_looks is not None and not spec.speckle_looks > 0:
        raise bad("speckle_looks", spec.speckle_looks, "None or a positive number of looks")
    try:
        float(spec.ipf_version)
    except ValueError:
        raise bad("ipf_version", spec.ipf_version, "a version like '003.40'") from None


def _ipf_has_azimuth_noise(spec: S1ProductSpec) -> bool:
    return float(spec.ipf_version) >= 2.9 - 1e-9


# --- ellipsoid helpers -----------------------------------------------------------------------


def geodetic_to_ecef(
    lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike, h: npt.ArrayLike
) -> FloatArray:
    """WGS84 geodetic (degrees, metres) to ECEF (metres), stacked on the last axis."""
    lon = np.deg2rad(np.asarray(lon_deg, dtype=np.float64))
    lat = np.deg2rad(np.asarray(lat_deg, dtype=np.float64))
    hh = np.asarray(h, dtype=np.float64)
    sin_lat = np.sin(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
    x = (n + hh) * np.cos(lat) * np.cos(lon)
    y = (n + hh) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + hh) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ECEF (metres, last axis = x, y, z) to WGS84 (lon_deg, lat_deg, height_m).

    Heikkinen's closed form: exact to well below a millimetre near the Earth's surface.
    """
    p_xyz = np.asarray(xyz, dtype=np.float64)
    x, y, z = p_xyz[..., 0], p_xyz[..., 1], p_xyz[..., 2]
    a, b, e2 = WGS84_A, WGS84_B, WGS84_E2
    ep2 = (a * a - b * b) / (b * b)
    p = np.hypot(x, y)
    f = 54.0 * b * b * z * z
    g = p * p + (1.0 - e2) * z * z - e2 * (a * a - b * b)
    c = e2 * e2 * f * p * p / (g**3)
    s = np.cbrt(1.0 + c + np.sqrt(c * c + 2.0 * c))
    k = s + 1.0 + 1.0 / s
    pp = f / (3.0 * k * k * g * g)
    q = np.sqrt(1.0 + 2.0 * e2 * e2 * pp)
    r0 = -pp * e2 * p / (1.0 + q) + np.sqrt(
        np.maximum(
            0.5 * a * a * (1.0 + 1.0 / q)
            - pp * (1.0 - e2) * z * z / (q * (1.0 + q))
            - 0.5 * pp * p * p,
            0.0,
        )
    )
    u = np.sqrt((p - e2 * r0) ** 2 + z * z)
    v = np.sqrt((p - e2 * r0) ** 2 + (1.0 - e2) * z * z)
    z0 = b * b * z / (a * v)
    h = u * (1.0 - b * b / (a * v))
    lat = np.arctan2(z + ep2 * z0, p)
    lon = np.arctan2(y, x)
    return np.rad2deg(lon), np.rad2deg(lat), h


def _ellipsoid_normal(lon_deg: FloatArray, lat_deg: FloatArray) -> FloatArray:
    lon, lat = np.deg2rad(lon_deg), np.deg2rad(lat_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(np.einsum("...i,...i->...", a, b), dtype=np.float64)


def _norm(a: FloatArray) -> FloatArray:
    return np.sqrt(_dot(a, a))


# --- orbit -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrbitModel:
    """Circular orbit in an inertial frame equal to ECEF at ``reference_s``.

    Attributes
    ----------
    radius_m : float
        Orbit radius (m).
    inclination_deg : float
        Inclination (degrees).
    node_rad : float
        Longitude of the ascending node in the ECEF frame at ``reference_s`` (rad).
    arg_lat_rad : float
        Argument of latitude at ``reference_s`` (rad).
    reference_s : float
        Reference epoch in seconds since the product start time.
    """

    radius_m: float
    inclination_deg: float
    node_rad: float
    arg_lat_rad: float
    reference_s: float

    @property
    def mean_motion(self) -> float:
        """Angular rate along the orbit (rad/s)."""
        return math.sqrt(GM_EARTH / self.radius_m**3)

    @property
    def period_s(self) -> float:
        """Orbital period (s)."""
        return 2.0 * math.pi / self.mean_motion

    def state(self, t_s: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """ECEF position (m) and velocity (m/s) at ``t_s``, shape ``(*t.shape, 3)``."""
        t = np.asarray(t_s, dtype=np.float64)
        tau = t - self.reference_s
        inc = math.radians(self.inclination_deg)
        node = self.node_rad
        p_vec = np.array([math.cos(node), math.sin(node), 0.0])
        q_vec = np.array(
            [-math.cos(inc) * math.sin(node), math.cos(inc) * math.cos(node), math.sin(inc)]
        )
        n = self.mean_motion
        u = self.arg_lat_rad + n * tau
        cu, su = np.cos(u)[..., None], np.sin(u)[..., None]
        r_i = self.radius_m * (cu * p_vec + su * q_vec)
        v_i = self.radius_m * n * (-su * p_vec + cu * q_vec)
        theta = EARTH_ROTATION_RATE * tau
        ct, st = np.cos(theta), np.sin(theta)
        pos = np.empty(r_i.shape)
        vel = np.empty(v_i.shape)
        pos[..., 0] = ct * r_i[..., 0] + st * r_i[..., 1]
        pos[..., 1] = -st * r_i[..., 0] + ct * r_i[..., 1]
        pos[..., 2] = r_i[..., 2]
        vel[..., 0] = ct * v_i[..., 0] + st * v_i[..., 1] + EARTH_ROTATION_RATE * pos[..., 1]
        vel[..., 1] = -st * v_i[..., 0] + ct * v_i[..., 1] - EARTH_ROTATION_RATE * pos[..., 0]
        vel[..., 2] = v_i[..., 2]
        return pos, vel

    def ascending_node_time_s(self, before_s: float) -> float:
        """Time (s since start) of the last ascending-node crossing at or before ``before_s``."""
        u_ref = self.arg_lat_rad
        t_anx = self.reference_s - (u_ref % (2 * math.pi)) / self.mean_motion
        while t_anx > before_s:
            t_anx -= self.period_s
        while t_anx + self.period_s <= before_s:
            t_anx += self.period_s
        return t_anx


def _zero_doppler_points(
    sat_pos: FloatArray, sat_vel: FloatArray, slant_range: FloatArray, height: FloatArray | float
) -> FloatArray:
    """Right-looking point at ``slant_range`` in the zero-Doppler plane on the ellipsoid inflated
    by ``height`` (axes ``a + h``, ``b + h``). Inputs broadcast over leading axes (n, 3)/(n,)."""
    big_a = WGS84_A + np.asarray(height, dtype=np.float64)
    big_b = WGS84_B + np.asarray(height, dtype=np.float64)
    inv_a2 = np.broadcast_to(1.0 / big_a**2, slant_range.shape)
    inv_b2 = np.broadcast_to(1.0 / big_b**2, slant_range.shape)
    weights = np.stack([inv_a2, inv_a2, inv_b2], axis=-1)
    v_hat = sat_vel / _norm(sat_vel)[..., None]
    e1 = -sat_pos + _dot(sat_pos, v_hat)[..., None] * v_hat
    e1 /= _norm(e1)[..., None]
    e2 = np.cross(e1, v_hat)  # points to the right of the flight direction
    r_sat = _norm(sat_pos)
    sin2 = (sat_pos[..., 2] / r_sat) ** 2
    rho2 = 1.0 / ((1.0 - sin2) * inv_a2 + sin2 * inv_b2)
    cos_a = np.clip((r_sat**2 + slant_range**2 - rho2) / (2.0 * r_sat * slant_range), -1.0, 1.0)
    alpha = np.arccos(cos_a)
    rr = slant_range[..., None]
    for _ in range(30):
        ca, sa = np.cos(alpha)[..., None], np.sin(alpha)[..., None]
        point = sat_pos + rr * (ca * e1 + sa * e2)
        d_point = rr * (-sa * e1 + ca * e2)
        g = _dot(point * point, weights) - 1.0
        dg = 2.0 * _dot(point * d_point, weights)
        step = g / dg
        alpha = alpha - step
        if not np.any(np.abs(step * slant_range) > 1e-7):
            break
    ca, sa = np.cos(alpha)[..., None], np.sin(alpha)[..., None]
    return np.asarray(sat_pos + rr * (ca * e1 + sa * e2), dtype=np.float64)


def _geolocate_state(
    sat_pos: FloatArray,
    sat_vel: FloatArray,
    slant_range: FloatArray,
    terrain_height: HeightField | None,
    max_iter: int = 60,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Forward geolocation of flat arrays: returns ``(P_ecef, lon, lat, h)``."""
    point = _zero_doppler_points(sat_pos, sat_vel, slant_range, 0.0)
    lon, lat, h = ecef_to_geodetic(point)
    if terrain_height is None:
        return point, lon, lat, h
    # Solve err(k) = terrain(lon, lat) - h = 0 for the ellipsoid inflation k of each point by the
    # secant method (the plain fixed point k += err contracts only by slope * cot(incidence)).
    k_prev = np.zeros_like(slant_range)
    err_prev = np.asarray(terrain_height(lon, lat), dtype=np.float64) - h
    k_cur = k_prev + err_prev
    for _ in range(max_iter):
        point = _zero_doppler_points(sat_pos, sat_vel, slant_range, k_cur)
        lon, lat, h = ecef_to_geodetic(point)
        err = np.asarray(terrain_height(lon, lat), dtype=np.float64) - h
        if not np.any(np.abs(err) > 1e-3):
            break
        dk = k_cur - k_prev
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (err - err_prev) / dk
        usable = (np.abs(dk) > 1e-9) & (slope < -0.05) & np.isfinite(slope)
        k_next = np.where(usable, k_cur - err / np.where(usable, slope, -1.0), k_cur + err)
        k_prev, err_prev, k_cur = k_cur, err, k_next
    else:
        warnings.warn(
            "terrain-height iteration did not converge to 1 mm everywhere (layover?)",
            RuntimeWarning,
            stacklevel=3,
        )
    return point, lon, lat, h


def _incidence_deg(
    point: FloatArray, sat_pos: FloatArray, lon: FloatArray, lat: FloatArray
) -> FloatArray:
    los = sat_pos - point
    los /= _norm(los)[..., None]
    cos_i = _dot(_ellipsoid_normal(lon, lat), los)
    return np.asarray(np.rad2deg(np.arccos(np.clip(cos_i, -1.0, 1.0))), dtype=np.float64)


def _elevation_deg(point: FloatArray, sat_pos: FloatArray) -> FloatArray:
    los = point - sat_pos
    cos_e = _dot(los, -sat_pos) / (_norm(los) * _norm(sat_pos))
    return np.asarray(np.rad2deg(np.arccos(np.clip(cos_e, -1.0, 1.0))), dtype=np.float64)


def _slant_range_for_incidence(
    sat_pos: FloatArray, sat_vel: FloatArray, incidence_deg: float
) -> float:
    r_sat = float(_norm(sat_pos))

    def f(rng: float) -> float:
        pt = _zero_doppler_points(sat_pos[None], sat_vel[None], np.array([rng]), 0.0)
        lon, lat, _ = ecef_to_geodetic(pt)
        return float(_incidence_deg(pt, sat_pos[None], lon, lat)[0]) - incidence_deg

    # just beyond nadir: the in-plane distance to the ellipsoid exceeds the geodetic altitude by
    # a few metres at most (the zero-Doppler plane nearly contains the ellipsoid normal)
    lo = float(ecef_to_geodetic(sat_pos)[2]) + 100.0
    # spherical slant range at 80 degrees incidence brackets any realistic request
    gamma = math.asin(WGS84_B / r_sat * math.sin(math.radians(80.0)))
    beta = math.radians(80.0) - gamma
    hi = math.sqrt(r_sat**2 + WGS84_B**2 - 2 * r_sat * WGS84_B * math.cos(beta))
    return float(optimize.brentq(f, lo, hi, xtol=1e-7))


def _arc_samples(
    sat_pos: FloatArray, sat_vel: FloatArray, r0: float, s_lo: float, s_hi: float, spacing: float
) -> tuple[FloatArray, FloatArray]:
    """Slant ranges and ground distances (along the zero-Doppler ellipsoid curve, from the
    point at slant range ``r0``) covering ``s_lo..s_hi``."""
    p0 = _zero_doppler_points(sat_pos[None], sat_vel[None], np.array([r0]), 0.0)[0]
    r_sat = float(_norm(sat_pos))
    rho = float(_norm(p0))
    beta0 = math.acos((r_sat**2 + rho**2 - r0**2) / (2 * r_sat * rho))
    margin = 1.05
    for _ in range(8):
        betas = beta0 + np.array([s_lo, s_hi]) * margin / rho
        r_lo, r_hi = np.sqrt(r_sat**2 + rho**2 - 2 * r_sat * rho * np.cos(betas))
        n_side = int(min(4000, max(64, (s_hi - s_lo) / max(spacing, 1.0) / 4)))
        r_grid = np.concatenate(
            [np.linspace(r_lo, r0, n_side + 1), np.linspace(r0, r_hi, 2 * n_side + 1)[1:]]
        )
        sp = np.broadcast_to(sat_pos, (r_grid.size, 3))
        sv = np.broadcast_to(sat_vel, (r_grid.size, 3))
        pts = _zero_doppler_points(sp, sv, r_grid, 0.0)
        seg = _norm(np.diff(pts, axis=0))
        s = np.concatenate([[0.0], np.cumsum(seg)])
        s -= s[n_side]
        if s[0] <= s_lo and s[-1] >= s_hi:
            return r_grid, s
        margin *= 1.5
    raise RuntimeError("could not bracket the ground-range interval on the zero-Doppler curve")


def _fit_poly(x: FloatArray, y: FloatArray, degree: int) -> FloatArray:
    """Coefficients ``c[0..degree]`` (``c[0] = 0``) of ``y = sum c_i x^i`` by scaled least squares,
    rounded through the ``%.15e`` text form used in the annotation."""
    scale = float(np.max(np.abs(x)))
    xs = x / scale
    basis = np.stack([xs**i for i in range(1, degree + 1)], axis=-1)
    sol, *_ = np.linalg.lstsq(basis, y, rcond=None)
    coeffs = np.concatenate([[0.0], sol / scale ** np.arange(1, degree + 1)])
    return np.array([float(f"{c:.15e}") for c in coeffs])


def _polyval(coeffs: FloatArray, x: FloatArray) -> FloatArray:
    """Evaluate ``sum coeffs[..., i] * x**i`` (coefficients broadcast against ``x``)."""
    out = np.zeros(np.broadcast_shapes(coeffs.shape[:-1], np.shape(x)))
    for i in range(coeffs.shape[-1] - 1, -1, -1):
        out = out * x + coeffs[..., i]
    return out


# --- geometry --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class S1Geometry:
    """The complete, analytic acquisition geometry of a synthetic product.

    Attributes
    ----------
    spec : S1ProductSpec
        The product specification.
    orbit : OrbitModel
        Analytic orbit (state at any time via :meth:`state`).
    azimuth_time_interval_s : float
        Time between lines (s); line ``k`` is at ``k * azimuth_time_interval_s`` s after start.
    near_slant_range_m : float
        Slant range of sample 0 (``sr0``, the same for all lines, m).
    cc_times_s : ndarray (K,)
        Times of the ``coordinateConversion`` records (s since start).
    grsr_coefficients, srgr_coefficients : ndarray (K, D+1)
        Annotation polynomials: slant range (m) of ground range (m); ground range (m) of
        ``slant range - sr0`` (m). Values are exactly those written in the XML.
    orbit_times_s : ndarray (N,)
        Times of the annotation ``orbitList`` state vectors (s since start).
    orbit_position, orbit_velocity : ndarray (N, 3)
        ECEF state vectors (m, m/s) at ``orbit_times_s``.
    centre_ecef : ndarray (3,)
        Scene centre on the ellipsoid (m).
    """

    spec: S1ProductSpec
    orbit: OrbitModel
    azimuth_time_interval_s: float
    near_slant_range_m: float
    cc_times_s: FloatArray
    grsr_coefficients: FloatArray
    srgr_coefficients: FloatArray
    orbit_times_s: FloatArray
    orbit_position: FloatArray
    orbit_velocity: FloatArray
    centre_ecef: FloatArray

    # -- times

    @property
    def duration_s(self) -> float:
        """Time from the first to the last line (s)."""
        return (self.spec.lines - 1) * self.azimuth_time_interval_s

    @property
    def mid_time_s(self) -> float:
        """Azimuth time of the middle line (s since start), the orbit reference epoch."""
        return self.orbit.reference_s

    def to_datetime64(self, t_s: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
        """Seconds since start to ``datetime64[ns]``."""
        ns = np.round(np.asarray(t_s, dtype=np.float64) * 1e9).astype(np.int64)
        return np.datetime64(self.spec.start_time, "ns") + ns.astype("timedelta64[ns]")

    def to_datetime(self, t_s: float) -> datetime:
        """Seconds since start to a naive UTC datetime (rounded to the microsecond)."""
        return self.spec.start_time + timedelta(microseconds=round(t_s * 1e6))

    def from_datetime64(self, times: npt.ArrayLike) -> FloatArray:
        """``datetime64`` to seconds since start."""
        delta = np.asarray(times, dtype="datetime64[ns]") - np.datetime64(
            self.spec.start_time, "ns"
        )
        return np.asarray(delta.astype(np.int64) / 1e9, dtype=np.float64)

    def line_time_s(self, lines: npt.ArrayLike) -> FloatArray:
        """Azimuth time (s since start) of (fractional) line numbers."""
        return np.asarray(lines, dtype=np.float64) * self.azimuth_time_interval_s

    def azimuth_time(self, lines: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
        """Azimuth time (``datetime64[ns]``) of line numbers."""
        return self.to_datetime64(self.line_time_s(lines))

    @property
    def orbit_times(self) -> npt.NDArray[np.datetime64]:
        """Times of the annotation state vectors as ``datetime64[ns]``."""
        return self.to_datetime64(self.orbit_times_s)

    def state(self, t_s: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """ECEF satellite position (m) and velocity (m/s) at ``t_s`` (s since start)."""
        return self.orbit.state(t_s)

    # -- range

    def _interp_coefficients(self, coeffs: FloatArray, t_s: FloatArray) -> FloatArray:
        t = np.asarray(t_s, dtype=np.float64)
        out = np.empty((*t.shape, coeffs.shape[1]))
        for i in range(coeffs.shape[1]):
            out[..., i] = np.interp(t, self.cc_times_s, coeffs[:, i])
        return out

    def slant_range(self, lines: npt.ArrayLike, samples: npt.ArrayLike) -> FloatArray:
        """Slant range (m) of (fractional) pixels; ``lines`` and ``samples`` broadcast."""
        ln, sm = np.broadcast_arrays(
            np.asarray(lines, dtype=np.float64), np.asarray(samples, dtype=np.float64)
        )
        coeffs = self._interp_coefficients(self.grsr_coefficients, self.line_time_s(ln))
        ground = sm * self.spec.pixel_spacing_m
        return _polyval(coeffs, ground)

    def ground_range(self, lines: npt.ArrayLike, slant_range: npt.ArrayLike) -> FloatArray:
        """Ground range (m) from slant range (m) with the annotation ``srgrCoefficients``."""
        ln, sr = np.broadcast_arrays(
            np.asarray(lines, dtype=np.float64), np.asarray(slant_range, dtype=np.float64)
        )
        coeffs = self._interp_coefficients(self.srgr_coefficients, self.line_time_s(ln))
        return _polyval(coeffs, sr - self.near_slant_range_m)

    # -- geolocation

    def ground_point_ecef(
        self,
        lines: npt.ArrayLike,
        samples: npt.ArrayLike,
        terrain_height: HeightField | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Forward geolocation in ECEF: ground point ``P``, satellite position ``S`` and velocity
        ``V`` (m, m/s), each shaped ``broadcast(lines, samples).shape + (3,)``."""
        ln, sm = np.broadcast_arrays(
            np.asarray(lines, dtype=np.float64), np.asarray(samples, dtype=np.float64)
        )
        shape = ln.shape
        ln_f, sm_f = ln.ravel(), sm.ravel()
        points = np.empty((ln_f.size, 3))
        sats = np.empty((ln_f.size, 3))
        vels = np.empty((ln_f.size, 3))
        for lo in range(0, ln_f.size, _MAX_GEOLOCATION_POINTS):
            sl = slice(lo, lo + _MAX_GEOLOCATION_POINTS)
            pos, vel = self.state(self.line_time_s(ln_f[sl]))
            rng = self.slant_range(ln_f[sl], sm_f[sl])
            points[sl], *_ = _geolocate_state(pos, vel, rng, terrain_height)
            sats[sl], vels[sl] = pos, vel
        return points.reshape((*shape, 3)), sats.reshape((*shape, 3)), vels.reshape((*shape, 3))

    def geolocate(
        self,
        lines: npt.ArrayLike,
        samples: npt.ArrayLike,
        terrain_height: HeightField | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Forward geolocation: ``(lon_deg, lat_deg, height_m)`` of (fractional) pixels.

        The ground point is at the pixel's slant range, in the zero-Doppler plane, right of the
        track, at the ellipsoidal height ``terrain_height(lon, lat)`` (0 when None).
        """
        points, _, _ = self.ground_point_ecef(lines, samples, terrain_height)
        return ecef_to_geodetic(points)

    def incidence_angle(
        self,
        lines: npt.ArrayLike,
        samples: npt.ArrayLike,
        terrain_height: HeightField | None = None,
    ) -> FloatArray:
        """Ellipsoid incidence angle (degrees) of pixels (at their terrain point)."""
        points, sats, _ = self.ground_point_ecef(lines, samples, terrain_height)
        lon, lat, _ = ecef_to_geodetic(points)
        return _incidence_deg(points, sats, lon, lat)

    def backward_geocode(
        self, lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike, height_m: npt.ArrayLike = 0.0
    ) -> tuple[FloatArray, FloatArray]:
        """Exact inverse of :meth:`geolocate`: fractional ``(line, sample)`` of ground points."""
        target = geodetic_to_ecef(lon_deg, lat_deg, height_m)
        t = np.full(target.shape[:-1], self.mid_time_s)
        for _ in range(50):
            pos, vel = self.state(t)
            _, vel2 = self.state(t + 1e-3)
            _, vel1 = self.state(t - 1e-3)
            acc = (vel2 - vel1) / 2e-3
            f = _dot(target - pos, vel)
            df = _dot(target - pos, acc) - _dot(vel, vel)
            step = f / df
            t = t - step
            if not np.any(np.abs(step) > 1e-10):
                break
        pos, _ = self.state(t)
        rng = _norm(target - pos)
        lines = t / self.azimuth_time_interval_s
        ground = self.ground_range(lines, rng)
        coeffs = self._interp_coefficients(self.grsr_coefficients, t)
        deriv = coeffs[..., 1:] * np.arange(1, coeffs.shape[-1])
        for _ in range(20):
            resid = _polyval(coeffs, ground) - rng
            step = resid / _polyval(deriv, ground)
            ground = ground - step
            if not np.any(np.abs(step) > 1e-9):
                break
        return lines, ground / self.spec.pixel_spacing_m

    # -- orbit bookkeeping

    @property
    def ascending_node_time_s(self) -> float:
        """Last ascending-node crossing before the first line (s since start)."""
        return self.orbit.ascending_node_time_s(0.0)

    @property
    def absolute_orbit(self) -> int:
        """Absolute orbit number of the product (counted from the ascending node)."""
        info = _MISSIONS[self.spec.mission]
        anx = self.to_datetime(self.ascending_node_time_s)
        ref_anx: datetime = info["ref_anx"]
        return int(info["ref_orbit"]) + round(
            (anx - ref_anx).total_seconds() / NOMINAL_ORBIT_PERIOD_S
        )

    def absolute_orbit_at(self, t_s: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Absolute orbit number at times ``t_s`` (s since start)."""
        k = np.floor(
            (np.asarray(t_s, dtype=np.float64) - self.ascending_node_time_s) / self.orbit.period_s
        )
        return (self.absolute_orbit + k).astype(np.int64)

    @property
    def relative_orbit(self) -> int:
        """Relative orbit (track) number, 1..175."""
        return (self.absolute_orbit - int(_MISSIONS[self.spec.mission]["rel_offset"])) % 175 + 1

    @property
    def platform_heading_deg(self) -> float:
        """Heading of the ground track at the middle line (degrees clockwise from north)."""
        pos, vel = self.state(self.mid_time_s)
        lon, lat, _ = ecef_to_geodetic(pos)
        lo, la = math.radians(float(lon)), math.radians(float(lat))
        east = np.array([-math.sin(lo), math.cos(lo), 0.0])
        north = np.array([-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)])
        return math.degrees(math.atan2(float(vel @ east), float(vel @ north)))


def _solve_orbit(spec: S1ProductSpec) -> tuple[OrbitModel, float]:
    """Orbit (referenced at epoch 0) that sees the scene centre at mid-range of the middle line."""
    centre = geodetic_to_ecef(spec.centre_lon_deg, spec.centre_lat_deg, 0.0)
    gr_centre = 0.5 * (spec.samples - 1) * spec.pixel_spacing_m
    inc = math.radians(ORBIT_INCLINATION_DEG)
    # spherical first guess
    r_e = float(_norm(centre))
    th_n = math.radians(spec.near_incidence_deg)
    beta_near = th_n - math.asin(r_e / ORBIT_RADIUS_M * math.sin(th_n))
    beta_c = beta_near + gr_centre / r_e
    c_hat = centre / r_e
    k = (-math.sin(beta_c) - c_hat[2] * math.cos(inc)) / math.sin(inc)
    rho = math.hypot(c_hat[0], c_hat[1])
    phi = math.atan2(c_hat[1], c_hat[0])
    guesses = []
    for node in (phi + math.asin(k / rho), phi + math.pi - math.asin(k / rho)):
        p_vec = np.array([math.cos(node), math.sin(node), 0.0])
        q_vec = np.array(
            [-math.cos(inc) * math.sin(node), math.cos(inc) * math.cos(node), math.sin(inc)]
        )
        u0 = math.atan2(float(c_hat @ q_vec), float(c_hat @ p_vec))
        descending = math.cos(u0) < 0
        if descending == (spec.pass_direction == "DESCENDING"):
            guesses.append((node, u0))
    if not guesses:
        raise RuntimeError(f"no {spec.pass_direction} orbit sees the scene centre")
    node0, u00 = guesses[0]

    def geometry_residual(x: FloatArray) -> tuple[FloatArray, float]:
        orbit = OrbitModel(ORBIT_RADIUS_M, ORBIT_INCLINATION_DEG, float(x[0]), float(x[1]), 0.0)
        pos, vel = orbit.state(0.0)
        v_hat = vel / _norm(vel)
        along = float((centre - pos) @ v_hat)
        r_c = float(_norm(centre - pos))
        r0 = _slant_range_for_incidence(pos, vel, spec.near_incidence_deg)
        r_grid = np.linspace(r0, r_c, 401)
        pts = _zero_doppler_points(
            np.broadcast_to(pos, (401, 3)), np.broadcast_to(vel, (401, 3)), r_grid, 0.0
        )
        arc = math.copysign(float(np.sum(_norm(np.diff(pts, axis=0)))), r_c - r0)
        return np.array([along, arc - gr_centre]), r0

    sol = optimize.root(
        lambda x: geometry_residual(x)[0],
        np.array([node0, u00]),
        method="hybr",
        options={"xtol": 1e-14},
    )
    resid, r0 = geometry_residual(sol.x)
    if not np.all(np.abs(resid) < 1e-3):
        raise RuntimeError(f"orbit solution failed to place the scene centre: residual {resid} m")
    orbit = OrbitModel(ORBIT_RADIUS_M, ORBIT_INCLINATION_DEG, float(sol.x[0]), float(sol.x[1]), 0.0)
    pos, vel = orbit.state(0.0)
    if float(np.cross(vel, pos) @ (centre - pos)) <= 0:
        raise RuntimeError("orbit solution is not right-looking")
    return orbit, r0


@functools.lru_cache(maxsize=16)
def footprint_bounds(
    spec: S1ProductSpec = DEFAULT_SPEC, margin_deg: float = 0.02
) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of the product's corner pixels plus ``margin_deg``
    (degrees), e.g. the extent of a DEM for :func:`write_dem`."""
    geom = product_geometry(spec)
    lines = np.array([0, 0, spec.lines - 1, spec.lines - 1], dtype=float)
    samples = np.array([0, spec.samples - 1, 0, spec.samples - 1], dtype=float)
    lon, lat, _ = geom.geolocate(lines, samples)
    return (
        float(lon.min()) - margin_deg,
        float(lat.min()) - margin_deg,
        float(lon.max()) + margin_deg,
        float(lat.max()) + margin_deg,
    )


def product_geometry(spec: S1ProductSpec = DEFAULT_SPEC) -> S1Geometry:
    """Compute (and cache) the analytic acquisition geometry of ``spec``.

    Returns
    -------
    S1Geometry
        Orbit, line timing, coordinate-conversion polynomials and geolocation functions.
    """
    _validate(spec)
    orbit0, r0 = _solve_orbit(spec)
    centre = geodetic_to_ecef(spec.centre_lon_deg, spec.centre_lat_deg, 0.0)
    # ground speed of the zero-Doppler point at the scene centre
    pos, _ = orbit0.state(0.0)
    r_c = float(_norm(centre - pos))
    pos2, vel2 = orbit0.state(np.array([-0.5, 0.5]))
    pts = _zero_doppler_points(pos2, vel2, np.array([r_c, r_c]), 0.0)
    ground_speed = float(_norm(pts[1] - pts[0]))
    dt = spec.pixel_spacing_m / ground_speed
    total_us = round((spec.lines - 1) * dt * 1e6)
    dt = total_us / 1e6 / (spec.lines - 1)
    mid = 0.5 * (spec.lines - 1) * dt
    orbit = OrbitModel(
        orbit0.radius_m, orbit0.inclination_deg, orbit0.node_rad, orbit0.arg_lat_rad, mid
    )

    # coordinate conversion records: every second from 1 s before the first line to >= last line
    duration = (spec.lines - 1) * dt
    cc_times = np.arange(-1.0, math.ceil(duration + 1e-9) + 1.0, 1.0)
    width = (spec.samples - 1) * spec.pixel_spacing_m
    s_lo = -(0.05 * width + 10 * spec.pixel_spacing_m)
    s_hi = 1.05 * width + 10 * spec.pixel_spacing_m
    arcs = []
    for t in cc_times:
        p, v = orbit.state(t)
        arcs.append(_arc_samples(p, v, r0, s_lo, s_hi, spec.pixel_spacing_m))
    for degree in range(5, 9):
        grsr_rows, srgr_rows, worst = [], [], 0.0
        for r_grid, s in arcs:
            keep = (s >= s_lo) & (s <= s_hi)
            rr, ss = r_grid[keep], s[keep]
            grsr = _fit_poly(ss, rr - r0, degree)
            srgr = _fit_poly(rr - r0, ss, degree)
            worst = max(
                worst,
                float(np.max(np.abs(_polyval(grsr, ss) - (rr - r0)))),
                float(np.max(np.abs(_polyval(srgr, rr - r0) - ss))),
            )
            grsr_rows.append(grsr)
            srgr_rows.append(srgr)
        if worst < 1e-4:
            break
    r0_text = float(f"{r0:.15e}")
    grsr_arr = np.array(grsr_rows)
    grsr_arr[:, 0] = r0_text  # written form: slant range = sum c_i * gr^i with c_0 = sr0
    srgr_arr = np.array(srgr_rows)
    orbit_t0 = math.floor((0.0 - 60.0) / 10.0) * 10.0
    orbit_times = np.arange(orbit_t0, duration + 60.0 + 10.0, 10.0)
    # align the state vectors on whole UTC seconds, like the orbit files
    frac = spec.start_time.microsecond / 1e6
    orbit_times = orbit_times - frac
    opos, ovel = orbit.state(orbit_times)
    for arr in (cc_times, grsr_arr, srgr_arr, orbit_times, opos, ovel, centre):
        arr.setflags(write=False)  # the geometry is cached and shared
    return S1Geometry(
        spec=spec,
        orbit=orbit,
        azimuth_time_interval_s=dt,
        near_slant_range_m=r0_text,
        cc_times_s=cc_times,
        grsr_coefficients=grsr_arr,
        srgr_coefficients=srgr_arr,
        orbit_times_s=orbit_times,
        orbit_position=opos,
        orbit_velocity=ovel,
        centre_ecef=centre,
    )


# --- names -----------------------------------------------------------------------------------


def _stop_time(geom: S1Geometry) -> datetime:
    return geom.to_datetime(geom.duration_s)


def _datatake_id(geom: S1Geometry) -> int:
    return int(geom.absolute_orbit * 7.825) & 0xFFFFFF


def product_id(spec: S1ProductSpec = DEFAULT_SPEC) -> str:
    """Product identifier, e.g.
    ``S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_XXXX``."""
    geom = product_geometry(spec)
    ptype = spec.product_type + (spec.resolution_class if spec.product_type == "GRD" else "")
    ptype = ptype.ljust(4, "_")
    level = _PRODUCT_LEVEL[spec.product_type]
    pol = _POLARISATION_CODES[tuple(spec.polarisations)]
    stem = (
        f"{spec.mission}_{spec.mode}_{ptype}_{level}S{pol}_"
        f"{spec.start_time:%Y%m%dT%H%M%S}_{_stop_time(geom):%Y%m%dT%H%M%S}_"
        f"{geom.absolute_orbit:06d}_{_datatake_id(geom):06X}"
    )
    return f"{stem}_{zlib.crc32(stem.encode()) & 0xFFFF:04X}"


def _file_stem(spec: S1ProductSpec, geom: S1Geometry, pol: str) -> str:
    number = list(spec.polarisations).index(pol) + 1
    return (
        f"{spec.mission.lower()}-{spec.mode.lower()}-{spec.product_type.lower()}-{pol.lower()}-"
        f"{spec.start_time:%Y%m%dt%H%M%S}-{_stop_time(geom):%Y%m%dt%H%M%S}-"
        f"{geom.absolute_orbit:06d}-{_datatake_id(geom):06x}-{number:03d}"
    )


# --- default fields --------------------------------------------------------------------------


@dataclass(frozen=True)
class BrightSquare:
    """A lon/lat-aligned square of constant sigma0 in the default field.

    Attributes
    ----------
    lon_deg, lat_deg : float
        Centre (degrees).
    half_size_lon_deg, half_size_lat_deg : float
        Half side (degrees).
    sigma0 : float
        Linear sigma0 inside.
    """

    lon_deg: float
    lat_deg: float
    half_size_lon_deg: float
    half_size_lat_deg: float
    sigma0: float = BRIGHT_SQUARE_SIGMA0

    def contains(self, lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
        """Boolean mask of the points inside the square."""
        return (np.abs(lon - self.lon_deg) <= self.half_size_lon_deg) & (
            np.abs(lat - self.lat_deg) <= self.half_size_lat_deg
        )


def bright_squares(spec: S1ProductSpec = DEFAULT_SPEC) -> tuple[BrightSquare, ...]:
    """The three bright squares of :func:`default_sigma0` for ``spec``.

    Their centres are the ellipsoid (height 0) geolocation of the pixels at the
    :data:`BRIGHT_SQUARE_FRACTIONS` of the image; their side is
    ``max(7, min(lines, samples) // 20)`` pixels.
    """
    geom = product_geometry(spec)
    fr = np.array(BRIGHT_SQUARE_FRACTIONS)
    lon, lat, _ = geom.geolocate(fr[:, 0] * (spec.lines - 1), fr[:, 1] * (spec.samples - 1))
    side_m = max(7, min(spec.lines, spec.samples) // 20) * spec.pixel_spacing_m
    half_lat = 0.5 * side_m / 111_320.0
    out = []
    for lo, la in zip(lon, lat, strict=True):
        half_lon = half_lat / math.cos(math.radians(float(la)))
        out.append(BrightSquare(float(lo), float(la), half_lon, half_lat))
    return tuple(out)


def default_sigma0(spec: S1ProductSpec = DEFAULT_SPEC) -> Sigma0Field:
    """Smooth background (:data:`BACKGROUND_SIGMA0` +-30 %) plus :func:`bright_squares`."""
    squares = bright_squares(spec)
    geom = product_geometry(spec)
    lon_c, lat_c, _ = geom.geolocate(0.5 * (spec.lines - 1), 0.5 * (spec.samples - 1))
    extent_m = max(spec.lines, spec.samples) * spec.pixel_spacing_m
    wl_lat = 0.6 * extent_m / 111_320.0
    wl_lon = wl_lat / math.cos(math.radians(float(lat_c)))
    lon0, lat0 = float(lon_c), float(lat_c)

    def field(lon: FloatArray, lat: FloatArray, pol: str) -> FloatArray:
        base = BACKGROUND_SIGMA0.get(pol.upper(), 0.03)
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        wave = np.sin(2 * np.pi * (lon_a - lon0) / wl_lon) * np.cos(
            2 * np.pi * (lat_a - lat0) / wl_lat
        )
        out = base * (1.0 + 0.3 * wave)
        for sq in squares:
            out = np.where(sq.contains(lon_a, lat_a), sq.sigma0, out)
        return np.asarray(out, dtype=np.float64)

    return field


def gaussian_hill(
    lon_deg: float,
    lat_deg: float,
    height_m: float = 500.0,
    sigma_m: float = 1_000.0,
    base_m: float = 0.0,
) -> HeightField:
    """A Gaussian hill ``base + height * exp(-d^2 / (2 sigma^2))`` (metres) around lon/lat."""
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(lat_deg))

    def field(lon: FloatArray, lat: FloatArray) -> FloatArray:
        dx = (np.asarray(lon, dtype=np.float64) - lon_deg) * m_per_deg_lon
        dy = (np.asarray(lat, dtype=np.float64) - lat_deg) * m_per_deg_lat
        return np.asarray(base_m + height_m * np.exp(-(dx * dx + dy * dy) / (2 * sigma_m**2)))

    return field


# --- radiometry ------------------------------------------------------------------------------


def sigma0_to_dn(
    sigma0: npt.ArrayLike, sigma_lut: npt.ArrayLike, noise_lut: npt.ArrayLike
) -> npt.NDArray[np.uint16]:
    """Digital numbers ``round(sqrt(sigma0 * A^2 + N))`` clipped to uint16.

    Parameters
    ----------
    sigma0 : array_like
        Linear sigma0 (m^2/m^2).
    sigma_lut : array_like
        ``sigmaNought`` calibration LUT value ``A`` at each pixel.
    noise_lut : array_like
        Thermal-noise power ``N`` (DN^2) at each pixel.

    Returns
    -------
    ndarray of uint16
        The inverse of ESA's ``sigma0 = (DN^2 - N) / A^2`` up to quantisation.
    """
    a = np.asarray(sigma_lut, dtype=np.float64)
    power = np.asarray(sigma0, dtype=np.float64) * a * a + np.asarray(noise_lut, dtype=np.float64)
    dn = np.rint(np.sqrt(np.maximum(power, 0.0)))
    return np.clip(dn, 0, 65535).astype(np.uint16)


def _lerp_matrix(nodes: FloatArray, x: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray]:
    idx = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, len(nodes) - 2)
    w = (x - nodes[idx]) / (nodes[idx + 1] - nodes[idx])
    return idx, w


def _interp_rows(node_rows: FloatArray, values: FloatArray, rows: FloatArray) -> FloatArray:
    """Linear interpolation along axis 0 (rows at ``node_rows``) to ``rows``."""
    if len(node_rows) == 1:
        return np.repeat(values, len(rows), axis=0)
    idx, w = _lerp_matrix(node_rows, rows)
    return np.asarray(values[idx] * (1 - w)[:, None] + values[idx + 1] * w[:, None])


def _interp_cols(node_cols: FloatArray, values: FloatArray, cols: FloatArray) -> FloatArray:
    idx, w = _lerp_matrix(node_cols, cols)
    return np.asarray(values[:, idx] * (1 - w) + values[:, idx + 1] * w)


@dataclass(frozen=True, eq=False)
class _Luts:
    cal_lines: npt.NDArray[np.int64]
    cal_pixels: npt.NDArray[np.int64]
    sigma: FloatArray
    beta: FloatArray
    gamma: FloatArray
    dn: FloatArray
    noise_lines: npt.NDArray[np.int64]
    noise_pixels: npt.NDArray[np.int64]
    noise_range: dict[str, FloatArray]
    swath_bounds: tuple[tuple[str, int, int], ...]
    az_lines: tuple[npt.NDArray[np.int64], ...]
    az_values: dict[str, tuple[FloatArray, ...]]


def _fmt_round(values: FloatArray, fmt: str = "%.6e") -> FloatArray:
    return np.array([float(fmt % v) for v in np.ravel(values)]).reshape(np.shape(values))


def _lut_lines(lines: int, step: int, beyond: bool) -> npt.NDArray[np.int64]:
    out = list(range(0, lines, step))
    if beyond:
        out.append(out[-1] + step)  # one vector beyond the last line, like real products
    elif out[-1] != lines - 1:
        out.append(lines - 1)
    return np.array(out, dtype=np.int64)


def _subswath_bounds(spec: S1ProductSpec) -> tuple[tuple[str, int, int], ...]:
    names = _SUBSWATHS[spec.mode]
    edges = np.round(np.linspace(0, spec.samples, len(names) + 1)).astype(int)
    return tuple((n, int(edges[i]), int(edges[i + 1] - 1)) for i, n in enumerate(names))


def _make_luts(spec: S1ProductSpec, geom: S1Geometry) -> _Luts:
    per_second = max(1, round(1.0 / geom.azimuth_time_interval_s))
    step = int(min(per_second, max(10, math.ceil((spec.lines - 1) / 5))))
    cal_lines = _lut_lines(spec.lines, step, beyond=True)
    cal_pixels = np.unique(np.append(np.arange(0, spec.samples, 40), spec.samples - 1))
    inc = geom.incidence_angle(cal_lines[:, None], cal_pixels[None, :])
    inc_rad = np.deg2rad(inc)
    beta = _fmt_round(np.full(inc.shape, spec.calibration_constant_beta))
    sigma = _fmt_round(beta / np.sqrt(np.sin(inc_rad)))
    gamma = _fmt_round(sigma * np.sqrt(np.cos(inc_rad)))
    dn = _fmt_round(np.full(inc.shape, DN_CALIBRATION_VALUE))

    bounds = _subswath_bounds(spec)
    boundary_px = [b[1] for b in bounds] + [b[2] for b in bounds]
    noise_pixels = np.unique(np.concatenate([cal_pixels, boundary_px]))
    noise_lines = _lut_lines(spec.lines, step, beyond=False)
    gains = np.linspace(1.2, 0.85, len(bounds))
    shape = np.zeros(noise_pixels.shape)
    for (_, first, last), gain in zip(bounds, gains, strict=True):
        inside = (noise_pixels >= first) & (noise_pixels <= last)
        x = (noise_pixels[inside] - first) / max(last - first, 1)
        shape[inside] = gain * (0.75 + 0.6 * (2 * x - 1) ** 2)
    trend = 1.0 + 0.05 * noise_lines / max(spec.lines - 1, 1)
    noise_range: dict[str, FloatArray] = {}
    az_values: dict[str, tuple[FloatArray, ...]] = {}
    az_lines = tuple(_lut_lines(spec.lines, 10, beyond=False) for _ in bounds)
    for pol in spec.polarisations:
        pol_gain = 1.0 if pol[0] == pol[1] else 0.8
        noise_range[pol] = _fmt_round(spec.noise_power * pol_gain * trend[:, None] * shape[None, :])
        blocks = []
        for b, lines_b in enumerate(az_lines):
            mean = (1.05, 1.0, 1.1, 0.97, 1.03)[b % 5]
            amp = (0.08, 0.05, 0.06, 0.04, 0.07)[b % 5] * pol_gain
            period = 1300.0 + 200.0 * b
            vals = mean + amp * np.sin(2 * np.pi * lines_b / period + 0.7 * b + 0.3)
            blocks.append(_fmt_round(vals))
        az_values[pol] = tuple(blocks)
    return _Luts(
        cal_lines=cal_lines,
        cal_pixels=cal_pixels,
        sigma=sigma,
        beta=beta,
        gamma=gamma,
        dn=dn,
        noise_lines=noise_lines,
        noise_pixels=noise_pixels,
        noise_range=noise_range,
        swath_bounds=bounds,
        az_lines=az_lines,
        az_values=az_values,
    )


# --- tiny XML writer (keeps the real files' layout: 2-space indent, count= attributes) -------


@dataclass
class _El:
    tag: str
    text: str | None = None
    attrs: dict[str, str] | None = None
    children: list[_El] | None = None

    def add(self, tag: str, text: object = None, **attrs: object) -> _El:
        child = _El(tag, None if text is None else str(text), {k: str(v) for k, v in attrs.items()})
        if self.children is None:
            self.children = []
        self.children.append(child)
        return child


def _render(el: _El, out: list[str], depth: int = 0) -> None:
    pad = "  " * depth
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in (el.attrs or {}).items())
    if el.children:
        out.append(f"{pad}<{el.tag}{attrs}>")
        for child in el.children:
            _render(child, out, depth + 1)
        out.append(f"{pad}</{el.tag}>")
    elif el.text is None:
        out.append(f"{pad}<{el.tag}{attrs}/>")
    else:
        out.append(f"{pad}<{el.tag}{attrs}>{escape(el.text)}</{el.tag}>")


def _xml_text(root: _El, declaration: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    out = [declaration]
    _render(root, out)
    return "\n".join(out) + "\n"


def _e15(v: float) -> str:
    return f"{v:.15e}"


def _e6(v: float) -> str:
    return f"{v:.6e}"


def _join(values: Sequence[Any] | npt.NDArray[Any], fmt: str) -> str:
    return " ".join(fmt % v for v in values)


# --- annotation / calibration / noise XML ----------------------------------------------------


@dataclass(frozen=True, eq=False)
class _GeoGrid:
    lines: npt.NDArray[np.int64]
    pixels: npt.NDArray[np.int64]
    lon: FloatArray
    lat: FloatArray
    height: FloatArray
    slant_range: FloatArray
    incidence: FloatArray
    elevation: FloatArray


def _geolocation_grid(geom: S1Geometry, terrain: HeightField | None) -> _GeoGrid:
    spec = geom.spec
    lines = np.unique(
        np.round(np.linspace(0, spec.lines - 1, min(10, spec.lines))).astype(np.int64)
    )
    pixels = np.unique(
        np.round(np.linspace(0, spec.samples - 1, min(21, spec.samples))).astype(np.int64)
    )
    ln, px = np.meshgrid(lines, pixels, indexing="ij")
    points, sats, _ = geom.ground_point_ecef(ln, px, terrain)
    lon, lat, h = ecef_to_geodetic(points)
    return _GeoGrid(
        lines=lines,
        pixels=pixels,
        lon=lon,
        lat=lat,
        height=h,
        slant_range=geom.slant_range(ln, px),
        incidence=_incidence_deg(points, sats, lon, lat),
        elevation=_elevation_deg(points, sats),
    )


def _ads_header(parent: _El, spec: S1ProductSpec, geom: S1Geometry, pol: str) -> None:
    ads = parent.add("adsHeader")
    ads.add("missionId", spec.mission)
    ads.add("productType", spec.product_type)
    ads.add("polarisation", pol)
    ads.add("mode", spec.mode)
    ads.add("swath", spec.mode)
    ads.add("startTime", f"{spec.start_time:{_TIME_FMT}}")
    ads.add("stopTime", f"{_stop_time(geom):{_TIME_FMT}}")
    ads.add("absoluteOrbitNumber", geom.absolute_orbit)
    ads.add("missionDataTakeId", _datatake_id(geom))
    ads.add("imageNumber", f"{list(spec.polarisations).index(pol) + 1:03d}")


def _tstr(geom: S1Geometry, t_s: float) -> str:
    return f"{geom.to_datetime(t_s):{_TIME_FMT}}"


def _annotation_xml(
    spec: S1ProductSpec, geom: S1Geometry, pol: str, grid: _GeoGrid, luts: _Luts
) -> str:
    root = _El("product")
    _ads_header(root, spec, geom, pol)
    quality = root.add("qualityInformation")
    quality.add("productQualityIndex", _e15(0.0))
    quality.add("qualityDataList", count=0)

    general = root.add("generalAnnotation")
    info = general.add("productInformation")
    info.add("pass", spec.pass_direction.capitalize())
    info.add("timelinessCategory", "NRT-3h")
    info.add("platformHeading", _e15(geom.platform_heading_deg))
    info.add("projection", "Ground Range" if spec.product_type == "GRD" else "Slant Range")
    info.add("rangeSamplingRate", _e15(RANGE_SAMPLING_RATE_HZ))
    info.add("radarFrequency", _e15(RADAR_FREQUENCY_HZ))
    info.add("azimuthSteeringRate", _e15(AZIMUTH_STEERING_RATE_DEG_S))
    orbits = general.add("orbitList", count=len(geom.orbit_times_s))
    for t, p, v in zip(geom.orbit_times_s, geom.orbit_position, geom.orbit_velocity, strict=True):
        o = orbits.add("orbit")
        o.add("time", _tstr(geom, float(t)))
        o.add("frame", "Earth Fixed")
        pe = o.add("position")
        ve = o.add("velocity")
        for axis, pv, vv in zip("xyz", p, v, strict=True):
            pe.add(axis, _e15(float(pv)))
            ve.add(axis, _e15(float(vv)))
    general.add("attitudeList", count=0)
    general.add("noiseList", count=0)
    th_times = np.arange(-10.0, geom.duration_s + 10.0 + 1e-9, 10.0)
    heights = general.add("terrainHeightList", count=len(th_times))
    for t in th_times:
        th = heights.add("terrainHeight")
        th.add("azimuthTime", _tstr(geom, float(t)))
        th.add("value", _e15(float(np.mean(grid.height))))
    fm_times = np.arange(-1.0, geom.duration_s + 2.5, 2.5)
    fm_list = general.add("azimuthFmRateList", count=len(fm_times))
    wavelength = SPEED_OF_LIGHT / RADAR_FREQUENCY_HZ
    for t in fm_times:
        pos, vel = geom.state(float(t))
        speed = float(_norm(vel))
        ground_speed = speed * WGS84_A / float(_norm(pos))
        c0 = -2.0 * speed * ground_speed / (wavelength * geom.near_slant_range_m)
        fm = fm_list.add("azimuthFmRate")
        fm.add("azimuthTime", _tstr(geom, float(t)))
        fm.add("t0", _e15(2.0 * geom.near_slant_range_m / SPEED_OF_LIGHT))
        fm.add("azimuthFmRatePolynomial", _join([c0, 4.5e5, -7.9e7], "%.15e"), count=3)

    image = root.add("imageAnnotation")
    ii = image.add("imageInformation")
    ii.add("productFirstLineUtcTime", f"{spec.start_time:{_TIME_FMT}}")
    ii.add("productLastLineUtcTime", f"{_stop_time(geom):{_TIME_FMT}}")
    ii.add("ascendingNodeTime", _tstr(geom, geom.ascending_node_time_s))
    ii.add("anchorTime", f"{spec.start_time:{_TIME_FMT}}")
    ii.add("productComposition", "Individual")
    ii.add("slantRangeTime", _e15(2.0 * geom.near_slant_range_m / SPEED_OF_LIGHT))
    ii.add("pixelValue", "Detected")
    ii.add("outputPixels", "16 bit Unsigned Integer")
    ii.add("rangePixelSpacing", _e6(spec.pixel_spacing_m))
    ii.add("azimuthPixelSpacing", _e6(spec.pixel_spacing_m))
    ii.add("azimuthTimeInterval", _e15(geom.azimuth_time_interval_s))
    ii.add("azimuthFrequency", _e15(1.0 / geom.azimuth_time_interval_s))
    ii.add("numberOfSamples", spec.samples)
    ii.add("numberOfLines", spec.lines)
    ii.add("zeroDopMinusAcqTime", _e15(0.0))
    mid_inc = float(geom.incidence_angle(0.5 * (spec.lines - 1), 0.5 * (spec.samples - 1)))
    ii.add("incidenceAngleMidSwath", _e15(mid_inc))
    proc = image.add("processingInformation")
    for tag, value in (
        ("rawDataAnalysisUsed", "true"),
        ("orbitDataFileUsed", "true"),
        ("attitudeDataFileUsed", "false"),
        ("rxVariationCorrectionApplied", "true"),
        ("antennaElevationPatternApplied", "true"),
        ("antennaAzimuthPatternApplied", "true"),
        ("antennaAzimuthElementPatternApplied", "true"),
        ("dcMethod", "Data Analysis"),
        ("dcInputData", "Range Compressed"),
        ("rangeSpreadingLossCompensationApplied", "true"),
        ("srgrConversionApplied", "true" if spec.product_type == "GRD" else "false"),
        ("detectionPerformed", "true"),
        ("thermalNoiseCorrectionPerformed", "false"),
        ("chirpSource", "Nominal"),
        ("pgSource", "Extracted"),
        ("rrfSpectrum", "Extended Tapered"),
        ("applicationLutId", f"{spec.mode}_Default"),
    ):
        proc.add(tag, value)
    proc.add("referenceRange", _e15(8.0e5))
    proc.add("ellipsoidName", "WGS84")
    proc.add("ellipsoidSemiMajorAxis", _e15(WGS84_A))
    proc.add("ellipsoidSemiMinorAxis", _e15(WGS84_B))
    proc.add("bistaticDelayCorrectionApplied", "true")
    proc.add("topsFilterConvention", "Only Echo Lines")
    proc.add("orbitSource", "Auxiliary")

    doppler = root.add("dopplerCentroid")
    dc_times = np.arange(0.0, geom.duration_s + 1e-9, 2.5) if geom.duration_s > 0 else np.zeros(1)
    dcl = doppler.add("dcEstimateList", count=len(dc_times))
    for t in dc_times:
        dc = dcl.add("dcEstimate")
        dc.add("azimuthTime", _tstr(geom, float(t)))
        dc.add("t0", _e15(2.0 * geom.near_slant_range_m / SPEED_OF_LIGHT))
        dc.add("geometryDcPolynomial", "0.000000e+00 0.000000e+00 0.000000e+00", count=3)
        dc.add("dataDcPolynomial", "0.000000e+00 0.000000e+00 0.000000e+00", count=3)
        dc.add("dataDcRmsError", _e15(0.0))
        dc.add("dataDcRmsErrorAboveThreshold", "false")
        dc.add("fineDceAzimuthStartTime", _tstr(geom, float(t) - 1.0))
        dc.add("fineDceAzimuthStopTime", _tstr(geom, float(t) + 1.0))
        dc.add("fineDceList", count=0)
    root.add("antennaPattern").add("antennaPatternList", count=0)
    timing = root.add("swathTiming")
    timing.add("linesPerBurst", 0)
    timing.add("samplesPerBurst", 0)
    timing.add("burstList", count=0)

    geo = root.add("geolocationGrid")
    points = geo.add("geolocationGridPointList", count=grid.lon.size)
    for i, line in enumerate(grid.lines):
        t_line = float(geom.line_time_s(line))
        for j, pixel in enumerate(grid.pixels):
            gp = points.add("geolocationGridPoint")
            gp.add("azimuthTime", _tstr(geom, t_line))
            gp.add("slantRangeTime", _e15(2.0 * float(grid.slant_range[i, j]) / SPEED_OF_LIGHT))
            gp.add("line", int(line))
            gp.add("pixel", int(pixel))
            gp.add("latitude", _e15(float(grid.lat[i, j])))
            gp.add("longitude", _e15(float(grid.lon[i, j])))
            gp.add("height", _e15(float(grid.height[i, j])))
            gp.add("incidenceAngle", _e15(float(grid.incidence[i, j])))
            gp.add("elevationAngle", _e15(float(grid.elevation[i, j])))

    conv = root.add("coordinateConversion")
    ccl = conv.add("coordinateConversionList", count=len(geom.cc_times_s))
    grsr = geom.grsr_coefficients
    for k, t in enumerate(geom.cc_times_s):
        cc = ccl.add("coordinateConversion")
        cc.add("azimuthTime", _tstr(geom, float(t)))
        cc.add("slantRangeTime", _e15(2.0 * geom.near_slant_range_m / SPEED_OF_LIGHT))
        cc.add("sr0", _e15(geom.near_slant_range_m))
        srgr = geom.srgr_coefficients[k]
        cc.add("srgrCoefficients", _join(srgr, "%.15e"), count=len(srgr))
        cc.add("gr0", _e15(0.0))
        cc.add("grsrCoefficients", _join(grsr[k], "%.15e"), count=len(grsr[k]))

    merging = root.add("swathMerging")
    sml = merging.add("swathMergeList", count=len(luts.swath_bounds))
    for name, first, last in luts.swath_bounds:
        sm = sml.add("swathMerge")
        sm.add("swath", name)
        sbl = sm.add("swathBoundsList", count=1)
        sb = sbl.add("swathBounds")
        sb.add("azimuthTime", f"{spec.start_time:{_TIME_FMT}}")
        sb.add("firstAzimuthLine", 0)
        sb.add("firstRangeSample", first)
        sb.add("lastAzimuthLine", spec.lines - 1)
        sb.add("lastRangeSample", last)
    return _xml_text(root)


def _calibration_xml(spec: S1ProductSpec, geom: S1Geometry, pol: str, luts: _Luts) -> str:
    root = _El("calibration")
    _ads_header(root, spec, geom, pol)
    root.add("calibrationInformation").add(
        "absoluteCalibrationConstant", _e6(ABSOLUTE_CALIBRATION_CONSTANT)
    )
    vl = root.add("calibrationVectorList", count=len(luts.cal_lines))
    n = len(luts.cal_pixels)
    for i, line in enumerate(luts.cal_lines):
        cv = vl.add("calibrationVector")
        cv.add("azimuthTime", _tstr(geom, float(geom.line_time_s(line))))
        cv.add("line", int(line))
        cv.add("pixel", _join(luts.cal_pixels, "%d"), count=n)
        cv.add("sigmaNought", _join(luts.sigma[i], "%.6e"), count=n)
        cv.add("betaNought", _join(luts.beta[i], "%.6e"), count=n)
        cv.add("gamma", _join(luts.gamma[i], "%.6e"), count=n)
        cv.add("dn", _join(luts.dn[i], "%.6e"), count=n)
    return _xml_text(root)


def _noise_xml(spec: S1ProductSpec, geom: S1Geometry, pol: str, luts: _Luts) -> str:
    root = _El("noise")
    _ads_header(root, spec, geom, pol)
    n = len(luts.noise_pixels)
    modern = _ipf_has_azimuth_noise(spec)
    vl = root.add(
        "noiseRangeVectorList" if modern else "noiseVectorList", count=len(luts.noise_lines)
    )
    for i, line in enumerate(luts.noise_lines):
        nv = vl.add("noiseRangeVector" if modern else "noiseVector")
        nv.add("azimuthTime", _tstr(geom, float(geom.line_time_s(line))))
        nv.add("line", int(line))
        nv.add("pixel", _join(luts.noise_pixels, "%d"), count=n)
        nv.add(
            "noiseRangeLut" if modern else "noiseLut",
            _join(luts.noise_range[pol][i], "%.6e"),
            count=n,
        )
    if modern:
        al = root.add("noiseAzimuthVectorList", count=len(luts.swath_bounds))
        for b, (name, first, last) in enumerate(luts.swath_bounds):
            av = al.add("noiseAzimuthVector")
            av.add("swath", name)
            av.add("firstAzimuthLine", 0)
            av.add("firstRangeSample", first)
            av.add("lastAzimuthLine", spec.lines - 1)
            av.add("lastRangeSample", last)
            av.add("line", _join(luts.az_lines[b], "%d"), count=len(luts.az_lines[b]))
            vals = luts.az_values[pol][b]
            av.add("noiseAzimuthLut", _join(vals, "%.6e"), count=len(vals))
    return _xml_text(root)


# --- measurement -----------------------------------------------------------------------------


def _node_axis(n: int, step: int) -> npt.NDArray[np.int64]:
    return np.unique(np.append(np.arange(0, n, step), n - 1)).astype(np.int64)


def _chunks(spec: S1ProductSpec) -> Iterator[tuple[int, int]]:
    size = max(1, min(spec.block_lines, _MAX_CHUNK_PIXELS // spec.samples))
    for lo in range(0, spec.lines, size):
        yield lo, min(lo + size, spec.lines)


def _write_measurements(
    spec: S1ProductSpec,
    geom: S1Geometry,
    luts: _Luts,
    paths: dict[str, Path],
    grid: _GeoGrid,
    sigma0: Sigma0Field,
    terrain: HeightField | None,
) -> None:
    samples = np.arange(spec.samples, dtype=np.float64)
    sigma_cols = _interp_cols(luts.cal_pixels.astype(np.float64), luts.sigma, samples)
    noise_cols = {
        pol: _interp_cols(luts.noise_pixels.astype(np.float64), luts.noise_range[pol], samples)
        for pol in spec.polarisations
    }
    modern = _ipf_has_azimuth_noise(spec)
    step = spec.geolocation_step_px
    node_lines = _node_axis(spec.lines, step)
    node_samples = _node_axis(spec.samples, step)
    rngs = {pol: np.random.default_rng([spec.seed, i]) for i, pol in enumerate(spec.polarisations)}
    gcps = [
        GroundControlPoint(
            row=float(grid.lines[i]),
            col=float(grid.pixels[j]),
            x=float(grid.lon[i, j]),
            y=float(grid.lat[i, j]),
            z=float(grid.height[i, j]),
            id=str(i * len(grid.pixels) + j + 1),
        )
        for i in range(len(grid.lines))
        for j in range(len(grid.pixels))
    ]
    profile = {
        "driver": "GTiff",
        "dtype": "uint16",
        "width": spec.samples,
        "height": spec.lines,
        "count": 1,
        "tiled": False,
        "interleave": "band",
    }
    platform = f"Sentinel-1{spec.mission[-1]}"
    datasets = {}
    try:
        for pol, path in paths.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                dst = rasterio.open(path, "w", **profile)
            datasets[pol] = dst
            dst.gcps = (gcps, CRS.from_epsg(4326))
            dst.update_tags(
                TIFFTAG_IMAGEDESCRIPTION=f"{platform} {spec.mode} {spec.product_type} "
                f"{spec.resolution_class}R L1",
                TIFFTAG_SOFTWARE=f"Sentinel-1 IPF {spec.ipf_version}",
                TIFFTAG_DATETIME=f"{spec.start_time + timedelta(minutes=40):%Y:%m:%d %H:%M:%S}",
            )
        for lo, hi in _chunks(spec):
            lines = np.arange(lo, hi, dtype=np.float64)
            if step == 1:
                ln, sm = np.meshgrid(lines, samples, indexing="ij")
                lon, lat, _ = geom.geolocate(ln, sm, terrain)
            else:
                i0 = int(np.searchsorted(node_lines, lo, side="right") - 1)
                i1 = int(np.searchsorted(node_lines, hi - 1, side="left"))
                rows = node_lines[i0 : i1 + 1]
                ln, sm = np.meshgrid(rows, node_samples, indexing="ij")
                lon_n, lat_n, _ = geom.geolocate(ln, sm, terrain)
                lon = _interp_rows(
                    rows.astype(np.float64),
                    _interp_cols(node_samples.astype(np.float64), lon_n, samples),
                    lines,
                )
                lat = _interp_rows(
                    rows.astype(np.float64),
                    _interp_cols(node_samples.astype(np.float64), lat_n, samples),
                    lines,
                )
            a_lut = _interp_rows(luts.cal_lines.astype(np.float64), sigma_cols, lines)
            for pol, dst in datasets.items():
                noise = _interp_rows(luts.noise_lines.astype(np.float64), noise_cols[pol], lines)
                if modern:
                    for b, (_, first, last) in enumerate(luts.swath_bounds):
                        az = np.interp(lines, luts.az_lines[b], luts.az_values[pol][b])
                        noise[:, first : last + 1] *= az[:, None]
                s0 = np.broadcast_to(np.asarray(sigma0(lon, lat, pol), dtype=np.float64), lon.shape)
                if spec.speckle_looks is not None:
                    looks = spec.speckle_looks
                    s0 = s0 * rngs[pol].gamma(looks, 1.0 / looks, size=s0.shape)
                dn = sigma0_to_dn(s0, a_lut, noise)
                dst.write(dn, 1, window=rasterio.windows.Window(0, lo, spec.samples, hi - lo))
    finally:
        for dst in datasets.values():
            dst.close()


# --- manifest --------------------------------------------------------------------------------


_MANIFEST_NS = (
    ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
    ("xmlns:gml", "http://www.opengis.net/gml"),
    ("xmlns:xfdu", "urn:ccsds:schema:xfdu:1"),
    ("xmlns:safe", "http://www.esa.int/safe/sentinel-1.0"),
    ("xmlns:s1", "http://www.esa.int/safe/sentinel-1.0/sentinel-1"),
    ("xmlns:s1sar", "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar"),
    ("xmlns:s1sarl1", "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1"),
    ("xmlns:s1sarl2", "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-2"),
    ("xmlns:gx", "http://www.google.com/kml/ext/2.2"),
)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _manifest_xml(
    spec: S1ProductSpec,
    geom: S1Geometry,
    safe_dir: Path,
    files: list[tuple[str, str, str]],
    grid: _GeoGrid,
) -> str:
    """``files``: (dataObject ID, repID, relative href) in the order of the real manifest."""
    level = _PRODUCT_LEVEL[spec.product_type]
    root = _El(
        "xfdu:XFDU",
        attrs=dict(_MANIFEST_NS)
        | {
            "version": f"esa/safe/sentinel-1.0/sentinel-1/sar/level-{level}/"
            f"{spec.product_type.lower()}/standard/{spec.mode.lower()}"
            f"{'dp' if len(spec.polarisations) == 2 else 'sp'}"
        },
    )
    ipm = root.add("informationPackageMap")
    top = ipm.add(
        "xfdu:contentUnit",
        unitType="SAFE Archive Information Package",
        textInfo=f"Sentinel-1 {spec.mode} Level-{level} {spec.product_type} Product",
        dmdID="acquisitionPeriod platform generalProductInformation measurementOrbitReference "
        "measurementFrameSet",
        pdiID="processing",
    )
    annotations = [f for f in files if f[1] != "s1Level1MeasurementSchema"]
    for obj_id, rep, _ in annotations:
        top.add("xfdu:contentUnit", unitType="Metadata Unit", repID=rep).add(
            "dataObjectPointer", dataObjectID=obj_id
        )
    for obj_id, rep, href in files:
        if rep != "s1Level1MeasurementSchema":
            continue
        stem = Path(href).stem.replace("-", "")
        dmd = " ".join(f"{kind}{stem}Annotation" for kind in ("product", "noise", "calibration"))
        top.add(
            "xfdu:contentUnit", unitType="Measurement Data Unit", repID=rep, dmdID=dmd + " "
        ).add("dataObjectPointer", dataObjectID=obj_id)

    meta = root.add("metadataSection")
    for obj_id, _, _ in annotations:
        meta.add(
            "metadataObject", ID=f"{obj_id}Annotation", classification="DESCRIPTION", category="DMD"
        ).add("dataObjectPointer", dataObjectID=obj_id)

    def wrap(obj_id: str, classification: str, category: str, text_info: str) -> _El:
        mo = meta.add("metadataObject", ID=obj_id, classification=classification, category=category)
        mw = mo.add("metadataWrap", mimeType="text/xml", vocabularyName="SAFE", textInfo=text_info)
        return mw.add("xmlData")

    created = spec.start_time + timedelta(minutes=42)
    proc = wrap("processing", "PROVENANCE", "PDI", "Processing").add(
        "safe:processing",
        name=f"{spec.product_type} Post Processing",
        start=f"{spec.start_time + timedelta(minutes=30):{_TIME_FMT}}",
        stop=f"{created:{_TIME_FMT}}",
    )
    proc.add(
        "safe:facility",
        country="France",
        name="Copernicus S1 Core Ground Segment - synthetic",
        organisation="ESA",
        site="sen_preproc.testing.s1_factory",
    ).add("safe:software", name="Sentinel-1 IPF", version=spec.ipf_version)

    plat = wrap("platform", "DESCRIPTION", "DMD", "Platform Description").add("safe:platform")
    plat.add("safe:nssdcIdentifier", _MISSIONS[spec.mission]["nssdc"])
    plat.add("safe:familyName", "SENTINEL-1")
    plat.add("safe:number", spec.mission[-1])
    inst = plat.add("safe:instrument")
    inst.add("safe:familyName", "Synthetic Aperture Radar", abbreviation="SAR")
    mode = inst.add("safe:extension").add("s1sarl1:instrumentMode")
    mode.add("s1sarl1:mode", spec.mode)
    mode.add("s1sarl1:swath", spec.mode)

    orb = wrap("measurementOrbitReference", "DESCRIPTION", "DMD", "Orbit Reference").add(
        "safe:orbitReference"
    )
    info = _MISSIONS[spec.mission]
    for kind in ("start", "stop"):
        orb.add("safe:orbitNumber", geom.absolute_orbit, type=kind)
    for kind in ("start", "stop"):
        orb.add("safe:relativeOrbitNumber", geom.relative_orbit, type=kind)
    cycle = (geom.absolute_orbit - geom.relative_orbit) // 175 + int(info["cycle_offset"])
    orb.add("safe:cycleNumber", cycle)
    orb.add("safe:phaseIdentifier", 1)
    props = orb.add("safe:extension").add("s1:orbitProperties")
    props.add("s1:pass", spec.pass_direction)
    props.add("s1:ascendingNodeTime", _tstr(geom, geom.ascending_node_time_s))

    gpi = wrap("generalProductInformation", "DESCRIPTION", "DMD", "General Product Information")
    sa = gpi.add("s1sarl1:standAloneProductInformation")
    ns = "s1sarl1"
    sa.add(f"{ns}:instrumentConfigurationID", 2)
    sa.add(f"{ns}:missionDataTakeID", _datatake_id(geom))
    for pol in spec.polarisations:
        sa.add(f"{ns}:transmitterReceiverPolarisation", pol)
    sa.add(f"{ns}:productClass", "S")
    sa.add(f"{ns}:productClassDescription", f"SAR Standard L{level} Product")
    sa.add(f"{ns}:productComposition", "Individual")
    sa.add(f"{ns}:productType", spec.product_type)
    sa.add(f"{ns}:productTimelinessCategory", "NRT-3h")
    sa.add(f"{ns}:sliceProductFlag", "false")

    acq = wrap("acquisitionPeriod", "DESCRIPTION", "DMD", "Acquisition Period").add(
        "safe:acquisitionPeriod"
    )
    acq.add("safe:startTime", f"{spec.start_time:{_TIME_FMT}}")
    acq.add("safe:stopTime", f"{_stop_time(geom):{_TIME_FMT}}")
    anx = acq.add("safe:extension").add("s1:timeANX")
    anx.add("s1:startTimeANX", f"{-geom.ascending_node_time_s * 1e3:.6e}")
    anx.add("s1:stopTimeANX", f"{(geom.duration_s - geom.ascending_node_time_s) * 1e3:.6e}")

    corners = [
        (-1, 0),
        (-1, -1),
        (0, -1),
        (0, 0),
    ]  # (last,near) (last,far) (first,far) (first,near)
    coords = " ".join(f"{grid.lat[i, j]:.6f},{grid.lon[i, j]:.6f}" for i, j in corners)
    fp = wrap("measurementFrameSet", "DESCRIPTION", "DMD", "Frame Set").add("safe:frameSet")
    fp.add("safe:frame").add(
        "safe:footPrint", srsName="http://www.opengis.net/gml/srs/epsg.xml#4326"
    ).add("gml:coordinates", coords)

    dos = root.add("dataObjectSection")
    for obj_id, rep, href in files:
        path = safe_dir / href
        mime = "application/octet-stream" if href.endswith(".tiff") else "text/xml"
        bs = dos.add("dataObject", ID=obj_id, repID=rep).add(
            "byteStream", mimeType=mime, size=path.stat().st_size
        )
        bs.add("fileLocation", locatorType="URL", href=f"./{href}")
        bs.add("checksum", _md5(path), checksumName="MD5")
    return _xml_text(root)


# --- public writers --------------------------------------------------------------------------


def write_s1_grd_product(
    out_dir: Path,
    spec: S1ProductSpec = DEFAULT_SPEC,
    *,
    sigma0: Sigma0Field | None = None,
    terrain_height: HeightField | None = None,
    zipped: bool = False,
) -> Path:
    """Write a synthetic Sentinel-1 GRD SAFE product.

    Parameters
    ----------
    out_dir : Path
        Folder to write into (created if missing). An existing product of the same name there
        is replaced.
    spec : S1ProductSpec
        What to generate.
    sigma0 : callable, optional
        ``(lon_deg, lat_deg, pol) -> linear sigma0``; default :func:`default_sigma0`.
    terrain_height : callable, optional
        ``(lon_deg, lat_deg) -> ellipsoidal height (m)``; default 0 m (the ellipsoid).
    zipped : bool
        Write ``<ID>.zip`` holding ``<ID>.SAFE/`` (like ESA's distribution) instead of the folder.

    Returns
    -------
    Path
        The ``<ID>.SAFE`` folder, or the ``<ID>.zip`` file when ``zipped``.
    """
    _validate(spec)
    geom = product_geometry(spec)
    field = sigma0 if sigma0 is not None else default_sigma0(spec)
    pid = product_id(spec)
    final, work_root, safe_dir = _prepare_output(Path(out_dir), pid, zipped)
    (safe_dir / "annotation" / "calibration").mkdir(parents=True)
    (safe_dir / "measurement").mkdir()

    grid = _geolocation_grid(geom, terrain_height)
    luts = _make_luts(spec, geom)
    files: list[tuple[str, str, str]] = []
    measurement_paths: dict[str, Path] = {}
    for pol in reversed(spec.polarisations):  # real manifests list the cross-pol files first
        stem = _file_stem(spec, geom, pol)
        oid = stem.replace("-", "")
        ann = f"annotation/{stem}.xml"
        noi = f"annotation/calibration/noise-{stem}.xml"
        cal = f"annotation/calibration/calibration-{stem}.xml"
        (safe_dir / ann).write_text(_annotation_xml(spec, geom, pol, grid, luts), encoding="utf-8")
        (safe_dir / noi).write_text(_noise_xml(spec, geom, pol, luts), encoding="utf-8")
        (safe_dir / cal).write_text(_calibration_xml(spec, geom, pol, luts), encoding="utf-8")
        files += [
            (f"product{oid}", "s1Level1ProductSchema", ann),
            (f"noise{oid}", "s1Level1NoiseSchema", noi),
            (f"calibration{oid}", "s1Level1CalibrationSchema", cal),
        ]
        measurement_paths[pol] = safe_dir / "measurement" / f"{stem}.tiff"
    _write_measurements(spec, geom, luts, measurement_paths, grid, field, terrain_height)
    for pol in reversed(spec.polarisations):
        stem = _file_stem(spec, geom, pol)
        files.append(
            (stem.replace("-", ""), "s1Level1MeasurementSchema", f"measurement/{stem}.tiff")
        )
    manifest = _manifest_xml(spec, geom, safe_dir, files, grid)
    (safe_dir / "manifest.safe").write_text(manifest, encoding="utf-8")
    if not zipped:
        return safe_dir
    _zip_tree(safe_dir, final, spec.start_time + timedelta(minutes=40))
    shutil.rmtree(work_root)
    return final


def _prepare_output(out_dir: Path, pid: str, zipped: bool) -> tuple[Path, Path, Path]:
    """(final product path, work folder, .SAFE folder to fill); removes stale outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / (f"{pid}.zip" if zipped else f"{pid}.SAFE")
    work_root = out_dir / f".{pid}.partial" if zipped else out_dir
    safe_dir = work_root / f"{pid}.SAFE"
    for stale in (safe_dir, final):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    return final, work_root, safe_dir


def _zip_tree(safe_dir: Path, zip_path: Path, produced: datetime) -> None:
    """Zip ``safe_dir`` like ESA's distribution; every entry stamped ``produced`` (so the same
    product gives the same bytes)."""
    tmp = zip_path.with_name(zip_path.name + ".part")
    stamp = produced.timetuple()[:6]
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        base = safe_dir.parent
        for path in sorted([safe_dir, *safe_dir.rglob("*")]):
            arc = path.relative_to(base).as_posix()
            if path.is_dir():
                info = zipfile.ZipInfo(arc + "/", date_time=stamp)
                info.external_attr = 0o40755 << 16
                zf.writestr(info, b"")
            else:
                info = zipfile.ZipInfo(arc, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o100644 << 16
                info.file_size = path.stat().st_size  # lets zipfile choose ZIP64 up front
                with path.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    tmp.replace(zip_path)


def write_orbit_file(
    path: Path,
    spec: S1ProductSpec,
    *,
    validity_start: datetime,
    validity_stop: datetime,
    step_s: float = 10.0,
    zipped: bool = False,
) -> Path:
    """Write an ESA Earth Explorer precise orbit file (``AUX_POEORB``) for ``spec``'s orbit.

    The state vectors (every ``step_s`` seconds from ``validity_start`` to ``validity_stop``)
    come from the same analytic orbit as the product, so a product processed with this file
    geolocates identically.

    Parameters
    ----------
    path : Path
        An existing folder (the file gets its ESA name, e.g.
        ``S1B_OPER_AUX_POEORB_OPOD_<created>_V<start>_<stop>.EOF``) or the file path to write.
    spec : S1ProductSpec
        The product whose orbit is written.
    validity_start, validity_stop : datetime
        Validity window (naive UTC).
    step_s : float
        Time between state vectors (s).
    zipped : bool
        Write a ``.zip`` holding the ``.EOF``.

    Returns
    -------
    Path
        The written ``.EOF`` (or ``.zip``).
    """
    geom = product_geometry(spec)
    if validity_stop <= validity_start:
        raise OptionError(
            f"validity_stop {validity_stop} must be after validity_start {validity_start}"
        )
    created = validity_stop + timedelta(days=20)
    created = created.replace(hour=11, minute=11, second=42, microsecond=0)
    name = (
        f"{spec.mission}_OPER_AUX_POEORB_OPOD_{created:%Y%m%dT%H%M%S}_"
        f"V{validity_start:%Y%m%dT%H%M%S}_{validity_stop:%Y%m%dT%H%M%S}"
    )
    path = Path(path)
    if path.is_dir():
        target = path / (f"{name}.EOF.zip" if zipped else f"{name}.EOF")
    else:
        target = path
        name = target.name.removesuffix(".zip").removesuffix(".EOF")
    total = (validity_stop - validity_start).total_seconds()
    n = math.floor(total / step_s + 1e-9) + 1
    offsets = np.arange(n) * step_s
    start_s = (validity_start - spec.start_time).total_seconds()
    t_s = start_s + offsets
    pos, vel = geom.state(t_s)
    orbits = geom.absolute_orbit_at(t_s)
    mission_name = f"Sentinel-1{spec.mission[-1]}"
    root = _El("Earth_Explorer_File")
    hdr = root.add("Earth_Explorer_Header")
    fixed = hdr.add("Fixed_Header")
    fixed.add("File_Name", name)
    fixed.add("File_Description", "Precise Orbit Ephemerides (POE) Orbit File")
    fixed.add("Notes", "")
    fixed.add("Mission", mission_name)
    fixed.add("File_Class", "OPER")
    fixed.add("File_Type", "AUX_POEORB")
    vp = fixed.add("Validity_Period")
    vp.add("Validity_Start", f"UTC={validity_start:%Y-%m-%dT%H:%M:%S}")
    vp.add("Validity_Stop", f"UTC={validity_stop:%Y-%m-%dT%H:%M:%S}")
    fixed.add("File_Version", "0001")
    src = fixed.add("Source")
    src.add("System", "OPOD")
    src.add("Creator", "OPOD")
    src.add("Creator_Version", "0.0")
    src.add("Creation_Date", f"UTC={created:%Y-%m-%dT%H:%M:%S}")
    var = hdr.add("Variable_Header")
    var.add("Ref_Frame", "EARTH_FIXED")
    var.add("Time_Reference", "UTC")
    block = root.add("Data_Block", type="xml")
    osvs = block.add("List_of_OSVs", count=n)
    for k in range(n):
        utc = validity_start + timedelta(microseconds=round(float(offsets[k]) * 1e6))
        osv = osvs.add("OSV")
        osv.add("TAI", f"TAI={utc + timedelta(seconds=TAI_MINUS_UTC_S):{_TIME_FMT}}")
        osv.add("UTC", f"UTC={utc:{_TIME_FMT}}")
        osv.add("UT1", f"UT1={utc + timedelta(seconds=UT1_MINUS_UTC_S):{_TIME_FMT}}")
        osv.add("Absolute_Orbit", f"+{int(orbits[k])}")
        for axis, value in zip(("X", "Y", "Z"), pos[k], strict=True):
            osv.add(axis, f"{value:.6f}", unit="m")
        for axis, value in zip(("VX", "VY", "VZ"), vel[k], strict=True):
            osv.add(axis, f"{value:.6f}", unit="m/s")
        osv.add("Quality", "NOMINAL")
    text = _xml_text(root, declaration='<?xml version="1.0" ?>')
    target.parent.mkdir(parents=True, exist_ok=True)
    if zipped:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{name}.EOF", text)
    else:
        target.write_text(text, encoding="utf-8")
    return target


def write_dem(
    path: Path,
    bounds_lonlat: tuple[float, float, float, float],
    *,
    terrain_height: HeightField | None = None,
    pixel_size_deg: float = 1 / 3600,
    crs: str = "EPSG:4326",
    geoid_offset: HeightField | None = None,
) -> Path:
    """Write a float32 GeoTIFF DEM over ``bounds_lonlat = (west, south, east, north)``.

    Each pixel (centre lon/lat) holds ``terrain_height(lon, lat) - geoid_offset(lon, lat)``
    (metres; the offset defaults to 0), so ellipsoidal DEMs (``crs="EPSG:4326"``) and
    geoid-referenced ones (e.g. ``crs="EPSG:9707"`` with an EGM96 undulation field) can be
    written for the same terrain.

    Returns
    -------
    Path
        ``path``.
    """
    west, south, east, north = bounds_lonlat
    if not (east > west and north > south and pixel_size_deg > 0):
        raise OptionError(
            f"write_dem: invalid bounds {bounds_lonlat} or pixel size {pixel_size_deg}"
        )
    crs_obj = CRS.from_user_input(crs)
    if not crs_obj.is_geographic:
        raise OptionError(f"write_dem: crs {crs!r} is not geographic (lon/lat degrees)")
    width = max(1, math.ceil((east - west) / pixel_size_deg - 1e-9))
    height = max(1, math.ceil((north - south) / pixel_size_deg - 1e-9))
    transform = Affine(pixel_size_deg, 0.0, west, 0.0, -pixel_size_deg, north)
    lon = west + (np.arange(width) + 0.5) * pixel_size_deg
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tiled = width >= 256 and height >= 256
    extra: dict[str, Any] = {"tiled": True, "blockxsize": 256, "blockysize": 256} if tiled else {}
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        dtype="float32",
        width=width,
        height=height,
        count=1,
        crs=crs_obj,
        transform=transform,
        compress="deflate",
        **extra,
    ) as dst:
        rows_per_block = max(1, (1 << 21) // width)
        if tiled:
            rows_per_block = max(256, rows_per_block // 256 * 256)
        for lo in range(0, height, rows_per_block):
            hi = min(height, lo + rows_per_block)
            lat = north - (np.arange(lo, hi) + 0.5) * pixel_size_deg
            lo2, la2 = np.meshgrid(lon, lat)
            values = np.zeros(lo2.shape)
            if terrain_height is not None:
                values = values + np.asarray(terrain_height(lo2, la2), dtype=np.float64)
            if geoid_offset is not None:
                values = values - np.asarray(geoid_offset(lo2, la2), dtype=np.float64)
            dst.write(
                values.astype(np.float32), 1, window=rasterio.windows.Window(0, lo, width, hi - lo)
            )
    return path
