"""Damaged inputs are refused, never decoded to wrong pixels (issue 12, class 1).

* every zip member a command reads has its CRC-32 checked, whatever its size;
* GDAL's warnings about damaged streams are errors while inputs are decoded;
* a requested or default polarisation whose annotation, calibration or noise file is missing is
  an error naming the file;
* DEM voids: no data anywhere under the output is an error, partial voids a warning and a tag.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from damage import damage_jp2_tail, flip_member_bytes, member_data_span

from sen_preproc import archives
from sen_preproc.cli.main import cli
from sen_preproc.errors import ProductError
from sen_preproc.testing.s1_factory import S1ProductSpec, write_dem, write_s1_grd_product
from sen_preproc.testing.s1_factory import footprint_bounds as s1_footprint
from sen_preproc.testing.s2_factory import write_s2_product

S1_SPEC = S1ProductSpec(lines=120, samples=160, seed=5)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("integrity")


@pytest.fixture(scope="module")
def s2_zip(workdir: Path) -> Path:
    return write_s2_product(workdir / "s2", zipped=True)


@pytest.fixture(scope="module")
def s1_zip(workdir: Path) -> Path:
    return write_s1_grd_product(workdir / "s1", S1_SPEC, zipped=True)


@pytest.fixture(scope="module")
def s1_safe(workdir: Path) -> Path:
    return write_s1_grd_product(workdir / "s1safe", S1_SPEC)


def invoke(args: list[str]) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, [*args, "-q"])
    return result.exit_code, [
        line for line in result.output.splitlines() if not line.startswith("WARNING:")
    ]


def assert_refused(args: list[str], out_dir: Path, *needles: str) -> str:
    code, lines = invoke(args)
    assert code == 1, lines
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert [p.name for p in out_dir.iterdir()] == []
    return lines[0]


# --------------------------------------------------------------------------- zip CRC


def test_corrupt_s2_band_member_is_refused(s2_zip: Path, workdir: Path, tmp_path: Path) -> None:
    """64 flipped bytes in B02_10m.jp2 gave ~98 % wrong pixels and exit 0; now the CRC fails."""
    bad = workdir / "bad_b02.zip"
    member = flip_member_bytes(s2_zip, "B02_10m.jp2", bad)
    out = tmp_path / "out"
    out.mkdir()
    line = assert_refused(
        ["s2", str(bad), "--bands", "B2,B3", "-o", str(out / "x.tif")],
        out,
        str(bad),
        member,
        "CRC-32",
        "download the product again",
    )
    assert "Traceback" not in line


def test_unread_corrupt_member_does_not_matter(s2_zip: Path, workdir: Path, tmp_path: Path) -> None:
    """Only the members that are read are verified: a damaged B12 does not stop B2,B3."""
    bad = workdir / "bad_b12.zip"
    flip_member_bytes(s2_zip, "B12_20m.jp2", bad)
    code, lines = invoke(["s2", str(bad), "--bands", "B2,B3", "-o", str(tmp_path / "x.tif")])
    assert code == 0, lines
    with rasterio.open(tmp_path / "x.tif") as ds:
        assert ds.descriptions == ("B2", "B3", "valid")


@pytest.mark.parametrize("pattern", ["measurement/s1", "annotation/s1", "calibration/calibration"])
def test_corrupt_s1_member_is_refused(
    s1_zip: Path, workdir: Path, tmp_path: Path, pattern: str
) -> None:
    """The S1 path skipped its check above 64 MiB; now every member read is verified."""
    bad = workdir / f"bad_{pattern.replace('/', '_')}.zip"
    member = flip_member_bytes(s1_zip, pattern, bad)
    out = tmp_path / "out"
    out.mkdir()
    assert_refused(
        ["s1", str(bad), "-o", str(out / "x.tif"), "--no-geoid"],
        out,
        str(bad),
        member,
        "download the product again",
    )


def test_members_are_verified_once_per_process(
    s1_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = Path(shutil.copy(s1_zip, tmp_path / s1_zip.name))
    with zipfile.ZipFile(copy) as archive:
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
    calls: list[str] = []
    real = archives._read_member

    def counting(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: Path) -> int:
        calls.append(info.filename)
        return real(archive, info, label)

    monkeypatch.setattr(archives, "_read_member", counting)
    archives.verify_zip_members(copy, names[:3])
    archives.verify_zip_members(copy, names[:3])
    assert sorted(calls) == sorted(names[:3])
    copy.touch()  # a changed file is verified again
    archives.verify_zip_members(copy, names[:1])
    assert sorted(calls) == sorted([*names[:3], names[0]])


def test_large_members_are_verified_too(s1_zip: Path, tmp_path: Path) -> None:
    """No size limit: a member is read to its end in chunks, so a truncated stream fails."""
    bad = tmp_path / "bad.zip"
    member = flip_member_bytes(s1_zip, "measurement/s1", bad, count=8)
    with zipfile.ZipFile(bad) as archive:
        name = next(n for n in archive.namelist() if n.endswith(member))
    old = archives.CHUNK_BYTES
    try:
        archives.CHUNK_BYTES = 1024  # many chunks, as for a ~1 GB member
        with pytest.raises(ProductError, match=f"{member}"):
            archives.verify_zip_members(bad, [name])
    finally:
        archives.CHUNK_BYTES = old


def test_missing_member_and_vsizip_paths(s2_zip: Path, tmp_path: Path) -> None:
    with pytest.raises(ProductError, match=r"nothing\.jp2 is missing from the archive"):
        archives.verify_zip_members(s2_zip, ["nothing.jp2"])
    renamed = Path(shutil.copy(s2_zip, tmp_path / "download.bin"))  # no .zip suffix
    assert archives.split_vsizip(f"/vsizip/{renamed}/A.SAFE/b.jp2") == (renamed, "A.SAFE/b.jp2")
    assert archives.split_vsizip(f"{renamed}") is None
    assert archives.split_vsizip("/vsizip//no/such/file.zip/member") is None


def test_snap_engine_checks_the_whole_zip(s2_zip: Path, tmp_path: Path) -> None:
    """gpt reads the zip itself: every member is verified before it starts."""
    bad = tmp_path / "bad.zip"
    member = flip_member_bytes(s2_zip, "B12_20m.jp2", bad)
    with pytest.raises(ProductError, match=member):
        archives.verify_whole_zip(bad)


# --------------------------------------------------------------------------- decoder warnings


def test_truncated_stream_warning_is_an_error(workdir: Path, tmp_path: Path) -> None:
    safe = write_s2_product(workdir / "s2safe")
    damaged = damage_jp2_tail(safe, "B02", workdir, "eoc")
    out = tmp_path / "out"
    out.mkdir()
    assert_refused(
        ["s2", str(damaged), "--bands", "B2", "-o", str(out / "x.tif")],
        out,
        "B02_10m.jp2 is damaged",
        "EOC",
        "download the product again",
    )


def test_undecodable_jp2_is_one_line(workdir: Path, tmp_path: Path) -> None:
    safe = write_s2_product(workdir / "s2safe2")
    copy = workdir / "trunc" / safe.name
    shutil.copytree(safe, copy)
    jp2 = next(copy.rglob("*B03_10m.jp2"))
    jp2.write_bytes(jp2.read_bytes()[: len(jp2.read_bytes()) * 2 // 3])
    out = tmp_path / "out"
    out.mkdir()
    assert_refused(
        ["s2", str(copy), "--bands", "B3", "-o", str(out / "x.tif")],
        out,
        "B03_10m.jp2",
        "download the product again",
    )


# --------------------------------------------------------------------------- missing XML


@pytest.mark.parametrize("kind", ["annotation", "calibration", "noise"])
def test_missing_vv_file_is_an_error(s1_safe: Path, tmp_path: Path, kind: str) -> None:
    """A dual-pol product lacking a VV file was processed as VH only with exit 0."""
    copy = Path(shutil.copytree(s1_safe, tmp_path / s1_safe.name))
    folder = copy / "annotation" / ("" if kind == "annotation" else "calibration")
    prefix = "s1" if kind == "annotation" else kind
    victim = next(p for p in folder.glob(f"{prefix}*-vv-*.xml"))
    victim.unlink()
    out = tmp_path / "out"
    out.mkdir()
    assert_refused(
        ["s1", str(copy), "-o", str(out / "x.tif"), "--no-geoid"],
        out,
        "VV cannot be processed",
        victim.name,
        "--pol VH",
    )
    code, lines = invoke(["s1", str(copy), "--pol", "VH", "-o", str(out / "vh.tif")])
    assert code == 0, lines
    with rasterio.open(out / "vh.tif") as ds:
        assert ds.descriptions == ("VH",)


# --------------------------------------------------------------------------- DEM voids


def footprint_bounds(margin_deg: float = 0.02) -> tuple[float, float, float, float]:
    return s1_footprint(S1_SPEC, margin_deg)


def with_voids(dem: Path, out: Path, region: tuple[slice, slice] | None) -> Path:
    """A copy of ``dem`` with nodata -32768 over ``region`` (None: everywhere)."""
    with rasterio.open(dem) as src:
        data = src.read(1)
        profile = src.profile | {"nodata": -32768.0}
    data[region if region is not None else (slice(None), slice(None))] = -32768.0
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data, 1)
    return out


def test_all_nodata_dem_is_refused(s1_safe: Path, workdir: Path, tmp_path: Path) -> None:
    """It was used as 0 m while the tags said DEM heights were used."""
    dem = write_dem(
        workdir / "dem_flat.tif", footprint_bounds(), terrain_height=lambda lo, la: 0 * lo + 300.0
    )
    void = with_voids(dem, workdir / "dem_void.tif", None)
    out = tmp_path / "out"
    out.mkdir()
    assert_refused(
        [
            "s1",
            str(s1_safe),
            "--dem",
            str(void),
            "--dem-datum",
            "ellipsoid",
            "-o",
            str(out / "x.tif"),
        ],
        out,
        str(void),
        "no data over the output area",
        "--dem",
    )


def test_partial_voids_warn_and_are_tagged(s1_safe: Path, workdir: Path, tmp_path: Path) -> None:
    """Voids take the geolocation grid's heights (as without a DEM), with a warning and a tag."""
    dem = write_dem(
        workdir / "dem_hill.tif", footprint_bounds(), terrain_height=lambda lo, la: 0 * lo + 400.0
    )
    with rasterio.open(dem) as src:
        height, width = src.shape
    hole = (slice(0, height), slice(0, width // 2))  # the western half of the DEM
    holed = with_voids(dem, workdir / "dem_holed.tif", hole)
    common = ["--pol", "VV", "--no-geoid", "--pixel-size", "20"]
    result = CliRunner().invoke(
        cli,
        [
            "s1",
            str(s1_safe),
            *common,
            "--dem",
            str(holed),
            "--dem-datum",
            "ellipsoid",
            "-o",
            str(tmp_path / "holed.tif"),
        ],
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "DEM voids" in line]
    assert len(warnings) == 1 and "dem_holed.tif" in warnings[0], result.output
    code, lines = invoke(["s1", str(s1_safe), *common, "-o", str(tmp_path / "flat.tif")])
    assert code == 0, lines
    code, lines = invoke(
        [
            "s1",
            str(s1_safe),
            *common,
            "--dem",
            str(dem),
            "--dem-datum",
            "ellipsoid",
            "-o",
            str(tmp_path / "full.tif"),
        ]
    )
    assert code == 0, lines
    with rasterio.open(tmp_path / "holed.tif") as ds:
        holed_db, tags, transform = ds.read(1), ds.tags(), ds.transform
    with rasterio.open(tmp_path / "flat.tif") as ds:
        flat_db = ds.read(1)
    with rasterio.open(tmp_path / "full.tif") as ds:
        full_db, full_tags = ds.read(1), ds.tags()
    assert full_tags["DEM_VOID_FRACTION"] == "0.0000"
    fraction = float(tags["DEM_VOID_FRACTION"])
    # the void is the DEM's western half: the output pixels west of its edge, measured
    from rasterio.warp import transform as warp

    with rasterio.open(holed) as ds:
        edge_lon = (ds.transform @ (width // 2, 0))[0]
        crs = ds.crs
    rows, cols = np.nonzero(np.isfinite(holed_db))
    x, y = transform @ (cols + 0.5, rows + 0.5)
    with rasterio.open(tmp_path / "holed.tif") as ds:
        lon, _ = warp(ds.crs, crs, x, y)
    west = np.asarray(lon) < edge_lon
    assert fraction == pytest.approx(west.mean(), abs=0.02)
    assert 0.2 < fraction < 0.8
    # deep inside the void the result is the DEM-less one; far east of it, the DEM's
    deep_west = np.asarray(lon) < edge_lon - 0.01
    deep_east = np.asarray(lon) > edge_lon + 0.01
    assert np.array_equal(
        holed_db[rows[deep_west], cols[deep_west]], flat_db[rows[deep_west], cols[deep_west]]
    )
    assert np.array_equal(
        holed_db[rows[deep_east], cols[deep_east]], full_db[rows[deep_east], cols[deep_east]]
    )
    assert not np.array_equal(
        full_db[rows[deep_west], cols[deep_west]], flat_db[rows[deep_west], cols[deep_west]]
    )


# --------------------------------------------------------------------------- review findings


@pytest.mark.parametrize(
    ("message", "damaged"),
    [
        ("CPLE_AppDefined:Stream does not end with EOC", True),
        ("TIFFReadEncodedStrip: Read error at scanline 12", True),
        ("band 1: IReadBlock failed at X offset 0, Y offset 0", True),
        ("Error -3 while decompressing data: invalid distance too far back", True),
        ("Geocentric CRS not supported", False),  # 'geoc' is not 'EOC'
        (
            "TIFFReadDirectory: Sum of Photometric type-related color channels and ExtraSamples "
            "doesn't match SamplesPerPixel",
            False,
        ),
        ("TIFFReadDirectoryCheckOrder: Invalid TIFF directory; tags are not sorted", False),
    ],
)
def test_damage_warnings_are_told_from_harmless_ones(message: str, damaged: bool) -> None:
    from sen_preproc.gdal_messages import DAMAGE_WARNING

    assert bool(DAMAGE_WARNING.search(message)) is damaged


def test_damage_is_caught_inside_a_write_block(tmp_path: Path) -> None:
    """decoding() nested in writing(): the writer's held messages must not hide the damage."""
    import logging

    from sen_preproc.outputs import writing
    from sen_preproc.raster_io import decoding

    log = logging.getLogger("rasterio._err")
    with pytest.raises(ProductError, match="EOC"), writing(tmp_path / "o.tif"):
        with decoding(str(tmp_path / "in.jp2")):
            log.warning("CPLE_AppDefined:Stream does not end with EOC")


def test_writing_shows_gdal_messages_when_another_error_ends_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from sen_preproc.outputs import writing

    with pytest.raises(ValueError, match="not a write"), writing(tmp_path / "o.tif"):
        logging.getLogger("rasterio._err").warning("CPLE_AppDefined:a GDAL remark")
        raise ValueError("not a write failure")
    assert "a GDAL remark" in caplog.text


def test_a_bug_in_senprep_is_not_called_a_damaged_file(
    s1_safe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only failures inside the XML libraries mean "damaged": ours keep their traceback."""
    from sen_preproc.sentinel1 import product as s1_product

    def broken(root: object, path: Path) -> None:
        raise TypeError("a bug in senprep")

    monkeypatch.setattr(s1_product, "parse_noise", broken)
    product = s1_product.open_product(s1_safe)
    with pytest.raises(TypeError, match="a bug in senprep"):
        s1_product.read_metadata(product, "VV")


def test_unsupported_zip_compression_is_one_line(s2_zip: Path, tmp_path: Path) -> None:
    """Deflate64 (Windows Explorer's zips over 2 GB) is not readable by zipfile."""
    info, _ = member_data_span(s2_zip, "B02_10m.jp2")
    raw = bytearray(s2_zip.read_bytes())
    raw[info.header_offset + 8 : info.header_offset + 10] = (9).to_bytes(2, "little")
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        name_len = int.from_bytes(raw[central + 28 : central + 30], "little")
        if raw[central + 46 : central + 46 + name_len].decode() == info.filename:
            raw[central + 10 : central + 12] = (9).to_bytes(2, "little")
            break
        central = raw.find(b"PK\x01\x02", central + 4)
    bad = tmp_path / "d64.zip"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ProductError, match=r"B02_10m\.jp2 cannot be read .*re-zip it"):
        archives.verify_zip_members(bad, [info.filename])
