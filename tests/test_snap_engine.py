"""The SNAP engine end to end with a fake gpt: `senprep s1|s2 --engine`, `senprep graph`,
`senprep doctor` (no SNAP can be installed here; see tests/fake_snap.py)."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from fake_snap import fake_env, install_fake_gpt

from sen_preproc.cli.main import cli
from sen_preproc.engines import choose_engine
from sen_preproc.raster_io import read_band_names
from sen_preproc.snap import engine
from sen_preproc.snap.catalogue import catalogue_for
from sen_preproc.snap.version import SnapVersion
from sen_preproc.testing.s1_factory import S1ProductSpec, product_geometry, write_s1_grd_product
from sen_preproc.testing.s2_factory import S2ProductSpec, write_s2_product

SPEC = S1ProductSpec(lines=120, samples=160, seed=5)
S1_CHAIN = [
    "Read",
    "ThermalNoiseRemoval",
    "Apply-Orbit-File",
    "Calibration",
    "Speckle-Filter",
    "Terrain-Correction",
    "LinearToFromdB",
    "Write",
]


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_s1_grd_product(tmp_path_factory.mktemp("snap-s1") / "products", SPEC)


@pytest.fixture()
def gpt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = install_fake_gpt(tmp_path / "snap")
    for key, value in fake_env(tmp_path / "record.jsonl", (300000.0, 4650000.0)).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SENPREP_GPT", raising=False)
    monkeypatch.delenv("SNAP_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return path


def utm_origin(product: Path) -> tuple[str, tuple[float, float]]:
    """The CRS the engine will choose (UTM of the scene centre) and a point inside the scene."""
    import pyproj

    from sen_preproc.grid import utm_crs_for

    geom = product_geometry(SPEC)
    lon, lat, _ = geom.geolocate(np.array([60.0]), np.array([80.0]))
    crs = utm_crs_for(float(lon[0]), float(lat[0]))
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon[0], lat[0])
    return crs.to_string(), (round(float(x), -1), round(float(y), -1))


def records(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "record.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def operators(xml_text: str) -> list[str]:
    return [n.findtext("operator") or "" for n in ET.fromstring(xml_text).iter("node")]


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def test_s1_snap_engine_end_to_end(
    product: Path, gpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crs, origin = utm_origin(product)
    monkeypatch.setenv("FAKE_GPT_ORIGIN", f"{origin[0]},{origin[1]}")
    out = tmp_path / "out dir & $x" / "s1.tif"
    out.parent.mkdir()
    code, output = run(
        [
            "s1", str(product), "--engine", "snap", "--gpt", str(gpt), "--speckle", "refined-lee",
            "--gpt-cache", "1G", "--gpt-threads", "2", "--out", str(out), "-q",
        ]
    )  # fmt: skip
    assert code == 0, output
    (call,) = records(tmp_path)
    argv = call["argv"]
    assert isinstance(argv, list) and argv[2:7] == ["-e", "-c", "1G", "-q", "2"]
    graph = str(call["graph"])
    assert operators(graph) == S1_CHAIN
    root = ET.fromstring(graph)  # the hostile output folder survived gpt's raw substitution
    write = next(n for n in root.iter("node") if n.findtext("operator") == "Write")
    assert Path(write.findtext("parameters/file") or "").parent.parent == out.parent
    assert root.find(".//node[@id='Speckle-Filter']/parameters/filter").text == "Refined Lee"  # type: ignore[union-attr]
    with rasterio.open(out) as ds:
        assert ds.descriptions == ("VV", "VH") and ds.crs.to_string() == crs
        data = ds.read()
        tags = ds.tags()
    assert np.isnan(data[:, :2]).all() and np.isnan(data[:, :, -2:]).all()  # SNAP's 0 -> NaN
    np.testing.assert_allclose(data[0, 2:-2, 2:-2], -12.0)
    np.testing.assert_allclose(data[1, 2:-2, 2:-2], -19.0)
    assert tags["ENGINE"] == "snap" and tags["SNAP_VERSION"] == "10.0.0"
    assert tags["SOURCE_PRODUCT"] == product.stem and tags["SCALE"] == "db"
    steps = json.loads(tags["PROCESSING_STEPS"])
    assert [s["step"] for s in steps] == S1_CHAIN
    log = out.with_name("s1.tif.gpt.log").read_text()
    assert "Executing processing graph" in log and "done." in log
    assert sorted(p.name for p in out.parent.iterdir()) == ["s1.tif", "s1.tif.gpt.log"]


def test_s1_snap_like_and_split_graph(
    product: Path, gpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--like: gpt's output resampled onto the reference grid; --split-graph: several gpt calls
    joined by BEAM-DIMAP intermediates, all removed afterwards."""
    crs, origin = utm_origin(product)
    monkeypatch.setenv("FAKE_GPT_ORIGIN", f"{origin[0]},{origin[1]}")
    like = tmp_path / "like.tif"
    transform = Affine(20.0, 0, origin[0] + 40, 0, -20.0, origin[1] - 40)
    with rasterio.open(
        like, "w", driver="GTiff", width=9, height=7, count=1, dtype="uint16", crs=crs,
        transform=transform,
    ) as ds:  # fmt: skip
        ds.write(np.ones((1, 7, 9), np.uint16))
    out = tmp_path / "like_s1.tif"
    code, output = run(
        [
            "s1", str(product), "--engine", "snap", "--gpt", str(gpt), "--like", str(like),
            "--split-graph", "--scale", "linear", "--out", str(out), "-q",
        ]
    )  # fmt: skip
    assert code == 0, output
    calls = records(tmp_path)
    assert len(calls) >= 2
    chain = [op for call in calls for op in operators(str(call["graph"]))]
    assert [op for op in chain if op not in ("Read", "Write")] == [
        op for op in S1_CHAIN if op not in ("Read", "Write", "LinearToFromdB")
    ]
    with rasterio.open(out) as ds:
        assert ds.transform == transform and (ds.width, ds.height) == (9, 7)
        np.testing.assert_allclose(ds.read(1), 10 ** (-12 / 10), rtol=1e-5)
    assert not list(tmp_path.glob(".like_s1.tif.snap-*")) and not list(tmp_path.rglob("*.dim"))


