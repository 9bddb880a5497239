"""Demo of the pipeline on generated data (run by ``make demo``).

Two dates (I and II, 12 days apart) over the same small area near Rome:

1. generates a dual-polarisation Sentinel-1 IW GRD product per date (4 km x 5 km, a hill under
   one of three bright squares), a DEM, and a Sentinel-2 L2A product per date (3 km x 3 km,
   a different cloud on each date) with ``sen_preproc.testing``;
2. ``senprep s2`` on each S2 product (B2, B3, B4, B8 at 10 m + the SCL validity band);
3. ``senprep s1`` on each S1 product with the DEM, straight onto the S2 grid (``--like``);
4. ``senprep pair`` for each date, then ``senprep split`` into a multi-temporal patch dataset;
5. prints where everything is, a one-line summary per step and writes ``report.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyproj
import rasterio

from sen_preproc.testing.s1_factory import (
    S1ProductSpec,
    bright_squares,
    gaussian_hill,
    product_geometry,
    write_dem,
    write_s1_grd_product,
)
from sen_preproc.testing.s2_factory import S2ProductSpec, write_s2_product


def senprep(*args: str) -> float:
    """Run a senprep command as a user would; returns its wall time (s)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sen_preproc", *args, "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def summary(path: Path) -> str:
    with rasterio.open(path) as ds:
        data = ds.read()
        parts = []
        for name, band in zip(ds.descriptions, data, strict=True):
            ok = band[np.isfinite(band)]
            parts.append(f"{name} {ok.min():.1f}..{ok.max():.1f}" if ok.size else f"{name} empty")
        return (
            f"{path.name}: {ds.width}x{ds.height} px, {ds.crs.to_string()}, {ds.res[0]:.0f} m; "
            + ", ".join(parts)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    args = parser.parse_args()
    out: Path = args.out
    marker = out / ".senprep-demo"
    if out.exists() and any(out.iterdir()):
        if not marker.is_file():
            sys.exit(f"{out} exists and was not written by this demo; choose another --out")
        shutil.rmtree(out)  # an earlier demo's output, recognised by its marker
    (out / "raw").mkdir(parents=True)
    marker.write_text("written by examples/demo.py; `make demo` replaces this folder\n")
    report = ["# senprep demo report", ""]

    t0 = time.perf_counter()
    base = S1ProductSpec(lines=400, samples=500, speckle_looks=4.4, seed=7)
    hill_square = bright_squares(base)[1]
    hill = gaussian_hill(
        hill_square.lon_deg, hill_square.lat_deg, height_m=400.0, sigma_m=1200.0, base_m=50.0
    )
    geom = product_geometry(base)
    lon, lat, _ = geom.geolocate(
        np.array([0, 0, base.lines - 1, base.lines - 1], float),
        np.array([0, base.samples - 1, 0, base.samples - 1], float),
    )
    dem = write_dem(
        out / "raw" / "dem.tif",
        (lon.min() - 0.02, lat.min() - 0.02, lon.max() + 0.02, lat.max() + 0.02),
        terrain_height=hill,
    )
    # the S2 subset: 3 km x 3 km centred on the S1 scene, on the 33TTG tile's 60 m lattice
    centre_x, centre_y = pyproj.Transformer.from_crs(
        "EPSG:4326", "EPSG:32633", always_xy=True
    ).transform(float(lon.mean()), float(lat.mean()))
    ulx = math.floor((centre_x - 1500) / 60) * 60
    uly = math.floor((centre_y + 1500) / 60) * 60 + 20  # tile origin 4900020 -> ...20 northings
    dates = {"I": timedelta(0), "II": timedelta(days=12)}
    clouds = {"I": (20, 30, 80, 100), "II": (200, 180, 260, 250)}
    products = {}
    for label, delta in dates.items():
        s1_spec = S1ProductSpec(
            **{**base.__dict__, "start_time": base.start_time + delta, "seed": 7 + len(label)}
        )
        s2_spec = S2ProductSpec(
            ulx_m=ulx,
            uly_m=uly,
            size_10m_px=300,
            sensing_time=S2ProductSpec().sensing_time + delta,
            cloud_box_px=clouds[label],
            seed=len(label),
        )
        products[label] = (
            write_s1_grd_product(out / "raw" / f"s1_{label}", s1_spec, terrain_height=hill),
            write_s2_product(out / "raw" / f"s2_{label}", s2_spec),
        )
    report.append(
        f"- generated 2 x (S1 GRD 400x500 px VV+VH, S2 L2A 300x300 px) + DEM in {time.perf_counter() - t0:.1f} s"
    )
    print(report[-1][2:])

    for label, (s1_product, s2_product) in products.items():
        s2_out = out / f"s2_{label}.tif"
        s1_out = out / f"s1_{label}.tif"
        pair_out = out / f"pair_{label}.tif"
        t2 = senprep("s2", str(s2_product), "--bands", "B2,B3,B4,B8", "--out", str(s2_out))
        t1 = senprep(
            "s1",
            str(s1_product),
            "--dem",
            str(dem),
            "--dem-datum",
            "ellipsoid",
            "--like",
            str(s2_out),
            "--out",
            str(s1_out),
        )
        tp = senprep("pair", "--s1", str(s1_out), "--s2", str(s2_out), "--out", str(pair_out))
        for step, path, seconds in (("s2", s2_out, t2), ("s1", s1_out, t1), ("pair", pair_out, tp)):
            line = f"- date {label} `senprep {step}` ({seconds:.1f} s): {summary(path)}"
            report.append(line)
            print(line[2:])

    dataset = out / "dataset"
    ts = senprep(
        "split",
        "--ref",
        str(out / "pair_I.tif"),
        "--target",
        str(out / "pair_II.tif"),
        "--out",
        str(dataset),
        "--size",
        "48",
        "--stride",
        "24",
        "--split",
        "rows:0.6,0.2,0.2",
        "--max-invalid",
        "0.05",
        "--mono",
    )
    info = json.loads((dataset / "dataset.json").read_text())
    line = f"- `senprep split` ({ts:.1f} s): {dataset} - samples per split {info['counts']}"
    report.append(line)
    print(line[2:])
    # the SNAP engine: the graph SNAP's gpt would run for date I (no SNAP needed to write it)
    graph = out / "snap_s1_I_graph.xml"
    subprocess.run(
        [
            sys.executable, "-m", "sen_preproc", "graph", "s1", str(products["I"][0]),
            "--dem", str(dem), "--dem-datum", "ellipsoid", "--speckle", "refined-lee",
            "--target", str(out / "s1_I_snap.tif"), "--out", str(graph),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    chain = re.findall(r"<operator>([^<]+)</operator>", graph.read_text())
    line = f"- `senprep graph s1`: {graph.name} = {' -> '.join(chain)} (run it with SNAP's gpt)"
    report.append(line)
    print(line[2:])
    doctor = subprocess.run(
        [sys.executable, "-m", "sen_preproc", "doctor"], check=True, capture_output=True, text=True
    ).stdout
    report += ["", "## `senprep doctor`", "", "```", doctor.rstrip(), "```"]
    (out / "report.md").write_text("\n".join(report) + "\n")
    print(f"report: {out / 'report.md'}")


if __name__ == "__main__":
    main()
