"""What the land is doing on a given day: crop calendars, vegetation state, soil and weather.

Each parcel draws its own calendar around the crop's regional one (western/central European
dates; Gaussian jitter of a few days), so neighbouring fields of one crop differ:

* **winter cereal** (sown in autumn): green-up in April, LAI ~5 by mid May, senescence from late
  June, harvest mid/late July (stubble), some fields ploughed 1-3 weeks later;
* **rapeseed** (autumn-sown): flowering (yellow) from late April to mid May, senescence in June,
  harvest early July;
* **maize**: seedbed and sowing late April-May (bare, smooth), emergence ~10 days later, rapid
  growth in June-July (logistic LAI, Baret & Guyot's double-logistic form);
* **sugar beet**: sown late March-April, canopy closure in June;
* **grassland**: mown fields cut in mid/late May and again in late June (LAI drops to ~0.6, then
  regrows ~0.08 m²/m² per day), pastures stay at LAI ~2.5;
* **deciduous forest** leafs out in late April (LAI 0.8 -> 5), **coniferous** stays at ~4;
* **bare soil** (fallow) is ploughed at some date.

Soil moisture follows an antecedent-precipitation bucket model (exponential drying, time
constant ~6 days) driven by a daily rain series; one heavy rain floods the lowest land of the
valley for a few days around one acquisition. The state of a day (:class:`State`) feeds both the
optical (:mod:`~sen_preproc.synth.optics`) and the radar (:mod:`~sen_preproc.synth.radar`)
models, so S1 and S2 see the same events.

Times are days of year (float, UTC), roughness ``ks`` is dimensionless (C band, ``k = 2π/λ``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from sen_preproc.synth.fields import gaussian_field
from sen_preproc.synth.landscape import CODE, Landscape

FloatArray = npt.NDArray[np.float64]

EVENT_CODES = {
    "none": 0,
    "growth": 1,
    "harvest": 2,
    "mowing": 3,
    "ploughing": 4,
    "flooding": 5,
    "senescence": 6,
}
"""Codes of the change masks (``truth/change_<a>_<b>.tif``), strongest first when several."""

CALENDARS: dict[str, dict[str, tuple[float, float]]] = {
    # (mean, standard deviation) of each parcel parameter; days of year
    "winter_cereal": {
        "green_up": (100, 7),
        "lai_max": (5.0, 0.7),
        "senescence": (175, 5),
        "harvest": (200, 7),
    },
    "rapeseed": {
        "green_up": (95, 6),
        "lai_max": (4.0, 0.5),
        "flowering": (122, 4),
        "senescence": (160, 5),
        "harvest": (190, 6),
    },
    "maize": {"sowing": (120, 6), "lai_max": (4.5, 0.6), "half_growth": (55, 5)},
    "sugar_beet": {"sowing": (95, 6), "lai_max": (4.5, 0.5), "half_growth": (60, 6)},
    "grassland": {"lai_max": (4.2, 0.4), "first_cut": (140, 5), "second_cut": (180, 6)},
    "bare_soil": {"ploughing": (150, 40)},
}
MOWN_SHARE = 0.7
PLOUGH_AFTER_HARVEST_SHARE = 0.5
FLOOD_HALF_DURATION_DAYS = 4.0


def logistic(x: FloatArray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclass
class ParcelTable:
    """Per-parcel parameters, arrays indexed by parcel id (``NaN`` where not applicable)."""

    klass: npt.NDArray[np.uint8]
    values: dict[str, FloatArray] = field(default_factory=dict)

    def get(self, name: str) -> FloatArray:
        return self.values[name]

    def records(self, ids: npt.NDArray[np.intp]) -> list[dict[str, Any]]:
        out = []
        for i in ids:
            entry: dict[str, Any] = {"id": int(i), "class": int(self.klass[i])}
            for key, array in self.values.items():
                if np.isfinite(array[i]):
                    entry[key] = round(float(array[i]), 3)
            out.append(entry)
        return out


def draw_parcels(landscape: Landscape, rng: np.random.Generator) -> ParcelTable:
    """Draw every parcel's calendar, soil brightness and seedbed roughness."""
    klass = landscape.parcel_class
    n = klass.size
    nan = np.full(n, np.nan)
    values: dict[str, FloatArray] = {}

    def draw(name: str, crop: str, key: str | None = None) -> None:
        mean, std = CALENDARS[crop][key or name]
        mask = klass == CODE[crop]
        values.setdefault(name, nan.copy())[mask] = rng.normal(mean, std, int(mask.sum()))

    for crop, params in CALENDARS.items():
        for key in params:
            draw(key, crop)
    harvested = np.isin(klass, (CODE["winter_cereal"], CODE["rapeseed"]))
    plough = nan.copy()
    later = harvested & (rng.random(n) < PLOUGH_AFTER_HARVEST_SHARE)
    plough[later] = values["harvest"][later] + rng.uniform(5, 25, int(later.sum()))
    bare = klass == CODE["bare_soil"]
    plough[bare] = values["ploughing"][bare]
    values["ploughing"] = plough
    grass = klass == CODE["grassland"]
    mown = grass & (rng.random(n) < MOWN_SHARE)
    values["first_cut"][grass & ~mown] = np.nan
    values["second_cut"][grass & ~mown] = np.nan
    values["second_cut"][mown & (rng.random(n) > 0.6)] = np.nan
    values["lai_max"][grass & ~mown] = rng.normal(2.5, 0.4, int((grass & ~mown).sum()))
    values["soil_brightness"] = rng.uniform(0.75, 1.25, n)
    values["seedbed_ks"] = rng.uniform(0.5, 0.8, n)
    values["soil_moisture_offset"] = rng.normal(0.0, 0.02, n)
    return ParcelTable(klass=klass, values=values)