def test_snap_outputs_pair_and_orbit_file(
    product: Path, gpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`senprep pair` takes the SNAP engine's outputs as it takes the Python engine's, and
    --orbit-file is placed where SNAP's Apply-Orbit-File looks for it (offline)."""
    from sen_preproc.testing.s1_factory import write_orbit_file

    crs, origin = utm_origin(product)
    monkeypatch.setenv("FAKE_GPT_ORIGIN", f"{origin[0]},{origin[1]}")
    start = SPEC.start_time
    first, last = start - timedelta(hours=1), start + timedelta(hours=1)
    name = f"{SPEC.mission}_OPER_AUX_POEORB_OPOD_20220112T081000_V{first:%Y%m%dT%H%M%S}_{last:%Y%m%dT%H%M%S}.EOF"
    (tmp_path / "orbits").mkdir()
    eof = write_orbit_file(
        tmp_path / "orbits" / name, SPEC, validity_start=first, validity_stop=last
    )
    s1 = tmp_path / "s1.tif"
    code, output = run(
        ["s1", str(product), "--engine", "snap", "--gpt", str(gpt), "--orbit-file", str(eof),
         "-o", str(s1), "-q"]
    )  # fmt: skip
    assert code == 0, output
    placed = list(
        (tmp_path / "home" / ".snap" / "auxdata" / "Orbits" / "Sentinel-1").rglob("*.EOF")
    )
    assert [p.name for p in placed] == [eof.name]
    year, month = SPEC.start_time.strftime("%Y"), SPEC.start_time.strftime("%m")
    assert placed[0].parent.parts[-4:] == ("POEORB", SPEC.mission, year, month)
    l2a = write_s2_product(tmp_path / "p", S2ProductSpec(size_10m_px=60, cloud_box_px=None))
    s2 = tmp_path / "s2.tif"
    code, output = run(
        ["s2", str(l2a), "--engine", "snap", "--gpt", str(gpt), "--crs", crs, "-o", str(s2), "-q"]
    )
    assert code == 0, output
    pair = tmp_path / "pair.tif"
    code, output = run(["pair", "--s1", str(s1), "--s2", str(s2), "--out", str(pair), "-q"])
    assert code == 0, output
    with rasterio.open(pair) as ds:
        assert ds.descriptions == ("VV", "VH", "B2", "B3", "B4", "B8", "valid")
        assert (ds.width, ds.height) == (26, 20)  # the valid 2 px border is cropped away
        assert ds.tags()["S1_SOURCE"] == product.stem


def test_snap_failures_leave_no_output(
    product: Path, gpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "fail.tif"
    monkeypatch.setenv("FAKE_GPT_MODE", "unknown-element")
    code, output = run(["s1", str(product), "--engine", "snap", "--gpt", str(gpt), "-o", str(out)])
    assert code == 1 and "does not know parameter 'foo'" in output and "SNAP 10.0.0" in output
    assert not out.exists() and out.with_name("fail.tif.gpt.log").exists()
    assert not list(tmp_path.glob(".fail.tif*"))
    monkeypatch.setenv("FAKE_GPT_MODE", "no-output")
    code, output = run(["s1", str(product), "--engine", "snap", "--gpt", str(gpt), "-o", str(out)])
    assert code == 1 and "gpt.tif" in output and not out.exists()
    # no gpt at all: --engine snap is an error naming the fix, --engine auto falls back
    missing = tmp_path / "nowhere" / "gpt"
    code, output = run(["s1", str(product), "--engine", "snap", "--gpt", str(missing)])
    assert code == 1 and str(missing) in output
    assert choose_engine("auto") == "python"
    assert choose_engine("auto", gpt) == "snap"
    # bad input fails before gpt starts, with the Python engine's message
    not_safe = tmp_path / "x.zip"
    not_safe.write_bytes(b"not a zip")
    code, output = run(["s1", str(not_safe), "--engine", "snap", "--gpt", str(gpt)])
    assert code == 1 and "x.zip" in output


def test_s2_snap_engine(gpt: Path, tmp_path: Path) -> None:
    spec = S2ProductSpec(size_10m_px=60, cloud_box_px=None)
    l2a = write_s2_product(tmp_path / "p", spec)
    out = tmp_path / "s2.tif"
    code, output = run(["s2", str(l2a), "--engine", "snap", "--gpt", str(gpt), "-o", str(out)])
    assert code == 0, output
    (call,) = records(tmp_path)
    assert operators(str(call["graph"])) == ["Read", "Resample", "Subset", "Write"]
    with rasterio.open(out) as ds:
        assert ds.descriptions == ("B2", "B3", "B4", "B8", "valid") and ds.dtypes[0] == "uint16"
        data = ds.read()
        tags = ds.tags()
    assert data[0, 5, 5] == 500 and data[3, 5, 5] == 800  # 0.05, 0.08 reflectance x 10 000
    assert (data[:4, 0] == 0).all()  # SNAP's 0: nodata
    assert data[4, 3, 3] == 0 and data[4, 10, 10] == 1  # SCL 9 (cloud) -> invalid
    assert tags["ENGINE"] == "snap" and float(tags["CLOUD_FRACTION"]) > 0
    folder = tmp_path / "bands"
    folder.mkdir()
    code, output = run(["s2", str(folder), "--engine", "snap", "--gpt", str(gpt)])
    assert code == 1


def test_graph_command_writes_exact_chains(product: Path, tmp_path: Path) -> None:
    g = tmp_path / "g.xml"
    code, output = run(["graph", "s1", str(product), "--snap-version", "9", "--out", str(g)])
    assert code == 0, output
    assert operators(g.read_text()) == S1_CHAIN
    code, output = run(["graph", "s1", str(product), "--snap-version", "9", "--out", str(g)])
    assert code == 1 and "--overwrite" in output
    hostile = tmp_path / "a&b <c> $input 'q'.tif"
    lon, lat, _ = product_geometry(SPEC).geolocate(np.array([60.0]), np.array([80.0]))
    aoi = f"{lon[0] - 0.01},{lat[0] - 0.01},{lon[0] + 0.01},{lat[0] + 0.01}"
    code, output = run(
        [
            "graph", "s1", str(product), "--snap-version", "14", "--border-noise", "--speckle",
            "none", "--aoi", aoi, "--target", str(hostile), "--out", str(g), "--overwrite",
        ]
    )  # fmt: skip
    assert code == 0, output
    root = ET.fromstring(g.read_text())
    assert operators(g.read_text()) == [
        "Read", "Remove-GRD-Border-Noise", "ThermalNoiseRemoval", "Apply-Orbit-File",
        "Calibration", "Terrain-Correction", "LinearToFromdB", "Subset", "Write",
    ]  # fmt: skip
    assert root.find(".//node[@id='Write']/parameters/file").text == str(hostile)  # type: ignore[union-attr]
    assert "$input" not in g.read_text()  # `$` escaped, so gpt cannot substitute it again
    spec = S2ProductSpec(size_10m_px=60, cloud_box_px=None)
    l2a = write_s2_product(tmp_path / "p", spec)
    code, output = run(
        ["graph", "s2", str(l2a), "--crs", "EPSG:4326", "--out", str(g), "--overwrite"]
    )
    assert code == 0, output
    assert operators(g.read_text()) == ["Read", "Resample", "Subset", "Reproject", "Write"]
    for name in ("a.tif", "b.tif"):
        (tmp_path / name).write_bytes(b"")
    code, output = run(
        [
            "graph", "collocate", "--reference", str(tmp_path / "a.tif"), "--secondary",
            str(tmp_path / "b.tif"), "--snap-version", "9", "--out", str(g), "--overwrite",
        ]
    )  # fmt: skip
    assert code == 0, output
    collocate = next(
        n for n in ET.fromstring(g.read_text()).iter("node") if n.get("id") == "Collocate"
    )
    assert {e.tag for e in collocate.find("sources")} == {"master", "slave"}  # type: ignore[union-attr]


def graph_params(xml_text: str, node_id: str) -> dict[str, str | None]:
    node = ET.fromstring(xml_text).find(f"node[@id='{node_id}']")
    assert node is not None, node_id
    return {el.tag: el.text for el in node.find("parameters")}  # type: ignore[union-attr]


def orbit_file(folder: Path, kind: str = "POEORB", hours: float = 1.0) -> Path:
    """An ESA-named orbit file for SPEC covering its start +- ``hours``."""
    from sen_preproc.testing.s1_factory import write_orbit_file

    first, last = SPEC.start_time - timedelta(hours=hours), SPEC.start_time + timedelta(hours=1)
    name = (
        f"{SPEC.mission}_OPER_AUX_{kind}_OPOD_20220112T081000_"
        f"V{first:%Y%m%dT%H%M%S}_{last:%Y%m%dT%H%M%S}.EOF"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return write_orbit_file(folder / name, SPEC, validity_start=first, validity_stop=last)


def test_graph_s1_writes_every_path_absolute(
    product: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gpt runs in another folder: a relative --dem, product, --target or --orbit-file is
    written as the absolute path it names from the folder senprep ran in."""
    import os

    from sen_preproc.testing.s1_factory import write_dem

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    lon, lat, _ = product_geometry(SPEC).geolocate(np.array([0.0, 119.0]), np.array([0.0, 159.0]))
    bounds = (lon.min() - 0.1, lat.min() - 0.1, lon.max() + 0.1, lat.max() + 0.1)
    write_dem(tmp_path / "dem.tif", tuple(float(b) for b in bounds))  # type: ignore[arg-type]
    eof = orbit_file(tmp_path / "orbits")
    monkeypatch.chdir(tmp_path)
    rel_product = os.path.relpath(product, tmp_path)
    code, output = run(
        [
            "graph", "s1", rel_product, "--dem", "dem.tif", "--orbit-file",
            f"orbits/{eof.name}", "--target", "out/s1.tif", "--snap-version", "10",
            "--out", "g.xml",
        ]
    )  # fmt: skip
    assert code == 0, output
    xml = (tmp_path / "g.xml").read_text()
    read, write = graph_params(xml, "Read"), graph_params(xml, "Write")
    tc = graph_params(xml, "Terrain-Correction")
    assert read["file"] == str(product.resolve() / "manifest.safe")
    assert write["file"] == str((tmp_path / "out" / "s1.tif").resolve())
    assert tc["externalDEMFile"] == str((tmp_path / "dem.tif").resolve())
    assert tc["demName"] == "External DEM"
    assert str(eof.resolve()) in xml  # the orbit file named in the graph's note
    for path in (read["file"], write["file"], tc["externalDEMFile"]):
        assert path is not None and Path(path).is_absolute(), path
    # S2: the product path too
    l2a = write_s2_product(tmp_path / "p", S2ProductSpec(size_10m_px=60, cloud_box_px=None))
    rel_l2a = os.path.relpath(l2a, tmp_path)
    code, output = run(["graph", "s2", rel_l2a, "--target", "s2.tif", "--out", "g2.xml"])
    assert code == 0, output
    xml = (tmp_path / "g2.xml").read_text()
    assert graph_params(xml, "Read")["file"] == str(l2a.resolve())
    assert graph_params(xml, "Write")["file"] == str((tmp_path / "s2.tif").resolve())


def _subset_bands(xml_text: str) -> list[str]:
    """Every band named in any sourceBands/bands parameter of the graph."""
    bands: list[str] = []
    for node in ET.fromstring(xml_text).iter("node"):
        for tag in ("sourceBands", "bands"):
            text = node.findtext(f"parameters/{tag}")
            if text:
                bands += text.split(",")
    return bands


def test_graph_s2_l1c_without_sen2cor_is_top_of_atmosphere(tmp_path: Path) -> None:
    """An L1C without --atmcor sen2cor: no scene classification band (L1C has none), no
    Sen2Cor, a warning; --atmcor sen2cor and an L2A still get the SCL band."""
    spec = S2ProductSpec(level="L1C", size_10m_px=60, cloud_box_px=None)
    l1c = write_s2_product(tmp_path / "l1c", spec)
    g = tmp_path / "g.xml"
    code, output = run(["graph", "s2", str(l1c), "--bands", "B2,B10,B8", "--out", str(g)])
    assert code == 0, output
    xml = g.read_text()
    assert operators(xml) == ["Read", "Resample", "Subset", "Write"]
    assert ET.fromstring(xml).get("id") == "s2_l1c_toa"
    assert _subset_bands(xml) == ["B2", "B10", "B8"]
    assert "quality_scene_classification" not in xml
    assert "top-of-atmosphere" in output  # the warning (stderr)
    code, output = run(
        ["graph", "s2", str(l1c), "--atmcor", "sen2cor", "--out", str(g), "--overwrite"]
    )
    assert code == 0, output
    xml = g.read_text()
    assert operators(xml) == ["Read", "Sen2Cor 2.11.0", "Resample", "Subset", "Write"]
    assert _subset_bands(xml) == ["B2", "B3", "B4", "B8", "quality_scene_classification"]
    l2a = write_s2_product(tmp_path / "l2a", S2ProductSpec(size_10m_px=60, cloud_box_px=None))
    code, output = run(["graph", "s2", str(l2a), "--out", str(g), "--overwrite"])
    assert code == 0, output
    assert _subset_bands(g.read_text())[-1] == "quality_scene_classification"


def test_s2_snap_engine_l1c_top_of_atmosphere(gpt: Path, tmp_path: Path) -> None:
    """The SNAP engine on an L1C without Sen2Cor: the graph asks for no SCL band, ``valid``
    comes from no data alone (as in the Python engine), PROCESSING_LEVEL stays L1C."""
    spec = S2ProductSpec(level="L1C", size_10m_px=60, cloud_box_px=None)
    l1c = write_s2_product(tmp_path / "p", spec)
    out = tmp_path / "s2.tif"
    code, output = run(["s2", str(l1c), "--engine", "snap", "--gpt", str(gpt), "-o", str(out)])
    assert code == 0, output
    (call,) = records(tmp_path)
    graph = str(call["graph"])
    assert operators(graph) == ["Read", "Resample", "Subset", "Write"]
    assert "quality_scene_classification" not in graph
    with rasterio.open(out) as ds:
        assert ds.descriptions == ("B2", "B3", "B4", "B8", "valid")
        data = ds.read()
        tags = ds.tags()
    assert (data[4, 2:-2, 2:-2] == 1).all()  # no cloud mask: every pixel with data is valid
    assert (data[4, 0] == 0).all() and (data[:4, 0] == 0).all()  # SNAP's 0: no data
    assert tags["PROCESSING_LEVEL"] == "L1C" and float(tags["CLOUD_FRACTION"]) == 0.0
    assert output.count("top-of-atmosphere") == 1  # one warning, as the Python engine's
    assert "no scene classification band" not in output


def test_graph_s1_orbit_file_is_named_not_ignored(
    product: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SNAP's Apply-Orbit-File takes no file path: `graph s1 --orbit-file` renders the file's
    orbit type with continueOnFail false, and a comment + warning say where to copy the file
    (SNAP's auxdata orbit folder for the product's month); nothing is copied."""
    from lxml import etree

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    g = tmp_path / "g.xml"
    for kind, orbit_type in (
        ("POEORB", "Sentinel Precise (Auto Download)"),
        ("RESORB", "Sentinel Restituted (Auto Download)"),
    ):
        eof = orbit_file(tmp_path / kind, kind)
        code, output = run(
            ["graph", "s1", str(product), "--orbit-file", str(eof), "--out", str(g), "--overwrite"]
        )
        assert code == 0, output
        xml = g.read_text()
        orbit = graph_params(xml, "Apply-Orbit-File")
        assert orbit == {"orbitType": orbit_type, "polyDegree": "3", "continueOnFail": "false"}
        dest = (
            home / ".snap" / "auxdata" / "Orbits" / "Sentinel-1" / kind / SPEC.mission
            / SPEC.start_time.strftime("%Y") / SPEC.start_time.strftime("%m") / eof.name
        )  # fmt: skip
        root = etree.fromstring(xml.encode())
        comments = [c.text or "" for c in root.itersiblings(preceding=True)]
        note = next(c for c in comments if "Apply-Orbit-File" in c)
        assert str(eof) in note and str(dest) in note and "continueOnFail is false" in note
        warning = next(line for line in output.splitlines() if "WARNING" in line)
        assert str(eof) in warning and str(dest) in warning  # the same, as a warning
        assert not dest.exists()  # the graph may run elsewhere: nothing placed
    # an orbit file that does not cover the acquisition, or is missing, is refused
    late = orbit_file(tmp_path / "late", hours=-0.5)
    for bad in (late, tmp_path / "none" / eof.name):
        code, output = run(
            ["graph", "s1", str(product), "--orbit-file", str(bad), "--out", str(g), "--overwrite"]
        )
        assert code == 1 and bad.name in output, output


def test_graph_collocate_refuses_missing_inputs(tmp_path: Path) -> None:
    present = tmp_path / "s1.tif"
    present.write_bytes(b"")
    missing = tmp_path / "no such" / "s2.tif"
    g = tmp_path / "g.xml"
    for reference, secondary, role in (
        (missing, present, "reference"),
        (present, missing, "secondary"),
    ):
        code, output = run(
            ["graph", "collocate", "--reference", str(reference), "--secondary", str(secondary),
             "--snap-version", "10", "--out", str(g)]
        )  # fmt: skip
        assert code == 1, output
        lines = output.strip().splitlines()
        assert len(lines) == 1 and str(missing) in lines[0] and f"--{role}" in lines[0]
        assert "existing product" in lines[0]
        assert not g.exists()


def test_doctor_command(gpt: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, output = run(["doctor"])
    assert code == 0 and "missing  SNAP gpt" in output and "--engine python" in output
    code, output = run(["doctor", "--gpt", str(gpt)])
    assert code == 0 and "10.0.0" in output and "OK" in output


def test_read_band_names_from_snap_header(tmp_path: Path) -> None:
    """SNAP's GeoTIFF writers keep band names in the DIMAP header of TIFF tag 65000."""
    import tifffile

    header = (
        "<Dimap_Document><Image_Interpretation>"
        "<Spectral_Band_Info><BAND_INDEX>1</BAND_INDEX><BAND_NAME>Sigma0_VV_db</BAND_NAME></Spectral_Band_Info>"
        "<Spectral_Band_Info><BAND_INDEX>0</BAND_INDEX><BAND_NAME>Sigma0_VH_db</BAND_NAME></Spectral_Band_Info>"
        "</Image_Interpretation></Dimap_Document>"
    )
    tifffile.imwrite(
        tmp_path / "snap.tif",
        np.zeros((2, 4, 4), np.float32),
        planarconfig="separate",
        extratags=[(65000, 2, 0, header, True)],
    )
    assert read_band_names(tmp_path / "snap.tif") == ("Sigma0_VH_db", "Sigma0_VV_db")


def test_installed_catalogue_is_preferred(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With esa_snappy configured, graphs are validated against the installation's catalogue and
    the differences are reported."""
    from dataclasses import replace

    caplog.set_level(logging.INFO, logger="sen_preproc")
    builtin = catalogue_for(SnapVersion(10))
    changed = replace(
        builtin, operators=tuple(op for op in builtin.operators if op.alias != "Subset")
    )
    monkeypatch.setattr(engine, "load_installed_catalogue", lambda: changed)
    assert engine.catalogue_for_run(SnapVersion(10)) is changed
    assert "Subset" in caplog.text
    monkeypatch.setattr(engine, "load_installed_catalogue", lambda: None)
    assert engine.catalogue_for_run(SnapVersion(10)) == builtin
