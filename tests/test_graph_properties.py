"""Property-based tests of the GPT graph renderer (:mod:`sen_preproc.snap.render`).

Whatever the option values - paths with spaces, quotes, ``<``, ``>``, ``&``, ``$``, ``${...}``,
line breaks and any unicode, AOI WKT, CRS strings, band lists, pixel sizes, windows - a render
either gives well-formed XML that lxml parses back to exactly those values in the right nodes
(and that gpt's raw ``-P`` substitution into the template cannot alter), or raises a clean
:class:`~sen_preproc.errors.SenPrepError`; never another exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from sen_preproc.errors import GraphError, OptionError, SenPrepError
from sen_preproc.snap import catalogue as cat
from sen_preproc.snap.graph import Graph, escape_value
from sen_preproc.snap.render import (
    S2_LEVEL_TOA,
    S2_LEVELS,
    S2_SCENE_CLASSIFICATION_BAND,
    SPECKLE_FILTER_NAMES,
    CollocateOptions,
    RenderedGraph,
    S1GraphOptions,
    S2GraphOptions,
    render_collocate,
    render_s1,
    render_s2,
)
from sen_preproc.snap.validate import validate_graph
from sen_preproc.snap.version import KNOWN_MAJORS, SnapVersion

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

#: What XML 1.0 cannot carry (graph.py refuses it with a GraphError).
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
HOSTILE_CHARS = [*" '\"<>&$;{}\\/-!é漢ß\u200b\t\n\r", "${input}", "$output", "--", "]]>"]

versions = st.sampled_from(KNOWN_MAJORS).map(SnapVersion)
text_chars = st.one_of(
    st.sampled_from(HOSTILE_CHARS),
    st.characters(codec="utf-8", min_codepoint=0x20),  # no surrogates, no C0 controls
)
#: Mostly valid text; now and then a control character or a lone surrogate.
any_chars = st.one_of(text_chars, text_chars, text_chars, st.characters())


def paths(chars: st.SearchStrategy[str] = any_chars) -> st.SearchStrategy[Path]:
    """Absolute or relative paths built from hostile characters (``/`` inside allowed)."""
    segment = st.lists(chars, min_size=1, max_size=12).map("".join)
    return st.builds(
        lambda absolute, parts: Path(("/" if absolute else "") + "/".join(parts)),
        st.booleans(),
        st.lists(segment, min_size=1, max_size=4),
    )


def expected_path(path: Path) -> str:
    """What the graph must hold for ``path``: the same path, absolute (gpt runs elsewhere)."""
    return str(path.absolute())


def xml_ok(*values: str) -> bool:
    return not any(XML_INVALID.search(v) for v in values)


def parse(rendered: RenderedGraph) -> Any:
    """The concrete XML parsed by lxml (a second, independent parser), checked for shape."""
    xml = rendered.concrete_xml()
    root = etree.fromstring(xml.encode("utf-8"))
    assert root.tag == "graph" and root.findtext("version") == "1.0"
    assert "$" not in xml  # nothing left for gpt's TemplateReader to substitute
    return root


def param(root: Any, node_id: str, name: str) -> str | None:
    node = root.find(f"node[@id='{node_id}']")
    assert node is not None, node_id
    el = node.find(f"parameters/{name}")
    return None if el is None else (el.text or "")


def gpt_template_reader(template: str, values: dict[str, str]) -> str:
    """gpt's TemplateReader: ``${name}`` and bare ``$name`` replaced by the raw value, once."""

    def repl(m: re.Match[str]) -> str:
        return values.get(m.group(1) or m.group(2), m.group(0))

    return re.sub(r"\$\{([A-Za-z_][\w.]*)\}|\$([A-Za-z_][\w.]*)", repl, template)


def check_template_route(rendered: RenderedGraph, node_id: str, name: str, value: str) -> None:
    """The template run as ``gpt graph.xml -Pname=value`` gives the same value."""
    p_values = {k: escape_value(v) for k, v in rendered.variables.items()}
    root = etree.fromstring(gpt_template_reader(rendered.template_xml(), p_values).encode())
    assert param(root, node_id, name) == value


def outcome(render: Callable[[], RenderedGraph]) -> RenderedGraph | SenPrepError:
    """The rendered graph, or the SenPrepError it raised (anything else fails the test)."""
    try:
        return render()
    except SenPrepError as err:
        assert str(err).strip()  # a message naming the value and the fix
        return err


