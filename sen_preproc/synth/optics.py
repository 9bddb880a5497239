"""Surface reflectance (Sentinel-2 bands) of the simulated land from its state.

Vegetation follows the semi-empirical exponential canopy model used by CLAIR and its relatives
(Clevers 1989; Baret & Guyot 1991): ``R(λ) = R∞(λ) + (R_soil(λ) - R∞(λ)) · exp(-K(λ) · LAI)``,
with ``R∞`` the reflectance of an infinitely thick canopy (green, mixed towards a dry canopy
with senescence and towards a yellow one when rapeseed flowers) and ``K`` a band's extinction.
Soil follows the soil line: one spectrum scaled by a per-parcel brightness (0.75-1.25),
darkened by moisture (Lobell & Asner 2002: roughly linear in volumetric water content, more in
the SWIR) and mixed with straw where stubble lies. Water, roofs and asphalt have fixed spectra.
A within-field texture (Gaussian random field, ±3 %) keeps the fields from being flat.

All spectra are reflectance fractions in the order of :data:`BANDS` (the Level-2A bands; ESA
codes ``B01`` ... ``B12``, ``B8A``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sen_preproc.synth.fields import gaussian_field
from sen_preproc.synth.landscape import CODE, Landscape
from sen_preproc.synth.phenology import State

BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
SPECTRA: dict[str, tuple[float, ...]] = {
    "green_canopy": (
        0.025,
        0.030,
        0.075,
        0.030,
        0.110,
        0.330,
        0.430,
        0.470,
        0.480,
        0.450,
        0.220,
        0.100,
    ),
    "dry_canopy": (
        0.060,
        0.070,
        0.100,
        0.130,
        0.170,
        0.220,
        0.250,
        0.270,
        0.280,
        0.280,
        0.380,
        0.280,
    ),
    "flowering_rapeseed": (
        0.030,
        0.040,
        0.140,
        0.090,
        0.190,
        0.360,
        0.420,
        0.450,
        0.460,
        0.430,
        0.230,
        0.110,
    ),
    "deciduous_canopy": (
        0.020,
        0.025,
        0.055,
        0.025,
        0.090,
        0.270,
        0.340,
        0.370,
        0.380,
        0.360,
        0.170,
        0.070,
    ),
    "coniferous_canopy": (
        0.015,
        0.018,
        0.035,
        0.018,
        0.060,
        0.170,
        0.220,
        0.240,
        0.250,
        0.240,
        0.110,
        0.045,
    ),
    "soil": (0.070, 0.080, 0.110, 0.150, 0.180, 0.200, 0.220, 0.240, 0.250, 0.260, 0.340, 0.290),
    "straw": (0.090, 0.110, 0.150, 0.190, 0.230, 0.260, 0.280, 0.300, 0.310, 0.310, 0.420, 0.330),
    "lake": (0.055, 0.050, 0.045, 0.025, 0.018, 0.010, 0.008, 0.007, 0.006, 0.004, 0.003, 0.002),
    "river": (0.060, 0.060, 0.065, 0.050, 0.040, 0.020, 0.015, 0.012, 0.010, 0.006, 0.004, 0.003),
    "roof_tiles": (
        0.080,
        0.080,
        0.100,
        0.170,
        0.200,
        0.220,
        0.230,
        0.250,
        0.260,
        0.260,
        0.320,
        0.270,
    ),
    "roof_concrete": (
        0.160,
        0.170,
        0.190,
        0.200,
        0.210,
        0.220,
        0.230,
        0.240,
        0.240,
        0.240,
        0.260,
        0.230,
    ),
    "asphalt": (0.070, 0.070, 0.080, 0.090, 0.100, 0.100, 0.110, 0.110, 0.120, 0.120, 0.140, 0.130),
}
"""Reflectance spectra (typical library values: USGS/ASTER spectral libraries resampled to the
MSI bands, rounded)."""
EXTINCTION = (0.75, 0.75, 0.70, 0.75, 0.60, 0.50, 0.45, 0.42, 0.42, 0.42, 0.50, 0.55)
"""``K(λ)`` of the canopy model per band (per unit LAI)."""
MOISTURE_DARKENING = (0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.40, 0.55, 0.55)
"""Relative darkening of soil per 0.3 m³/m³ of moisture above 0.10."""
TEXTURE_AMPLITUDE = 0.03


class Optics:
    """Reflectance of every band on the scene grid for a :class:`State`."""

    def __init__(
        self, landscape: Landscape, brightness: npt.NDArray[np.float64], rng: np.random.Generator
    ) -> None:
        self.landscape = landscape
        # per parcel, with soil patterns within the fields (±10 %, 150 m)
        patterns = 1.0 + 0.10 * gaussian_field(landscape.grid.shape, 15.0, rng)
        self.brightness = (brightness[landscape.parcel] * patterns).astype(np.float32)
        shape = landscape.grid.shape
        self.texture = (1.0 + TEXTURE_AMPLITUDE * gaussian_field(shape, 1.5, rng)).astype(
            np.float32
        )
        cell = (np.arange(shape[0])[:, None] // 3) * 7919 + (np.arange(shape[1])[None, :] // 3)
        self.tiled_roof = ((cell * 2654435761) % 97) < 60  # 60 % red tiles, else concrete

    def reflectance(
        self, state: State, bands: tuple[str, ...] = BANDS
    ) -> dict[str, npt.NDArray[np.float32]]:
        """``{band: (rows, cols) float32}`` surface reflectance (no atmosphere)."""
        return {band: self.band(state, band) for band in bands}

    def band(self, state: State, band: str) -> npt.NDArray[np.float32]:
        """Surface reflectance of one band ``(rows, cols)`` (computed band by band, so large
        scenes need one band's memory at a time)."""
        cover = self.landscape.landcover
        wet = np.clip((state.soil_moisture - 0.10) / 0.30, -0.3, 1.2)
        spectra = {k: np.float32(v[BANDS.index(band)]) for k, v in SPECTRA.items()}
        forest = np.isin(cover, (CODE["deciduous_forest"], CODE["coniferous_forest"]))
        water = cover == CODE["water"]
        i = BANDS.index(band)
        soil = spectra["soil"] * self.brightness * (1.0 - MOISTURE_DARKENING[i] * wet)
        soil = soil + state.stubble * 0.6 * (spectra["straw"] - soil)
        canopy = spectra["green_canopy"] + state.senescence * (
            spectra["dry_canopy"] - spectra["green_canopy"]
        )
        canopy = canopy + 0.8 * state.flowering * (spectra["flowering_rapeseed"] - canopy)
        canopy = np.where(cover == CODE["deciduous_forest"], spectra["deciduous_canopy"], canopy)
        canopy = np.where(cover == CODE["coniferous_forest"], spectra["coniferous_canopy"], canopy)
        understory = np.where(forest, 0.6 * soil, soil)
        value = canopy + (understory - canopy) * np.exp(-EXTINCTION[i] * state.lai)
        value = np.where(
            water,
            np.where(self.landscape.river, spectra["river"], spectra["lake"]),
            value,
        )
        value = np.where(
            cover == CODE["building"],
            np.where(self.tiled_roof, spectra["roof_tiles"], spectra["roof_concrete"]),
            value,
        )
        value = np.where(cover == CODE["road"], spectra["asphalt"], value)
        value = np.where(state.flooded, spectra["river"], value)
        out: npt.NDArray[np.float32] = (value * self.texture).astype(np.float32)
        return out


def ndvi(reflectance: dict[str, npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
    """(B08 - B04) / (B08 + B04)."""
    nir, red = reflectance["B08"], reflectance["B04"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out: npt.NDArray[np.float32] = ((nir - red) / (nir + red)).astype(np.float32)
    return out
