"""Clouds, cirrus, haze and cloud shadows over a Sentinel-2 scene, and its scene classification.

* **Clouds**: a power-law random field (spectral exponent 3, i.e. the ``k^-5/3`` cloud
  spectrum of Cahalan et al. 1994 in two dimensions) thresholded at the cover fraction; the
  opacity ``o = 1 - T`` grows from 0 at the edge to 1 in the core over a few hundred metres, and
  the observed reflectance is ``R = T R_surface + (1 - T) R_cloud`` (a bright, nearly grey
  cloud top, slightly bluer).
* **Haze**: a smooth, thin veil around the clouds (opacity up to 0.12).
* **Cirrus**: smooth veils stretched 3:1 along a direction, thin (opacity up to 0.08).
* **Shadows**: the thick part of the clouds projected onto the ground along the sun direction of
  the acquisition, ``h tan(θ_sun)`` away from the sun azimuth (cloud height 1-2.5 km), darkening
  the surface by up to 70 % (``R = (1 - 0.7 s) R``).
* **Scene classification** (ESA SCL): 9 thick cloud (o > 0.6), 8 thin cloud or haze (o > 0),
  10 cirrus, 3 shadow, 6 water, 4 vegetation (NDVI > 0.4), 5 not vegetated, 1 saturated (a few
  specular roofs written at DN 65535). Every pixel the atmosphere touches is classified invalid,
  so the clear pixels of the product equal the cloud-free truth exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from sen_preproc.synth.fields import fractal_field, gaussian_field
from sen_preproc.synth.landscape import CODE, PIXEL_M

CLOUD_TOP = (0.62, 0.60, 0.58, 0.57, 0.57, 0.57, 0.57, 0.56, 0.56, 0.50, 0.45, 0.38)
"""Reflectance of a thick cloud top per L2A band (``BANDS`` order)."""
SATURATED_REFLECTANCE = 7.0
"""Written as DN 65535 (SATURATED) by the product factory."""


@dataclass
class Sky:
    """Per-pixel atmosphere of one acquisition (scene grid, float32 in 0..1)."""

    cloud: npt.NDArray[np.float32]
    haze: npt.NDArray[np.float32]
    cirrus: npt.NDArray[np.float32]
    shadow: npt.NDArray[np.float32]
    saturated: npt.NDArray[np.bool_]
    cloud_height_m: float

    @property
    def fraction(self) -> float:
        return float((self.cloud > 0).mean())


def clear_sky(shape: tuple[int, int]) -> Sky:
    zeros = np.zeros(shape, np.float32)
    return Sky(zeros, zeros, zeros, zeros, np.zeros(shape, bool), 0.0)


def draw_sky(
    shape: tuple[int, int],
    cover: float,
    sun_zenith_deg: float,
    sun_azimuth_deg: float,
    rng: np.random.Generator,
    landcover: npt.NDArray[np.uint8],
) -> Sky:
    """Clouds covering about ``cover`` (0..1) of the grid, their haze, cirrus and shadows."""
    if cover <= 0:
        sky = clear_sky(shape)
    else:
        field = fractal_field(shape, 3.0, rng, outer_scale_px=max(shape) / 1.5)
        spread = 0.8 * float(field.std())

        def layers(threshold: float) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
            opacity = np.clip((field - threshold) / spread, 0.0, 1.0) ** 0.7
            envelope = ndimage.gaussian_filter((opacity > 0).astype(np.float32), 3.0)
            haze = np.where((envelope > 0.1) & (opacity == 0), 0.12 * envelope, 0.0)
            return opacity.astype(np.float32), haze.astype(np.float32)

        # the threshold for which cloud and haze together cover ``cover`` of the scene
        low, high = float(field.min()), float(field.max())
        for _ in range(14):
            middle = 0.5 * (low + high)
            cloud, haze = layers(middle)
            if float(((cloud > 0) | (haze > 0)).mean()) > cover:
                low = middle
            else:
                high = middle
        cloud, haze = layers(high)
        # cirrus: smooth veils stretched along the upper-level wind (3:1), faint
        angle = math.degrees(rng.uniform(0, math.pi))
        coarse = gaussian_field((shape[0], shape[1] // 3 + 2), 12.0, rng)
        stretched = ndimage.zoom(coarse, (1, 3), order=1)[:, : shape[1]]
        cirrus_field = ndimage.rotate(stretched, angle, reshape=False, mode="reflect")
        level = np.quantile(cirrus_field, 1 - 0.3 * cover)
        cirrus = np.clip((cirrus_field - level) / 3.0, 0.0, 0.08)
        height = float(rng.uniform(1000.0, 2500.0))
        offset_m = height * math.tan(math.radians(min(sun_zenith_deg, 80.0)))
        # the shadow lies away from the sun: towards azimuth + 180 deg
        away = math.radians(sun_azimuth_deg + 180.0)
        shift_rows = -offset_m * math.cos(away) / PIXEL_M  # north = up = -row
        shift_cols = offset_m * math.sin(away) / PIXEL_M
        thick = np.clip((cloud - 0.5) / 0.2, 0.0, 1.0)
        shadow = ndimage.shift(thick, (shift_rows, shift_cols), order=1, mode="constant")
        shadow = np.where(shadow > 0.02, shadow, 0.0).astype(np.float32)
        sky = Sky(cloud, haze, cirrus.astype(np.float32), shadow, np.zeros(shape, bool), height)
    # a few specular roofs saturate the detector on every date
    buildings = np.flatnonzero(landcover.ravel() == CODE["building"])
    if buildings.size:
        picks = rng.choice(buildings, size=min(4, buildings.size), replace=False)
        sky.saturated.ravel()[picks] = True
    return sky


def observe(surface: npt.NDArray[np.float32], band_index: int, sky: Sky) -> npt.NDArray[np.float32]:
    """Top-of-canopy reflectance of one band as the L2A product records it under ``sky``."""
    value = surface * (1.0 - 0.7 * sky.shadow)
    veil = np.clip(sky.cloud + sky.haze * (1.0 - sky.cloud), 0.0, 1.0)
    top = CLOUD_TOP[band_index]
    value = (1.0 - veil) * value + veil * top
    cirrus_gain = (1.6 if band_index <= 2 else 1.0) * sky.cirrus
    value = value * (1.0 - sky.cirrus) + cirrus_gain * 0.35
    out: npt.NDArray[np.float32] = np.where(sky.saturated, SATURATED_REFLECTANCE, value).astype(
        np.float32
    )
    return out


def scene_classification(
    landcover: npt.NDArray[np.uint8],
    ndvi: npt.NDArray[np.float32],
    flooded: npt.NDArray[np.bool_],
    sky: Sky,
) -> npt.NDArray[np.uint8]:
    """ESA SCL codes on the scene grid (see the module docstring)."""
    scl = np.where(ndvi > 0.4, 4, 5).astype(np.uint8)
    scl[(landcover == CODE["water"]) | flooded] = 6
    scl[sky.shadow > 0] = 3
    scl[sky.cirrus > 0] = 10
    scl[(sky.cloud > 0) | (sky.haze > 0)] = 8
    scl[sky.cloud > 0.6] = 9
    scl[sky.saturated] = 1
    return scl


INVALID_PRIORITY = (9, 8, 10, 3, 1)
"""Invalid SCL classes, the strongest first (a 20 m pixel takes the strongest of its 10 m
pixels)."""


def block_consistent(scl: npt.NDArray[np.uint8], factor: int = 2) -> npt.NDArray[np.uint8]:
    """SCL where every ``factor x factor`` block touched by an invalid class is that class.

    Sen2Cor's SCL is a 20 m product: the 10 m ``valid`` mask of ``senprep s2`` comes from it, so
    a 10 m pixel touched by cloud, haze, cirrus, shadow or saturation must carry an invalid
    class in its whole 20 m pixel (the strongest one present), or a hazy pixel would pass as
    clear. ``scl`` must start on the 20 m lattice and have sides that are multiples of
    ``factor``.
    """
    rows, cols = scl.shape
    blocks = scl.reshape(rows // factor, factor, cols // factor, factor)
    out = scl.copy()
    view = out.reshape(rows // factor, factor, cols // factor, factor).transpose(0, 2, 1, 3)
    assigned = np.zeros((rows // factor, cols // factor), dtype=bool)
    for code in INVALID_PRIORITY:
        present = (blocks == code).any(axis=(1, 3)) & ~assigned
        view[present] = code
        assigned |= present
    return out
