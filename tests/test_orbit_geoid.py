"""Orbit files and interpolation, geoid undulations, border-noise mask."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from sen_preproc.errors import MissingDataError, OrbitError
from sen_preproc.sentinel1 import geoid
from sen_preproc.sentinel1.border_noise import border_noise_mask
from sen_preproc.sentinel1.geodesy import geodetic_to_ecef
from sen_preproc.sentinel1.orbit import OrbitInterpolator, check_orbit_covers, read_orbit_file
from sen_preproc.sentinel1.product import OrbitStateVectors

EPOCH = np.datetime64("2021-12-23T05:11:00", "ns")


def circular_orbit(times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A circular orbit (radius 7071 km, period ~99 min) in a rotating frame."""
    radius, omega, earth = 7_071_000.0, 2 * np.pi / 5940.0, 7.2921159e-5
    inc = np.radians(98.18)
    u = omega * times_s
    inertial = radius * np.stack([np.cos(u), np.sin(u) * np.cos(inc), np.sin(u) * np.sin(inc)])
    v_inertial = (
        radius * omega * np.stack([-np.sin(u), np.cos(u) * np.cos(inc), np.cos(u) * np.sin(inc)])
    )
    th = earth * times_s
    c, s = np.cos(th), np.sin(th)
    pos = np.stack(
        [c * inertial[0] + s * inertial[1], -s * inertial[0] + c * inertial[1], inertial[2]]
    )
    vel = np.stack(
        [
            c * v_inertial[0] + s * v_inertial[1] + earth * pos[1],
            -s * v_inertial[0] + c * v_inertial[1] - earth * pos[0],
            v_inertial[2],
        ]
    )
    return pos.T, vel.T


def state_vectors(times_s: np.ndarray) -> OrbitStateVectors:
    pos, vel = circular_orbit(times_s)
    times = EPOCH + (times_s * 1e9).astype("timedelta64[ns]")
    return OrbitStateVectors(times=times, positions_m=pos, velocities_m_s=vel, source="test")


def test_interpolator_reproduces_orbit_between_vectors() -> None:
    svs = state_vectors(np.arange(-60.0, 100.0, 10.0))
    interp = OrbitInterpolator(svs, EPOCH, 0.0, 25.0)
    t = np.linspace(0.0, 25.0, 101)
    pos, vel = circular_orbit(t)
    p, v, a = interp.state(t)
    assert np.abs(p.T - pos).max() < 0.01  # < 1 cm between 10 s vectors
    assert np.abs(v.T - vel).max() < 1e-4
    # velocity and acceleration are the derivatives of the interpolated position and velocity
    h = 1e-3
    np.testing.assert_allclose(
        v, (interp.state(t + h)[0] - interp.state(t - h)[0]) / (2 * h), atol=1e-4
    )
    np.testing.assert_allclose(
        a, (interp.state(t + h)[1] - interp.state(t - h)[1]) / (2 * h), atol=1e-6
    )
    taylor = interp.taylor(12.5)
    dt = 0.7
    series = sum(taylor[k] * dt**k / np.prod(np.arange(1, k + 1)) for k in range(taylor.shape[0]))
    np.testing.assert_allclose(series, interp.state(12.5 + dt)[0], atol=1e-6)


def eof_text(times_s: np.ndarray, start: str, stop: str, mission: str = "S1B") -> str:
    pos, vel = circular_orbit(times_s)
    osvs = []
    for t, p, v in zip(times_s, pos, vel, strict=True):
        utc = (EPOCH + np.timedelta64(int(t * 1e9), "ns")).astype("datetime64[us]")
        osvs.append(
            f"<OSV><TAI>TAI={utc}</TAI><UTC>UTC={utc}</UTC><UT1>UT1={utc}</UT1>"
            f"<Absolute_Orbit>+30148</Absolute_Orbit>"
            f'<X unit="m">{p[0]:.6f}</X><Y unit="m">{p[1]:.6f}</Y><Z unit="m">{p[2]:.6f}</Z>'
            f'<VX unit="m/s">{v[0]:.6f}</VX><VY unit="m/s">{v[1]:.6f}</VY><VZ unit="m/s">{v[2]:.6f}</VZ>'
            "<Quality>NOMINAL</Quality></OSV>"
        )
    return (
        '<?xml version="1.0"?><Earth_Explorer_File><Earth_Explorer_Header><Fixed_Header>'
        f"<File_Name>{mission}_OPER_AUX_POEORB_OPOD_TEST</File_Name><Mission>Sentinel-1{mission[-1]}</Mission>"
        "<File_Type>AUX_POEORB</File_Type>"
        f"<Validity_Period><Validity_Start>UTC={start}</Validity_Start><Validity_Stop>UTC={stop}</Validity_Stop>"
        "</Validity_Period></Fixed_Header></Earth_Explorer_Header>"
        f'<Data_Block type="xml"><List_of_OSVs count="{len(osvs)}">{"".join(osvs)}</List_of_OSVs></Data_Block>'
        "</Earth_Explorer_File>"
    )