@dataclass(frozen=True)
class Weather:
    """Daily rain (mm) and surface soil moisture (m³/m³) of one year, wind per acquisition."""

    rain_mm: FloatArray
    soil_moisture: FloatArray
    flood_day: float | None

    def moisture_at(self, day: float) -> float:
        d = int(np.clip(math.floor(day), 0, self.soil_moisture.size - 1))
        return float(self.soil_moisture[d])


def draw_weather(rng: np.random.Generator, flood_day: float | None) -> Weather:
    """A year of daily rain (wet day probability 0.3, exponential amounts, mean 6 mm) and the
    soil moisture of a bucket model ``mv' = mv_dry + (mv - mv_dry) e^(-1/6) + 0.008 rain``
    (clipped to 0.05..0.42); a 45 mm storm two days before ``flood_day``."""
    days = 366
    rain = np.where(rng.random(days) < 0.3, rng.exponential(6.0, days), 0.0)
    if flood_day is not None:
        storm = int(max(flood_day - 2, 0))
        rain[storm] += 45.0
    moisture = np.empty(days)
    mv = 0.2
    for d in range(days):
        mv = 0.07 + (mv - 0.07) * math.exp(-1.0 / 6.0) + 0.008 * rain[d]
        mv = min(max(mv, 0.05), 0.42)
        moisture[d] = mv
    return Weather(rain_mm=rain, soil_moisture=moisture, flood_day=flood_day)


@dataclass
class State:
    """The land on one day, per pixel of the scene grid (float32 arrays ``(rows, cols)``)."""

    day: float
    lai: npt.NDArray[np.float32]
    senescence: npt.NDArray[np.float32]  # 0 green .. 1 dry canopy
    flowering: npt.NDArray[np.float32]  # 0..1 (rapeseed)
    stubble: npt.NDArray[np.float32]  # 0..1 straw residue on the soil
    soil_moisture: npt.NDArray[np.float32]  # m³/m³
    ks: npt.NDArray[np.float32]  # soil roughness k*s
    flooded: npt.NDArray[np.bool_]