# ---- Sentinel-1 -------------------------------------------------------------------------------
@PROPERTY
@given(inp=paths(), out=paths(), dem=st.none() | paths(), version=versions)
def test_s1_paths_round_trip(inp: Path, out: Path, dem: Path | None, version: SnapVersion) -> None:
    values = [expected_path(p) for p in (inp, out, dem) if p is not None]
    result = outcome(lambda: render_s1(S1GraphOptions(inp, out, dem=dem), version))
    if not xml_ok(*values):
        assert isinstance(result, GraphError) and "XML cannot carry" in str(result)
        return
    assert isinstance(result, RenderedGraph), result
    root = parse(result)
    assert param(root, "Read", "file") == expected_path(inp)
    assert param(root, "Write", "file") == expected_path(out)
    tc_dem = param(root, "Terrain-Correction", "externalDEMFile")
    assert tc_dem == (None if dem is None else expected_path(dem))
    if dem is not None:
        assert param(root, "Terrain-Correction", "demName") == "External DEM"
    validate_graph(Graph.from_xml(result.concrete_xml()), version)
    check_template_route(result, "Read", "file", expected_path(inp))
    check_template_route(result, "Write", "file", expected_path(out))


numbers = st.one_of(
    st.floats(min_value=0.01, max_value=1000.0),
    st.floats(),  # anything: NaN, infinities, negatives, subnormals
    st.integers(-10, 10_000).map(float),
)


@PROPERTY
@given(
    pixel=numbers,
    nodata=st.floats(),
    speckle=st.sampled_from(sorted(SPECKLE_FILTER_NAMES)),
    window=st.integers(-3, 120),
    version=versions,
)
def test_s1_numeric_parameters(
    pixel: float, nodata: float, speckle: str, window: int, version: SnapVersion
) -> None:
    opts = S1GraphOptions(
        Path("/in.zip"),
        Path("/out.tif"),
        dem=Path("/dem.tif"),
        dem_nodata=nodata,
        pixel_size_m=pixel,
        speckle=speckle,
        window_px=window,
    )
    result = outcome(lambda: render_s1(opts, version))
    pixel_ok = math.isfinite(pixel) and pixel > 0
    window_ok = {
        "none": True,
        "lee-sigma": window in (5, 7, 9, 11, 13, 15, 17),  # SNAP's windowSize 5x5 ... 17x17
        "refined-lee": window == 7,  # fixed 7x7
    }.get(speckle, 1 < window <= 100)  # filterSizeX/Y in (1, 100]
    if isinstance(result, SenPrepError):
        assert isinstance(result, OptionError), result
        msg = str(result)
        assert not (pixel_ok and window_ok), msg
        assert ("pixel size" in msg and not pixel_ok) or (repr(window) in msg and not window_ok)
        return
    assert pixel_ok and window_ok
    root = parse(result)
    assert float(param(root, "Terrain-Correction", "pixelSpacingInMeter") or "") == pixel
    back = float(param(root, "Terrain-Correction", "externalDEMNoDataValue") or "")
    assert back == nodata or (math.isnan(back) and math.isnan(nodata))
    snap_filter = SPECKLE_FILTER_NAMES[speckle]
    if snap_filter is None:
        assert root.find("node[@id='Speckle-Filter']") is None
        return
    assert param(root, "Speckle-Filter", "filter") == snap_filter
    if snap_filter == "Lee Sigma":
        assert param(root, "Speckle-Filter", "windowSize") == f"{window}x{window}"
    elif snap_filter == "Refined Lee":
        assert window == 7 and param(root, "Speckle-Filter", "filterSizeX") is None
    else:
        assert 1 < window <= 100
        assert param(root, "Speckle-Filter", "filterSizeX") == str(window)
        assert param(root, "Speckle-Filter", "filterSizeY") == str(window)


lon = st.floats(min_value=-179.0, max_value=178.0)
lat = st.floats(min_value=-89.0, max_value=88.0)
size = st.floats(min_value=0.001, max_value=1.0)