def test_read_orbit_file_plain_and_zipped(tmp_path: Path) -> None:
    times = np.arange(-300.0, 300.0, 10.0)
    text = eof_text(times, "2021-12-23T05:00:00", "2021-12-23T05:20:00")
    plain = tmp_path / "S1B_OPER_AUX_POEORB_OPOD_TEST.EOF"
    plain.write_text(text)
    orbit = read_orbit_file(plain)
    assert orbit.mission == "S1B" and orbit.file_type == "AUX_POEORB"
    assert orbit.state_vectors.times.size == times.size
    pos, _ = circular_orbit(times)
    np.testing.assert_allclose(orbit.state_vectors.positions_m, pos, atol=1e-5)
    zipped = tmp_path / "orbit.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr(plain.name, text)
    assert read_orbit_file(zipped).state_vectors.times.size == times.size
    start = np.datetime64("2021-12-23T05:11:22", "ns")
    stop = np.datetime64("2021-12-23T05:11:47", "ns")
    check_orbit_covers(orbit, start, stop, "S1B", plain)
    with pytest.raises(OrbitError, match="does not cover the acquisition"):
        check_orbit_covers(
            orbit, start + np.timedelta64(1, "h"), stop + np.timedelta64(1, "h"), "S1B", plain
        )
    with pytest.raises(OrbitError, match="orbit file is for S1B but the product is S1A"):
        check_orbit_covers(orbit, start, stop, "S1A", plain)


def test_read_orbit_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.EOF"
    bad.write_text("<not-xml")
    with pytest.raises(OrbitError, match="not a readable EOF orbit file"):
        read_orbit_file(bad)
    empty = tmp_path / "empty.EOF"
    empty.write_text("<Earth_Explorer_File/>")
    with pytest.raises(OrbitError, match="no orbit state vectors"):
        read_orbit_file(empty)
    with pytest.raises(OrbitError, match="not found"):
        read_orbit_file(tmp_path / "missing.EOF")


def test_ecef_equals_pyproj_and_known_value() -> None:
    import pyproj

    ecef = geodetic_to_ecef(0.0, 0.0, 0.0)
    np.testing.assert_allclose(ecef, [6378137.0, 0.0, 0.0])
    lon = np.array([12.5, -70.0, 179.0])
    lat = np.array([42.0, -33.0, 80.0])
    h = np.array([100.0, 3000.0, -50.0])
    to_ecef = pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    expected = np.array(to_ecef.transform(lon, lat, h))
    np.testing.assert_allclose(geodetic_to_ecef(lon, lat, h), expected, atol=1e-6)


def test_geoid_undulation_known_value() -> None:
    if geoid.find_geoid_grid("egm96") is None:
        pytest.skip("PROJ's egm96_15.gtx not installed (apt-get install proj-data)")
    n = geoid.geoid_undulation_m(np.array([12.5]), np.array([42.0]))
    assert n[0] == pytest.approx(48.6, abs=0.5)  # EGM96 near Rome: ~ +48.6 m


def test_geoid_missing_grid_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    geoid._transformer.cache_clear()
    monkeypatch.setattr(geoid, "find_geoid_grid", lambda model="egm96": None)
    with pytest.raises(MissingDataError, match=r"apt-get install proj-data.*--no-geoid"):
        geoid.geoid_undulation_m(np.array([0.0]), np.array([0.0]))
    geoid._transformer.cache_clear()


def test_border_noise_mask_trims_low_edge_strips() -> None:
    rng = np.random.default_rng(0)
    rows, cols = 20, 2000
    intensity = rng.uniform(900, 1100, size=(rows, cols))
    near = rng.integers(10, 60, size=rows)
    far = rng.integers(5, 40, size=rows)
    for r in range(rows):
        intensity[r, : near[r]] = 5.0
        intensity[r, cols - far[r] :] = 3.0
    mask = border_noise_mask(intensity, 0, cols)
    assert mask.sum() == near.sum() + far.sum()
    for r in range(rows):
        assert mask[r, : near[r]].all() and not mask[r, near[r]]
        assert mask[r, cols - far[r] :].all() and not mask[r, cols - far[r] - 1]
    # a window away from both edges is untouched
    assert not border_noise_mask(intensity[:, 600:1400], 600, cols).any()
