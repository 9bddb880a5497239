"""C-band backscatter (Sentinel-1 σ0, VV and VH) of the simulated land from its state.

* **Vegetation** over soil: the water cloud model (Attema & Ulaby 1978),
  ``σ0 = A cosθ (1 - τ²) + τ² σ0_soil`` with two-way attenuation ``τ² = exp(-2 B V / cosθ)``,
  ``V = LAI`` and per crop and polarisation ``A`` (the dense-canopy level) and ``B``
  (attenuation per unit LAI) of the order fitted in the literature (e.g. Bindlish & Barros 2001;
  Bériaux et al. 2013); a drying canopy loses volume scattering (``A``, ``B`` fall with
  senescence).
* **Soil**: Dubois et al. (1995) for VV, from the dielectric constant of Topp et al. (1980)
  (``ε = 3.03 + 9.3 mv + 146 mv² - 76.7 mv³``) and the roughness ``ks``; VH from the
  cross-polarised ratio of Oh et al. (2002), ``q = 0.095 (0.13 + sin 1.5θ)^1.4 (1 - e^(-1.3 ks^0.9))``,
  times 2.5 (:data:`CROSS_POL_GAIN`): Oh's ratio of smooth-to-medium soils (-12 to -14 dB) is
  ~4 dB below what Sentinel-1 sees over bare fields (VV - VH of 8-10 dB in the real pairs of
  ``shared/``; clods and residue add volume scattering). Rain raises ``mv``; ploughing ``ks``.
* **Stubble** after harvest: a small volume term (:data:`STUBBLE`) over the soil.
* **Water**: wind-roughened, ``σ0_VV = 10^-2.4 (U / 3 m/s)^1.5`` falling ~0.3 dB per degree of
  incidence (the power law in wind speed of CMOD-type functions, Hersbach et al. 2007), VH 9 dB
  below; flooded fields look like water.
* **Buildings**: double bounce, brightest when walls face the radar, ``VV = -1 + 8 cos²(2Δ)``
  dB, ``VH = -10 + 4 cos²(2Δ)`` dB with ``Δ`` the angle between walls and the flight direction.
* **Forest**: the water cloud model with a dense, volume-dominated canopy.
* **Terrain**: every term uses the *local* incidence angle ``θ_loc`` (DEM normal against the
  look vector of the orbit), and σ0 referenced to the ellipsoid (what ``senprep s1`` measures)
  carries the projected-area factor ``sin θ_ell / sin θ_loc`` (Ulander 1996): slopes facing the
  radar are brighter. Radar shadow (``cos θ_loc < 0.05``) gets the noise floor.

Speckle is not added here: the Sentinel-1 product factory multiplies by Gamma-distributed
intensity with ``L`` looks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from sen_preproc.synth.landscape import CODE, PIXEL_M, Landscape
from sen_preproc.synth.phenology import State

FloatArray = npt.NDArray[np.floating[Any]]

WATER_CLOUD = {
    # class: {pol: (A, B)}
    "winter_cereal": {"VV": (0.085, 0.22), "VH": (0.035, 0.12)},
    "maize": {"VV": (0.160, 0.10), "VH": (0.050, 0.08)},
    "sugar_beet": {"VV": (0.150, 0.12), "VH": (0.048, 0.08)},
    "rapeseed": {"VV": (0.140, 0.12), "VH": (0.055, 0.08)},
    "grassland": {"VV": (0.085, 0.16), "VH": (0.022, 0.10)},
    "bare_soil": {"VV": (0.050, 0.15), "VH": (0.010, 0.10)},
    "deciduous_forest": {"VV": (0.170, 0.10), "VH": (0.050, 0.08)},
    "coniferous_forest": {"VV": (0.160, 0.10), "VH": (0.055, 0.08)},
}
"""Water cloud model parameters ``(A, B)`` per class and polarisation (``V = LAI``)."""
WAVELENGTH_CM = 5.5466  # Sentinel-1 C band, 5.405 GHz
NOISE_FLOOR = 1e-5
STUBBLE = {"VV": 0.012, "VH": 0.0035}
"""Backscatter of harvest residue (stubble and straw) at normal incidence, added ``× cosθ``
(-19 and -24.5 dB at 37°; residue raises the cross-polarised return of harvested fields)."""
CROSS_POL_GAIN = 2.5
"""Factor on Oh et al.'s cross-polarised ratio (see the module docstring)."""
ROAD_KS = 0.15


def dielectric_topp(mv: npt.ArrayLike) -> FloatArray:
    """Real relative permittivity of a mineral soil at volumetric moisture ``mv`` (Topp 1980)."""
    m = np.asarray(mv, dtype=np.float64)
    out: FloatArray = 3.03 + 9.3 * m + 146.0 * m**2 - 76.7 * m**3
    return out


