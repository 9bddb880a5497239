"""GPT graph templates, model, catalogue, validator, renderer and the esa_snappy catalogue.

Everything here is pure Python: no SNAP, no ../shared. The expected SNAP behaviour (names,
defaults, version boundaries) is spelled out in the assertions.
"""

from __future__ import annotations

import configparser
import importlib.resources
import logging
import re
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sen_preproc.errors import GraphError, MissingDataError, OptionError
from sen_preproc.snap import catalogue as cat
from sen_preproc.snap import render as render_mod
from sen_preproc.snap.catalogue import Catalogue, catalogue_for
from sen_preproc.snap.graph import (
    Graph,
    Node,
    XmlElement,
    default_cut_points,
    escape_value,
    intermediate_paths,
    split_graph,
)
from sen_preproc.snap.render import (
    CollocateOptions,
    RenderedGraph,
    S1GraphOptions,
    S2GraphOptions,
    load_template,
    render_collocate,
    render_s1,
    render_s2,
    sen2cor_alias,
    template_text,
)
from sen_preproc.snap.snappy_catalogue import load_installed_catalogue
from sen_preproc.snap.validate import diff_catalogues, validate_graph
from sen_preproc.snap.version import SnapVersion

REPO = Path(__file__).resolve().parents[1]
VERSIONS = [SnapVersion(9), SnapVersion(10), SnapVersion(14)]
V9, V10, V13, V14 = SnapVersion(9), SnapVersion(10), SnapVersion(13), SnapVersion(14)
AOI = "POLYGON((12.4 41.85, 12.6 41.85, 12.6 42.0, 12.4 42.0, 12.4 41.85))"
HOSTILE = "a&b<c>d\"e'f$g${input}$output.h"
S1_IN, S1_OUT = Path("/data/S1A_IW_GRDH_1SDV.zip"), Path("/out/s1.tif")

S1_FULL = [
    "Read",
    "Remove-GRD-Border-Noise",
    "ThermalNoiseRemoval",
    "Apply-Orbit-File",
    "Calibration",
    "Speckle-Filter",
    "Terrain-Correction",
    "LinearToFromdB",
    "Subset",
    "Write",
]


def s1(**kw: Any) -> S1GraphOptions:
    return S1GraphOptions(S1_IN, S1_OUT, **kw)


def params(rendered: RenderedGraph | Graph, node_id: str) -> dict[str, Any]:
    """Parameters of a node in the concrete XML, read back with ElementTree."""
    xml = rendered.concrete_xml() if isinstance(rendered, RenderedGraph) else rendered.to_xml()
    root = ET.fromstring(xml)
    node = root.find(f"node[@id='{node_id}']")
    assert node is not None, node_id
    return {el.tag: el.text for el in node.find("parameters")}  # type: ignore[union-attr]


def sources(xml: str, node_id: str) -> list[tuple[str, str | None]]:
    node = ET.fromstring(xml).find(f"node[@id='{node_id}']")
    assert node is not None
    return [(el.tag, el.get("refid")) for el in node.find("sources")]  # type: ignore[union-attr]


def check_rendered(r: RenderedGraph, version: SnapVersion, expected_ops: list[str]) -> None:
    """Exact operator chain; concrete XML parses and validates without variables."""
    assert r.operators() == expected_ops
    xml = r.concrete_xml()
    root = ET.fromstring(xml)
    assert [n.findtext("operator") for n in root.findall("node")] == [
        n.operator for n in r.graph.nodes
    ]
    concrete = Graph.from_xml(xml)
    assert concrete.variables() == set()
    validate_graph(concrete, version)
    validate_graph(r.graph, version, variables=r.variables)
    assert set(r.variables) == r.graph.variables()


# ---- templates --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", render_mod.TEMPLATE_NAMES)
def test_templates_are_wellformed_with_variables_and_no_absolute_paths(name: str) -> None:
    text = template_text(name)
    root = ET.fromstring(text)
    assert root.tag == "graph" and root.findtext("version") == "1.0"
    for el in root.findall("node"):
        assert el.get("id") and el.findtext("operator")
        assert el.find("sources") is not None and el.find("parameters") is not None
    graph = Graph.from_xml(text)
    assert {"output"} <= graph.variables()
    for node in graph.nodes:
        for pname, value in node.parameters:
            if pname == "file":
                assert isinstance(value, str) and value.startswith("${"), (node.id, value)
    assert not re.search(r">\s*/[A-Za-z]", text), "absolute path in a template"
    assert (REPO / "graphs" / f"{name}.xml").read_text(encoding="utf-8") == text


def test_template_operator_chains() -> None:
    assert load_template("s1_grd").operators() == S1_FULL
    assert load_template("s2_l2a").operators() == [
        "Read",
        "Resample",
        "Subset",
        "Reproject",
        "Write",
    ]
    assert load_template("s2_l1c_sen2cor").operators() == [
        "Read",
        "Sen2Cor 2.11.0",
        "Resample",
        "Subset",
        "Reproject",
        "Write",
    ]
    assert load_template("s2_l1c_toa").operators() == [
        "Read",
        "Resample",
        "Subset",
        "Reproject",
        "Write",
    ]
    assert load_template("collocate").operators() == ["Read", "Read", "Collocate", "Write"]


def test_raw_s1_template_validates_on_14_but_not_on_13() -> None:
    graph = load_template("s1_grd")
    validate_graph(graph, V14)  # placeholders are not value-checked without variables
    with pytest.raises(GraphError) as err:
        validate_graph(graph, V13)
    msg = str(err.value)
    assert "[NodeId: ThermalNoiseRemoval]" in msg
    assert "Unknown element 'clipNegativeValues'" in msg
    assert "exists only in SNAP 14" in msg and "SNAP 13.0.0" in msg


def test_templates_found_through_the_installed_package() -> None:
    root = importlib.resources.files("sen_preproc.graphs")
    names = {p.name for p in root.iterdir()}
    assert {f"{n}.xml" for n in render_mod.TEMPLATE_NAMES} <= names


def test_template_fallback_to_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_package(name: str) -> Any:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(importlib.resources, "files", no_package)
    assert template_text("collocate") == (REPO / "graphs" / "collocate.xml").read_text("utf-8")
    with pytest.raises(MissingDataError, match=r"no_such_graph\.xml"):
        template_text("no_such_graph")


# ---- S1 ---------------------------------------------------------------------------------------
S1_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, [o for o in S1_FULL if o not in ("Remove-GRD-Border-Noise", "Subset")]),
    (
        {"border_noise": True, "dem": Path("/dem/copdem.tif"), "aoi_wkt": AOI},
        S1_FULL,
    ),
    (
        {"thermal_noise": False, "speckle": "none", "scale": "linear"},
        ["Read", "Apply-Orbit-File", "Calibration", "Terrain-Correction", "Write"],
    ),
    (
        {"calibration": "beta0", "speckle": "boxcar", "window_px": 5, "crs": "EPSG:4326"},
        [o for o in S1_FULL if o not in ("Remove-GRD-Border-Noise", "Subset")],
    ),
    (
        {"calibration": "gamma0", "speckle": "refined-lee", "aoi_wkt": AOI, "scale": "linear"},
        [o for o in S1_FULL if o not in ("Remove-GRD-Border-Noise", "LinearToFromdB")],
    ),
    (
        {"polarisations": ("vv", "VH"), "orbit_type": "Sentinel Restituted (Auto Download)"},
        [o for o in S1_FULL if o not in ("Remove-GRD-Border-Noise", "Subset")],
    ),
]


@pytest.mark.parametrize("version", VERSIONS, ids=str)
@pytest.mark.parametrize(("kw", "ops"), S1_CASES)
def test_s1_renders_and_validates(kw: dict[str, Any], ops: list[str], version: SnapVersion) -> None:
    r = render_s1(s1(**kw), version)
    check_rendered(r, version, ops)
    assert params(r, "Read") == {"file": str(S1_IN)}
    assert params(r, "Write") == {"file": str(S1_OUT), "formatName": "GeoTIFF-BigTIFF"}


