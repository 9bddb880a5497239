"""The synthetic Sentinel-2 SAFE writer: layout, georeferencing, XML and radiometry.

Element paths are checked against the real partial L2A product in ``shared/`` when it is there.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from lxml import etree

from sen_preproc.errors import OptionError
from sen_preproc.testing.s2_factory import (
    BAND_IDS,
    CLOUD_PROBABILITY,
    CLOUD_REFLECTANCE,
    DEFAULT_S2_SPEC,
    L1C_BANDS,
    L2A_BANDS,
    L2A_FILES,
    S2ProductSpec,
    bright_square_box,
    default_reflectance,
    reflectance_to_dn,
    s2_grid,
    s2_product_id,
    scl_array,
    sun_angles,
    write_s2_product,
)

Q = 10000.0
REAL_S2 = "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454.SAFE"


def local(el: Any) -> str:
    return str(etree.QName(el).localname)


def find_all(root: Any, name: str) -> list[Any]:
    return list(root.xpath(f".//*[local-name()='{name}']"))


def text_of(root: Any, name: str) -> str:
    found = find_all(root, name)
    assert found, f"no <{name}> element"
    return str(found[0].text).strip()


def image_files(safe: Path) -> list[str]:
    mtd = next(safe.glob("MTD_MSIL*.xml"))
    return [str(e.text) for e in find_all(etree.parse(str(mtd)).getroot(), "IMAGE_FILE")]


def code_res(rel: str) -> tuple[str, int | None]:
    match = re.search(r"_(B\d\d|B8A|TCI|AOT|WVP|SCL)(?:_(\d\d)m)?$", rel)
    assert match is not None, rel
    return match.group(1), int(match.group(2)) if match.group(2) else None


def centres(spec: S2ProductSpec, res: int) -> tuple[np.ndarray, np.ndarray]:
    transform, width, height, _ = s2_grid(spec, res)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    x = transform.c + cols * transform.a
    y = transform.f + rows * transform.e
    return x, y


@pytest.fixture(scope="module")
def l2a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_s2_product(tmp_path_factory.mktemp("l2a"))


def test_product_id_and_names(l2a: Path) -> None:
    pid = "S2A_MSIL2A_20211223T100319_N0400_R122_T33TTG_20211223T120000"
    assert s2_product_id() == pid and l2a.name == f"{pid}.SAFE"
    granules = [p.name for p in (l2a / "GRANULE").iterdir()]
    assert len(granules) == 1 and re.fullmatch(r"L2A_T33TTG_A\d{6}_20211223T100315", granules[0])
    # the absolute orbit follows from the relative one like in real products (S2B, SSL4EO-S12)
    s2b = replace(
        DEFAULT_S2_SPEC,
        tile="43RCP",
        epsg=32643,
        mission="S2B",
        sensing_time=datetime(2020, 6, 4, 5, 46, 39),
        relative_orbit=48,
        size_10m_px=6,
        cloud_box_px=(0, 0, 2, 2),
    )
    out = write_s2_product(l2a.parent / "s2b", s2b)
    assert [p.name for p in (out / "GRANULE").iterdir()] == ["L2A_T43RCP_A016948_20200604T054635"]


def test_listed_files_exist_with_grid_and_dtype(l2a: Path) -> None:
    spec = DEFAULT_S2_SPEC
    listed = image_files(l2a)
    expected = [(c, r) for r, codes in L2A_FILES.items() for c in codes]
    assert [code_res(rel) for rel in listed] == expected
    bounds = set()
    for rel in listed:
        code, res = code_res(rel)
        assert res is not None
        assert f"/IMG_DATA/R{res}m/T33TTG_20211223T100319_{code}_{res}m" in rel
        path = l2a / f"{rel}.jp2"
        assert path.is_file(), rel
        transform, width, height, crs = s2_grid(spec, res)
        with rasterio.open(path) as ds:
            assert ds.driver == "JP2OpenJPEG"
            assert ds.crs.to_epsg() == 32633 and crs == "EPSG:32633"
            assert ds.transform == transform and (ds.width, ds.height) == (width, height)
            assert ds.count == (3 if code == "TCI" else 1)
            assert ds.dtypes[0] == ("uint8" if code in ("SCL", "TCI") else "uint16")
            assert ds.nodata is None  # like the real JP2s: 0 is NODATA by convention only
            bounds.add(tuple(ds.bounds))
    assert len(bounds) == 1  # 10, 20 and 60 m grids cover the same area
    assert {res: s2_grid(spec, res)[1] for res in (10, 20, 60)} == {10: 120, 20: 60, 60: 20}
    assert not set(L2A_FILES[20]) & {"B08", "B10"} and "B10" not in L2A_FILES[60]
    qi = l2a / "GRANULE" / next((l2a / "GRANULE").iterdir()).name / "QI_DATA"
    for res in (20, 60):
        with rasterio.open(qi / f"MSK_CLDPRB_{res}m.jp2") as ds:
            assert ds.dtypes[0] == "uint8" and ds.transform == s2_grid(spec, res)[0]


def test_product_metadata(l2a: Path) -> None:
    root = etree.parse(str(l2a / "MTD_MSIL2A.xml")).getroot()
    assert local(root) == "Level-2A_User_Product"
    assert text_of(root, "PRODUCT_TYPE") == "S2MSI2A"
    assert text_of(root, "PROCESSING_LEVEL") == "Level-2A"
    assert text_of(root, "PROCESSING_BASELINE") == "04.00"
    assert text_of(root, "PRODUCT_URI") == l2a.name
    assert text_of(root, "PRODUCT_START_TIME") == "2021-12-23T10:03:19.000Z"
    assert text_of(root, "SPACECRAFT_NAME") == "Sentinel-2A"
    assert text_of(root, "SENSING_ORBIT_NUMBER") == "122"
    assert text_of(root, "SENSING_ORBIT_DIRECTION") == "DESCENDING"
    assert float(text_of(root, "BOA_QUANTIFICATION_VALUE")) == Q
    offsets = {e.get("band_id"): int(e.text) for e in find_all(root, "BOA_ADD_OFFSET")}
    assert offsets == {str(i): -1000 for i in range(13)}
    physical = {
        e.get("bandId"): e.get("physicalBand") for e in find_all(root, "Spectral_Information")
    }
    assert physical == {str(i): f"B{int(b[1:3])}" if b != "B8A" else b for b, i in BAND_IDS.items()}
    assert physical["8"] == "B8A" and physical["9"] == "B9" and physical["12"] == "B12"
    scl = scl_array()
    cloud20 = np.isin(scl[1::2, 1::2], (8, 9, 10)).mean() * 100
    assert float(text_of(root, "Cloud_Coverage_Assessment")) == pytest.approx(cloud20, abs=1e-5)


def test_tile_metadata(l2a: Path) -> None:
    tl = next((l2a / "GRANULE").glob("*/MTD_TL.xml"))
    root = etree.parse(str(tl)).getroot()
    assert local(root) == "Level-2A_Tile_ID"
    assert text_of(root, "HORIZONTAL_CS_NAME") == "WGS84 / UTM zone 33N"
    assert text_of(root, "HORIZONTAL_CS_CODE") == "EPSG:32633"
    assert text_of(root, "SENSING_TIME") == "2021-12-23T10:03:19.000000Z"
    for res in (10, 20, 60):
        transform, width, height, _ = s2_grid(DEFAULT_S2_SPEC, res)
        size = root.xpath(f".//*[local-name()='Size'][@resolution='{res}']")[0]
        assert (int(text_of(size, "NROWS")), int(text_of(size, "NCOLS"))) == (height, width)
        pos = root.xpath(f".//*[local-name()='Geoposition'][@resolution='{res}']")[0]
        geo = [float(text_of(pos, t)) for t in ("ULX", "ULY", "XDIM", "YDIM")]
        assert geo == [transform.c, transform.f, transform.a, transform.e]
    masks = [str(e.text) for e in find_all(root, "MASK_FILENAME")]
    assert [m.rsplit("/", 1)[1] for m in masks] == ["MSK_CLDPRB_20m.jp2", "MSK_CLDPRB_60m.jp2"]
    assert all((l2a / m).is_file() for m in masks)


def test_no_offset_before_baseline_04(tmp_path: Path) -> None:
    spec = replace(
        DEFAULT_S2_SPEC, processing_baseline="02.14", size_10m_px=12, cloud_box_px=(2, 2, 6, 6)
    )
    safe = write_s2_product(tmp_path, spec)
    assert "_N0214_" in safe.name
    root = etree.parse(str(safe / "MTD_MSIL2A.xml")).getroot()
    assert not find_all(root, "BOA_ADD_OFFSET_VALUES_LIST") and not find_all(root, "BOA_ADD_OFFSET")
    assert float(text_of(root, "BOA_QUANTIFICATION_VALUE")) == Q
    rel = next(r for r in image_files(safe) if r.endswith("_B04_10m"))
    field = default_reflectance(spec)
    with rasterio.open(safe / f"{rel}.jp2") as ds:
        dn = ds.read(1).astype(np.float64)
    assert np.abs(dn / Q - field(*centres(spec, 10), "B04")).max() <= 0.5 / Q + 1e-12


def test_dn_round_trip_every_band_and_resolution(l2a: Path) -> None:
    spec = DEFAULT_S2_SPEC
    field = default_reflectance(spec)
    checked = 0
    for rel in image_files(l2a):
        code, res = code_res(rel)
        if code not in L2A_BANDS:
            continue
        assert res is not None
        with rasterio.open(l2a / f"{rel}.jp2") as ds:
            dn = ds.read(1).astype(np.float64)
        expected = field(*centres(spec, res), code)
        ok = dn < 65535
        assert np.abs((dn[ok] - 1000.0) / Q - expected[ok]).max() <= 0.5 / Q + 1e-12, rel
        assert (expected[~ok] >= (65535 - 1000) / Q).all()  # saturated pixels: SCL 1 only
        checked += 1
    assert checked == 4 + 10 + 11
    # vegetation-like spectrum: red ~0.05, NIR ~0.3 away from clouds/bright features
    x, y = centres(spec, 10)
    veg = scl_array(spec) == 4
    assert 0.04 < np.median(field(x, y, "B04")[veg]) < 0.06
    assert 0.25 < np.median(field(x, y, "B08")[veg]) < 0.35


def test_scene_classification_and_clouds(l2a: Path) -> None:
    spec = DEFAULT_S2_SPEC
    scl = scl_array(spec)
    assert scl.dtype == np.uint8 and scl.shape == (120, 120)
    assert set(np.unique(scl)) == {1, 3, 4, 5, 6, 8, 9, 10}
    assert (scl[10:40, 10:40] == 9).all() and (scl == 9).sum() == 900
    assert (scl[25:55, 40:55] == 3).all()  # the shadow box beside the cloud
    assert (scl == 1).sum() == 3
    r0, c0, r1, c1 = bright_square_box(spec)
    assert (r0, c0, r1, c1) == (60, 84, 72, 96) and (scl[r0:r1, c0:c1] == 5).all()
    field = default_reflectance(spec)
    x, y = centres(spec, 10)
    assert np.allclose(field(x, y, "B02")[r0:r1, c0:c1], 0.5)
    assert np.allclose(field(x, y, "B11")[np.isin(scl, (8, 9, 10))], CLOUD_REFLECTANCE)
    granule = next((l2a / "GRANULE").iterdir())
    for res, step in ((20, 2), (60, 6)):
        with rasterio.open(next(granule.glob(f"IMG_DATA/R{res}m/*_SCL_{res}m.jp2"))) as ds:
            coarse = ds.read(1)
        assert np.array_equal(coarse, scl[step // 2 :: step, step // 2 :: step])
        with rasterio.open(next(granule.glob(f"IMG_DATA/R{res}m/*_B12_{res}m.jp2"))) as ds:
            b12 = ds.read(1)
        assert (b12[np.isin(coarse, (8, 9, 10))] == round(CLOUD_REFLECTANCE * Q + 1000)).all()
        with rasterio.open(granule / "QI_DATA" / f"MSK_CLDPRB_{res}m.jp2") as ds:
            prob = ds.read(1)
        for cls, value in CLOUD_PROBABILITY.items():
            assert (prob[coarse == cls] == value).all()
        assert (prob[~np.isin(coarse, list(CLOUD_PROBABILITY))] == 0).all()
    clear = scl_array(replace(spec, cloud_box_px=None))
    assert not np.isin(clear, (3, 8, 9, 10)).any()


def test_custom_field_is_sampled_at_pixel_centres(tmp_path: Path) -> None:
    spec = replace(DEFAULT_S2_SPEC, size_10m_px=36, cloud_box_px=(4, 4, 10, 10))

    def ramp(x: np.ndarray, y: np.ndarray, band: str) -> np.ndarray:
        return 0.1 + (x - spec.ulx_m) * 1e-4 + (spec.uly_m - y) * 2e-4 + BAND_IDS[band] * 1e-3

    safe = write_s2_product(tmp_path, spec, reflectance=ramp)
    for rel in image_files(safe):
        code, res = code_res(rel)
        if code in ("B02", "B8A", "B09"):
            assert res is not None
            with rasterio.open(safe / f"{rel}.jp2") as ds:
                dn = ds.read(1).astype(np.float64)
            assert np.abs((dn - 1000) / Q - ramp(*centres(spec, res), code)).max() <= 0.5 / Q
    with pytest.raises(OptionError, match="shape"):
        write_s2_product(tmp_path, spec, reflectance=lambda x, y, b: np.zeros(3))


def test_l1c_variant(tmp_path: Path) -> None:
    spec = replace(DEFAULT_S2_SPEC, level="L1C", size_10m_px=60)
    safe = write_s2_product(tmp_path, spec)
    assert safe.name.startswith("S2A_MSIL1C_20211223T100319_N0400_R122_T33TTG_")
    assert not (safe / "MTD_MSIL2A.xml").exists()
    root = etree.parse(str(safe / "MTD_MSIL1C.xml")).getroot()
    assert local(root) == "Level-1C_User_Product"
    assert text_of(root, "PRODUCT_TYPE") == "S2MSI1C"
    assert float(text_of(root, "QUANTIFICATION_VALUE")) == Q
    offsets = {e.get("band_id"): int(e.text) for e in find_all(root, "RADIO_ADD_OFFSET")}
    assert offsets == {str(i): -1000 for i in range(13)}
    assert not find_all(root, "BOA_ADD_OFFSET")
    listed = image_files(safe)
    codes = [code_res(rel) for rel in listed]
    assert [c for c, _ in codes] == [*BAND_IDS, "TCI"]  # B01..B08, B8A, B09, B10, B11, B12
    assert all(res is None for _, res in codes)
    granule = next((safe / "GRANULE").iterdir())
    assert re.fullmatch(r"L1C_T33TTG_A\d{6}_20211223T100315", granule.name)
    assert sorted(p.name for p in (granule / "IMG_DATA").iterdir()) == sorted(
        f"T33TTG_20211223T100319_{c}.jp2" for c, _ in codes
    )
    assert not list(safe.rglob("*SCL*")) and not (granule / "QI_DATA").exists()
    tl = etree.parse(str(granule / "MTD_TL.xml")).getroot()
    assert local(tl) == "Level-1C_Tile_ID"
    field = default_reflectance(spec)
    for rel in listed:
        code, _ = code_res(rel)
        native = 10 if code == "TCI" else L1C_BANDS[code]
        with rasterio.open(safe / f"{rel}.jp2") as ds:
            assert ds.transform == s2_grid(spec, native)[0]
            if code in ("B04", "B10", "B8A"):
                dn = ds.read(1).astype(np.float64)
                ok = dn < 65535
                err = (dn - 1000) / Q - field(*centres(spec, native), code)
                assert np.abs(err[ok]).max() <= 0.5 / Q + 1e-12
    old = write_s2_product(
        tmp_path,
        replace(spec, processing_baseline="02.09", size_10m_px=6, cloud_box_px=None),
    )
    root = etree.parse(str(old / "MTD_MSIL1C.xml")).getroot()
    assert not find_all(root, "Radiometric_Offset_List")


def test_zipped_variant(tmp_path: Path, l2a: Path) -> None:
    out = write_s2_product(tmp_path, zipped=True)
    assert out.suffix == ".zip" and out.stem == s2_product_id()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no leftovers
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert all(n.startswith(f"{out.stem}.SAFE/") for n in names)
        assert f"{out.stem}.SAFE/MTD_MSIL2A.xml" in names
        assert f"{out.stem}.SAFE/manifest.safe" in names
    rel = next(r for r in image_files(l2a) if r.endswith("_B8A_20m"))
    with rasterio.open(f"/vsizip/{out}/{out.stem}.SAFE/{rel}.jp2") as zipped:
        with rasterio.open(l2a / f"{rel}.jp2") as plain:
            assert zipped.transform == plain.transform
            assert np.array_equal(zipped.read(1), plain.read(1))


def test_missing_bands_are_listed_but_absent(tmp_path: Path) -> None:
    spec = replace(
        DEFAULT_S2_SPEC,
        size_10m_px=12,
        cloud_box_px=None,
        missing_bands=("B05", "B02_10m", "SCL_60m"),
    )
    safe = write_s2_product(tmp_path, spec)
    listed = image_files(safe)
    gone = {
        (c, r)
        for c, r in map(code_res, listed)
        if c == "B05" or (c, r) in {("B02", 10), ("SCL", 60)}
    }
    assert gone == {("B05", 20), ("B05", 60), ("B02", 10), ("SCL", 60)}
    for rel in listed:
        assert (safe / f"{rel}.jp2").exists() == (code_res(rel) not in gone), rel
    manifest = (safe / "manifest.safe").read_text()
    assert "_B05_20m.jp2" in manifest and "_B02_10m.jp2" in manifest  # the original inventory


def test_manifest_inventory_and_checksums(l2a: Path) -> None:
    root = etree.parse(str(l2a / "manifest.safe")).getroot()
    assert root.get("version").endswith("/msi/archive_l2a_user_product")
    hrefs = []
    for obj in root.xpath(".//dataObject"):
        stream = obj.find("byteStream")
        href = stream.find("fileLocation").get("href")
        path = l2a / href.removeprefix("./")
        checksum = stream.find("checksum")
        assert checksum.get("checksumName") == "SHA3-256"
        assert int(stream.get("size")) == path.stat().st_size
        assert checksum.text == hashlib.sha3_256(path.read_bytes()).hexdigest().upper()
        pointers = root.xpath(f".//dataObjectPointer[@dataObjectID='{obj.get('ID')}']")
        assert pointers, obj.get("ID")
        hrefs.append(href.removeprefix("./"))
    on_disk = sorted(p.relative_to(l2a).as_posix() for p in l2a.rglob("*") if p.is_file())
    assert sorted([*hrefs, "manifest.safe"]) == on_disk


def _paths(path: Path) -> tuple[set[str], set[str]]:
    """Element paths and (path, attribute) pairs of an XML file, namespaces included."""
    elements: set[str] = set()
    attributes: set[str] = set()

    def walk(el: Any, prefix: str) -> None:
        if not isinstance(el.tag, str):  # comments
            return
        here = f"{prefix}/{el.tag}"
        elements.add(here)
        attributes.update(f"{here}@{name}" for name in el.attrib)
        for child in el:
            walk(child, here)

    walk(etree.parse(str(path)).getroot(), "")
    return elements, attributes


@pytest.mark.shared
def test_element_paths_are_a_subset_of_the_real_product(shared_dir: Path, l2a: Path) -> None:
    real = shared_dir / "fixtures" / "s2" / REAL_S2
    if not real.is_dir():
        pytest.skip(f"real L2A fixture {REAL_S2} missing from shared/fixtures/s2")
    pairs = [
        (real / "MTD_MSIL2A.xml", l2a / "MTD_MSIL2A.xml"),
        (next(real.glob("GRANULE/*/MTD_TL.xml")), next(l2a.glob("GRANULE/*/MTD_TL.xml"))),
        (real / "manifest.safe", l2a / "manifest.safe"),
    ]
    for real_file, ours in pairs:
        real_el, real_attr = _paths(real_file)
        our_el, our_attr = _paths(ours)
        assert our_el <= real_el, (ours.name, sorted(our_el - real_el))
        assert our_attr <= real_attr, (ours.name, sorted(our_attr - real_attr))
    # same folder layout and file naming as the real product
    real_names = {p.name.split("_", 2)[2] for p in real.glob("GRANULE/*/IMG_DATA/R60m/*.jp2")}
    ours_60 = {p.name.split("_", 2)[2] for p in l2a.glob("GRANULE/*/IMG_DATA/R60m/*.jp2")}
    assert real_names <= ours_60
    real_listed = [re.sub(r"^.*?_\d{8}T\d{6}_", "", r) for r in image_files(real)]
    our_listed = [re.sub(r"^.*?_\d{8}T\d{6}_", "", r) for r in image_files(l2a)]
    assert our_listed == real_listed


@pytest.mark.shared
def test_sun_angles_reproduce_the_real_tile(shared_dir: Path) -> None:
    real = shared_dir / "fixtures" / "s2" / REAL_S2
    tl = next(real.glob("GRANULE/*/MTD_TL.xml"), None)
    if tl is None:
        pytest.skip(f"real L2A fixture {REAL_S2} missing from shared/fixtures/s2")
    root = etree.parse(str(tl)).getroot()
    pos = root.xpath(".//*[local-name()='Geoposition'][@resolution='10']")[0]
    ulx, uly = float(text_of(pos, "ULX")), float(text_of(pos, "ULY"))
    sensing = datetime.strptime(text_of(root, "SENSING_TIME"), "%Y-%m-%dT%H:%M:%S.%fZ")
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(32629, 4326, always_xy=True).transform(
        ulx + 54900.0, uly - 54900.0
    )
    zenith, azimuth = sun_angles(lon, lat, sensing)
    mean = root.xpath(".//*[local-name()='Mean_Sun_Angle']")[0]
    assert float(zenith) == pytest.approx(float(text_of(mean, "ZENITH_ANGLE")), abs=0.05)
    assert float(azimuth) == pytest.approx(float(text_of(mean, "AZIMUTH_ANGLE")), abs=0.05)


def test_reflectance_to_dn() -> None:
    dn = reflectance_to_dn(np.array([0.05, 0.0, -0.05, -0.5, 7.0, np.nan, 0.12345]), -1000)
    assert dn.dtype == np.uint16
    assert dn.tolist() == [1500, 1000, 500, 1, 65535, 0, 2234]
    assert reflectance_to_dn(np.array([0.05, 0.0]), 0).tolist() == [500, 1]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"level": "L1B"}, "level"),
        ({"mission": "S1A"}, "mission"),
        ({"tile": "33XX"}, "tile"),
        ({"epsg": 32632}, "epsg"),
        ({"epsg": 32733}, "epsg"),
        ({"size_10m_px": 100}, "size_10m_px"),
        ({"size_10m_px": 0}, "size_10m_px"),
        ({"processing_baseline": "4.0"}, "processing_baseline"),
        ({"relative_orbit": 144}, "relative_orbit"),
        ({"cloud_box_px": (10, 10, 5, 40)}, "cloud_box_px"),
        ({"cloud_box_px": (0, 0, 121, 10)}, "cloud_box_px"),
        ({"missing_bands": ("B13",)}, "missing_bands"),
        ({"missing_bands": ("B08_20m",)}, "missing_bands"),
        ({"level": "L1C", "missing_bands": ("SCL",)}, "missing_bands"),
    ],
)
def test_invalid_spec_raises_option_error(
    tmp_path: Path, changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(OptionError, match=match):
        write_s2_product(tmp_path, replace(DEFAULT_S2_SPEC, **changes))
    assert not list(tmp_path.iterdir())
    with pytest.raises(OptionError, match="resolution_m"):
        s2_grid(DEFAULT_S2_SPEC, 30)


def test_raster_and_scl_hooks(tmp_path: Path) -> None:
    """``rasters`` and ``scl`` replace the default field and classification; wrong shapes are
    refused naming the band and the expected shape."""
    spec = S2ProductSpec(size_10m_px=60, cloud_box_px=None)
    scl = np.full((60, 60), 4, np.uint8)
    scl[:20, :20] = 9

    def rasters(band: str, res: int) -> np.ndarray:
        n = 600 // res
        return np.full((n, n), 0.1 + 0.01 * int(band[1:3].rstrip("A") or 8))

    product = write_s2_product(tmp_path / "p", spec, rasters=rasters, scl=scl)
    b04 = next(product.glob("GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2"))
    with rasterio.open(b04) as ds:
        assert (ds.read(1) == round(0.14 * 10000) + 1000).all()
    scl20 = next(product.glob("GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2"))
    with rasterio.open(scl20) as ds:
        np.testing.assert_array_equal(ds.read(1), scl[1::2, 1::2])
    metadata = (product / "MTD_MSIL2A.xml").read_text()
    assert "<Cloud_Coverage_Assessment>11.1" in metadata  # 100 of 900 px at 20 m
    with pytest.raises(OptionError, match=r"B02 at 10 m has shape \(5, 5\).*\(60, 60\)"):
        write_s2_product(tmp_path / "q", spec, rasters=lambda band, res: np.zeros((5, 5)))
    with pytest.raises(OptionError, match=r"scene classification has shape"):
        write_s2_product(tmp_path / "r", spec, rasters=rasters, scl=scl[:10])