class Phenology:
    """Evaluates :class:`State` for any day from the landscape, the parcel table and the weather.

    Within-field texture: LAI varies by ±10 % at 30 m and ±10 % at 120 m (Gaussian fields),
    moisture by ±0.02 (60 m), so fields are not flat.
    """

    def __init__(
        self, landscape: Landscape, table: ParcelTable, weather: Weather, rng: np.random.Generator
    ) -> None:
        self.landscape = landscape
        self.table = table
        self.weather = weather
        shape = landscape.grid.shape
        texture = 0.10 * gaussian_field(shape, 3.0, rng) + 0.10 * gaussian_field(shape, 12.0, rng)
        self.lai_texture = np.clip(1.0 + texture, 0.5, 1.5).astype(np.float32)
        self.moisture_texture = (0.02 * gaussian_field(shape, 6.0, rng)).astype(np.float32)
        # floodable: low land of the valley, relative to the nearest river pixel
        river = landscape.river
        if river.any():
            distance, (iy, ix) = ndimage.distance_transform_edt(~river, return_indices=True)
            relative = landscape.height_m - landscape.height_m[iy, ix]
            # one stretch of the valley floods: low land near the river where a smooth field
            # is positive (the river's meanders and embankments are not all alike)
            stretch = gaussian_field(shape, 40.0, rng) > 0.3
            self.floodable = (
                (relative < 1.0) & (distance < 35) & ~river & stretch
                & np.isin(landscape.landcover, (1, 2, 3, 4, 5, 11))
            )  # fmt: skip
            self.wet_valley = np.exp(-distance / 40.0).astype(np.float32)
        else:
            self.floodable = np.zeros(shape, dtype=bool)
            self.wet_valley = np.zeros(shape, dtype=np.float32)

    def parcel_values(self, name: str) -> npt.NDArray[np.float32]:
        out: npt.NDArray[np.float32] = self.table.get(name).astype(np.float32)[
            self.landscape.parcel
        ]
        return out

    def state(self, day: float) -> State:
        """The land on day-of-year ``day``."""
        cover = self.landscape.landcover
        shape = cover.shape
        pv = self.parcel_values
        lai = np.zeros(shape, np.float32)
        sen = np.zeros(shape, np.float32)
        flower = np.zeros(shape, np.float32)
        stubble = np.zeros(shape, np.float32)
        ks = pv("seedbed_ks").copy()
        ks[~np.isfinite(ks)] = 0.5

        # winter crops: cereal and rapeseed
        for crop in ("winter_cereal", "rapeseed"):
            mask = cover == CODE[crop]
            up, lmax = pv("green_up")[mask], pv("lai_max")[mask]
            t_sen, t_h = pv("senescence")[mask], pv("harvest")[mask]
            base = 1.2 if crop == "winter_cereal" else 1.5
            green = base + (lmax - base) * logistic((day - up) / 8.0)
            frac = np.clip((day - t_sen) / np.maximum(t_h - t_sen - 3.0, 1.0), 0.0, 1.0)
            crop_lai = green * (1.0 - 0.45 * frac)
            harvested = day >= t_h
            lai[mask] = np.where(harvested, 0.05, crop_lai)
            sen[mask] = np.where(harvested, 1.0, frac)
            stubble[mask] = np.where(harvested, 1.0, 0.0)
            ks[mask] = np.where(harvested, 0.6, 0.6)
            if crop == "rapeseed":
                peak = pv("flowering")[mask]
                flower[mask] = np.where(harvested, 0.0, np.exp(-(((day - peak) / 7.0) ** 2)))
        # spring crops: maize and sugar beet (ploughed in winter, seedbed at sowing)
        for crop in ("maize", "sugar_beet"):
            mask = cover == CODE[crop]
            sow, lmax, half = pv("sowing")[mask], pv("lai_max")[mask], pv("half_growth")[mask]
            grown = lmax * logistic((day - sow - half) / 8.0)
            grown = np.where(day < sow + 10.0, 0.0, grown)  # emergence ~10 days after sowing
            lai[mask] = grown
            ks[mask] = np.where(day < sow - 5.0, 1.6, pv("seedbed_ks")[mask])
        # grassland: mown or grazed
        mask = cover == CODE["grassland"]
        lmax = pv("lai_max")[mask]
        lmax = np.where(np.isfinite(lmax), lmax, 2.5)  # margins and gardens
        grass = lmax * logistic((day - 105.0) / 10.0) + 0.8
        grass = np.minimum(grass, lmax)
        for cut in ("first_cut", "second_cut"):
            t_cut = pv(cut)[mask]
            cut_now = np.isfinite(t_cut) & (day >= t_cut)
            regrown = np.minimum(lmax, 0.6 + 0.08 * (day - t_cut))
            grass = np.where(cut_now, np.minimum(grass, regrown), grass)
        lai[mask] = grass
        ks[mask] = 0.5
        # forests
        lai[cover == CODE["deciduous_forest"]] = 0.8 + 4.2 * float(logistic((day - 118.0) / 6.0))
        lai[cover == CODE["coniferous_forest"]] = 4.0
        ks[np.isin(cover, (6, 7))] = 0.7
        # bare soil: rough, smoothed by rain; ploughing makes it rough again
        mask = cover == CODE["bare_soil"]
        lai[mask] = 0.05
        ks[mask] = 1.1
        # ploughing after harvest (and of fallow)
        t_p = pv("ploughing")
        ploughed = np.isfinite(t_p) & (day >= t_p)
        ks = np.where(ploughed, 1.8, ks)
        stubble = np.where(ploughed, 0.0, stubble)
        lai = np.where(ploughed, 0.0, lai)
        sen = np.where(ploughed, 0.0, sen)
        lai *= self.lai_texture
        # soil moisture and floods
        moisture = (
            self.weather.moisture_at(day)
            + self.moisture_texture
            + 0.06 * self.wet_valley
            + np.nan_to_num(pv("soil_moisture_offset"))
        )
        flood_day = self.weather.flood_day
        flooded = np.zeros(shape, dtype=bool)
        if flood_day is not None and abs(day - flood_day) <= FLOOD_HALF_DURATION_DAYS:
            flooded = self.floodable.copy()
        return State(
            day=day,
            lai=lai.astype(np.float32),
            senescence=sen.astype(np.float32),
            flowering=flower.astype(np.float32),
            stubble=stubble.astype(np.float32),
            soil_moisture=np.clip(moisture, 0.04, 0.45).astype(np.float32),
            ks=ks.astype(np.float32),
            flooded=flooded,
        )