SPECKLE_EXPECT = {
    "lee": ("Lee", 5, {"filterSizeX": "5", "filterSizeY": "5"}),
    "refined-lee": ("Refined Lee", 7, {}),
    "lee-sigma": (
        "Lee Sigma",
        9,
        {"windowSize": "9x9", "sigmaStr": "0.9", "targetWindowSizeStr": "3x3", "numLooksStr": "1"},
    ),
    "frost": ("Frost", 7, {"filterSizeX": "7", "filterSizeY": "7", "dampingFactor": "2"}),
    "gamma-map": ("Gamma Map", 3, {"filterSizeX": "3", "filterSizeY": "3"}),
    "boxcar": ("Boxcar", 11, {"filterSizeX": "11", "filterSizeY": "11"}),
    "median": ("Median", 7, {"filterSizeX": "7", "filterSizeY": "7"}),
}


@pytest.mark.parametrize("version", VERSIONS, ids=str)
@pytest.mark.parametrize("ours", sorted(SPECKLE_EXPECT))
def test_each_speckle_filter_maps_to_snap(ours: str, version: SnapVersion) -> None:
    snap_name, window, window_params = SPECKLE_EXPECT[ours]
    r = render_s1(s1(speckle=ours, window_px=window), version)
    check_rendered(
        r, version, [o for o in S1_FULL if o not in ("Remove-GRD-Border-Noise", "Subset")]
    )
    assert params(r, "Speckle-Filter") == {"filter": snap_name, **window_params}


def test_speckle_none_removes_the_node_and_rewires() -> None:
    r = render_s1(s1(speckle="none"), V10)
    assert "Speckle-Filter" not in r.operators()
    assert sources(r.concrete_xml(), "Terrain-Correction") == [("sourceProduct", "Calibration")]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"speckle": "lee-sigma", "window_px": 8}, "allows only 5, 7, 9, 11, 13, 15, 17"),
        ({"speckle": "lee-sigma", "window_px": 19}, "windowSize 5x5 ... 17x17"),
        ({"speckle": "refined-lee", "window_px": 5}, "fixed 7x7 window"),
        ({"speckle": "boxcar", "window_px": 101}, "(1, 100]"),
        ({"speckle": "lee", "window_px": 1}, "2 ... 100 pixels"),
        ({"speckle": "mean"}, "speckle filter 'mean' is unknown; use one of: lee, refined-lee"),
        ({"calibration": "sigma"}, "calibration 'sigma' is unknown; use one of: sigma0, beta0"),
        ({"scale": "dB"}, "scale 'dB' is unknown"),
        ({"polarisations": ("VX",)}, "polarisation 'VX' is unknown"),
        ({"dem": Path("/d.tif"), "dem_name": "SRTM 3Sec"}, "both given"),
        ({"dem_name": "External DEM"}, "'External DEM' needs a DEM file"),
        ({"dem_name": "SRTM 3sec"}, "DEM name 'SRTM 3sec' is not a SNAP DEM"),
        ({"aoi_wkt": "12,41,13,42"}, "is not WKT"),
        ({"aoi_wkt": "POLYGON((500000 4600000, 510000 4600000, 510000 4610000, 500000 4600000))"},
         "outside lon/lat"),
        ({"aoi_wkt": "POINT(12 41)"}, "POLYGON or MULTIPOLYGON"),
        ({"pixel_size_m": 0.0}, "positive"),
        ({"orbit_type": "Sentinel Precise"}, "orbit type 'Sentinel Precise' is not known"),
    ],
)  # fmt: skip
def test_s1_bad_options_are_rejected(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionError) as err:
        render_s1(s1(**kw), V10)
    assert message in str(err.value)


def test_s1_calibration_targets() -> None:
    for target, band in [
        ("sigma0", "outputSigmaBand"),
        ("beta0", "outputBetaBand"),
        ("gamma0", "outputGammaBand"),
    ]:
        p = params(render_s1(s1(calibration=target), V10), "Calibration")
        flags = {k: v for k, v in p.items() if k.startswith("output") and k.endswith("Band")}
        assert flags == {
            "outputSigmaBand": str(band == "outputSigmaBand").lower(),
            "outputGammaBand": str(band == "outputGammaBand").lower(),
            "outputBetaBand": str(band == "outputBetaBand").lower(),
        }


def test_s1_terrain_correction_parameters() -> None:
    r = render_s1(s1(dem=Path("/dem/cop30.tif"), dem_nodata=-32768.0, dem_apply_egm=False), V10)
    p = params(r, "Terrain-Correction")
    assert p["demName"] == "External DEM"
    assert p["externalDEMFile"] == "/dem/cop30.tif"
    assert p["externalDEMNoDataValue"] == "-32768.0"
    assert p["externalDEMApplyEGM"] == "false"
    assert p["mapProjection"] == "AUTO:42001"
    assert p["pixelSpacingInMeter"] == "10.0"
    p = params(render_s1(s1(crs="EPSG:4326", pixel_size_m=20.0), V10), "Terrain-Correction")
    assert p["mapProjection"] == "WGS84(DD)" and p["pixelSpacingInMeter"] == "20.0"
    assert "externalDEMFile" not in p and "externalDEMNoDataValue" not in p
    p = params(render_s1(s1(crs="EPSG:32633", dem_name="SRTM 1Sec HGT"), V10), "Terrain-Correction")
    assert p["mapProjection"] == "EPSG:32633" and p["demName"] == "SRTM 1Sec HGT"
    assert (
        params(
            render_s1(s1(dem_nodata=float("nan"), dem=Path("/d.tif")), V10), "Terrain-Correction"
        )["externalDEMNoDataValue"]
        == "NaN"
    )


def test_s1_polarisations_apply_to_every_step() -> None:
    r = render_s1(s1(polarisations=("vv", "VH", "VV"), border_noise=True), V14)
    for node in ("Remove-GRD-Border-Noise", "ThermalNoiseRemoval", "Calibration"):
        assert params(r, node)["selectedPolarisations"] == "VV,VH"
    # none given: all polarisations, i.e. the element is left out (SNAP's default)
    r = render_s1(s1(border_noise=True), V14)
    for node in ("Remove-GRD-Border-Noise", "ThermalNoiseRemoval", "Calibration"):
        assert "selectedPolarisations" not in params(r, node)
    assert "polarisations" not in r.variables


def test_s1_subset_keeps_metadata_on_every_version() -> None:
    for version in (V9, V13, V14):
        p = params(render_s1(s1(aoi_wkt=AOI), version), "Subset")
        assert p == {"geoRegion": AOI, "copyMetadata": "true"}


# ---- version-specific output -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("major", "clip"), [(6, False), (9, False), (10, False), (13, False), (14, True)]
)
def test_clip_negative_values_only_on_14(major: int, clip: bool) -> None:
    p = params(render_s1(s1(), SnapVersion(major)), "ThermalNoiseRemoval")
    assert ("clipNegativeValues" in p) is clip
    assert p["removeThermalNoise"] == "true"
    if clip:
        assert p["clipNegativeValues"] == "true"


