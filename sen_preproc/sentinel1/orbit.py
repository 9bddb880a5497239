"""Orbit state vectors: reading ESA EOF orbit files and interpolating positions/velocities.

The annotation carries ~10-17 state vectors (10 s apart, predicted or restituted). Precise
(``AUX_POEORB``) or restituted (``AUX_RESORB``) orbit files replace them after a check that
their validity window covers the acquisition. Interpolation fits a polynomial in time to the
state vectors around the acquisition (as SNAP's Apply-Orbit-File ``polyDegree`` and sarsen's
``OrbitPolyfitInterpolator`` do), least squares on positions and velocities together.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from lxml import etree

from sen_preproc.errors import OrbitError
from sen_preproc.sentinel1.product import OrbitStateVectors

FloatArray = npt.NDArray[np.float64]

ORBIT_MARGIN_S = 60.0
"""Seconds of state vectors kept (and required) on each side of the acquisition."""


@dataclass(frozen=True)
class OrbitFile:
    """Content of an EOF orbit file."""

    state_vectors: OrbitStateVectors
    validity_start: np.datetime64
    validity_stop: np.datetime64
    mission: str
    file_type: str


def _strip_time(text: str) -> np.datetime64:
    return np.datetime64(text.strip().split("=", 1)[-1], "ns")


def read_orbit_file(path: str | Path) -> OrbitFile:
    """Read an ESA Earth-Explorer orbit file (``*.EOF``, plain or zipped).

    Raises
    ------
    OrbitError
        When the file is not an EOF orbit file or holds no state vectors.
    """
    src = Path(path)
    if not src.is_file():
        raise OrbitError(f"{src}: orbit file not found; pass an existing .EOF (or zipped) file")
    try:
        if zipfile.is_zipfile(src):
            with zipfile.ZipFile(src) as archive:
                members = [n for n in archive.namelist() if n.upper().endswith(".EOF")]
                if not members:
                    raise OrbitError(f"{src}: the zip holds no .EOF orbit file")
                root = etree.fromstring(archive.read(members[0]))
        else:
            root = etree.parse(str(src)).getroot()
    except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError) as err:
        raise OrbitError(
            f"{src}: not a readable EOF orbit file ({err}); download it again"
        ) from err

    def text(name: str) -> str:
        found = root.xpath(f"(.//*[local-name()='{name}'])[1]/text()")
        return str(found[0]).strip() if found else ""

    osvs = root.xpath(".//*[local-name()='OSV']")
    if not osvs or not text("Validity_Start"):
        raise OrbitError(
            f"{src}: no orbit state vectors (List_of_OSVs) found; pass a Sentinel-1 "
            "AUX_POEORB or AUX_RESORB .EOF file"
        )

    def field_of(osv: etree._Element, name: str) -> str:
        found = osv.xpath(f"./*[local-name()='{name}']/text()")
        return str(found[0]) if found else ""

    try:
        times = np.array([_strip_time(field_of(o, "UTC")) for o in osvs], dtype="datetime64[ns]")
        pos = np.array([[float(field_of(o, k)) for k in ("X", "Y", "Z")] for o in osvs])
        vel = np.array([[float(field_of(o, k)) for k in ("VX", "VY", "VZ")] for o in osvs])
        validity = (_strip_time(text("Validity_Start")), _strip_time(text("Validity_Stop")))
    except ValueError as err:
        raise OrbitError(
            f"{src}: a state vector or validity time does not parse ({err}); the orbit file is "
            "damaged: download it again"
        ) from err
    if np.isnat(times).any() or any(np.isnat(v) for v in validity):
        raise OrbitError(f"{src}: a state vector or validity time is missing; download it again")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(vel))):
        raise OrbitError(
            f"{src}: state vectors hold non-numeric positions or velocities; the orbit file is "
            "damaged: download it again"
        )
    name = text("File_Name") or src.stem
    mission = text("Mission").upper() or name[:3].upper()
    match = re.search(r"(?:S|SENTINEL-)1([A-D])", mission) or re.search(r"S1([A-D])", name.upper())
    return OrbitFile(
        state_vectors=OrbitStateVectors(
            times=times, positions_m=pos, velocities_m_s=vel, source=src.name
        ),
        validity_start=validity[0],
        validity_stop=validity[1],
        mission=f"S1{match.group(1)}" if match else mission,
        file_type=text("File_Type"),
    )


def check_orbit_covers(
    orbit: OrbitFile,
    start: np.datetime64,
    stop: np.datetime64,
    mission: str,
    source: str | Path,
) -> None:
    """Raise :class:`OrbitError` unless the orbit file fits the acquisition ``start..stop``."""
    if orbit.mission and mission and orbit.mission != mission.upper():
        raise OrbitError(
            f"{source}: orbit file is for {orbit.mission} but the product is {mission}; "
            f"pass a {mission} orbit file"
        )
    margin = np.timedelta64(int(ORBIT_MARGIN_S * 1e9), "ns")
    if orbit.validity_start > start - margin or orbit.validity_stop < stop + margin:
        raise OrbitError(
            f"{source}: orbit validity {orbit.validity_start} – {orbit.validity_stop} does not "
            f"cover the acquisition {start} – {stop} (±{ORBIT_MARGIN_S:.0f} s); pass the "
            "POEORB/RESORB file whose validity includes the acquisition"
        )
    times = orbit.state_vectors.times
    if np.sum((times >= start - margin) & (times <= stop + margin)) < 4:
        raise OrbitError(
            f"{source}: fewer than 4 state vectors around the acquisition {start} – {stop}; "
            "the orbit file is incomplete"
        )


class OrbitInterpolator:
    """Polynomial orbit model around an acquisition.

    Times are seconds relative to ``epoch``. Positions/velocities are ECEF (m, m/s).

    Parameters
    ----------
    state_vectors : OrbitStateVectors
        The orbit (annotation or EOF).
    epoch : numpy.datetime64
        Time origin (e.g. the first line time).
    start_s, stop_s : float
        Acquisition span relative to ``epoch``; vectors within ``ORBIT_MARGIN_S`` around it
        are used.
    degree : int
        Polynomial degree (capped by the number of vectors).
    """

    def __init__(
        self,
        state_vectors: OrbitStateVectors,
        epoch: np.datetime64,
        start_s: float,
        stop_s: float,
        degree: int = 5,
    ) -> None:
        t = (state_vectors.times - epoch) / np.timedelta64(1, "ns") * 1e-9
        keep = (t >= start_s - ORBIT_MARGIN_S) & (t <= stop_s + ORBIT_MARGIN_S)
        if keep.sum() < 4:
            # fall back to the nearest vectors (short annotation orbit lists)
            nearest = np.argsort(np.abs(t - 0.5 * (start_s + stop_s)))[: min(8, t.size)]
            keep = np.zeros(t.size, dtype=bool)
            keep[nearest] = True
        if keep.sum() < 4:
            raise OrbitError(
                f"only {int(keep.sum())} orbit state vectors available; at least 4 are needed"
            )
        t_sel = t[keep]
        self.epoch = epoch
        self.centre_s = float(0.5 * (t_sel.min() + t_sel.max()))
        self.scale_s = float(max(0.5 * (t_sel.max() - t_sel.min()), 1.0))
        self.degree = int(min(degree, keep.sum() - 1))
        x = (t_sel - self.centre_s) / self.scale_s
        n_coef = self.degree + 1
        powers = np.arange(n_coef)
        # design matrices for position p(x) = sum c_k x^k and velocity dp/dt = sum k c_k x^(k-1)/s
        a_pos = x[:, None] ** powers
        a_vel = np.zeros_like(a_pos)
        a_vel[:, 1:] = powers[1:] * x[:, None] ** (powers[1:] - 1) / self.scale_s
        design = np.vstack([a_pos, a_vel * 1000.0])  # velocity rows weighted (m/s vs m scale)
        rhs = np.vstack(
            [state_vectors.positions_m[keep], state_vectors.velocities_m_s[keep] * 1000.0]
        )
        coeffs, *_ = np.linalg.lstsq(design, rhs, rcond=None)
        self.coefficients: FloatArray = np.asarray(
            coeffs.T, dtype=np.float64
        ).copy()  # (3, n_coef), ascending powers

    def state(self, t_s: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Position (m), velocity (m/s) and acceleration (m/s²) at ``t_s`` in one pass.

        Each is a tuple-like array of shape ``(3, *t.shape)``.
        """
        x = (np.asarray(t_s, dtype=np.float64) - self.centre_s) / self.scale_s
        pos = np.empty((3, *x.shape))
        vel = np.empty((3, *x.shape))
        acc = np.empty((3, *x.shape))
        for axis in range(3):
            coeffs = self.coefficients[axis]
            p = np.full(x.shape, coeffs[-1])
            dp = np.zeros(x.shape)
            ddp = np.zeros(x.shape)
            for c in coeffs[-2::-1]:
                ddp = ddp * x + 2.0 * dp
                dp = dp * x + p
                p = p * x + c
            pos[axis] = p
            vel[axis] = dp / self.scale_s
            acc[axis] = ddp / self.scale_s**2
        return pos, vel, acc

    def taylor(self, t0_s: float, order: int = 4) -> FloatArray:
        """Derivatives of position at ``t0_s``: shape ``(order + 1, 3)``, row k = d^k p/dt^k.

        ``p(t0 + dt) = sum_k row_k dt^k / k!``; over the ~2 s spanned by a processing block the
        terms above order 4 are below a micrometre.
        """
        x0 = (t0_s - self.centre_s) / self.scale_s
        out = np.zeros((order + 1, 3))
        coeffs = self.coefficients
        for k in range(order + 1):
            if coeffs.shape[1] == 0:
                break
            powers = x0 ** np.arange(coeffs.shape[1])
            out[k] = coeffs @ powers / self.scale_s**k
            coeffs = coeffs[:, 1:] * np.arange(1, coeffs.shape[1])
        return out
