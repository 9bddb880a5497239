"""A stand-in for SNAP's ``gpt`` for the engine tests (no SNAP can be installed here).

``install_fake_gpt(folder)`` writes an executable ``folder/bin/gpt`` (plus ``VERSION.txt`` and
``gpt.vmoptions`` as an installation has) that behaves like gpt where the engine relies on it:

* ``--diag`` prints ``SNAP Release version 10.0.0``;
* otherwise it substitutes the ``-P`` values into the graph the way gpt's TemplateReader does
  (``${name}`` and bare ``$name``, raw), parses the XML (exit 1 on malformed XML), records its
  argument list and the substituted graph in ``$FAKE_GPT_RECORD`` (JSON lines), prints
  SNAP-like progress, and writes what the graph's Write node asks for: a GeoTIFF with SNAP's
  band names (``Sigma0_VV_db``..., ``B2``..., ``quality_scene_classification``) on the graph's
  CRS at ``$FAKE_GPT_ORIGIN`` (x,y) with SNAP's nodata 0 on a 2 px border, or a BEAM-DIMAP
  intermediate (``.dim`` + ``.data/``) carrying the band names to the next part.
* ``$FAKE_GPT_MODE``: ``unknown-element`` (exit 1, gpt's message), ``no-output`` (exit 0,
  nothing written).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

SCRIPT = r"""
import json, os, re, sys
import xml.etree.ElementTree as ET
import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

args = sys.argv[1:]
if args and args[0] == "--diag":
    print("SNAP Release version 10.0.0\nJava version: 17\nMax memory: 4.0 GB")
    sys.exit(0)
graph_file = args[0]
values = {}
for arg in args[1:]:
    if arg.startswith("-P"):
        name, _, value = arg[2:].partition("=")
        values[name] = value
text = open(graph_file, encoding="utf-8").read()
def repl(m):
    name = m.group(1) or m.group(2)
    return values.get(name, m.group(0))
text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}|\$([A-Za-z_][A-Za-z0-9_.]*)", repl, text)
record = os.environ.get("FAKE_GPT_RECORD")
if record:
    with open(record, "a") as handle:
        handle.write(json.dumps({"argv": sys.argv, "graph": text}) + "\n")
try:
    root = ET.fromstring(text)
except ET.ParseError as err:
    print(f"Error: malformed graph XML: {err}", file=sys.stderr)
    sys.exit(1)
mode = os.environ.get("FAKE_GPT_MODE", "ok")
if mode == "unknown-element":
    print("Error: [NodeId: Speckle-Filter] Operator 'SpeckleFilterOp': Unknown element 'foo'", file=sys.stderr)
    sys.exit(1)
print("Executing processing graph", flush=True)
for p in range(10, 101, 30):
    print(f"....{p}%", end="", flush=True)
print(" done.", flush=True)
if mode == "no-output":
    sys.exit(0)
nodes = {n.get("id"): n for n in root.iter("node")}
ops = {n.findtext("operator"): n for n in nodes.values()}
def param(op, name):
    node = ops.get(op)
    return None if node is None else node.findtext(f"parameters/{name}")
bands = []
for node in nodes.values():  # bands carried by a BEAM-DIMAP intermediate
    if node.findtext("operator") == "Read":
        src = node.findtext("parameters/file") or ""
        if src.endswith(".dim"):
            bands = json.load(open(src))["bands"]
if "Calibration" in ops:
    pols = (param("Calibration", "selectedPolarisations") or "VV,VH").split(",")
    kind = "Beta0" if param("Calibration", "outputBetaBand") == "true" else (
        "Gamma0" if param("Calibration", "outputGammaBand") == "true" else "Sigma0")
    bands = [f"{kind}_{p}" for p in pols]
if "LinearToFromdB" in ops:
    bands = [b + "_db" for b in bands]
if "Resample" in ops:
    bands = [b for b in (param("Subset", "sourceBands") or "").split(",") if b]
    order = ["B1","B2","B3","B4","B5","B6","B7","B8","B8A","B9","B10","B11","B12"]
    bands.sort(key=lambda b: order.index(b) if b in order else 99)
write = ops["Write"]
target = write.findtext("parameters/file")
fmt = write.findtext("parameters/formatName")
if fmt == "BEAM-DIMAP":
    os.makedirs(target[:-4] + ".data", exist_ok=True)
    json.dump({"bands": bands}, open(target, "w"))
    sys.exit(0)
crs_text = param("Terrain-Correction", "mapProjection") or param("Reproject", "crs") or "EPSG:32633"
crs = CRS.from_epsg(4326) if crs_text == "WGS84(DD)" else CRS.from_user_input(crs_text)
x0, y0 = (float(v) for v in os.environ.get("FAKE_GPT_ORIGIN", "300000,4650000").split(","))
pixel = float(param("Terrain-Correction", "pixelSpacingInMeter") or param("Resample", "targetResolution") or 10)
height, width = 24, 30
data = np.zeros((len(bands), height, width), np.float32)
for i, band in enumerate(bands):
    if band.startswith(("Sigma0", "Beta0", "Gamma0")):
        db = -12.0 if "VV" in band else -19.0
        value = db if band.endswith("_db") else 10 ** (db / 10)
    elif band == "quality_scene_classification":
        value = 4.0
    else:
        value = 0.05 + 0.01 * i
    data[i, 2:-2, 2:-2] = value
    if band == "quality_scene_classification":
        data[i, 2:8, 2:8] = 9.0  # a cloud
with rasterio.open(target, "w", driver="GTiff", width=width, height=height, count=len(bands),
                   dtype="float32", crs=crs, transform=Affine(pixel, 0, x0, 0, -pixel, y0)) as ds:
    ds.write(data)
    for i, band in enumerate(bands, start=1):
        ds.set_band_description(i, band)
"""


def install_fake_gpt(folder: Path) -> Path:
    """Write the fake SNAP installation under ``folder``; returns ``folder/bin/gpt``."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    gpt = bin_dir / "gpt"
    gpt.write_text(f"#!{sys.executable}\n{SCRIPT}")
    gpt.chmod(gpt.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (folder / "VERSION.txt").write_text("10.0.0\n")
    (bin_dir / "gpt.vmoptions").write_text("-Xmx2G\n")
    return gpt


def fake_env(record: Path, origin: tuple[float, float], mode: str = "ok") -> dict[str, str]:
    """Environment for one fake run."""
    return {
        "FAKE_GPT_RECORD": str(record),
        "FAKE_GPT_ORIGIN": f"{origin[0]},{origin[1]}",
        "FAKE_GPT_MODE": mode,
        "PATH": os.environ.get("PATH", ""),
    }
