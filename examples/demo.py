"""Demo of the pipeline on a simulated region (run by ``make demo``).

1. ``senprep synth``: a 4 km x 4 km region (fields, a town, a river, forest) observed at three
   dates by Sentinel-1 (GRD SAFE, VV+VH) and Sentinel-2 (L2A SAFE), a cloud over part of date
   II, plus a DEM and the truth;
2. ``senprep s2`` on each S2 product (B2, B3, B4, B8 at 10 m + the SCL validity band), dates II
   and III onto date I's grid (``--like``);
3. ``senprep s1`` on each S1 product with the DEM, straight onto the S2 grid (``--like``);
4. ``senprep pair`` for each date, then ``senprep split`` into a multi-temporal patch dataset
   (reference I, targets II and III);
5. ``mccgan train``: a small MCcGAN (ngf 16, 20 epochs) on that dataset, its validation
   metrics next to copying S2 at date I;
6. quick-look PNGs per date (S2 true colour, S1 VV/VH composite, the change since date I), the
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

from sen_preproc import quicklook
from sen_preproc.testing.chain import process_synth_scene

DATES = ("2023-05-10", "2023-06-20", "2023-07-29")
CLOUDS = "0,0.3,0"
MARKER = ".senprep-demo"


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
    """``mccgan train`` (small: ngf 16, 20 epochs at 64 px) on the demo dataset; the final
    validation metrics next to those of copying S2 at date I."""
    run = out / "run"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mccgan", "train", "--data", str(dataset), "--out", str(run),
         "--ngf", "16", "--ndf", "16", "--batch-size", "4", "--epochs", "15", "--epochs-decay", "5",
         "--augment", "--images-every", "5", "--quiet"],
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
                 "--out", str(dataset), "--size", "64", "--stride", "32", "--split", "rows:0.6,0.2,0.2",
                 "--max-invalid", "0.05", "--mono")  # fmt: skip
    info = json.loads((dataset / "dataset.json").read_text())
    line = f"- `senprep split` ({ts:.1f} s): {dataset} - samples {info['counts']}"
    report.append(line)
    print(line[2:])
    report += train_model(out, dataset)
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