def dubois_vv(theta_rad: FloatArray, eps: FloatArray, ks: FloatArray) -> FloatArray:
    """σ0_VV of bare soil, Dubois et al. (1995) (valid ks <= 2.5, θ >= 30°)."""
    ks = np.minimum(ks, 2.5)
    sin, cos = np.sin(theta_rad), np.cos(theta_rad)
    out: FloatArray = (
        10**-2.35
        * (cos**3 / np.maximum(sin, 1e-3) ** 3)
        * 10 ** (0.046 * eps * np.tan(theta_rad))
        * (ks * sin) ** 1.1
        * WAVELENGTH_CM**0.7
    )
    return out


def oh_cross_ratio(theta_rad: FloatArray, ks: FloatArray) -> FloatArray:
    """σ0_VH / σ0_VV of bare soil, Oh et al. (2002), times :data:`CROSS_POL_GAIN`."""
    out: FloatArray = CROSS_POL_GAIN * (
        0.095 * (0.13 + np.sin(1.5 * theta_rad)) ** 1.4 * (1.0 - np.exp(-1.3 * ks**0.9))
    )
    return out


def local_incidence(
    height_m: FloatArray, incidence_deg: FloatArray, look_azimuth_deg: float
) -> FloatArray:
    """Local incidence angle (rad) of a DEM on the 10 m scene grid.

    ``look_azimuth_deg`` is the horizontal direction from the satellite to the ground
    (clockwise from north; the heading + 90° for a right-looking radar).
    """
    dz_drow, dz_dcol = np.gradient(height_m, PIXEL_M)
    zx, zy = dz_dcol, -dz_drow  # east, north slopes
    theta = np.radians(incidence_deg)
    phi = math.radians(look_azimuth_deg)
    # unit vector from the ground towards the satellite, and the surface normal (local ENU)
    sx, sy, sz = -np.sin(theta) * math.sin(phi), -np.sin(theta) * math.cos(phi), np.cos(theta)
    norm = np.sqrt(1.0 + zx * zx + zy * zy)
    cos_local = (-zx * sx - zy * sy + sz) / norm
    out: FloatArray = np.arccos(np.clip(cos_local, -1.0, 1.0))
    return out


class Radar:
    """σ0 (linear, ellipsoid-referenced) per polarisation on the scene grid for a :class:`State`."""

    def __init__(self, landscape: Landscape) -> None:
        self.landscape = landscape
        self.height_m = landscape.height_m.astype(np.float32)  # float32 keeps big scenes small

    def sigma0(
        self,
        state: State,
        incidence_deg: FloatArray,
        look_azimuth_deg: float,
        heading_deg: float,
        wind_m_s: float,
    ) -> dict[str, npt.NDArray[np.float32]]:
        """``{"VV": σ0, "VH": σ0}`` (float32, linear) for the state and acquisition geometry."""
        land = self.landscape
        cover = land.landcover
        incidence_deg = np.asarray(incidence_deg, np.float32)
        theta_ell = np.radians(incidence_deg)
        theta = local_incidence(self.height_m, incidence_deg, look_azimuth_deg)
        cos = np.maximum(np.cos(theta), 0.05)
        eps = dielectric_topp(state.soil_moisture)
        ks = state.ks
        ks = np.where(cover == CODE["road"], ROAD_KS, ks)
        soil_vv = dubois_vv(theta, eps, ks)
        soil = {"VV": soil_vv, "VH": soil_vv * oh_cross_ratio(theta, ks)}
        lai, dry = state.lai, state.senescence
        out: dict[str, npt.NDArray[np.float32]] = {}
        water = (cover == CODE["water"]) | state.flooded
        water_vv = (
            10**-2.4
            * (max(wind_m_s, 0.5) / 3.0) ** 1.5
            * 10 ** (-0.03 * (np.degrees(theta) - 37.0))
        )
        delta = np.radians(land.building_azimuth_deg - heading_deg)
        facing = np.cos(2.0 * delta) ** 2
        for pol in ("VV", "VH"):
            sigma = soil[pol].copy()
            for name, params in WATER_CLOUD.items():
                mask = cover == CODE[name]
                if not mask.any():
                    continue
                a, b = params[pol]
                a_eff = a * (1.0 - 0.4 * dry[mask])
                b_eff = b * (1.0 - 0.3 * dry[mask])
                tau2 = np.exp(-2.0 * b_eff * lai[mask] / cos[mask])
                sigma[mask] = a_eff * cos[mask] * (1.0 - tau2) + tau2 * soil[pol][mask]
            # straw and stubble after harvest: a thin, dry volume over the soil
            sigma = sigma + state.stubble * STUBBLE[pol] * cos
            buildings = cover == CODE["building"]
            level_db = (-1.0 + 8.0 * facing) if pol == "VV" else (-10.0 + 4.0 * facing)
            sigma = np.where(buildings, 10 ** (level_db / 10.0), sigma)
            sigma = np.where(water, water_vv if pol == "VV" else water_vv * 10**-0.9, sigma)
            # projected-area factor of ellipsoid-referenced sigma0 (Ulander 1996); shadow
            sigma = sigma * np.sin(theta_ell) / np.maximum(np.sin(theta), 0.05)
            sigma = np.where(np.cos(theta) < 0.05, NOISE_FLOOR, sigma)
            out[pol] = np.maximum(sigma, NOISE_FLOOR).astype(np.float32)
        return out