def change_mask(
    before: State, after: State, landcover: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint8]:
    """Event code per pixel between two states (:data:`EVENT_CODES`; the strongest wins:
    flooding, harvest, mowing, ploughing, senescence, growth)."""
    out = np.zeros(before.lai.shape, dtype=np.uint8)
    d_lai = after.lai - before.lai
    out[d_lai > 1.0] = EVENT_CODES["growth"]
    out[(after.senescence - before.senescence) > 0.3] = EVENT_CODES["senescence"]
    out[(after.ks - before.ks) > 0.6] = EVENT_CODES["ploughing"]
    out[(d_lai < -1.0) & (landcover == CODE["grassland"])] = EVENT_CODES["mowing"]
    out[(after.stubble > 0.5) & (before.stubble < 0.5)] = EVENT_CODES["harvest"]
    out[after.flooded != before.flooded] = EVENT_CODES["flooding"]
    return out


def crop_state(state: State, window: tuple[slice, slice]) -> State:
    """The state inside ``window`` (copies, so the full-grid arrays can be freed)."""
    return State(
        day=state.day,
        lai=state.lai[window].copy(),
        senescence=state.senescence[window].copy(),
        flowering=state.flowering[window].copy(),
        stubble=state.stubble[window].copy(),
        soil_moisture=state.soil_moisture[window].copy(),
        ks=state.ks[window].copy(),
        flooded=state.flooded[window].copy(),
    )