@pytest.mark.parametrize(
    ("major", "dem"),
    [
        (6, "SRTM 3Sec"),
        (9, "SRTM 3Sec"),
        (10, "SRTM 3Sec"),
        (13, "SRTM 3Sec"),
        (14, "Copernicus 30m Global DEM"),
    ],
)
def test_default_dem_per_version(major: int, dem: str) -> None:
    r = render_s1(s1(), SnapVersion(major))
    assert params(r, "Terrain-Correction")["demName"] == dem
    assert r.variables["demName"] == dem


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_collocate_names_per_version(version: SnapVersion) -> None:
    opts = CollocateOptions(Path("/p/s2.tif"), Path("/p/s1.tif"), Path("/p/pair.tif"))
    r = render_collocate(opts, version)
    check_rendered(r, version, ["Read", "Read", "Collocate", "Write"])
    xml = r.concrete_xml()
    p = params(r, "Collocate")
    if version.major >= 10:
        assert sources(xml, "Collocate") == [
            ("reference", "ReadReference"),
            ("secondary", "ReadSecondary"),
        ]
        assert p == {
            "renameReferenceComponents": "true",
            "renameSecondaryComponents": "true",
            "copySecondaryMetadata": "false",
            "resamplingType": "BILINEAR_INTERPOLATION",
        }
    else:
        assert sources(xml, "Collocate") == [
            ("master", "ReadReference"),
            ("slave", "ReadSecondary"),
        ]
        assert p == {
            "renameMasterComponents": "true",
            "renameSlaveComponents": "true",
            "resamplingType": "BILINEAR_INTERPOLATION",
        }
    assert params(r, "ReadReference") == {"file": "/p/s2.tif"}
    assert params(r, "ReadSecondary") == {"file": "/p/s1.tif"}


def test_collocate_rejects_unknown_resampling() -> None:
    opts = CollocateOptions(Path("a"), Path("b"), Path("c"), resampling="BILINEAR")
    with pytest.raises(OptionError, match="NEAREST_NEIGHBOUR, BILINEAR_INTERPOLATION"):
        render_collocate(opts, V10)


@pytest.mark.parametrize(
    ("major", "alias"),
    [
        (6, "Sen2Cor255"),
        (7, "Sen2Cor280"),
        (8, "Sen2Cor290"),
        (9, "Sen2Cor 2.11.0"),
        (10, "Sen2Cor 2.11.0"),
        (14, "Sen2Cor 2.11.0"),
    ],
)
def test_sen2cor_alias_per_snap_version(major: int, alias: str) -> None:
    version = SnapVersion(major)
    assert sen2cor_alias(version) == alias
    r = render_s2(S2GraphOptions(Path("/s2/L1C.SAFE"), Path("/o.tif"), "L1C"), version)
    check_rendered(r, version, ["Read", alias, "Resample", "Subset", "Write"])
    assert params(r, "Sen2Cor") == {"resolution": "10"}


@pytest.mark.parametrize(
    ("given", "alias"),
    [("2.5.5", "Sen2Cor255"), ("2.8.0", "Sen2Cor280"), ("02.09.00", "Sen2Cor290"), ("2.11", "Sen2Cor 2.11.0")],
)  # fmt: skip
def test_sen2cor_alias_for_a_given_sen2cor_version(given: str, alias: str) -> None:
    assert sen2cor_alias(V9, given) == alias
    opts = S2GraphOptions(Path("/s2/L1C.SAFE"), Path("/o.tif"), "L1C", sen2cor_version=given)
    assert render_s2(opts, V14).operators()[1] == alias
    with pytest.raises(OptionError, match=r"2\.5, 2\.8, 2\.9, 2\.11"):
        sen2cor_alias(V9, "2.10.0")


