"""The bad-input corpus (issue 12): every command, fed damaged, foreign or absurd input, ends
with exactly one error line naming the file or option and the fix, no traceback, a non-zero
exit code, and nothing written (no output, no temporaries) - its output folder is its
working directory and must stay as it was.

Each case builds its arguments from the session's valid inputs (``conftest.Inputs``) and a
private folder for damaged copies. ``code`` 1 is a senprep/mccgan error, 2 a click usage
error (its "Usage:" lines come with the one "Error:" line).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from damage import damage_jp2_tail, flip_member_bytes

from bad_inputs.corpus_inputs import Inputs, copy_tree
from mccgan.cli import cli as mccgan_cli
from sen_preproc.cli.main import cli as senprep_cli

Build = Callable[[Inputs, Path], list[str]]


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    needles: tuple[str, ...]
    code: int = 1
    tool: str = "senprep"
    quiet: bool = True  # the command has -q


CASES: list[Case] = []


def case(
    id: str, *needles: str, code: int = 1, tool: str = "senprep", quiet: bool = True
) -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        CASES.append(Case(id, build, needles, code, tool, quiet))
        return build

    return register


# --------------------------------------------------------------------------- helpers


def s1_xml(inputs: Inputs, work: Path, kind: str, edit: Callable[[str], str]) -> Path:
    """A copy of the S1 product with its VV ``kind`` XML (annotation, calibration, noise,
    manifest) rewritten by ``edit``."""
    safe = copy_tree(inputs.s1_safe, work)
    if kind == "manifest":
        path = safe / "manifest.safe"
    elif kind == "annotation":
        path = next((safe / "annotation").glob("s1*-vv-*.xml"))
    else:
        path = next((safe / "annotation" / "calibration").glob(f"{kind}-*-vv-*.xml"))
    path.write_text(edit(path.read_text()))
    return safe


def first_value(tag: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        match = re.search(rf"<{tag}[^>]*>\s*(-?[\d.eE+-]+)", text)
        assert match is not None, tag
        return text[: match.start(1)] + new + text[match.end(1) :]

    return edit


XXE = '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    + "".join(
        f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdef", "bcdefg", strict=True)
    )
    + "]>\n"
)


def with_entity(prolog: str, entity: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        body = re.sub(r"^<\?xml[^>]*>\s*", "", text)
        tag = re.search(r"<([A-Za-z_][\w:.-]*)", body)
        assert tag is not None
        return prolog + body.replace(f"<{tag.group(1)}", f"<{tag.group(1)} a='&{entity};'", 1)

    return edit


def first_value_text(tag: str, new: str) -> Callable[[str], str]:
    return lambda text: re.sub(rf"<{tag}>[^<]+", f"<{tag}>{new}", text, count=1)


def half(text: str) -> str:
    return text[: len(text) // 2]


def remove(pattern: str) -> Callable[[str], str]:
    return lambda text: re.sub(pattern, "", text, flags=re.S)


def s2_mtd(inputs: Inputs, work: Path, edit: Callable[[str], str]) -> Path:
    safe = copy_tree(inputs.s2_safe, work)
    mtd = safe / "MTD_MSIL2A.xml"
    mtd.write_text(edit(mtd.read_text()))
    return safe


def orbit_variant(inputs: Inputs, work: Path, edit: Callable[[str], str]) -> Path:
    path = work / inputs.orbit.name
    path.write_text(edit(inputs.orbit.read_text()))
    return path


def truncated_copy(source: Path, work: Path) -> Path:
    target = work / source.name
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    return target


def s1_args(product: Path, *more: str) -> list[str]:
    return ["s1", str(product), "--pol", "VV", "--no-geoid", "--speckle", "none", *more]


# --------------------------------------------------------------------------- senprep s1


@case("s1-missing-product", "no-such.SAFE", "no such file")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(w / "no-such.SAFE")]


@case("s1-text-file", "notes.txt", "not a Sentinel SAFE product")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.text_file)]


@case("s1-empty-folder", "empty", "no manifest.safe")
def _(i: Inputs, w: Path) -> list[str]:
    (w / "empty").mkdir()
    return ["s1", str(w / "empty")]


@case("s1-truncated-zip", ".zip", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(truncated_copy(i.s1_zip, w))]


@case("s1-zip-crc", ".tiff fails its CRC-32 check", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    bad = w / i.s1_zip.name
    flip_member_bytes(i.s1_zip, "measurement/s1", bad)
    return ["s1", str(bad), "--speckle", "none"]


@case("s1-zip-crc-annotation", "CRC-32", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    bad = w / i.s1_zip.name
    flip_member_bytes(i.s1_zip, "annotation/s1", bad)
    return ["s1", str(bad)]


@case("s1-given-s2", "Sentinel-2", "senprep s2")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s2_zip)]


@case("s1-missing-vv-annotation", "VV cannot be processed", "--pol VH")
def _(i: Inputs, w: Path) -> list[str]:
    safe = copy_tree(i.s1_safe, w)
    next((safe / "annotation").glob("s1*-vv-*.xml")).unlink()
    return ["s1", str(safe)]


@case("s1-missing-vv-noise", "VV cannot be processed", "noise-")
def _(i: Inputs, w: Path) -> list[str]:
    safe = copy_tree(i.s1_safe, w)
    next((safe / "annotation" / "calibration").glob("noise-*-vv-*.xml")).unlink()
    return ["s1", str(safe)]


@case("s1-missing-measurement", "no measurement TIFF for VV", "download the complete")
def _(i: Inputs, w: Path) -> list[str]:
    safe = copy_tree(i.s1_safe, w)
    next((safe / "measurement").glob("*-vv-*.tiff")).unlink()
    return ["s1", str(safe), "--pol", "VV"]


for _kind in ("annotation", "calibration", "noise"):
    for _name, _edit in (
        ("truncated", half),
        ("not-xml", lambda t: "this is not XML\n"),
        ("empty", lambda t: ""),
        ("xxe", with_entity(XXE, "x")),
        ("billion-laughs", with_entity(LAUGHS, "g")),
    ):

        @case(
            f"s1-{_kind}-{_name}",
            _kind if _kind != "annotation" else "s1",
            "download the product again",
        )
        def _(
            i: Inputs, w: Path, kind: str = _kind, edit: Callable[[str], str] = _edit
        ) -> list[str]:
            return s1_args(s1_xml(i, w, kind, edit))


@case("s1-calibration-non-numeric", "calibration-", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "calibration", first_value("sigmaNought", "abc")))


@case("s1-calibration-nan", "sigmaNought", "non-numeric")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "calibration", first_value("sigmaNought", "nan")))


@case("s1-calibration-zero-vectors", "calibration-", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "calibration", remove(r"<calibrationVector>.*?</calibrationVector>")))  # fmt: skip


@case("s1-noise-zero-vectors", "no noise vectors", "--no-thermal-noise")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "noise", remove(r"<noiseRangeVector>.*?</noiseRangeVector>")))


@case("s1-noise-inf", "noiseRangeLut", "non-numeric")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "noise", first_value("noiseRangeLut", "inf")))


@case("s1-annotation-no-geolocation", "cannot parse s1b-iw-grd-vv", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "annotation", remove(r"<geolocationGridPoint>.*?</geolocationGridPoint>")))  # fmt: skip


@case("s1-annotation-no-orbit", "s1", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "annotation", remove(r"<orbit>.*?</orbit>")))


@case("s1-annotation-height-nan", "geolocation grid", "non-numeric")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "annotation", first_value("height", "nan")))


@case("s1-annotation-lines-text", "numberOfLines is 'many'", "download it again")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(s1_xml(i, w, "annotation", lambda t: re.sub(r"<numberOfLines>\d+", "<numberOfLines>many", t)))  # fmt: skip


@case("s1-annotation-bad-time", "productFirstLineUtcTime is 'yesterday'", "download it again")
def _(i: Inputs, w: Path) -> list[str]:
    edit = first_value_text("productFirstLineUtcTime", "yesterday")
    return s1_args(s1_xml(i, w, "annotation", edit))


@case("s1-manifest-orbit-text", "manifest.safe", "orbit number")
def _(i: Inputs, w: Path) -> list[str]:
    edit = lambda t: re.sub(r"(<safe:orbitNumber[^>]*>)\d+", r"\1x1", t, count=1)  # noqa: E731
    return ["s1", str(s1_xml(i, w, "manifest", edit))]


@case("s1-manifest-start-time", "manifest.safe", "startTime")
def _(i: Inputs, w: Path) -> list[str]:
    edit = lambda t: re.sub(r"<safe:startTime>[^<]+", "<safe:startTime>soon", t)  # noqa: E731
    return ["s1", str(s1_xml(i, w, "manifest", edit))]


@case("s1-manifest-xxe", "manifest.safe", "download it again")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(s1_xml(i, w, "manifest", with_entity(XXE, "x")))]


@case("s1-window-99999", "--window 99999", "at most 101")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--window", "99999"]


@case("s1-window-even", "--window 4", "odd")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--window", "4"]


@case("s1-pixel-size-1e-9", "--pixel-size", "--allow-large-output")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--pixel-size", "1e-9"]


@case("s1-pixel-size-0.1", "--pixel-size", "output pixels per")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--pixel-size", "0.1"]


@case("s1-pixel-size-negative", "--pixel-size", "positive")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--pixel-size", "-5"]


@case("s1-pixel-size-nan", "--pixel-size", "positive")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--pixel-size", "nan"]


@case("s1-aoi-latitude-95", "95", "latitude")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--aoi", "13.0,41.0,13.1,95"]


@case("s1-aoi-garbage", "--aoi", "minx,miny,maxx,maxy")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--aoi", "somewhere nice"]


@case("s1-aoi-outside", "S1B_IW_GRDH", "does not intersect")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--aoi", "-60,-10,-59.9,-9.9"]


@case("s1-pol-not-in-product", "HH", "--pol VV,VH")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--pol", "HH"]


@case("s1-pol-invalid", "--pol", "XX", code=2)
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--pol", "XX"]


@case("s1-dem-missing", "nodem.tif", "--dem")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--dem", str(w / "nodem.tif"))


@case("s1-dem-text", "notes.txt", "--dem")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--dem", str(i.text_file))


@case("s1-dem-all-nodata", "void.tif", "no data over the output")
def _(i: Inputs, w: Path) -> list[str]:
    import rasterio

    with rasterio.open(i.dem) as src:
        profile, data = src.profile | {"nodata": -9999.0}, src.read()
    data[:] = -9999.0
    with rasterio.open(w / "void.tif", "w", **profile) as dst:
        dst.write(data)
    return s1_args(i.s1_safe, "--dem", str(w / "void.tif"), "--dem-datum", "ellipsoid")


@case("s1-dem-ungeoreferenced", "plain.tif", "no CRS")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--dem", str(i.plain_tif))


@case("s1-orbit-missing", "none.EOF", "orbit file not found")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--orbit-file", str(w / "none.EOF"))


@case("s1-orbit-not-xml", ".EOF", "download it again")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--orbit-file", str(orbit_variant(i, w, lambda t: "garbage")))


@case("s1-orbit-position-text", ".EOF", "does not parse")
def _(i: Inputs, w: Path) -> list[str]:
    edit = lambda t: re.sub(r"(<X unit=\"m\">)[^<]+", r"\1far", t, count=1)  # noqa: E731
    return s1_args(i.s1_safe, "--orbit-file", str(orbit_variant(i, w, edit)))


@case("s1-orbit-position-nan", ".EOF", "non-numeric")
def _(i: Inputs, w: Path) -> list[str]:
    edit = lambda t: re.sub(r"(<X unit=\"m\">)[^<]+", r"\1nan", t, count=1)  # noqa: E731
    return s1_args(i.s1_safe, "--orbit-file", str(orbit_variant(i, w, edit)))


@case("s1-orbit-no-vectors", ".EOF", "no orbit state vectors")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--orbit-file", str(orbit_variant(i, w, remove(r"<OSV>.*?</OSV>"))))


@case("s1-orbit-wrong-time", ".EOF", "does not cover the acquisition")
def _(i: Inputs, w: Path) -> list[str]:
    edit = lambda t: t.replace("<Validity_Stop>UTC=20", "<Validity_Stop>UTC=19")  # noqa: E731
    return s1_args(i.s1_safe, "--orbit-file", str(orbit_variant(i, w, edit)))


@case("s1-like-ungeoreferenced", "plain.tif", "--like")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--like", str(i.plain_tif))


@case("s1-crs-unknown", "EPSG:99999", "--crs")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--crs", "EPSG:99999")


@case("s1-like-and-crs", "--like and --crs", "exclusive")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--like", str(i.s2_tif), "--crs", "EPSG:32633")


@case("s1-out-missing-folder", "nowhere", "does not exist")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "-o", "nowhere/x.tif")


@case("s1-out-name-too-long", "the name is", "shorter --out")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "-o", "a" * 240 + ".tif")


@case("s1-out-is-input", "the output is the input", "choose another --out")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_zip, "-o", str(i.s1_zip), "--overwrite")


@case("s1-out-exists", "mine.tif already exists", "--overwrite")
def _(i: Inputs, w: Path) -> list[str]:
    Path("mine.tif").write_text("the user's file")
    return s1_args(i.s1_safe, "-o", "mine.tif")


@case("s1-out-foreign-overwrite", "mine.tif", "not written by senprep")
def _(i: Inputs, w: Path) -> list[str]:
    Path("mine.tif").write_text("the user's file")
    return s1_args(i.s1_safe, "-o", "mine.tif", "--overwrite")


@case("s1-like-elsewhere", "S1B_IW_GRDH", "does not overlap")
def _(i: Inputs, w: Path) -> list[str]:
    return s1_args(i.s1_safe, "--like", str(i.pair_far))


@case("s1-engine-snap-without-gpt", "gpt", "--gpt")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s1", str(i.s1_safe), "--engine", "snap", "--gpt", str(w / "no-gpt")]


# --------------------------------------------------------------------------- senprep s2


@case("s2-missing-product", "nothing.zip", "no such file")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(w / "nothing.zip")]


@case("s2-zip-crc", "B02_10m.jp2", "CRC-32")
def _(i: Inputs, w: Path) -> list[str]:
    bad = w / i.s2_zip.name
    flip_member_bytes(i.s2_zip, "B02_10m.jp2", bad)
    return ["s2", str(bad)]


@case("s2-zip-crc-scl", "SCL_20m.jp2 is damaged", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    bad = w / i.s2_zip.name
    flip_member_bytes(i.s2_zip, "SCL_20m.jp2", bad)
    return ["s2", str(bad)]


@case("s2-truncated-zip", ".zip", "download")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(truncated_copy(i.s2_zip, w))]


@case("s2-jp2-no-eoc", "B04_10m.jp2 is damaged", "EOC")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(damage_jp2_tail(i.s2_safe, "B04", w, "eoc"))]


@case("s2-jp2-truncated", "B08_10m.jp2", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    safe = copy_tree(i.s2_safe, w)
    jp2 = next(safe.rglob("*B08_10m.jp2"))
    jp2.write_bytes(jp2.read_bytes()[: jp2.stat().st_size // 2])
    return ["s2", str(safe)]


@case("s2-mtd-not-xml", "MTD_MSIL2A.xml", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(s2_mtd(i, w, lambda t: "not xml"))]


@case("s2-mtd-truncated", "MTD_MSIL2A.xml", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(s2_mtd(i, w, half))]


@case("s2-mtd-xxe", "MTD_MSIL2A.xml", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(s2_mtd(i, w, with_entity(XXE, "x")))]


@case("s2-mtd-quantification-text", "BOA_QUANTIFICATION_VALUE", "download the product again")
def _(i: Inputs, w: Path) -> list[str]:
    edit = lambda t: re.sub(r"(<BOA_QUANTIFICATION_VALUE[^>]*>)[^<]+", r"\1lots", t)  # noqa: E731
    return ["s2", str(s2_mtd(i, w, edit))]


@case("s2-bands-unknown", "B99", "--bands", code=2)
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--bands", "B2,B99"]


@case("s2-bands-duplicate", "--bands", "B2 more than once", code=2)
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--bands", "B2,B2"]


@case("s2-invalid-classes-999", "--invalid-classes 999", "0..11")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--invalid-classes", "3,999"]


@case("s2-invalid-classes-text", "--invalid-classes", "SCL class numbers", code=2)
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--invalid-classes", "clouds"]


@case("s2-resolution-1e-9", "--resolution", "--allow-large-output")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--resolution", "1e-9"]


@case("s2-resolution-1e6", "a single pixel", "--resolution")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--resolution", "1e6"]


@case("s2-resolution-zero", "--resolution", "positive")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--resolution", "0"]


@case("s2-aoi-outside", "S2A_MSIL2A", "--aoi")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--aoi", "-60,-10,-59.9,-9.9"]


@case("s2-aoi-latitude-95", "95", "latitude")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--aoi", "13,41,13.1,95"]


@case("s2-like-elsewhere", "holds no valid pixel", "--like")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--like", str(i.pair_far)]


@case("s2-crs-garbage", "--crs", "EPSG")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--crs", "the usual one"]


@case("s2-dtype-invalid", "--dtype", "int8", code=2)
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s2_safe), "--dtype", "int8"]


@case("s2-given-s1", "Sentinel-1", "senprep s1")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.s1_safe)]


@case("s2-geotiff-without-crs", "plain.tif", "no CRS")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.plain_tif)]


@case("s2-text-file", "notes.txt", "not a Sentinel-2 input")
def _(i: Inputs, w: Path) -> list[str]:
    return ["s2", str(i.text_file)]


@case("s2-out-folder-foreign", "mine.tif", "not written by senprep")
def _(i: Inputs, w: Path) -> list[str]:
    Path("mine.tif").write_text("x")
    return ["s2", str(i.s2_safe), "-o", "mine.tif", "--overwrite"]


# --------------------------------------------------------------------------- senprep pair


@case("pair-s1-missing", "none.tif", "--s1")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(w / "none.tif"), "--s2", str(i.s2_tif), "-o", "p.tif"]


@case("pair-s1-is-s2", "s2.tif", "--s1")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s2_tif), "--s2", str(i.s2_tif), "-o", "p.tif"]


@case("pair-s2-is-s1", "s1.tif", "--s2")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.s1_tif), "-o", "p.tif"]


@case("pair-text-file", "notes.txt", "--s2")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.text_file), "-o", "p.tif"]


@case("pair-no-overlap", "pair_far.tif", "do not overlap")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.pair_far), "-o", "p.tif"]


@case("pair-resolution-1e-9", "--resolution", "--allow-large-output")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.s2_tif), "--grid", "EPSG:32633",
            "--resolution", "1e-9", "-o", "p.tif"]  # fmt: skip


@case("pair-resolution-negative", "--resolution", "positive")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.s2_tif), "--grid", "EPSG:32633",
            "--resolution", "-10", "-o", "p.tif"]  # fmt: skip


@case("pair-crs-without-resolution", "--grid EPSG:32633", "--resolution")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.s2_tif), "--grid", "EPSG:32633", "-o", "p.tif"]  # fmt: skip


@case("pair-resolution-with-grid-s2", "--resolution", "--grid s2")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.s2_tif), "--resolution", "10", "-o", "p.tif"]  # fmt: skip


@case("pair-min-overlap-2", "--min-overlap", "0..1")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.s2_tif), "--min-overlap", "2", "-o", "p.tif"]  # fmt: skip


@case("pair-grid-nonsense", "--grid", "EPSG")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.s2_tif), "--grid", "utm-ish", "-o", "p.tif"]  # fmt: skip


@case("pair-out-is-input", "the output is the input", "--out")
def _(i: Inputs, w: Path) -> list[str]:
    return ["pair", "--s1", str(i.s1_tif), "--s2", str(i.s2_tif), "-o", str(i.s1_tif), "--overwrite"]  # fmt: skip


# --------------------------------------------------------------------------- senprep split


def split_args(i: Inputs, *more: str) -> list[str]:
    return ["split", "--ref", str(i.pair_i), "--target", str(i.pair_ii), "--size", "32", "--stride", "16", *more]  # fmt: skip


@case("split-ref-missing", "none.tif", "check the path")
def _(i: Inputs, w: Path) -> list[str]:
    return ["split", "--ref", str(w / "none.tif"), "--target", str(i.pair_ii), "-o", "ds"]


@case("split-ref-not-a-pair", "s2.tif", "senprep pair")
def _(i: Inputs, w: Path) -> list[str]:
    return ["split", "--ref", str(i.s2_tif), "--target", str(i.pair_ii), "-o", "ds"]


@case("split-target-is-ref", "--target", "--ref")
def _(i: Inputs, w: Path) -> list[str]:
    return ["split", "--ref", str(i.pair_i), "--target", str(i.pair_i), "-o", "ds"]


@case("split-different-grids", "pair_far.tif", "do not overlap")
def _(i: Inputs, w: Path) -> list[str]:
    return ["split", "--ref", str(i.pair_i), "--target", str(i.pair_far), "-o", "ds"]


@case("split-out-existing-file", "mine", "not a folder")
def _(i: Inputs, w: Path) -> list[str]:
    Path("mine").write_text("x")
    return split_args(i, "-o", "mine")


@case("split-out-dot", "current folder", "--out")
def _(i: Inputs, w: Path) -> list[str]:
    return split_args(i, "-o", ".")


@case("split-out-symlink", "symbolic link", "--out")
def _(i: Inputs, w: Path) -> list[str]:
    (w / "real").mkdir()
    Path("link").symlink_to(w / "real")
    return split_args(i, "-o", "link")


@case("split-out-foreign-folder", "mine", "not a senprep dataset")
def _(i: Inputs, w: Path) -> list[str]:
    Path("mine").mkdir()
    (Path("mine") / "photo.jpg").write_text("x")
    return split_args(i, "-o", "mine", "--overwrite")


@case("split-size-zero", "--size", "0")
def _(i: Inputs, w: Path) -> list[str]:
    return ["split", "--ref", str(i.pair_i), "--target", str(i.pair_ii), "--size", "0", "-o", "ds"]


@case("split-stride-zero", "--stride", "0")
def _(i: Inputs, w: Path) -> list[str]:
    return split_args(i, "--stride", "0", "-o", "ds")


@case("split-fractions", "--split", "1")
def _(i: Inputs, w: Path) -> list[str]:
    return split_args(i, "--split", "rows:0.7,0.7,0", "-o", "ds")


@case("split-max-invalid", "--max-invalid", "0")
def _(i: Inputs, w: Path) -> list[str]:
    return split_args(i, "--max-invalid", "3", "-o", "ds")


@case("split-patch-larger-than-pair", "--size", "64")
def _(i: Inputs, w: Path) -> list[str]:
    return ["split", "--ref", str(i.pair_i), "--target", str(i.pair_ii), "--size", "512", "-o", "ds"]  # fmt: skip


@case("split-test-area-outside", "--test-area", "outside the pairs")
def _(i: Inputs, w: Path) -> list[str]:
    return split_args(i, "--test-area", "100,10,100.1,10.1", "-o", "ds")


# --------------------------------------------------------------------------- senprep synth


@case("synth-size-zero", "--size-km", "0")
def _(i: Inputs, w: Path) -> list[str]:
    return ["synth", "-o", "scene", "--size-km", "0"]


@case("synth-dates-unordered", "--dates", "must increase")
def _(i: Inputs, w: Path) -> list[str]:
    return ["synth", "-o", "scene", "--dates", "2023-06-01,2023-05-01"]


@case("synth-date-garbage", "--dates", "YYYY-MM-DD")
def _(i: Inputs, w: Path) -> list[str]:
    return ["synth", "-o", "scene", "--dates", "soon"]


@case("synth-clouds-2", "--clouds", "0")
def _(i: Inputs, w: Path) -> list[str]:
    return ["synth", "-o", "scene", "--clouds", "2"]


@case("synth-centre-latitude-95", "--centre", "95")
def _(i: Inputs, w: Path) -> list[str]:
    return ["synth", "-o", "scene", "--centre", "12,95"]


@case("synth-out-existing-file", "mine", "not a folder")
def _(i: Inputs, w: Path) -> list[str]:
    Path("mine").write_text("x")
    return ["synth", "-o", "mine"]


# --------------------------------------------------------------------------- senprep graph


@case("graph-s1-missing-product", "none.SAFE", "no such file", quiet=False)
def _(i: Inputs, w: Path) -> list[str]:
    return ["graph", "s1", str(w / "none.SAFE"), "-o", "g.xml"]


@case("graph-s1-window", "--window 99999", "at most 101", quiet=False)
def _(i: Inputs, w: Path) -> list[str]:
    return ["graph", "s1", str(i.s1_safe), "--window", "99999", "-o", "g.xml"]


@case("graph-collocate-missing", "none.tif", "--reference", quiet=False)
def _(i: Inputs, w: Path) -> list[str]:
    return ["graph", "collocate", "--reference", str(w / "none.tif"), "--secondary", str(i.s2_tif), "-o", "g.xml"]  # fmt: skip


# --------------------------------------------------------------------------- mccgan


@case("train-data-missing", "nodata", "senprep split", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["train", "--data", str(w / "nodata"), "-o", "run"]


@case("train-data-list-of-nothing", "no such dataset folder", "senprep split", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["train", "--data", str(i.text_file), "-o", "run"]


@case("train-epochs-negative", "--epochs", "-1", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["train", "--data", str(i.dataset), "-o", "run", "--epochs", "-1"]


@case("train-ngf-zero", "--ngf", "0", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["train", "--data", str(i.dataset), "-o", "run", "--ngf", "0"]


@case("train-config-missing", "none.yaml", "--config", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["train", "--data", str(i.dataset), "-o", "run", "--config", str(w / "none.yaml")]


@case("train-config-not-yaml", "bad.yaml", "YAML", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    (w / "bad.yaml").write_text("epochs: [1, 2\n")
    return ["train", "--data", str(i.dataset), "-o", "run", "--config", str(w / "bad.yaml")]


@case("train-out-existing-file", "mine", "not a folder", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    Path("mine").write_text("x")
    return ["train", "--data", str(i.dataset), "-o", "mine"]


def fuse_args(i: Inputs, *more: str) -> list[str]:
    return ["fuse", "--model", str(i.model), "--ref", str(i.pair_i), "--target-s1", str(i.pair_ii), *more]  # fmt: skip


@case("fuse-model-missing", "none.pt", "model.pt", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["fuse", "--model", str(w / "none.pt"), "--ref", str(i.pair_i), "--target-s1",
            str(i.pair_ii), "-o", "f.tif"]  # fmt: skip


@case("fuse-model-text", "notes.txt", "model.pt", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["fuse", "--model", str(i.text_file), "--ref", str(i.pair_i), "--target-s1",
            str(i.pair_ii), "-o", "f.tif"]  # fmt: skip


@case("fuse-model-truncated", "model.pt", "mccgan train", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["fuse", "--model", str(truncated_copy(i.model, w)), "--ref", str(i.pair_i),
            "--target-s1", str(i.pair_ii), "-o", "f.tif"]  # fmt: skip


@case("fuse-model-incomplete", "model.pt", "export it again", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    import torch

    document = torch.load(i.model, weights_only=True)
    del document["normalisation"]["s1_unit"]
    torch.save(document, w / "model.pt")
    return ["fuse", "--model", str(w / "model.pt"), *fuse_args(i, "-o", "f.tif")[3:]]


@case("fuse-target-missing", "none.tif", "--target-s1", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["fuse", "--model", str(i.model), "--ref", str(i.pair_i), "--target-s1",
            str(w / "none.tif"), "-o", "f.tif"]  # fmt: skip


@case("fuse-target-elsewhere", "pair_far.tif", "covers 0 %", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["fuse", "--model", str(i.model), "--ref", str(i.pair_i), "--target-s1",
            str(i.pair_far), "-o", "f.tif"]  # fmt: skip


@case("fuse-batch-size-zero", "--batch-size", "0", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return fuse_args(i, "--batch-size", "0", "-o", "f.tif")


@case("fuse-out-is-input", "input", "--out", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return fuse_args(i, "-o", str(i.pair_ii), "--overwrite")


@case("fuse-mc-dropout-negative", "--mc-dropout", "-2", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return fuse_args(i, "--mc-dropout", "-2", "-o", "f.tif")


@case("evaluate-truth-missing", "none.tif", "--truth", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["evaluate", "--truth", str(w / "none.tif"), "--pred", str(i.pair_ii), "-o", "rep"]


@case("evaluate-pred-other-grid", "pair_far.tif", "grid", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["evaluate", "--truth", str(i.pair_ii), "--pred", str(i.pair_far), "-o", "rep"]


@case("evaluate-region-garbage", "--region", "NAME=FILE", tool="mccgan", code=2)
def _(i: Inputs, w: Path) -> list[str]:
    return ["evaluate", "--truth", str(i.pair_ii), "--pred", str(i.pair_ii), "--region", "clouds", "-o", "rep"]  # fmt: skip


@case("evaluate-out-existing-file", "mine", "not a folder", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    Path("mine").write_text("x")
    return ["evaluate", "--truth", str(i.pair_ii), "--pred", str(i.pair_ii), "-o", "mine"]


@case("evaluate-patches-without-model", "--patches", "--model", tool="mccgan")
def _(i: Inputs, w: Path) -> list[str]:
    return ["evaluate", "--patches", str(i.dataset), "-o", "rep"]


# --------------------------------------------------------------------------- the test


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_bad_input(
    bad: Case, inputs: Inputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    monkeypatch.chdir(out)
    args = bad.build(inputs, work)
    before_out, before_work, before_inputs = snapshot(out), snapshot(work), snapshot(inputs.root)
    cli = senprep_cli if bad.tool == "senprep" else mccgan_cli
    result = CliRunner().invoke(cli, [*args, "-q"] if bad.quiet else args)
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unexpected {type(result.exception).__name__}: {result.exception}\n{output}"
    )
    assert "Traceback" not in output, output
    assert result.exit_code == bad.code, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    others = [line for line in output.splitlines() if line and not line.startswith("Error:")]
    if bad.code == 1:  # library errors: nothing but the one line (and warnings)
        assert all(line.startswith("WARNING:") for line in others), output
    for needle in bad.needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    assert snapshot(out) == before_out, "the output folder changed"
    assert snapshot(work) == before_work, "temporaries were left beside the inputs"
    assert snapshot(inputs.root) == before_inputs, "an input changed"


def test_corpus_size() -> None:
    """The issue asks for at least 80 cases across all commands."""
    assert len(CASES) >= 80
    assert {c.id.split("-")[0] for c in CASES} >= {"s1", "s2", "pair", "split", "synth", "graph",
                                                   "train", "fuse", "evaluate"}  # fmt: skip