def _box(x: float, y: float, w: float, h: float) -> str:
    ring = [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
    return "(" + ", ".join(f"{a!r} {b!r}" for a, b in ring) + ")"


polygons = st.builds(lambda x, y, w, h: f"POLYGON({_box(x, y, w, h)})", lon, lat, size, size)
multipolygons = st.builds(
    lambda boxes: "MULTIPOLYGON(" + ", ".join(f"({_box(*b)})" for b in boxes) + ")",
    st.lists(st.tuples(lon, lat, size, size), min_size=1, max_size=3),
)
valid_aois = st.builds(
    lambda pad1, wkt, pad2: pad1 + wkt + pad2,
    st.sampled_from(["", " ", "\n", "\t "]),
    polygons | multipolygons,
    st.sampled_from(["", " ", "\r\n"]),
)


@PROPERTY
@given(aoi=valid_aois | st.text(max_size=40), version=versions)
def test_aoi_wkt_round_trips_or_is_refused(aoi: str, version: SnapVersion) -> None:
    result = outcome(
        lambda: render_s1(S1GraphOptions(Path("/i"), Path("/o"), aoi_wkt=aoi), version)
    )
    if isinstance(result, SenPrepError):
        assert isinstance(result, OptionError | GraphError), result
        return
    root = parse(result)
    assert param(root, "Subset", "geoRegion") == aoi.strip()
    check_template_route(result, "Subset", "geoRegion", aoi.strip())
    s2 = render_s2(S2GraphOptions(Path("/i"), Path("/o"), "L2A", aoi_wkt=aoi), version)
    assert param(parse(s2), "Subset", "geoRegion") == aoi.strip()


crs_strings = st.one_of(
    st.sampled_from(
        ["EPSG:4326", "epsg:4326", "4326", "WGS84", "EPSG:32633", "EPSG:3035", "AUTO:42001"]
    ),
    st.integers(2000, 33000).map(lambda n: f"EPSG:{n}"),
    st.text(max_size=30),
)


@PROPERTY
@given(crs=crs_strings, version=versions)
def test_crs_strings(crs: str, version: SnapVersion) -> None:
    s1 = outcome(lambda: render_s1(S1GraphOptions(Path("/i"), Path("/o"), crs=crs), version))
    if isinstance(s1, SenPrepError):
        assert isinstance(s1, OptionError | GraphError), s1
    else:
        expected = crs.strip()
        if expected.upper() in ("EPSG:4326", "4326", "WGS84", "WGS84(DD)"):
            expected = "WGS84(DD)"
        assert param(parse(s1), "Terrain-Correction", "mapProjection") == expected
    s2 = outcome(lambda: render_s2(S2GraphOptions(Path("/i"), Path("/o"), "L2A", crs=crs), version))
    if isinstance(s2, SenPrepError):
        assert isinstance(s2, OptionError | GraphError), s2
        return
    root = parse(s2)
    assert param(root, "Reproject", "crs") == crs.strip()
    size_x = param(root, "Reproject", "pixelSizeX")
    assert size_x is None or float(size_x) == 10.0


# ---- Sentinel-2 -------------------------------------------------------------------------------
band_names = st.one_of(
    st.sampled_from(["B1", "B02", "b3", "B4", "B8", "B8A", "b8a", "B08A", "B10", "B11", "B12"]),
    st.text(max_size=5),
)


def _canonical(band: str) -> str:
    name = band.strip().upper()
    if name.startswith("B") and name[1:].isascii() and name[1:].isdigit():
        return f"B{int(name[1:])}"
    return "B8A" if name == "B08A" else name


@PROPERTY
@given(
    inp=paths(),
    out=paths(),
    level=st.sampled_from(S2_LEVELS) | st.text(max_size=6),
    bands=st.lists(band_names, max_size=6),
    resolution=numbers,
    version=versions,
)
def test_s2_options_round_trip(
    inp: Path, out: Path, level: str, bands: list[str], resolution: float, version: SnapVersion
) -> None:
    opts = S2GraphOptions(inp, out, level, bands=tuple(bands), resolution_m=resolution)
    result = outcome(lambda: render_s2(opts, version))
    if isinstance(result, SenPrepError):
        assert isinstance(result, OptionError | GraphError), result
        if isinstance(result, GraphError) and "XML cannot carry" in str(result):
            assert not xml_ok(expected_path(inp), expected_path(out))
        return
    assert xml_ok(expected_path(inp), expected_path(out))
    assert level.strip().upper() in S2_LEVELS and resolution > 0 and resolution.is_integer()
    root = parse(result)
    assert param(root, "Read", "file") == expected_path(inp)
    assert param(root, "Write", "file") == expected_path(out)
    assert param(root, "Resample", "targetResolution") == str(int(resolution))
    wanted = list(dict.fromkeys(_canonical(b) for b in bands))
    subset = (param(root, "Subset", "sourceBands") or "").split(",")
    if level.strip().upper() == S2_LEVEL_TOA:
        assert subset == wanted  # an L1C has no scene classification: never asked for
    else:
        assert subset == [*wanted, S2_SCENE_CLASSIFICATION_BAND]
        assert "B10" not in subset
    check_template_route(result, "Read", "file", expected_path(inp))


@PROPERTY
@given(resolution=st.integers(1, 2000), level=st.sampled_from(S2_LEVELS), version=versions)
def test_s2_whole_metre_resolutions_always_render(
    resolution: int, level: str, version: SnapVersion
) -> None:
    opts = S2GraphOptions(Path("/i"), Path("/o"), level, resolution_m=float(resolution))
    root = parse(render_s2(opts, version))
    assert param(root, "Resample", "targetResolution") == str(resolution)
    if root.find("node[@id='Sen2Cor']") is not None:
        expected = next((r for r in (60, 20, 10) if resolution >= r), 10)
        assert param(root, "Sen2Cor", "resolution") == str(expected)


# ---- collocation ------------------------------------------------------------------------------
@PROPERTY
@given(
    reference=paths(),
    secondary=paths(),
    out=paths(),
    resampling=st.sampled_from(cat.COLLOCATE_RESAMPLING) | st.text(max_size=12),
    version=versions,
)
def test_collocate_round_trip(
    reference: Path, secondary: Path, out: Path, resampling: str, version: SnapVersion
) -> None:
    opts = CollocateOptions(reference, secondary, out, resampling)
    result = outcome(lambda: render_collocate(opts, version))
    values = [expected_path(p) for p in (reference, secondary, out)]
    if isinstance(result, SenPrepError):
        assert isinstance(result, OptionError | GraphError), result
        assert resampling not in cat.COLLOCATE_RESAMPLING or not xml_ok(*values)
        return
    assert resampling in cat.COLLOCATE_RESAMPLING and xml_ok(*values)
    root = parse(result)
    assert param(root, "ReadReference", "file") == values[0]
    assert param(root, "ReadSecondary", "file") == values[1]
    assert param(root, "Write", "file") == values[2]
    assert param(root, "Collocate", "resamplingType") == resampling


# ---- orbit file note --------------------------------------------------------------------------
ORBIT_NAME = "S1B_OPER_AUX_{}_OPOD_20220112T081000_V20211223T041122_20211223T061122.EOF"


@PROPERTY
@given(
    folder=paths(text_chars),
    dest=st.none() | paths(text_chars),
    kind=st.sampled_from(["POEORB", "RESORB"]),
    version=versions,
)
def test_orbit_note_is_a_wellformed_comment(
    folder: Path, dest: Path | None, kind: str, version: SnapVersion
) -> None:
    """The note naming the orbit file and its destination is one comment that parses, cannot
    end early or be substituted by gpt, and shows the paths ($ as &#36;, -- as - -)."""
    eof = folder / ORBIT_NAME.format(kind)
    opts = S1GraphOptions(Path("/i"), Path("/o"), orbit_file=eof, orbit_destination=dest)
    rendered = render_s1(opts, version)
    root = parse(rendered)
    comments = [c for c in root.itersiblings(preceding=True) if isinstance(c, etree._Comment)]
    assert len(comments) == 1

    def shown(path: Path) -> str:
        text = expected_path(path).replace("$", "&#36;").replace("\r", " ")
        while "--" in text:
            text = text.replace("--", "- -")
        return text

    note = comments[0].text or ""
    assert shown(eof) in note
    if dest is not None:
        assert shown(dest) in note
    assert param(root, "Apply-Orbit-File", "continueOnFail") == "false"
    expected_type = {"POEORB": "Sentinel Precise", "RESORB": "Sentinel Restituted"}[kind]
    assert param(root, "Apply-Orbit-File", "orbitType") == f"{expected_type} (Auto Download)"