def test_versions_outside_6_to_14_use_the_nearest(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sen_preproc.snap.catalogue"):
        r15 = render_s1(s1(), SnapVersion(15, 1))
    assert "SNAP 15.1.0 is outside" in caplog.text and "using SNAP 14" in caplog.text
    assert params(r15, "Terrain-Correction")["demName"] == "Copernicus 30m Global DEM"
    assert "clipNegativeValues" in params(r15, "ThermalNoiseRemoval")
    assert catalogue_for(SnapVersion(5)).version == SnapVersion(6)
    assert catalogue_for(SnapVersion(99)).version == SnapVersion(14)


def test_mulog_and_biomass_orbits_only_on_14() -> None:
    graph = render_s1(s1(), V14).graph
    node = graph.node("Speckle-Filter").with_param("filter", "MuLoG")
    mulog = graph.with_node(node)
    validate_graph(mulog, V14, variables=render_s1(s1(), V14).variables)
    with pytest.raises(GraphError, match=r"value 'MuLoG' is invalid in SNAP 13\.0\.0"):
        validate_graph(mulog, V13, variables=render_s1(s1(), V13).variables)
    biomass = "Biomass Precise (MAAP) (Auto Download)"
    assert (
        params(render_s1(s1(orbit_type=biomass), V14), "Apply-Orbit-File")["orbitType"] == biomass
    )
    with pytest.raises(OptionError, match="not known to SNAP 13"):
        render_s1(s1(orbit_type=biomass), V13)


# ---- S2 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS, ids=str)
@pytest.mark.parametrize(
    ("level", "kw", "ops"),
    [
        ("L2A", {}, ["Read", "Resample", "Subset", "Write"]),
        ("L2A", {"crs": "EPSG:4326", "aoi_wkt": AOI}, ["Read", "Resample", "Subset", "Reproject", "Write"]),
        ("L2A", {"crs": "EPSG:32633", "bands": ("B02", "b8a", "B11"), "resolution_m": 20.0},
         ["Read", "Resample", "Subset", "Reproject", "Write"]),
        ("L1C", {"aoi_wkt": AOI}, ["Read", "Sen2Cor 2.11.0", "Resample", "Subset", "Write"]),
        ("L1C", {"crs": "EPSG:4326"}, ["Read", "Sen2Cor 2.11.0", "Resample", "Subset", "Reproject", "Write"]),
    ],
)  # fmt: skip
def test_s2_renders_and_validates(
    level: str, kw: dict[str, Any], ops: list[str], version: SnapVersion
) -> None:
    r = render_s2(S2GraphOptions(Path("/s2/product.SAFE"), Path("/o/s2.tif"), level, **kw), version)
    check_rendered(r, version, ops)
    res = str(int(kw.get("resolution_m", 10.0)))
    assert params(r, "Resample") == {
        "targetResolution": res,
        "upsampling": "Bilinear",
        "downsampling": "Mean",
        "flagDownsampling": "First",
    }
    sub = params(r, "Subset")
    assert sub["sourceBands"].split(",")[-1] == "quality_scene_classification"
    assert sub["copyMetadata"] == "true"
    assert ("geoRegion" in sub) is ("aoi_wkt" in kw)
    assert params(r, "Write") == {"file": "/o/s2.tif", "formatName": "GeoTIFF-BigTIFF"}


def test_s2_band_names_and_reprojection() -> None:
    opts = S2GraphOptions(Path("/s2"), Path("/o.tif"), "L2A", bands=("B02", "b8a", "B8", "B2"))
    r = render_s2(replace(opts, crs="EPSG:32633", resolution_m=20.0), V10)
    assert params(r, "Subset")["sourceBands"] == "B2,B8A,B8,quality_scene_classification"
    assert params(r, "Reproject") == {
        "crs": "EPSG:32633",
        "resampling": "Nearest",
        "pixelSizeX": "20.0",
        "pixelSizeY": "20.0",
    }
    # a geographic CRS: pixel size left to SNAP (derived from the source)
    assert params(render_s2(replace(opts, crs="EPSG:4326"), V10), "Reproject") == {
        "crs": "EPSG:4326",
        "resampling": "Nearest",
    }
    l1c = render_s2(replace(opts, level="L1C", resolution_m=30.0), V10)
    assert params(l1c, "Sen2Cor") == {"resolution": "20"}
    assert params(l1c, "Resample")["targetResolution"] == "30"


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_s2_l1c_top_of_atmosphere_has_no_scene_classification(version: SnapVersion) -> None:
    """An L1C without Sen2Cor (level L1C-TOA): the bands asked for (B10 included), never the
    SCL band an L1C lacks; the L2A and Sen2Cor graphs keep it."""
    opts = S2GraphOptions(Path("/s2/l1c.SAFE"), Path("/o/s2.tif"), render_mod.S2_LEVEL_TOA)
    r = render_s2(replace(opts, bands=("B02", "B10", "b8a"), aoi_wkt=AOI), version)
    check_rendered(r, version, ["Read", "Resample", "Subset", "Write"])
    assert r.graph.graph_id == "s2_l1c_toa"
    assert params(r, "Subset")["sourceBands"] == "B2,B10,B8A"
    assert render_mod.S2_SCENE_CLASSIFICATION_BAND not in r.concrete_xml()
    assert not any(op.startswith("Sen2Cor") for op in r.operators())
    for level in (render_mod.S2_LEVEL_L2A, render_mod.S2_LEVEL_SEN2COR):
        bands = params(render_s2(replace(opts, level=level), version), "Subset")["sourceBands"]
        assert bands.split(",")[-1] == render_mod.S2_SCENE_CLASSIFICATION_BAND
    with pytest.raises(OptionError, match="'B10' is not a Sentinel-2 L2A band"):
        render_s2(replace(opts, level="L2A", bands=("B10",)), version)


def test_s2_level_choice_is_one_rule() -> None:
    from sen_preproc.snap.engine import s2_graph_level

    assert s2_graph_level("L1C", "none") == render_mod.S2_LEVEL_TOA
    assert s2_graph_level("L1C", "sen2cor") == render_mod.S2_LEVEL_SEN2COR
    assert s2_graph_level("L2A", "none") == s2_graph_level("L2A", "sen2cor") == "L2A"


ORBIT_PRECISE = "Sentinel Precise (Auto Download)"
EOF_NAME = "S1A_OPER_AUX_{kind}_OPOD_20210208T121706_V20210118T225942_20210120T005942.EOF"


@pytest.mark.parametrize(
    ("kind", "orbit_type"),
    [("POEORB", "Sentinel Precise (Auto Download)"), ("RESORB", "Sentinel Restituted (Auto Download)")],
)  # fmt: skip
def test_s1_orbit_file_type_continue_and_note(kind: str, orbit_type: str) -> None:
    """An orbit file cannot be passed to Apply-Orbit-File: its kind picks orbitType,
    continueOnFail is false and a comment says where SNAP looks for it."""
    from lxml import etree

    eof = Path(f"/orbits/{EOF_NAME.format(kind=kind)}")
    dest = Path(f"/aux/Orbits/Sentinel-1/{kind}/S1A/2021/01/{eof.name}")
    r = render_s1(s1(orbit_file=eof, orbit_destination=dest), V10)
    assert params(r, "Apply-Orbit-File") == {
        "orbitType": orbit_type,
        "polyDegree": "3",
        "continueOnFail": "false",
    }
    (note,) = r.notes
    root = etree.fromstring(r.concrete_xml().encode())
    comments = [c.text for c in root.itersiblings(preceding=True)]
    assert comments == [f" {note} "]
    assert str(eof) in note and str(dest) in note and "continueOnFail is false" in note
    generic = render_s1(s1(orbit_file=eof), V10).notes[0]
    assert f"<AuxDataPath>/Orbits/Sentinel-1/{kind}/S1A/<YYYY>/<MM>/{eof.name}" in generic
    assert render_s1(s1(), V10).notes == ()  # no file: no note, the default type
    assert params(render_s1(s1(), V10), "Apply-Orbit-File")["orbitType"] == ORBIT_PRECISE


def test_s1_orbit_file_refusals() -> None:
    from sen_preproc.errors import OrbitError

    resorb = Path("/o") / EOF_NAME.format(kind="RESORB")
    with pytest.raises(OptionError, match="does not match the RESORB orbit file"):
        render_s1(s1(orbit_file=resorb, orbit_type=ORBIT_PRECISE), V10)
    with pytest.raises(OptionError, match="continueOnFail with the orbit file"):
        render_s1(s1(orbit_file=resorb, orbit_continue_on_fail=True), V10)
    with pytest.raises(OrbitError, match="not a Sentinel-1 orbit file name"):
        render_s1(s1(orbit_file=Path("/o/orbit.EOF")), V10)


def test_relative_paths_are_written_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gpt runs in another folder: the renderer writes every file path absolute."""
    monkeypatch.chdir(tmp_path)
    eof = Path(EOF_NAME.format(kind="POEORB"))
    r = render_s1(
        S1GraphOptions(Path("in.zip"), Path("o/s1.tif"), dem=Path("dem.tif"), orbit_file=eof), V10
    )
    assert params(r, "Read")["file"] == str(tmp_path / "in.zip")
    assert params(r, "Write")["file"] == str(tmp_path / "o" / "s1.tif")
    assert params(r, "Terrain-Correction")["externalDEMFile"] == str(tmp_path / "dem.tif")
    assert str(tmp_path / eof) in r.notes[0]
    r2 = render_s2(S2GraphOptions(Path("p.SAFE"), Path("s2.tif"), "L2A"), V10)
    assert params(r2, "Read")["file"] == str(tmp_path / "p.SAFE")
    assert params(r2, "Write")["file"] == str(tmp_path / "s2.tif")
    rc = render_collocate(CollocateOptions(Path("a.tif"), Path("b.tif"), Path("c.tif")), V10)
    assert [params(rc, n)["file"] for n in ("ReadReference", "ReadSecondary", "Write")] == [
        str(tmp_path / n) for n in ("a.tif", "b.tif", "c.tif")
    ]


def test_xml_comment_cannot_break_out_or_be_substituted() -> None:
    from sen_preproc.snap.graph import xml_comment

    text = "a -- b --> c $input ${output} d-"
    comment = xml_comment(text)
    root = ET.fromstring(f"<r>{comment}</r>")  # well-formed
    assert root.tag == "r" and "--" not in comment[4:-3] and "$" not in comment
    assert comment.startswith("<!-- ") and comment.endswith(" -->")
    with pytest.raises(GraphError, match="XML cannot carry"):
        xml_comment("a\x01")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"level": "L3"}, "level 'L3' is unknown"),
        ({"bands": ("B10",)}, "band 'B10' is not a Sentinel-2 L2A band"),
        ({"bands": ()}, "no bands given"),
        ({"resolution_m": 10.5}, "whole number of metres"),
        ({"aoi_wkt": "nonsense"}, "is not WKT"),
        ({"level": "L1C", "sen2cor_version": "3.0"}, "has no SNAP tool adapter"),
    ],
)
def test_s2_bad_options_are_rejected(kw: dict[str, Any], message: str) -> None:
    base = {"input": Path("/s2"), "output": Path("/o.tif"), "level": "L2A"}
    with pytest.raises(OptionError) as err:
        render_s2(S2GraphOptions(**{**base, **kw}), V10)
    assert message in str(err.value)


# ---- broken graphs ------------------------------------------------------------------------------
def concrete_s1(version: SnapVersion = V10, **kw: Any) -> Graph:
    return Graph.from_xml(render_s1(s1(**kw), version).concrete_xml())


def rejected(graph: Graph, version: SnapVersion = V10) -> str:
    with pytest.raises(GraphError) as err:
        validate_graph(graph, version)
    return str(err.value)


def test_unknown_parameter_is_rejected_like_gpt() -> None:
    g = concrete_s1()
    g = g.with_node(g.node("Calibration").with_param("outputDNBand", "true"))
    msg = rejected(g)
    assert "[NodeId: Calibration] Operator 'CalibrationOp': Unknown element 'outputDNBand'" in msg
    assert "SNAP 10.0.0" in msg and "remove the element" in msg
    assert "outputSigmaBand" in msg  # lists what is accepted


def test_wrong_allowed_value_is_exact() -> None:
    g = concrete_s1()
    g = g.with_node(g.node("Speckle-Filter").with_param("filter", "Lee sigma"))
    msg = rejected(g)
    assert "[NodeId: Speckle-Filter] Speckle-Filter parameter 'filter'" in msg
    assert "value 'Lee sigma' is invalid in SNAP 10.0.0" in msg
    assert "did you mean 'Lee Sigma'?" in msg and "'Refined Lee'" in msg


def test_snap9_collocate_names_on_snap10_and_back() -> None:
    opts = CollocateOptions(Path("/a.tif"), Path("/b.tif"), Path("/c.tif"))
    g9 = Graph.from_xml(render_collocate(opts, V9).concrete_xml())
    msg = rejected(g9, V10)
    assert (
        "[NodeId: Collocate] Collocate: source element <master> is not known in SNAP 10.0.0" in msg
    )
    assert "only in SNAP 6-9" in msg and "renamed master/slave to reference/secondary" in msg
    assert "use 'reference', 'secondary', unnamed 'sourceProduct'" in msg
    assert "Unknown element 'renameMasterComponents'" in msg
    assert "SNAP 10 renamed it to 'renameReferenceComponents'" in msg
    g10 = Graph.from_xml(render_collocate(opts, V10).concrete_xml())
    msg = rejected(g10, V9)
    assert "source element <reference> is not known in SNAP 9.0.0" in msg
    assert "only in SNAP 10-14" in msg and "use 'master', 'slaveProduct'/'slave', unnamed" in msg
    assert "Unknown element 'copySecondaryMetadata'" in msg


def test_missing_required_parameter() -> None:
    g = concrete_s1()
    g = g.with_node(g.node("Read").without_params("file"))
    msg = rejected(g)
    assert "[NodeId: Read] Read: missing required parameter 'file' in SNAP 10.0.0" in msg
    assert "add <file>...</file>" in msg
    g = concrete_s1()
    g = g.with_node(g.node("Read").with_param("file", None))  # empty element = unset
    assert "missing required parameter 'file'" in rejected(g)


def test_bad_refid() -> None:
    g = concrete_s1()
    node = g.node("Terrain-Correction")
    g = g.with_node(replace(node, sources=(("sourceProduct", "Speckle"),)))
    msg = rejected(g)
    assert "[NodeId: Terrain-Correction] source <sourceProduct> refers to 'Speckle'" in msg
    assert "no node id of this graph" in msg and "'Speckle-Filter'" in msg


def test_duplicate_node_id() -> None:
    g = concrete_s1()
    dup = replace(g.node("Write"), parameters=(("file", "/other.tif"),))
    msg = rejected(Graph((*g.nodes, dup), g.graph_id))
    assert "[NodeId: Write] node ID duplicated" in msg and "unique id" in msg


def test_non_boolean_and_non_numeric_values() -> None:
    g = concrete_s1()
    g = g.with_node(g.node("Calibration").with_param("outputSigmaBand", "yes"))
    msg = rejected(g)
    assert "[NodeId: Calibration] Calibration parameter 'outputSigmaBand'" in msg
    assert "value 'yes' is not a boolean; write true or false in SNAP 10.0.0" in msg
    g = concrete_s1(speckle="lee", window_px=5)
    g = g.with_node(g.node("Speckle-Filter").with_param("filterSizeX", "5.5"))
    assert "value '5.5' is not an integer" in rejected(g)
    g = g.with_node(g.node("Speckle-Filter").with_param("filterSizeX", "1"))
    assert "value '1' is outside (1, 100]" in rejected(g)
    g = concrete_s1()
    g = g.with_node(g.node("Terrain-Correction").with_param("pixelSpacingInMeter", "ten"))
    assert "value 'ten' is not a number" in rejected(g)
    g = g.with_node(g.node("Terrain-Correction").with_param("pixelSpacingInMeter", "1e1"))
    validate_graph(g, V10)


def test_structure_problems() -> None:
    g = concrete_s1()
    assert "no <version> element" in rejected(replace(g, version=None))
    assert "'Wrong version'" in rejected(replace(g, version="2.0"))
    no_write = g.without("Write")
    msg = rejected(no_write)
    assert "has no Write node" in msg and "target.dim" in msg
    assert "[NodeId: LinearToFromdB] LinearToFromdB is a terminal node that is not a Write" in msg
    unknown = g.with_node(replace(g.node("Calibration"), operator="Calibrate"))
    assert "unknown operator 'Calibrate' in SNAP 10.0.0" in rejected(unknown)
    tnr = g.node("ThermalNoiseRemoval")
    g2 = g.with_node(replace(tnr, sources=(("source", "Read"),)))
    msg = rejected(g2)
    assert "source element <source> is not known in SNAP 10.0.0; use 'sourceProduct'" in msg
    assert "Mandatory source product (field 'sourceProduct') not set" in msg
    read = g.node("Read")
    assert "takes no source products" in rejected(
        g.with_node(replace(read, sources=(("sourceProduct", "Write"),)))
    )
    assert "problems for SNAP 10.0.0:\n  - " in msg


def test_s2resampling_needs_snap8_and_field_names_are_accepted() -> None:
    g = Graph.from_xml(render_s2(S2GraphOptions(Path("/s"), Path("/o"), "L2A"), V10).concrete_xml())
    node = g.node("Resample")
    s2r = g.with_node(
        replace(node, operator="S2Resampling", parameters=(("targetResolution", "10"),))
    )
    validate_graph(s2r, V10)  # the alias targetResolution is accepted for resolution
    assert "unknown operator 'S2Resampling' in SNAP 7.0.0 (it exists from SNAP 8" in rejected(
        s2r, SnapVersion(7)
    )
    bad = s2r.with_node(s2r.node("Resample").with_param("targetResolution", "15"))
    assert "value '15' is invalid" in rejected(bad) and "'10', '20', '60'" in rejected(bad)
    # Java field names are accepted where an alias exists
    c = concrete_s1()
    c = c.with_node(c.node("Calibration").with_param("sourceBandNames", "Amplitude_VV"))
    validate_graph(c, V10)
    twice = c.with_node(c.node("Calibration").with_param("sourceBands", "Amplitude_VH"))
    assert "'sourceBands' is given twice" in rejected(twice)


def test_operator_rules() -> None:
    g = Graph.from_xml(render_s2(S2GraphOptions(Path("/s"), Path("/o"), "L2A"), V10).concrete_xml())
    both = g.with_node(g.node("Resample").with_param("referenceBand", "B2"))
    assert "Resample needs exactly one of referenceBand, targetResolution" in rejected(both)
    opts = S2GraphOptions(Path("/s"), Path("/o"), "L2A", crs="EPSG:4326")
    g = Graph.from_xml(render_s2(opts, V10).concrete_xml())
    assert "Reproject needs exactly one of crs, wktFile" in rejected(
        g.with_node(g.node("Reproject").without_params("crs"))
    )
    c = concrete_s1()
    ext = c.with_node(c.node("Terrain-Correction").with_param("demName", "External DEM"))
    assert "needs externalDEMFile" in rejected(ext)


def test_placeholders_checked_only_with_variables() -> None:
    r = render_s1(s1(), V10)
    validate_graph(r.graph, V10)  # placeholders, no variables: no value checks
    bad = dict(r.variables, orbitContinueOnFail="maybe")
    with pytest.raises(GraphError, match="value 'maybe' is not a boolean"):
        validate_graph(r.graph, V10, variables=bad)
    missing = {k: v for k, v in r.variables.items() if k != "output"}
    with pytest.raises(GraphError, match=r"undefined variable\(s\) \['output'\]"):
        validate_graph(r.graph, V10, variables=missing)


# ---- escaping -------------------------------------------------------------------------------------
def template_reader(xml: str, values: dict[str, str]) -> str:
    """gpt's TemplateReader as described in SNAP's source: ``${name}`` and bare ``$name``
    replaced by the raw value (no escaping); unknown names left verbatim; one pass."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))

    return re.sub(r"\$\{([A-Za-z_][\w.]*)\}|\$([A-Za-z_][\w.]*)", repl, xml)


def p_values(r: RenderedGraph) -> dict[str, str]:
    """The values gpt gets as ``-Pname=value`` (XML-escaped)."""
    return {name: escape_value(value) for name, value in r.variables.items()}


def test_escape_value() -> None:
    assert escape_value("&<>\"'$") == "&amp;&lt;&gt;&quot;&apos;&#36;"
    assert escape_value("plain/path_1.tif") == "plain/path_1.tif"
    assert "$" not in escape_value(HOSTILE)
    assert ET.fromstring(f"<x>{escape_value(HOSTILE)}</x>").text == HOSTILE
    with pytest.raises(GraphError, match="XML cannot carry"):
        escape_value("a\x00b")


def test_hostile_paths_in_concrete_xml_and_gpt_parameters() -> None:
    inp, out, dem = (Path(f"/data/{HOSTILE}/{n}") for n in ("in.zip", "out.tif", "dem.tif"))
    r = render_s1(S1GraphOptions(inp, out, dem=dem, aoi_wkt=AOI), V14)
    xml = r.concrete_xml()
    assert "$" not in xml  # every $ is &#36;: nothing left for gpt to substitute
    assert params(r, "Read")["file"] == str(inp)
    assert params(r, "Write")["file"] == str(out)
    assert params(r, "Terrain-Correction")["externalDEMFile"] == str(dem)
    # -P values are escaped (gpt pastes them raw into the XML)
    pv = p_values(r)
    assert pv["input"] == escape_value(str(inp))
    for value in pv.values():
        assert not set(value) & set("<>\"'$")
        assert not re.search(r"&(?!amp;|lt;|gt;|quot;|apos;|#36;)", value)
    # the template carries no user value, only placeholders
    template = r.template_xml()
    assert HOSTILE not in template and "${input}" in template and "${output}" in template
    # what gpt does: substitute the raw -P values into the template text, then parse
    final = ET.fromstring(template_reader(template, pv))
    assert final.findtext("node[@id='Read']/parameters/file") == str(inp)
    assert final.findtext("node[@id='Write']/parameters/file") == str(out)
    dem_el = "node[@id='Terrain-Correction']/parameters/externalDEMFile"
    assert final.findtext(dem_el) == str(dem)
    assert final.findtext("node[@id='Subset']/parameters/geoRegion") == AOI


def test_hostile_aoi_value_round_trips() -> None:
    r = render_s1(s1(aoi_wkt=AOI), V10)
    variables = dict(r.variables, aoi=f"POLYGON(({HOSTILE}))")
    xml = r.graph.to_xml(variables)
    root = ET.fromstring(xml)
    assert root.findtext("node[@id='Subset']/parameters/geoRegion") == f"POLYGON(({HOSTILE}))"
    hostile_rendered = RenderedGraph(r.graph, variables)
    final = ET.fromstring(template_reader(r.template_xml(), p_values(hostile_rendered)))
    assert final.findtext("node[@id='Subset']/parameters/geoRegion") == f"POLYGON(({HOSTILE}))"
    with pytest.raises(GraphError, match="is not WKT"):
        validate_graph(r.graph, V10, variables=variables)


def test_to_xml_names_undefined_variables_and_keeps_snap_placeholders() -> None:
    graph = load_template("collocate")
    with pytest.raises(GraphError, match=r"undefined variable\(s\) \['output', 'secondary'\]"):
        graph.to_xml({"reference": "a", "resamplingType": "NEAREST_NEIGHBOUR"})
    node = graph.node("Collocate").with_param("referenceComponentPattern", "${ORIGINAL_NAME}_M")
    g = graph.with_node(node)
    assert "ORIGINAL_NAME" not in g.variables()
    template = g.to_xml()
    assert "&#36;{ORIGINAL_NAME}_M" in template and "${reference}" in template
    concrete = g.to_xml({"reference": "a", "secondary": "b", "output": "c", "resamplingType": "x"})
    assert ET.fromstring(concrete).findtext(".//referenceComponentPattern") == "${ORIGINAL_NAME}_M"


# ---- graph model ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", render_mod.TEMPLATE_NAMES)
def test_round_trip_templates(name: str) -> None:
    graph = load_template(name)
    assert Graph.from_xml(graph.to_xml()) == graph


def test_round_trip_rendered_and_structured() -> None:
    for r in (
        render_s1(s1(border_noise=True, aoi_wkt=AOI, dem=Path(f"/x/{HOSTILE}")), V14),
        render_s2(S2GraphOptions(Path("/s"), Path("/o"), "L1C", crs="EPSG:4326"), V9),
        render_collocate(CollocateOptions(Path("a"), Path("b"), Path("c")), V9),
    ):
        assert Graph.from_xml(r.graph.to_xml()) == r.graph
        concrete = Graph.from_xml(r.concrete_xml())
        assert Graph.from_xml(concrete.to_xml()) == concrete
    band = XmlElement(
        "targetBand",
        children=(
            XmlElement("name", "valid"),
            XmlElement("type", "uint8"),
            XmlElement("expression", "quality_scene_classification > 3 && B2 < ${limit}"),
            XmlElement("noDataValue"),
        ),
    )
    bm = Node(
        "BandMaths", "BandMaths", (("sourceProducts", "Read,Read2"),), (("targetBands", (band,)),)
    )
    graph = Graph((Node("Read", "Read", (), (("file", "/a"),)), bm))
    back = Graph.from_xml(graph.to_xml())
    assert back == graph and back.variables() == {"limit"}
    assert back.node("BandMaths").source_ids() == ["Read", "Read2"]
    xml = graph.to_xml({"limit": "0.5"})
    assert "&amp;&amp;" in xml
    assert (
        ET.fromstring(xml).findtext(".//expression")
        == "quality_scene_classification > 3 && B2 < 0.5"
    )


def test_from_xml_forms_and_errors() -> None:
    text = """<graph id="g"><version>1.0</version>
      <node id="Read"><operator>Read</operator><parameters><file>/a.tif</file></parameters></node>
      <node id="Write"><operator>Write</operator>
        <sources><sourceProduct>Read</sourceProduct></sources>
        <parameters><file>/b.tif</file><formatName/></parameters></node>
      <applicationData id="Presentation"><Description/></applicationData>
    </graph>"""
    graph = Graph.from_xml(text)
    assert graph.graph_id == "g" and graph.ids() == ["Read", "Write"]
    assert graph.node("Write").sources == (("sourceProduct", "Read"),)
    assert graph.node("Write").param("formatName") is None
    with pytest.raises(GraphError, match="no node 'X'"):
        graph.node("X")
    with pytest.raises(GraphError, match="does not parse"):
        Graph.from_xml("<graph><node>")
    with pytest.raises(GraphError, match="not <graph>"):
        Graph.from_xml("<nodes/>")
    with pytest.raises(GraphError, match="has no <operator>"):
        Graph.from_xml('<graph><node id="a"/></graph>')
    with pytest.raises(GraphError, match="not supported"):
        Graph.from_xml(
            '<graph><node id="a"><operator>Read</operator>'
            '<parameters><file refid="b.file"/></parameters></node></graph>'
        )


def test_without_rewires_and_refuses_sources_it_cannot_rewire() -> None:
    graph = load_template("s1_grd").without("Speckle-Filter").without("Remove-GRD-Border-Noise")
    assert graph.node("Terrain-Correction").sources == (("sourceProduct", "Calibration"),)
    assert graph.node("ThermalNoiseRemoval").sources == (("sourceProduct", "Read"),)
    with pytest.raises(GraphError, match="it has 0 sources"):
        graph.without("Read")
    with pytest.raises(GraphError, match="it has 2 sources"):
        load_template("collocate").without("Collocate")
    cycle = Graph(
        (
            Node("a", "Read", (("sourceProduct", "b"),)),
            Node("b", "Write", (("sourceProduct", "a"),)),
        )
    )
    with pytest.raises(GraphError, match="cycle"):
        cycle.chain()


# ---- split graph ------------------------------------------------------------------------------------
def test_split_s1_graph(tmp_path: Path) -> None:
    r = render_s1(s1(aoi_wkt=AOI), V14)
    cuts = default_cut_points(r.graph)
    assert cuts == ["Calibration", "Speckle-Filter"]
    parts = split_graph(r.graph, tmp_path, cuts)
    assert [p.operators() for p in parts] == [
        ["Read", "ThermalNoiseRemoval", "Apply-Orbit-File", "Calibration", "Write"],
        ["Read", "Speckle-Filter", "Write"],
        ["Read", "Terrain-Correction", "LinearToFromdB", "Subset", "Write"],
    ]
    w1, r1 = parts[0].node("Write-part1"), parts[1].node("Read-part1")
    assert w1.sources == (("sourceProduct", "Calibration"),)
    assert dict(w1.parameters) == {"file": str(tmp_path / "part1.dim"), "formatName": "BEAM-DIMAP"}
    assert dict(r1.parameters) == {"file": str(tmp_path / "part1.dim"), "formatName": "BEAM-DIMAP"}
    assert parts[1].node("Speckle-Filter").sources == (("sourceProduct", "Read-part1"),)
    assert parts[1].node("Write-part2").sources == (("sourceProduct", "Speckle-Filter"),)
    assert parts[2].node("Terrain-Correction").sources == (("sourceProduct", "Read-part2"),)
    assert parts[2].node("Write") == r.graph.node("Write")
    for part in parts:
        values = {k: r.variables[k] for k in part.variables()}
        validate_graph(part, V14, variables=values)
        validate_graph(Graph.from_xml(part.to_xml(values)), V14)
    assert intermediate_paths(parts) == [
        tmp_path / "part1.dim",
        tmp_path / "part1.data",
        tmp_path / "part2.dim",
        tmp_path / "part2.data",
    ]
    assert split_graph(r.graph, tmp_path) == parts  # None: the default cut points
    assert split_graph(r.graph, tmp_path, []) == [r.graph]


def test_split_cut_points_and_errors(tmp_path: Path) -> None:
    no_speckle = render_s1(s1(speckle="none", thermal_noise=False), V10).graph
    assert default_cut_points(no_speckle) == ["Calibration"]
    l2a = render_s2(S2GraphOptions(Path("/s"), Path("/o"), "L2A"), V10).graph
    assert default_cut_points(l2a) == ["Resample"]
    l1c = render_s2(S2GraphOptions(Path("/s"), Path("/o"), "L1C", crs="EPSG:4326"), V10).graph
    assert default_cut_points(l1c) == ["Sen2Cor", "Resample"]
    assert [p.operators() for p in split_graph(l1c, tmp_path, default_cut_points(l1c))] == [
        ["Read", "Sen2Cor 2.11.0", "Write"],
        ["Read", "Resample", "Write"],
        ["Read", "Subset", "Reproject", "Write"],
    ]
    colloc = render_collocate(CollocateOptions(Path("a"), Path("b"), Path("c")), V10).graph
    assert default_cut_points(colloc) == []
    assert split_graph(colloc, tmp_path) == [colloc]  # nothing to split
    with pytest.raises(GraphError, match="not a linear chain"):
        split_graph(colloc, tmp_path, ["Collocate"])
    with pytest.raises(GraphError, match="cannot cut after the last node 'Write'"):
        split_graph(no_speckle, tmp_path, ["Write"])
    with pytest.raises(GraphError, match="cannot cut after 'Nope': no such node"):
        split_graph(no_speckle, tmp_path, ["Nope"])
    with pytest.raises(GraphError, match="contains"):
        split_graph(no_speckle, tmp_path / "${x}", ["Calibration"])


# ---- catalogue --------------------------------------------------------------------------------------
def test_catalogue_per_version() -> None:
    c9, c13, c14 = catalogue_for(V9), catalogue_for(V13), catalogue_for(V14)
    tnr9, tnr14 = c9.operator("ThermalNoiseRemoval"), c14.operator("ThermalNoiseRemoval")
    assert tnr9 is not None and tnr14 is not None
    assert tnr9.param("clipNegativeValues") is None and tnr9.param("outputNoise") is not None
    assert tnr14.param("clipNegativeValues") is not None
    subset13, subset14 = c13.operator("Subset"), c14.operator("Subset")
    assert subset13 is not None and subset14 is not None
    assert subset13.param("copyMetadata").default == "false"  # type: ignore[union-attr]
    assert subset14.param("copyMetadata").default == "true"  # type: ignore[union-attr]
    assert subset14.param("tiePointGridNames").name == "tiePointGrids"  # type: ignore[union-attr]
    write7 = catalogue_for(SnapVersion(7)).operator("Write")
    assert write7 is not None and write7.param("writeEntireTileRows").default == "true"  # type: ignore[union-attr]
    sf13, sf14 = c13.operator("Speckle-Filter"), c14.operator("Speckle-Filter")
    assert "MuLoG" not in sf13.param("filter").allowed  # type: ignore[union-attr,operator]
    assert "MuLoG" in sf14.param("filter").allowed  # type: ignore[union-attr,operator]
    assert "S2Resampling" not in catalogue_for(SnapVersion(7)) and "S2Resampling" in c9
    col9, col10 = c9.operator("Collocate"), catalogue_for(V10).operator("Collocate")
    assert col9 is not None and col10 is not None
    assert sorted(n for s in col9.sources for n in s.names()) == [
        "master",
        "slave",
        "slaveProduct",
        "sourceProducts",
    ]
    assert sorted(n for s in col10.sources for n in s.names()) == [
        "reference",
        "secondary",
        "sourceProducts",
    ]
    col6 = catalogue_for(SnapVersion(6)).operator("Collocate")
    assert col6 is not None and not col6.accepts_unnamed_sources()
    for alias in ("Sen2Cor v2.5.5", "Sen2Cor255", "Sen2Cor280", "Sen2Cor290", "Sen2Cor 2.11.0"):
        assert alias in c14 and alias in c9
    assert cat.majors_text([6, 7, 8, 9, 14]) == "6-9, 14" and cat.majors_text([]) == "none"


def test_every_graph_operator_is_catalogued() -> None:
    for name in render_mod.TEMPLATE_NAMES:
        for op in load_template(name).operators():
            assert op in catalogue_for(V14), op


# ---- esa_snappy stand-in ------------------------------------------------------------------------
_JAVA = {
    "string": "java.lang.String",
    "bool": "boolean",
    "int": "int",
    "float": "double",
    "path": "java.io.File",
    "string[]": "[Ljava.lang.String;",
    "rectangle": "java.awt.Rectangle",
    "geometry": "org.locationtech.jts.geom.Geometry",
    "polygon": "org.locationtech.jts.geom.Polygon",
    "list": "[Lorg.esa.snap.core.gpf.common.BandMathsOp$BandDescriptor;",
}


class JClass:
    def __init__(self, name: str, constants: tuple[str, ...] | None = None) -> None:
        self._name, self._constants = name, constants

    def getName(self) -> str:
        return self._name

    def getSimpleName(self) -> str:
        return self._name.rsplit(".", 1)[-1]

    def isEnum(self) -> bool:
        return self._constants is not None

    def getEnumConstants(self) -> list[Any] | None:
        if self._constants is None:
            return None
        return [types.SimpleNamespace(name=lambda c=c: c) for c in self._constants]


class JParam:
    def __init__(self, spec: cat.ParamSpec) -> None:
        self.spec = spec

    def getName(self) -> str:
        return self.spec.aliases[0] if self.spec.aliases else self.spec.name

    def getAlias(self) -> str | None:
        return self.spec.name if self.spec.aliases else None

    def getDefaultValue(self) -> str | None:
        return self.spec.default

    def getValueSet(self) -> list[str] | None:
        if self.spec.type == "enum" or self.spec.allowed is None:
            return None
        return list(self.spec.allowed)

    def isNotNull(self) -> bool:
        return self.spec.required

    def isNotEmpty(self) -> bool:
        return False

    def getDataType(self) -> JClass:
        if self.spec.type == "enum":
            return JClass("org.esa.snap.collocation.ResamplingType", self.spec.allowed)
        return JClass(_JAVA[self.spec.type])

    def getInterval(self) -> str | None:
        return self.spec.interval

    def getItemAlias(self) -> str | None:
        return "targetBand" if self.spec.type == "list" else None


class JSource:
    def __init__(self, spec: cat.SourceSpec) -> None:
        self.spec = spec

    def getName(self) -> str:
        return self.spec.name

    def getAlias(self) -> str | None:
        return self.spec.aliases[0] if self.spec.aliases else None

    def isOptional(self) -> bool:
        return self.spec.optional


class JDescriptor:
    def __init__(self, op: cat.OperatorSpec) -> None:
        self.op = op

    def getParameterDescriptors(self) -> list[JParam]:
        return [JParam(p) for p in self.op.params]

    def getSourceProductDescriptors(self) -> list[JSource]:
        return [JSource(s) for s in self.op.sources if not s.multi]

    def getSourceProductsDescriptor(self) -> object | None:
        return object() if self.op.accepts_unnamed_sources() else None

    def getOperatorClass(self) -> JClass:
        return JClass(f"eu.esa.sar.{self.op.java_class}")


def fake_esa_snappy(catalogue: Catalogue) -> types.ModuleType:
    """A stand-in ``esa_snappy`` module whose GPF registry serves ``catalogue``."""
    spis = {
        op.alias: types.SimpleNamespace(getOperatorDescriptor=lambda op=op: JDescriptor(op))
        for op in catalogue.operators
    }
    registry = types.SimpleNamespace(
        loadOperatorSpis=lambda: None, getOperatorSpi=lambda alias: spis.get(alias)
    )
    gpf_instance = types.SimpleNamespace(getOperatorSpiRegistry=lambda: registry)
    module = types.ModuleType("esa_snappy")
    module.GPF = types.SimpleNamespace(getDefaultInstance=lambda: gpf_instance)  # type: ignore[attr-defined]
    module.SystemUtils = types.SimpleNamespace(getReleaseVersion=lambda: "14.0.0")  # type: ignore[attr-defined]
    return module


def planted_catalogue() -> Catalogue:
    """SNAP 14's built-in catalogue with three planted differences."""
    base = catalogue_for(V14)
    ops = []
    for op in base.operators:
        if op.alias == "Speckle-Filter":
            filt = op.param("filter")
            assert filt is not None and filt.allowed is not None
            new = replace(filt, allowed=tuple(a for a in filt.allowed if a != "MuLoG"))
            op = replace(op, params=tuple(new if p is filt else p for p in op.params))
        elif op.alias == "Calibration":
            op = replace(op, params=(*op.params, cat.ParamSpec("outputNoiseBand", "bool", "false")))
        elif op.alias == "Terrain-Correction":
            dem = op.param("demName")
            op = replace(
                op,
                params=tuple(
                    replace(p, default="SRTM 1Sec HGT") if p is dem else p for p in op.params
                ),
            )
        ops.append(op)
    return Catalogue(tuple(ops), V14, "planted")


def test_installed_catalogue_mirrors_the_built_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "esa_snappy", fake_esa_snappy(catalogue_for(V14)))
    installed = load_installed_catalogue()
    assert installed is not None and installed.origin == "esa_snappy"
    assert installed.version == V14
    assert diff_catalogues(catalogue_for(V14), installed) == []
    tc = installed.operator("Terrain-Correction")
    assert tc is not None and tc.java_class == "RangeDopplerGeocodingOp"
    col = installed.operator("Collocate")
    assert col is not None and col.param("resamplingType").allowed == cat.COLLOCATE_RESAMPLING  # type: ignore[union-attr]


