"""Where a simulated scene lies: its UTM zone, Sentinel-2 tile and acquisition times.

* The MGRS tile of the scene centre (zone, latitude band, 100 km square letters, the standard
  MGRS lettering: column letters cycle A-H / J-R / S-Z by zone, row letters A-V shifted by 5 in
  even zones); the tile's corner lies 20 m west of and 40 m north of its 100 km square, as in
  ESA's tiling (``MTD_TL.xml`` of T29UNU: ULX 499980, ULY 5900040). Norway's and Svalbard's
  zone exceptions are not modelled.
* Sentinel-2 passes at ~10:30 local solar time; Sentinel-1 at ~06:00 (descending) or ~18:00
  (ascending), every ``repeat_days`` (12 days for one satellite, 6 for two) on its cycle, so the
  S1 dates need not fall on the S2 dates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sen_preproc.errors import OptionError
from sen_preproc.grid import utm_crs_for

_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_COLUMN_SETS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
_ROWS = "ABCDEFGHJKLMNPQRSTUV"
TILE_SIZE_M = 109_800.0


@dataclass(frozen=True)
class Tile:
    """An MGRS/Sentinel-2 tile: name (``31UFS``), UTM EPSG and upper-left corner (m)."""

    name: str
    epsg: int
    ulx_m: float
    uly_m: float


def mgrs_tile(lon_deg: float, lat_deg: float, easting_m: float, northing_m: float) -> Tile:
    """The Sentinel-2 tile whose 100 km square holds the UTM point ``(easting, northing)``."""
    if not -80.0 <= lat_deg <= 84.0:
        raise OptionError(f"latitude {lat_deg:g} is outside UTM (-80..84); choose another --centre")
    epsg = int(utm_crs_for(lon_deg, lat_deg).to_epsg() or 0)
    zone = epsg % 100
    band = _BANDS[min(int((lat_deg + 80.0) // 8.0), len(_BANDS) - 1)]
    column = int(easting_m // 100_000)
    row = int(northing_m // 100_000)
    col_letter = _COLUMN_SETS[(zone - 1) % 3][column - 1]
    row_letter = _ROWS[(row + (5 if zone % 2 == 0 else 0)) % 20]
    return Tile(
        name=f"{zone:02d}{band}{col_letter}{row_letter}",
        epsg=epsg,
        ulx_m=column * 100_000.0 - 20.0,
        uly_m=(row + 1) * 100_000.0 + 40.0,
    )


def s2_time(day: date, lon_deg: float) -> datetime:
    """Sentinel-2's overpass: ~10:30 local solar time (naive UTC, whole seconds)."""
    hours = 10.5 - lon_deg / 15.0
    return datetime(day.year, day.month, day.day) + timedelta(seconds=round(hours * 3600.0))


def s1_times(
    s2_days: list[date], lon_deg: float, repeat_days: int, anchor_offset_days: int, ascending: bool
) -> list[datetime]:
    """The Sentinel-1 acquisition of the cycle nearest each S2 date (ties: the earlier one).

    The cycle runs every ``repeat_days`` from ``s2_days[0] - anchor_offset_days``; the time of
    day is ~06:00 (descending) or ~18:00 (ascending) local solar time.
    """
    anchor = s2_days[0] - timedelta(days=anchor_offset_days)
    hours = (18.0 if ascending else 6.0) - lon_deg / 15.0
    out = []
    for day in s2_days:
        k = math.floor((day - anchor).days / repeat_days + 0.5 - 1e-9)
        chosen = anchor + timedelta(days=k * repeat_days)
        out.append(
            datetime(chosen.year, chosen.month, chosen.day)
            + timedelta(seconds=round(hours * 3600.0) + 0.123456)
        )
    return out


def s2_relative_orbit(lon_deg: float) -> int:
    """A plausible Sentinel-2 relative orbit (1..143) for a longitude (orbits step ~-25° per
    orbit, 143 orbits in the 10-day cycle)."""
    return int(((-lon_deg + 180.0) / 360.0 * 143.0) % 143) + 1
