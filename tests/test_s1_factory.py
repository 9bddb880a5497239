"""Tests of the synthetic Sentinel-1 GRD product generator (sen_preproc.testing.s1_factory).

The products are checked three ways: against the readers that matter (xarray-sentinel opens every
group, sarsen geocodes and terrain-corrects them), against themselves (the geometry is exactly
self-consistent, the DNs invert ESA's calibration formula) and, when ``../shared`` is present,
against the real ESA files they imitate (element paths, ``count=`` attributes, number formats).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import warnings
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from lxml import etree

from sen_preproc.errors import OptionError
from sen_preproc.testing import s1_factory as f

xs = pytest.importorskip("xarray_sentinel")

SMALL = f.S1ProductSpec(lines=120, samples=160)
METADATA_GROUPS = (
    "calibration",
    "noise_range",
    "noise_azimuth",
    "coordinate_conversion",
    "gcp",
    "orbit",
)
C = 299_792_458.0


def hill(spec: f.S1ProductSpec) -> f.HeightField:
    return f.gaussian_hill(spec.centre_lon_deg, spec.centre_lat_deg, height_m=300.0, sigma_m=300.0)


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return f.write_s1_grd_product(tmp_path_factory.mktemp("s1"), SMALL)


@pytest.fixture(scope="module")
def zipped_product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return f.write_s1_grd_product(tmp_path_factory.mktemp("s1zip"), SMALL, zipped=True)


@pytest.fixture(scope="module")
def hill_product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return f.write_s1_grd_product(
        tmp_path_factory.mktemp("s1hill"), SMALL, terrain_height=hill(SMALL)
    )


def files_of(safe: Path, pol: str) -> dict[str, Path]:
    pol = pol.lower()
    return {
        "annotation": next((safe / "annotation").glob(f"*-{pol}-*.xml")),
        "calibration": next((safe / "annotation" / "calibration").glob(f"calibration-*-{pol}-*")),
        "noise": next((safe / "annotation" / "calibration").glob(f"noise-*-{pol}-*.xml")),
        "measurement": next((safe / "measurement").glob(f"*-{pol}-*.tiff")),
    }


def read_dn(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def azimuth_noise_blocks(noise_xml: Path) -> list[dict[str, object]]:
    root = etree.parse(str(noise_xml)).getroot()
    blocks = []
    for vec in root.iterfind("noiseAzimuthVectorList/noiseAzimuthVector"):
        blocks.append(
            {
                "swath": vec.findtext("swath"),
                "first_line": int(vec.findtext("firstAzimuthLine")),
                "last_line": int(vec.findtext("lastAzimuthLine")),
                "first_sample": int(vec.findtext("firstRangeSample")),
                "last_sample": int(vec.findtext("lastRangeSample")),
                "line": np.array(vec.findtext("line").split(), dtype=int),
                "lut": np.array(vec.findtext("noiseAzimuthLut").split(), dtype=float),
            }
        )
    return blocks


def esa_sigma0(safe: Path, pol: str) -> tuple[np.ndarray, np.ndarray]:
    """sigma0 = (DN^2 - N) / A^2 with LUTs read through xarray-sentinel (+ lxml for azimuth
    noise blocks, which xarray-sentinel does not expose); also returns the A^2 grid."""
    url = str(safe)
    cal = xs.open_sentinel1_dataset(url, group=f"IW/{pol}/calibration")
    nrange = xs.open_sentinel1_dataset(url, group=f"IW/{pol}/noise_range")
    lines = np.arange(SMALL.lines)
    pixels = np.arange(SMALL.samples)
    a = cal.sigmaNought.astype(float).interp(line=lines, pixel=pixels).values
    noise = nrange.noiseRangeLut.astype(float).interp(line=lines, pixel=pixels).values
    for block in azimuth_noise_blocks(files_of(safe, pol)["noise"]):
        az = np.interp(lines, block["line"], block["lut"])
        noise[:, block["first_sample"] : block["last_sample"] + 1] *= az[:, None]
    dn = read_dn(files_of(safe, pol)["measurement"]).astype(float)
    return (dn**2 - noise) / a**2, a**2


# --- spec, names, layout ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"mission": "S2A"},
        {"pass_direction": "NORTH"},
        {"polarisations": ("VH", "VV")},
        {"product_type": "L2A"},
        {"mode": "WV"},
        {"lines": 1},
        {"near_incidence_deg": 80.0},
        {"ipf_version": "latest"},
    ],
)
def test_invalid_spec_is_rejected(bad: dict[str, object]) -> None:
    spec = f.S1ProductSpec(**bad)  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        f.product_geometry(spec)


def test_product_id_and_file_names(product: Path) -> None:
    geom = f.product_geometry(SMALL)
    pid = product.name.removesuffix(".SAFE")
    assert pid == f.product_id(SMALL)
    assert re.fullmatch(
        r"S1B_IW_GRDH_1SDV_20211223T051122_20211223T051122_030148_[0-9A-F]{6}_[0-9A-F]{4}", pid
    )
    stop = SMALL.start_time + timedelta(seconds=geom.duration_s)
    assert f"{stop:%Y%m%dT%H%M%S}" in pid
    names = sorted(p.name for p in (product / "annotation").glob("*.xml"))
    assert [n.split("-")[3] for n in names] == ["vh", "vv"]
    assert names[1].endswith("-001.xml") and names[0].endswith("-002.xml")
    assert re.fullmatch(
        r"s1b-iw-grd-vv-20211223t051122-\d{8}t\d{6}-030148-[0-9a-f]{6}-001", Path(names[1]).stem
    )
    single = f.S1ProductSpec(lines=20, samples=40, polarisations=("HH",), mission="S1A")
    assert f.product_id(single).startswith("S1A_IW_GRDH_1SSH_")
    dual_h = f.S1ProductSpec(lines=20, samples=40, polarisations=("HH", "HV"))
    assert "_1SDH_" in f.product_id(dual_h)
    slc = f.S1ProductSpec(lines=20, samples=40, product_type="SLC")
    assert "_IW_SLC__1SDV_" in f.product_id(slc)


def test_manifest_lists_every_file_with_checksum(product: Path) -> None:
    ns = {
        "safe": "http://www.esa.int/safe/sentinel-1.0",
        "s1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1",
        "s1sarl1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1",
        "gml": "http://www.opengis.net/gml",
    }
    root = etree.parse(str(product / "manifest.safe")).getroot()
    hrefs = []
    for obj in root.iterfind("dataObjectSection/dataObject"):
        loc = obj.find("byteStream/fileLocation").get("href")
        path = product / loc
        hrefs.append(loc)
        assert path.is_file(), loc
        assert int(obj.find("byteStream").get("size")) == path.stat().st_size
        assert obj.findtext("byteStream/checksum") == hashlib.md5(path.read_bytes()).hexdigest()
    on_disk = {f"./{p.relative_to(product).as_posix()}" for p in product.rglob("*") if p.is_file()}
    assert set(hrefs) == on_disk - {"./manifest.safe"}
    software = root.find(".//safe:software", ns)
    assert software.get("name") == "Sentinel-1 IPF" and software.get("version") == "003.40"
    assert root.findtext(".//safe:platform/safe:familyName", namespaces=ns) == "SENTINEL-1"
    assert root.findtext(".//safe:platform/safe:number", namespaces=ns) == "B"
    assert root.findtext(".//s1sarl1:instrumentMode/s1sarl1:mode", namespaces=ns) == "IW"
    assert root.findtext(".//s1:pass", namespaces=ns) == "DESCENDING"
    assert root.findtext(".//s1sarl1:productType", namespaces=ns) == "GRD"
    pols = [e.text for e in root.iterfind(".//s1sarl1:transmitterReceiverPolarisation", ns)]
    assert pols == ["VV", "VH"]
    assert root.findtext(".//safe:startTime", namespaces=ns) == "2021-12-23T05:11:22.594441"
    coords = root.findtext(".//gml:coordinates", namespaces=ns).split()
    lat_lon = np.array([c.split(",") for c in coords], dtype=float)
    assert lat_lon.shape == (4, 2)
    assert np.allclose(
        lat_lon.mean(axis=0), [SMALL.centre_lat_deg, SMALL.centre_lon_deg], atol=0.01
    )
    attrs, files = xs.esa_safe.parse_manifest_sentinel1(str(product / "manifest.safe"))
    assert attrs["orbit_number"] == 30148 and attrs["relative_orbit_number"] == 22
    assert len(files) == 8


# --- readers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("zipped", [False, True], ids=["safe", "zip"])
def test_xarray_sentinel_opens_every_group(
    product: Path, zipped_product: Path, zipped: bool
) -> None:
    url = f"zip://*/manifest.safe::{zipped_product}" if zipped else str(product)
    for pol in ("VV", "VH"):
        for group in METADATA_GROUPS:
            ds = xs.open_sentinel1_dataset(url, group=f"IW/{pol}/{group}")
            assert len(ds.data_vars) > 0, (pol, group)
        cal = xs.open_sentinel1_dataset(url, group=f"IW/{pol}/calibration")
        assert np.allclose(cal.betaNought, SMALL.calibration_constant_beta)
        assert cal.pixel.values[-1] == SMALL.samples - 1
        assert cal.line.values[-1] >= SMALL.lines - 1
        assert cal.attrs["absoluteCalibrationConstant"] == pytest.approx(1.393)
        nrange = xs.open_sentinel1_dataset(url, group=f"IW/{pol}/noise_range")
        assert nrange.line.values[-1] == SMALL.lines - 1
        if zipped:
            # xarray-sentinel cannot hand a zip:// measurement to rasterio; GDAL reads it directly
            member = f"{zipped_product.stem}.SAFE/measurement"
            with zipfile.ZipFile(zipped_product) as zf:
                tiff = next(
                    n for n in zf.namelist() if n.startswith(member) and f"-{pol.lower()}-" in n
                )
            with rasterio.open(f"/vsizip/{zipped_product}/{tiff}") as src:
                assert (src.height, src.width, src.dtypes[0]) == (
                    SMALL.lines,
                    SMALL.samples,
                    "uint16",
                )
        else:
            meas = xs.open_sentinel1_dataset(url, group=f"IW/{pol}")
            assert meas.measurement.shape == (SMALL.lines, SMALL.samples)
            assert meas.attrs["product_type"] == "GRD"
            geom = f.product_geometry(SMALL)
            # pandas builds the coordinate at microsecond resolution (<= 1 us ~ 7 mm)
            lag = meas.azimuth_time.values - geom.azimuth_time(np.arange(SMALL.lines))
            assert np.max(np.abs(lag.astype(np.int64))) <= 1_000
            assert meas.ground_range.values[-1] == pytest.approx((SMALL.samples - 1) * 10.0)
    with zipfile.ZipFile(zipped_product) as zf:
        names = zf.namelist()
    assert names[0] == f"{zipped_product.stem}.SAFE/"
    assert f"{zipped_product.stem}.SAFE/manifest.safe" in names


def test_calibration_and_noise_xml_validate_against_esa_schemas(product: Path) -> None:
    for pol in ("VV", "VH"):
        paths = files_of(product, pol)
        for kind in ("calibration", "noise"):
            schema = xs.esa_safe.cached_sentinel1_schemas(kind)
            errors = list(schema.iter_errors(str(paths[kind])))
            assert errors == [], (kind, pol, errors[:2])


def test_metadata_round_trips(product: Path) -> None:
    geom = f.product_geometry(SMALL)
    url = str(product)
    cal = xs.open_sentinel1_dataset(url, group="IW/VV/calibration")
    inc = geom.incidence_angle(cal.line.values[:, None], cal.pixel.values[None, :])
    expected = SMALL.calibration_constant_beta / np.sqrt(np.sin(np.deg2rad(inc)))
    assert np.allclose(cal.sigmaNought, expected, rtol=1e-6)
    assert np.allclose(cal.gamma, expected * np.sqrt(np.cos(np.deg2rad(inc))), rtol=1e-6)
    cal_vh = xs.open_sentinel1_dataset(url, group="IW/VH/calibration")
    assert np.array_equal(cal.sigmaNought, cal_vh.sigmaNought)  # like real products
    # noise: three sub-swath blocks splitting the range, different smooth LUTs, cross-pol lower
    blocks = azimuth_noise_blocks(files_of(product, "VV")["noise"])
    assert [b["swath"] for b in blocks] == ["IW1", "IW2", "IW3"]
    assert blocks[0]["first_sample"] == 0 and blocks[-1]["last_sample"] == SMALL.samples - 1
    for left, right in itertools.pairwise(blocks):
        assert right["first_sample"] == left["last_sample"] + 1
    means = [float(np.mean(b["lut"])) for b in blocks]
    assert len({round(m, 3) for m in means}) == 3
    assert all(0.9 <= b["lut"].min() and b["lut"].max() <= 1.2 for b in blocks)
    assert all(b["line"][-1] == b["last_line"] == SMALL.lines - 1 for b in blocks)
    nr_vv = xs.open_sentinel1_dataset(url, group="IW/VV/noise_range")
    nr_vh = xs.open_sentinel1_dataset(url, group="IW/VH/noise_range")
    assert float(nr_vv.noiseRangeLut.mean()) == pytest.approx(SMALL.noise_power, rel=0.3)
    assert float(nr_vh.noiseRangeLut.mean()) < float(nr_vv.noiseRangeLut.mean())
    boundaries = {b["last_sample"] for b in blocks} | {b["first_sample"] for b in blocks}
    assert boundaries <= set(nr_vv.pixel.values.tolist())
    # geometry: orbit, coordinate conversion and image information are the model's
    orbit = xs.open_sentinel1_dataset(url, group="IW/VV/orbit")
    assert orbit.attrs["reference_system"] == "Earth Fixed"
    assert 10 <= orbit.sizes["azimuth_time"] <= 16
    assert np.allclose(orbit.position.values.T, geom.orbit_position, atol=1e-6)
    assert np.allclose(orbit.velocity.values.T, geom.orbit_velocity, atol=1e-9)
    t_orbit = geom.from_datetime64(orbit.azimuth_time.values)
    assert t_orbit[0] < -50 and t_orbit[-1] > geom.duration_s + 50
    cc = xs.open_sentinel1_dataset(url, group="IW/VV/coordinate_conversion")
    assert np.array_equal(cc.grsrCoefficients.values, geom.grsr_coefficients)
    assert np.array_equal(cc.srgrCoefficients.values, geom.srgr_coefficients)
    assert np.all(cc.gr0 == 0) and np.allclose(cc.sr0, geom.near_slant_range_m, rtol=0, atol=1e-9)
    t_cc = geom.from_datetime64(cc.azimuth_time.values)
    assert t_cc[0] < 0 and t_cc[-1] >= geom.duration_s
    meas = xs.open_sentinel1_dataset(url, group="IW/VV")
    attrs = meas.attrs
    assert attrs["azimuth_time_interval"] == pytest.approx(geom.azimuth_time_interval_s, rel=1e-14)
    assert attrs["image_slant_range_time"] == pytest.approx(2 * geom.near_slant_range_m / C)
    assert attrs["range_pixel_spacing"] == attrs["azimuth_pixel_spacing"] == 10.0
    assert attrs["radar_frequency"] == pytest.approx(5.405000454334350)
    gcp = xs.open_sentinel1_dataset(url, group="IW/VV/gcp")
    assert gcp.line.values[0] == 0 and gcp.line.values[-1] == SMALL.lines - 1
    assert gcp.pixel.values[0] == 0 and gcp.pixel.values[-1] == SMALL.samples - 1
    lon, lat, _ = geom.geolocate(gcp.line.values[:, None], gcp.pixel.values[None, :])
    assert np.allclose(gcp.longitude, lon, atol=1e-12) and np.allclose(
        gcp.latitude, lat, atol=1e-12
    )
    rng = geom.slant_range(gcp.line.values[:, None], gcp.pixel.values[None, :])
    assert np.allclose(gcp.slant_range_time.values, 2 * rng[0] / C, rtol=0, atol=1e-15)


# --- radiometry ------------------------------------------------------------------------------


def test_sigma0_to_dn_inverts_the_esa_formula() -> None:
    sigma0 = np.array([0.0, 0.01, 0.5, 1e6])
    dn = f.sigma0_to_dn(sigma0, 600.0, 30.0)
    assert dn.dtype == np.uint16
    assert dn[-1] == 65535
    assert dn[0] == round(np.sqrt(30.0))
    back = (dn[1:3].astype(float) ** 2 - 30.0) / 600.0**2
    assert np.allclose(back, sigma0[1:3], rtol=0.01)


def test_dn_round_trip_recovers_sigma0(product: Path) -> None:
    geom = f.product_geometry(SMALL)
    field = f.default_sigma0(SMALL)
    lon, lat, _ = geom.geolocate(np.arange(SMALL.lines)[:, None], np.arange(SMALL.samples)[None, :])
    for pol in ("VV", "VH"):
        recovered, a2 = esa_sigma0(product, pol)
        truth = field(lon, lat, pol)
        dn = read_dn(files_of(product, pol)["measurement"]).astype(float)
        bound = (dn + 0.75) / a2 + 1e-7  # |DN - sqrt(P)| <= 0.5 => |DN^2 - P| <= DN + 0.25
        assert np.all(np.abs(recovered - truth) <= bound), pol
        assert np.median(truth) == pytest.approx(f.BACKGROUND_SIGMA0[pol], rel=0.2)
    squares = f.bright_squares(SMALL)
    assert len(squares) == 3
    for sq, (fl, fs) in zip(squares, f.BRIGHT_SQUARE_FRACTIONS, strict=True):
        line, sample = round(fl * (SMALL.lines - 1)), round(fs * (SMALL.samples - 1))
        assert sq.contains(lon[line, sample], lat[line, sample])
        recovered, _ = esa_sigma0(product, "VV")
        assert recovered[line, sample] == pytest.approx(0.5, abs=0.005)


def test_speckle_and_sparse_geolocation(tmp_path: Path) -> None:
    flat = f.S1ProductSpec(lines=120, samples=160, polarisations=("VV",))

    def constant(lon: np.ndarray, lat: np.ndarray, pol: str) -> np.ndarray:
        return np.full(np.shape(lon), 0.2)

    spk = f.S1ProductSpec(**{**flat.__dict__, "speckle_looks": 4.0, "seed": 3})
    safe = f.write_s1_grd_product(tmp_path / "a", spk, sigma0=constant)
    ratio = esa_sigma0_single(safe) / 0.2
    assert ratio.mean() == pytest.approx(1.0, abs=0.02)
    assert ratio.var() == pytest.approx(1 / 4.0, rel=0.1)
    again = f.write_s1_grd_product(tmp_path / "b", spk, sigma0=constant)
    assert np.array_equal(
        read_dn(files_of(safe, "VV")["measurement"]), read_dn(files_of(again, "VV")["measurement"])
    )
    # a sparse geolocation grid (every 7th pixel) and small write blocks give the same image
    dense = f.write_s1_grd_product(tmp_path / "c", flat)
    sparse_spec = f.S1ProductSpec(**{**flat.__dict__, "geolocation_step_px": 7, "block_lines": 16})
    sparse = f.write_s1_grd_product(tmp_path / "d", sparse_spec)
    d1 = read_dn(files_of(dense, "VV")["measurement"]).astype(int)
    d2 = read_dn(files_of(sparse, "VV")["measurement"]).astype(int)
    assert np.mean(np.abs(d1 - d2) <= 1) > 0.995


def esa_sigma0_single(safe: Path) -> np.ndarray:
    recovered, _ = esa_sigma0(safe, "VV")
    return recovered


def test_legacy_ipf_noise_layout(tmp_path: Path) -> None:
    spec = f.S1ProductSpec(lines=60, samples=90, polarisations=("VV",), ipf_version="002.72")
    safe = f.write_s1_grd_product(tmp_path, spec)
    root = etree.parse(str(files_of(safe, "VV")["noise"])).getroot()
    assert root.find("noiseAzimuthVectorList") is None
    assert root.find("noiseRangeVectorList") is None
    vectors = root.findall("noiseVectorList/noiseVector")
    assert len(vectors) == int(root.find("noiseVectorList").get("count")) >= 2
    lut = np.array([v.findtext("noiseLut").split() for v in vectors], dtype=float)
    pixels = np.array(vectors[0].findtext("pixel").split(), dtype=float)
    lines = np.array([int(v.findtext("line")) for v in vectors], dtype=float)
    cal = xs.open_sentinel1_dataset(str(safe), group="IW/VV/calibration")
    a = cal.sigmaNought.astype(float).interp(line=np.arange(60), pixel=np.arange(90)).values
    cols = np.array([np.interp(np.arange(90), pixels, row) for row in lut])
    noise = np.array([np.interp(np.arange(60), lines, cols[:, j]) for j in range(90)]).T
    dn = read_dn(files_of(safe, "VV")["measurement"]).astype(float)
    geom = f.product_geometry(spec)
    lon, lat, _ = geom.geolocate(np.arange(60)[:, None], np.arange(90)[None, :])
    truth = f.default_sigma0(spec)(lon, lat, "VV")
    assert np.all(np.abs((dn**2 - noise) / a**2 - truth) <= (dn + 0.75) / a**2 + 1e-7)


# --- geometry --------------------------------------------------------------------------------


def test_ecef_geodetic_conversions_match_pyproj() -> None:
    pyproj = pytest.importorskip("pyproj")
    rng = np.random.default_rng(1)
    lon = rng.uniform(-180, 180, 200)
    lat = rng.uniform(-89, 89, 200)
    h = rng.uniform(-500, 9000, 200)
    xyz = f.geodetic_to_ecef(lon, lat, h)
    tr = pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    assert np.allclose(np.stack(tr.transform(lon, lat, h), axis=-1), xyz, atol=1e-6)
    lon2, lat2, h2 = f.ecef_to_geodetic(xyz)
    assert np.allclose(lon2, lon, atol=1e-10) and np.allclose(lat2, lat, atol=1e-10)
    assert np.allclose(h2, h, atol=1e-4)


@pytest.mark.parametrize("terrain", [False, True], ids=["ellipsoid", "hill"])
def test_geolocation_is_zero_doppler_at_the_annotated_range(terrain: bool) -> None:
    geom = f.product_geometry(SMALL)
    height = hill(SMALL) if terrain else None
    lines = np.linspace(0, SMALL.lines - 1, 10)[:, None]
    samples = np.linspace(0, SMALL.samples - 1, 21)[None, :]
    point, sat, vel = geom.ground_point_ecef(lines, samples, height)
    look = point - sat
    zero_doppler = np.einsum("...i,...i", look, vel) / np.linalg.norm(vel, axis=-1)
    assert np.max(np.abs(zero_doppler)) < 1e-3
    rng = np.linalg.norm(look, axis=-1)
    assert np.max(np.abs(rng - geom.slant_range(lines, samples))) < 1e-2
    lon, lat, h = f.ecef_to_geodetic(point)
    expected_h = height(lon, lat) if height else np.zeros_like(h)
    assert np.max(np.abs(h - expected_h)) < 1e-2
    # right-looking: the ground point is right of the velocity
    assert np.all(np.einsum("...i,...i", look, np.cross(vel, sat)) > 0)
    # backward geocoding is the exact inverse
    back_l, back_s = geom.backward_geocode(lon, lat, h)
    assert np.max(np.abs(back_l - lines)) < 1e-4 and np.max(np.abs(back_s - samples)) < 1e-4


def test_range_polynomials_are_inverse_and_follow_the_ellipsoid() -> None:
    geom = f.product_geometry(SMALL)
    lines = np.linspace(-30, SMALL.lines + 30, 17)[:, None]  # between records and beyond
    ground = np.linspace(0, (SMALL.samples - 1) * 10.0, 50)[None, :]
    rng = geom.slant_range(lines, ground / 10.0)
    assert np.max(np.abs(geom.ground_range(lines, rng) - ground)) < 1e-2
    # ground range is the distance along the ellipsoid from the near edge (h = 0)
    point, _, _ = geom.ground_point_ecef(np.full(401, 60.0), np.linspace(0, 159, 401))
    arc = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(point, axis=0), axis=-1))])
    assert np.max(np.abs(arc - np.linspace(0, 1590.0, 401))) < 0.05
    assert geom.incidence_angle(0.5 * (SMALL.lines - 1), 0) == pytest.approx(35.0, abs=0.01)
    assert np.all(np.diff(geom.incidence_angle(60, np.arange(0, 160, 20))) > 0)


def test_orbit_state_vectors_are_consistent() -> None:
    geom = f.product_geometry(SMALL)
    t, pos, vel = geom.orbit_times_s, geom.orbit_position, geom.orbit_velocity
    assert np.allclose(np.diff(t), 10.0)
    # positions are the integral of the velocities (polynomial fit derivative)
    for axis in range(3):
        coeffs = np.polyfit(t - t.mean(), pos[:, axis], 9)
        deriv = np.polyval(np.polyder(coeffs), t - t.mean())
        assert np.max(np.abs(deriv - vel[:, axis])) < 1e-3
    # circular orbit: constant radius and inertial speed
    radius = np.linalg.norm(pos, axis=1)
    assert np.allclose(radius, f.ORBIT_RADIUS_M, atol=1e-6)
    inertial = vel + f.EARTH_ROTATION_RATE * np.stack([-pos[:, 1], pos[:, 0], np.zeros(len(t))], 1)
    assert np.allclose(np.linalg.norm(inertial, axis=1), np.sqrt(f.GM_EARTH / f.ORBIT_RADIUS_M))
    # the model is continuous in time and matches the listed vectors
    p2, v2 = geom.state(t)
    assert np.array_equal(p2, pos) and np.array_equal(v2, vel)


@pytest.mark.parametrize(
    ("pass_direction", "lon", "lat", "near_incidence"),
    [
        ("ASCENDING", -60.0, -10.0, 35.0),
        ("DESCENDING", -60.0, -10.0, 35.0),
        ("DESCENDING", 12.5, -60.0, 20.0),  # once converged to a centre nearer than near range
        ("ASCENDING", 179.95, 70.0, 45.0),
    ],
)
def test_scene_centre_heading_and_pass(
    pass_direction: str, lon: float, lat: float, near_incidence: float
) -> None:
    spec = f.S1ProductSpec(
        lines=80,
        samples=100,
        pass_direction=pass_direction,
        centre_lon_deg=lon,
        centre_lat_deg=lat,
        near_incidence_deg=near_incidence,
    )
    geom = f.product_geometry(spec)
    c_lon, c_lat, _ = geom.geolocate(0.5 * (spec.lines - 1), 0.5 * (spec.samples - 1))
    assert float(c_lon) == pytest.approx(lon, abs=1e-7)
    assert float(c_lat) == pytest.approx(lat, abs=1e-7)
    inc_mid_line = geom.incidence_angle(0.5 * (spec.lines - 1), [0, spec.samples - 1])
    assert inc_mid_line[0] == pytest.approx(near_incidence, abs=1e-6)
    assert inc_mid_line[1] > inc_mid_line[0]
    _, vel = geom.state(geom.mid_time_s)
    heading = geom.platform_heading_deg
    if pass_direction == "ASCENDING":
        assert vel[2] > 0 and -90 < heading < 0
    else:
        assert vel[2] < 0 and heading < -90
    # sample index increases away from the ground track
    nadir_lon, nadir_lat, _ = f.ecef_to_geodetic(geom.state(geom.mid_time_s)[0])
    nadir = f.geodetic_to_ecef(nadir_lon, nadir_lat, 0.0)
    pts, _, _ = geom.ground_point_ecef(np.full(5, 40.0), np.linspace(0, 99, 5))
    assert np.all(np.diff(np.linalg.norm(pts - nadir, axis=-1)) > 0)


# --- independent check with sarsen -----------------------------------------------------------


def test_sarsen_backward_geocoding_finds_the_bright_squares(hill_product: Path) -> None:
    sarsen_geocoding = pytest.importorskip("sarsen.geocoding")
    sarsen_orbit = pytest.importorskip("sarsen.orbit")
    import xarray as xr

    geom = f.product_geometry(SMALL)
    height = hill(SMALL)
    squares = f.bright_squares(SMALL)
    lon = np.array([s.lon_deg for s in squares])
    lat = np.array([s.lat_deg for s in squares])
    h = height(lon, lat)
    assert np.all(h > 50.0)
    line_f, sample_f = geom.backward_geocode(lon, lat, h)
    assert np.all((line_f > 0) & (line_f < SMALL.lines - 1))
    assert np.all((sample_f > 0) & (sample_f < SMALL.samples - 1))
    url = str(hill_product)
    orbit = xs.open_sentinel1_dataset(url, group="IW/VV/orbit")
    cc = xs.open_sentinel1_dataset(url, group="IW/VV/coordinate_conversion")
    meas = xs.open_sentinel1_dataset(url, group="IW/VV")
    interpolator = sarsen_orbit.OrbitPolyfitInterpolator.from_position(orbit.position)
    dem_ecef = xr.DataArray(
        f.geodetic_to_ecef(lon, lat, h).T, dims=("axis", "point"), coords={"axis": [0, 1, 2]}
    )
    acq = sarsen_geocoding.backward_geocode(dem_ecef, interpolator, zero_doppler_distance=1e-4)
    slant_range_time = 2.0 / C * np.sqrt((acq.dem_distance**2).sum("axis"))
    ground = xs.slant_range_time_to_ground_range(acq.azimuth_time, slant_range_time, cc)
    elapsed = (acq.azimuth_time.values - meas.azimuth_time.values[0]) / np.timedelta64(1, "ns")
    line_s = elapsed / 1e9 / meas.attrs["azimuth_time_interval"]
    sample_s = ground.values / meas.attrs["range_pixel_spacing"]
    assert np.max(np.abs(line_s - line_f)) < 0.05
    assert np.max(np.abs(sample_s - sample_f)) < 0.05
    # the measurement shows each square where the geometry puts it
    recovered, _ = esa_sigma0(hill_product, "VV")
    for line, sample in zip(
        np.round(line_f).astype(int), np.round(sample_f).astype(int), strict=True
    ):
        assert recovered[line, sample] == pytest.approx(0.5, abs=0.005)


def test_sarsen_terrain_correction_runs(product: Path, tmp_path: Path) -> None:
    pytest.importorskip("sarsen")
    import sarsen
    import sarsen.apps
    import xarray as xr

    geom = f.product_geometry(SMALL)
    lon, lat, _ = geom.geolocate(
        [0, 0, SMALL.lines - 1, SMALL.lines - 1], [0, SMALL.samples - 1] * 2
    )
    bounds = (lon.min() - 0.001, lat.min() - 0.001, lon.max() + 0.001, lat.max() + 0.001)
    dem = f.write_dem(tmp_path / "dem.tif", bounds, pixel_size_deg=1 / 3600 / 2)
    prod = sarsen.Sentinel1SarProduct(str(product), measurement_group="IW/VV")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gtc = sarsen.apps.terrain_correction(
            prod, str(dem), output_urlpath=str(tmp_path / "gtc.tif"), interp_method="linear"
        )
    gtc = xr.DataArray(gtc).compute()
    for sq in f.bright_squares(SMALL):
        value = float(gtc.sel(x=sq.lon_deg, y=sq.lat_deg, method="nearest"))
        inc = float(geom.incidence_angle(*geom.backward_geocode(sq.lon_deg, sq.lat_deg)))
        assert value == pytest.approx(0.5 / np.sin(np.deg2rad(inc)), rel=0.02)  # beta0


# --- orbit file, DEM, fidelity to the real files ---------------------------------------------


@pytest.mark.parametrize("zipped", [False, True], ids=["eof", "zip"])
def test_orbit_file_matches_the_model(tmp_path: Path, zipped: bool) -> None:
    start, stop = datetime(2021, 12, 23, 4, 59, 42), datetime(2021, 12, 23, 5, 29, 42)
    path = f.write_orbit_file(
        tmp_path, SMALL, validity_start=start, validity_stop=stop, zipped=zipped
    )
    assert re.fullmatch(
        r"S1B_OPER_AUX_POEORB_OPOD_\d{8}T\d{6}_V20211223T045942_20211223T052942\.EOF"
        + (r"\.zip" if zipped else ""),
        path.name,
    )
    if zipped:
        with zipfile.ZipFile(path) as zf:
            (name,) = zf.namelist()
            assert name == path.name.removesuffix(".zip")
            text = zf.read(name)
    else:
        text = path.read_bytes()
    assert text.startswith(b'<?xml version="1.0" ?>')
    root = etree.fromstring(text)
    assert root.tag == "Earth_Explorer_File"
    assert root.findtext(".//File_Type") == "AUX_POEORB"
    assert root.findtext(".//Validity_Start") == "UTC=2021-12-23T04:59:42"
    assert root.findtext(".//Validity_Stop") == "UTC=2021-12-23T05:29:42"
    osvs = root.findall("Data_Block/List_of_OSVs/OSV")
    assert len(osvs) == int(root.find("Data_Block/List_of_OSVs").get("count")) == 181
    utc = [datetime.strptime(o.findtext("UTC"), "UTC=%Y-%m-%dT%H:%M:%S.%f") for o in osvs]
    assert utc[0] == start and utc[-1] == stop
    tai = datetime.strptime(osvs[0].findtext("TAI"), "TAI=%Y-%m-%dT%H:%M:%S.%f")
    assert tai - utc[0] == timedelta(seconds=37)
    geom = f.product_geometry(SMALL)
    t = np.array([(u - SMALL.start_time).total_seconds() for u in utc])
    pos, vel = geom.state(t)
    xyz = np.array([[float(o.findtext(k)) for k in ("X", "Y", "Z")] for o in osvs])
    vxyz = np.array([[float(o.findtext(k)) for k in ("VX", "VY", "VZ")] for o in osvs])
    assert np.max(np.abs(xyz - pos)) <= 5e-7 and np.max(np.abs(vxyz - vel)) <= 5e-7
    orbits = {o.findtext("Absolute_Orbit") for o in osvs}
    assert "+30148" in orbits
    if not zipped:
        schema = xs.esa_safe.cached_sentinel1_schemas("aux_orbit")
        assert list(schema.iter_errors(str(path))) == []


def test_write_dem(tmp_path: Path) -> None:
    height = f.gaussian_hill(12.5, 42.0, 500.0, 800.0)

    def geoid(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.full(np.shape(lon), 48.0)

    bounds = (12.49, 41.99, 12.51, 42.01)
    p1 = f.write_dem(tmp_path / "ell.tif", bounds, terrain_height=height)
    p2 = f.write_dem(
        tmp_path / "geoid.tif", bounds, terrain_height=height, geoid_offset=geoid, crs="EPSG:9707"
    )
    with rasterio.open(p1) as a, rasterio.open(p2) as b:
        assert a.crs.to_epsg() == 4326 and a.dtypes[0] == "float32"
        assert a.bounds.left == pytest.approx(12.49) and a.bounds.top == pytest.approx(42.01)
        assert a.res == pytest.approx((1 / 3600, 1 / 3600))
        za, zb = a.read(1), b.read(1)
        row, col = a.index(12.5, 42.0)
        x, y = a.xy(row, col)
        assert za[row, col] == pytest.approx(float(height(np.array(x), np.array(y))), abs=1e-3)
        assert np.allclose(za - zb, 48.0, atol=1e-3)
        assert "9707" in b.crs.to_string() or b.crs.to_epsg() == 9707
    with pytest.raises(OptionError):
        f.write_dem(tmp_path / "utm.tif", bounds, crs="EPSG:32633")


_FORMATS = {
    "time": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}"),
    "e15": re.compile(r"-?\d\.\d{15}e[+-]\d\d"),
    "e6": re.compile(r"-?\d\.\d{6}e[+-]\d\d"),
    "int": re.compile(r"-?\d+"),
}


def _format_of(text: str | None) -> str:
    tokens = (text or "").split()
    if not tokens:
        return "empty"
    kinds = set()
    for tok in tokens:
        kinds.add(next((k for k, rx in _FORMATS.items() if rx.fullmatch(tok)), "text"))
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    return kind if len(tokens) == 1 else f"list-{kind}"


def _paths(path: Path) -> dict[str, tuple[str, bool]]:
    """Element path (namespaces as Clark names, no indices) -> (text format, has count=)."""
    tree = etree.parse(str(path))
    out: dict[str, tuple[str, bool]] = {}
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        parts = [a.tag for a in reversed(list(el.iterancestors()))] + [el.tag]
        key = "/".join(parts)
        if key not in out:
            fmt = _format_of(el.text) if len(el) == 0 else "node"
            out[key] = (fmt, "count" in el.attrib)
    return out


@pytest.mark.shared
def test_files_follow_the_real_esa_layout(product: Path, s1b_safe: Path) -> None:
    ours = files_of(product, "VV")
    real = {
        "annotation": next((s1b_safe / "annotation").glob("s1b-iw-grd-vv-*.xml")),
        "calibration": next((s1b_safe / "annotation" / "calibration").glob("calibration-*.xml")),
        "noise": next((s1b_safe / "annotation" / "calibration").glob("noise-*.xml")),
        "manifest": s1b_safe / "manifest.safe",
    }
    ours["manifest"] = product / "manifest.safe"
    for kind, real_path in real.items():
        mine, theirs = _paths(ours[kind]), _paths(real_path)
        missing = sorted(set(mine) - set(theirs))
        assert missing == [], (kind, missing[:5])
        for key, (fmt, has_count) in mine.items():
            real_fmt, real_count = theirs[key]
            if (
                kind != "manifest"
                and real_fmt != "empty"
                and not (fmt, has_count) == ("empty", True)
            ):
                assert fmt == real_fmt, (kind, key, fmt, real_fmt)
            assert has_count == real_count, (kind, key)
    # the calibration and noise files are complete: every element of the real ones is there
    for kind in ("calibration", "noise"):
        assert set(_paths(real[kind])) == set(_paths(ours[kind]))
    # every count= attribute matches the number of items
    for kind in ("annotation", "calibration", "noise"):
        for el in etree.parse(str(ours[kind])).iter():
            if "count" in el.attrib:
                n = len(el) if len(el) else len((el.text or "").split())
                assert int(el.get("count")) == n, (kind, el.tag)