def test_validator_uses_the_installed_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "esa_snappy", fake_esa_snappy(planted_catalogue()))
    installed = load_installed_catalogue(V14)
    assert installed is not None
    r = render_s1(s1(), V14)
    mulog = r.graph.with_node(r.graph.node("Speckle-Filter").with_param("filter", "MuLoG"))
    validate_graph(mulog, V14, variables=r.variables)
    with pytest.raises(GraphError, match=r"value 'MuLoG' is invalid in SNAP 14\.0\.0"):
        validate_graph(mulog, V14, installed, r.variables)
    noise = r.graph.with_node(r.graph.node("Calibration").with_param("outputNoiseBand", "true"))
    validate_graph(noise, V14, installed, r.variables)
    with pytest.raises(GraphError, match="Unknown element 'outputNoiseBand'"):
        validate_graph(noise, V14, variables=r.variables)
    # the renderer takes the installed catalogue too
    assert render_s1(s1(), V14, catalogue=installed).operators() == r.operators()
    diffs = diff_catalogues(catalogue_for(V14), installed)
    assert len(diffs) == 3, diffs
    assert any(
        d.startswith("Speckle-Filter.filter: allowed values differ") and "MuLoG" in d for d in diffs
    )
    assert "Calibration.outputNoiseBand: parameter only in SNAP 14.0.0 [esa_snappy]" in diffs
    assert any(
        d.startswith("Terrain-Correction.demName: default differs")
        and "'Copernicus 30m Global DEM'" in d
        and "'SRTM 1Sec HGT'" in d
        for d in diffs
    )


