"""Demo of the pipeline on a simulated region (run by ``make demo``).

1. ``senprep synth``: a 4 km x 4 km region (fields, a town, a river, forest) observed at four
   dates by Sentinel-1 (GRD SAFE, VV+VH) and Sentinel-2 (L2A SAFE), clouds over part of dates
   II and IV, plus a DEM and the truth;
2. ``senprep s2`` on each S2 product (B2, B3, B4, B8 at 10 m + the SCL validity band), the later
   dates onto date I's grid (``--like``);
3. ``senprep s1`` on each S1 product with the DEM, straight onto the S2 grid (``--like``);
4. ``senprep pair`` for each date, then ``senprep split`` into a multi-temporal patch dataset
   (reference I, targets II and III; date IV is held back; the top quarter of the scene is the
   held-out test area, the rest 80 % train / 20 % val by columns);
5. ``mccgan train``: a small MCcGAN (ngf 16, 120 epochs, ``--residual``: the change from S2 I,
   λ 1000) on that dataset, its validation metrics next to copying S2 at date I;
6. ``mccgan fuse`` and ``mccgan evaluate`` against the simulated cloud-free truth: A. date II on
   the held-out area (spatial transfer; MCcGAN, MCcGAN + gap filling with the cloudy S2 II,
   copy-reference; regions all / changed / stable / clouds II), B. date IV, never a training
   target (time transfer; the whole scene, the held-out area, changed / stable);
7. quick-look PNGs per date (S2 true colour, S1 VV/VH composite, the change since date I), the
   SNAP graph of date I and ``senprep doctor``, all in ``report.md``; a one-line summary per step.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import transform_bounds

from sen_preproc import quicklook
from sen_preproc.testing.chain import process_synth_scene

DATES = ("2023-05-10", "2023-06-20", "2023-07-29", "2023-08-27")
CLOUDS = "0,0.3,0,0.1"
MARKER = ".senprep-demo"
HELDOUT_ROWS_PX = 100  # the top quarter of the 402-px scene: 2 rows of 64-px test patches


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
            if name == "valid":
                parts.append(f"clear {100 * float((band == 1).mean()):.0f} %")
                continue
            ok = band[
                np.isfinite(band) & (band != (ds.nodata if ds.nodata is not None else np.nan))
            ]
            parts.append(f"{name} {ok.min():.1f}..{ok.max():.1f}" if ok.size else f"{name} empty")
        return (
            f"{path.name}: {ds.width}x{ds.height} px, {ds.crs.to_string()}, {ds.res[0]:.0f} m; "
            + ", ".join(parts)
        )


def prepare(out: Path) -> None:
    """Replace an earlier demo's folder (recognised by its marker), never anything else."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            sys.exit(f"{out} exists and was not written by this demo; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by examples/demo.py; `make demo` replaces this folder\n")


def quicklooks(out: Path, doc: dict, pairs: list[Path]) -> list[Path]:
    """One PNG per date: S2 RGB, S1 composite, change since date I (truth)."""
    written = []
    first = doc["dates"][0]["s2"]["time"][:10].replace("-", "")
    for date, pair in zip(doc["dates"], pairs, strict=True):
        stamp = date["s2"]["time"][:10].replace("-", "")
        with rasterio.open(pair) as ds:
            layers = dict(zip(ds.descriptions, ds.read().astype(np.float64), strict=True))
        valid = layers["valid"] == 1
        panels = [
            (
                f"S2 {date['label']} {stamp} (RGB)",
                quicklook.s2_rgb(layers["B4"], layers["B3"], layers["B2"], 10000),
            ),
            (
                f"S1 {date['label']} {date['s1']['time'][:10]} (VV, VH, VV-VH)",
                quicklook.s1_composite(layers["VV"], layers["VH"]),
            ),
            (
                f"valid (clear) {100 * valid.mean():.0f} %",
                np.dstack([valid.astype(np.uint8) * 255] * 3),
            ),
        ]
        if stamp != first:
            with rasterio.open(out / "scene" / "truth" / f"change_{first}_{stamp}.tif") as ds:
                panels.append(
                    (f"change I-{date['label']} (truth)", quicklook.change_colours(ds.read(1)))
                )
        written.append(quicklook.mosaic(panels, out / f"quicklook_{stamp}.png", width_px=260))
    return written