def test_no_installed_catalogue_without_esa_snappy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "esa_snappy", None)  # import raises ImportError
    assert load_installed_catalogue(V10) is None
    broken = types.ModuleType("esa_snappy")

    def no_jvm() -> None:
        raise RuntimeError("jpy: no JVM found; configure esa_snappy")

    broken.GPF = types.SimpleNamespace(getDefaultInstance=no_jvm)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "esa_snappy", broken)
    assert load_installed_catalogue(V10) is None


def test_diff_catalogues_reports_missing_operators() -> None:
    small = Catalogue(
        tuple(op for op in catalogue_for(V10).operators if op.alias != "Reproject"), V10, "x"
    )
    assert diff_catalogues(catalogue_for(V10), small) == [
        "Reproject: operator only in SNAP 10.0.0 [built-in]"
    ]


# ---- packaging ----------------------------------------------------------------------------------------
def test_setup_cfg_lists_every_package() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "sen_preproc").rglob("__init__.py")
    }
    assert on_disk <= listed, f"add {sorted(on_disk - listed)} to [options] packages in setup.cfg"
    assert "sen_preproc.graphs" in listed
    assert cfg["options"]["package_dir"].split() == ["sen_preproc.graphs", "=", "graphs"]


def _can_build_without_isolation() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    if (major, minor) >= (70, 1):
        return True  # setuptools ships bdist_wheel itself
    try:
        import wheel  # noqa: F401
    except ImportError:
        return False
    return True


def test_wheel_contains_the_graph_templates(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)]
    if _can_build_without_isolation():
        cmd.insert(4, "--no-build-isolation")
    # else pip builds in an isolated environment (fetches setuptools/wheel from the index)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel_path,) = tmp_path.glob("senprep-*.whl")
    names = set(zipfile.ZipFile(wheel_path).namelist())
    for name in render_mod.TEMPLATE_NAMES:
        assert f"sen_preproc/graphs/{name}.xml" in names
    assert "sen_preproc/graphs/__init__.py" in names
    for py in (REPO / "sen_preproc").rglob("*.py"):
        assert py.relative_to(REPO).as_posix() in names
    assert not any(n.startswith("graphs/") for n in names)