def train_model(out: Path, dataset: Path) -> list[str]:
    """``mccgan train`` (small: ngf 16, 120 epochs at 64 px, predicting the change from S2 I
    with λ 1000) on the demo dataset; the final validation metrics next to copying S2 I."""
    run = out / "run"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mccgan", "train", "--data", str(dataset), "--out", str(run),
         "--ngf", "16", "--ndf", "16", "--batch-size", "4", "--epochs", "90", "--epochs-decay", "30",
         "--augment", "--residual", "--lambda-l1", "1000", "--images-every", "30", "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    with open(run / "logs" / "metrics.csv", newline="") as file:
        rows = [r for r in csv.DictReader(file) if r.get("val/l1")]
    last = {k.removeprefix("val/"): float(v) for k, v in rows[-1].items() if k.startswith("val/")}
    lines = [
        f"- `mccgan train` ({seconds:.0f} s, {len(rows)} epochs): {run / 'model.pt'}",
        "",
        "| validation (S2 at dates II, III; clear pixels) | L1 | RMSE | PSNR (dB) | SSIM |",
        "|---|---|---|---|---|",
    ]
    for name, prefix in (("MCcGAN", ""), ("copy S2 at date I", "copy_")):
        lines.append(
            f"| {name} | {last[prefix + 'l1']:.0f} | {last[prefix + 'rmse']:.0f} | "
            f"{last[prefix + 'psnr']:.2f} | {last[prefix + 'ssim']:.3f} |"
        )
    print(lines[0][2:])
    for line in lines[2:]:
        print(line)
    strip = sorted((run / "images").glob("epoch_*.png"))[-1]
    lines += ["", f"![validation samples]({strip.relative_to(out)})"]
    return lines


def test_area(pair: Path, rows_px: int = HELDOUT_ROWS_PX) -> str:
    """The held-out area for ``senprep split --test-area``: the top ``rows_px`` rows of the
    scene, as a lon/lat bounding box (WKT). Held out there, not in the bottom rows: those hold
    the scene's only lake (18 % of the bottom fifth, 0.6 % of the rest), and a model that never
    saw open water cannot render it - a held-out area should hold land covers it was trained on."""
    with rasterio.open(pair) as ds:
        left, top = ds.transform * (0, 0)
        right, bottom = ds.transform * (ds.width, rows_px)
        lon0, lat0, lon1, lat1 = transform_bounds(ds.crs, "EPSG:4326", left, bottom, right, top)
    return f"POLYGON(({lon0} {lat0}, {lon1} {lat0}, {lon1} {lat1}, {lon0} {lat1}, {lon0} {lat0}))"


def heldout_mask(out: Path, dataset: Path, like: Path) -> Path:
    """The held-out (test) area of the split as a mask GeoTIFF: the union of the test patches."""
    with rasterio.open(like) as ds:
        profile = {"driver": "GTiff", "width": ds.width, "height": ds.height, "count": 1, "dtype": "uint8",
                   "crs": ds.crs, "transform": ds.transform}  # fmt: skip
        mask = np.zeros((ds.height, ds.width), np.uint8)
    with open(dataset / "manifest.csv", newline="") as file:
        for row in csv.DictReader(file):
            if row["split"] == "test":
                r, c, s = int(row["row"]), int(row["col"]), int(row["size"])
                mask[r : r + s, c : c + s] = 1
    path = out / "heldout.tif"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(mask[None])
        ds.set_band_description(1, "heldout")
    return path


def run_fuse(
    out: Path, label: str, extra: Sequence[str] = (), suffix: str = ""
) -> tuple[Path, str]:
    """``mccgan fuse`` of date ``label`` from date I; returns the output and a report line."""
    path = out / f"fused_{label}{suffix}.tif"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mccgan", "fuse", "--model", str(out / "run" / "model.pt"),
                    "--ref", str(out / "pair_I.tif"), "--target-s1", str(out / f"s1_{label}.tif"), *extra,
                    "-o", str(path), "-q"], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    options = "".join(f" {a}" for a in extra if a.startswith("--") or a.isdigit())
    return (
        path,
        f"- `mccgan fuse{options}` date {label} ({time.perf_counter() - start:.1f} s): {summary(path)}",
    )


def run_evaluate(out: Path, name: str, args: Sequence[str]) -> list[str]:
    """``mccgan evaluate`` into ``out/name``; its Markdown tables and figures for the report."""
    report = out / name
    start = time.perf_counter()
    printed = subprocess.run([sys.executable, "-m", "mccgan", "evaluate", *args, "-o", str(report)],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
    lines = [f"- `mccgan evaluate` ({time.perf_counter() - start:.1f} s): {report / 'metrics.md'}"]
    print(lines[0][2:])
    tables = printed.rsplit("report:", 1)[0].rstrip()
    print(tables)
    lines += ["", tables, ""]
    for png in ("quicklook_rgb.png", "ndvi.png", "scatter.png"):
        if (report / png).exists():
            lines.append(f"![{png}]({name}/{png})")
            print(f"figure: {report / png}")
    return lines


def fuse_and_evaluate(out: Path, doc: dict, dataset: Path) -> list[str]:
    """A. spatial transfer: date II fused (and gap-filled with the cloudy S2 II) over the scene,
    evaluated on the held-out (test) area against the simulated cloud-free truth - MCcGAN,
    MCcGAN + gap filling, copy-reference; regions all / changed / stable / clouds of date II.
    B. time transfer: date IV (never a training target) over the whole scene and the held-out
    area, changed and stable parcels."""
    stamp = {d["label"]: d["s2"]["time"][:10].replace("-", "") for d in doc["dates"]}
    truth = out / "scene" / "truth"
    mask = heldout_mask(out, dataset, out / "pair_I.tif")
    lines = ["", "## A. Fusion and evaluation: held-out area, date II (spatial transfer)", ""]
    fused, line = run_fuse(out, "II")
    filled, line_filled = run_fuse(out, "II", ["--target-s2", str(out / "s2_II.tif")], "_gapfilled")
    mc, line_mc = run_fuse(out, "II", ["--mc-dropout", "8"], "_mc")
    for text in (line, line_filled, line_mc):
        lines.append(text)
        print(text[2:])
    change = truth / f"change_{stamp['I']}_{stamp['II']}.tif"
    lines += run_evaluate(out, "evaluation_A_II", [
        "--pred", f"MCcGAN={fused}", "--pred", f"MCcGAN + gap filling={filled}",
        "--pred", f"MCcGAN, MC dropout x8={mc}",
        "--truth", str(truth / f"reflectance_{stamp['II']}.tif"), "--ref", str(out / "pair_I.tif"),
        "--mask", str(mask), "--region", f"changed={change}", "--region", f"stable={change}:!change",
        "--region", f"clouds II={out / 's2_II.tif'}:!valid"])  # fmt: skip
    lines += ["", "## B. Fusion and evaluation: date IV, not a training target (time transfer)", ""]
    fused_iv, line = run_fuse(out, "IV")
    lines.append(line)
    print(line[2:])
    change = truth / f"change_{stamp['I']}_{stamp['IV']}.tif"
    lines += run_evaluate(out, "evaluation_B_IV", [
        "--pred", f"MCcGAN={fused_iv}", "--truth", str(truth / f"reflectance_{stamp['IV']}.tif"),
        "--ref", str(out / "pair_I.tif"), "--region", f"held-out={mask}", "--region", f"changed={change}",
        "--region", f"stable={change}:!change"])  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    args = parser.parse_args()
    out: Path = args.out
    prepare(out)
    report = ["# senprep demo report", ""]

    scene = out / "scene"
    seconds = senprep("synth", "-o", str(scene), "--size-km", "4", "--dates", ",".join(DATES),
                      "--clouds", CLOUDS, "--seed", "7")  # fmt: skip
    doc = json.loads((scene / "scenario.json").read_text())
    report.append(
        f"- `senprep synth` ({seconds:.1f} s): {scene} - tile {doc['location']['tile']}, "
        f"{len(doc['parcels'])} fields, {len(doc['events'])} events, "
        f"{len(doc['dates'])} dates (S1 on its 12-day cycle: "
        + ", ".join(d["s1"]["time"][:10] for d in doc["dates"])
        + ")"
    )
    print(report[-1][2:])
    dem = scene / "raw" / "dem.tif"

    def run_step(args: Sequence[str]) -> None:
        seconds = senprep(*args)
        path = Path(args[list(args).index("-o") + 1])
        line = f"- date {path.stem.split('_', 1)[1]} `senprep {args[0]}` ({seconds:.1f} s): {summary(path)}"
        report.append(line)
        print(line[2:])

    outputs = process_synth_scene(scene, out, run_step, s2_options=["--bands", "B2,B3,B4,B8"])
    pairs = [d.pair for d in outputs]

    dataset = out / "dataset"
    ts = senprep("split", "--ref", str(pairs[0]), "--target", str(pairs[1]), "--target", str(pairs[2]),
                 "--out", str(dataset), "--size", "64", "--stride", "32", "--test-area", test_area(pairs[0]),
                 "--split", "cols:0.8,0.2,0", "--max-invalid", "0.05", "--mono")  # fmt: skip
    info = json.loads((dataset / "dataset.json").read_text())
    line = f"- `senprep split` ({ts:.1f} s): {dataset} - samples {info['counts']}"
    report.append(line)
    print(line[2:])
    report += train_model(out, dataset)
    report += fuse_and_evaluate(out, doc, dataset)
    report += ["", "## Quick-looks", ""]
    for png in quicklooks(out, doc, pairs):
        report.append(f"![{png.stem}]({png.name})")
        print(f"quick-look: {png}")
    # the SNAP engine: the graph SNAP's gpt would run for date I (no SNAP needed to write it)
    graph = out / "snap_s1_I_graph.xml"
    subprocess.run(
        [
            sys.executable, "-m", "sen_preproc", "graph", "s1",
            str(scene / "raw" / f"{doc['dates'][0]['s1']['product']}.SAFE"),
            "--dem", str(dem), "--speckle", "refined-lee",
            "--target", str(out / "s1_I_snap.tif"), "--out", str(graph),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    chain = re.findall(r"<operator>([^<]+)</operator>", graph.read_text())
    report += [
        "",
        f"- `senprep graph s1`: {graph.name} = {' -> '.join(chain)} (run it with SNAP's gpt)",
    ]
    print(report[-1][2:])
    doctor = subprocess.run(
        [sys.executable, "-m", "sen_preproc", "doctor"], check=True, capture_output=True, text=True
    ).stdout
    report += ["", "## `senprep doctor`", "", "```", doctor.rstrip(), "```"]
    (out / "report.md").write_text("\n".join(report) + "\n")
    print(f"report: {out / 'report.md'}")


if __name__ == "__main__":
    main()
