"""Side-by-side quick-look of a ``senprep synth`` scene and the real S1/S2 pairs in ``shared/``.

Usage: ``.venv/bin/python examples/synth_vs_real.py [--shared ../shared] [--out synth_vs_real.png]``

Generates a 6 km scene (seed 0) unless ``--scene`` names one, runs ``senprep s2`` and
``senprep s1 --speckle none`` on its first (clear) date, and writes one PNG: for the generated
scene and each real scene, the Sentinel-2 true colour (B4, B3, B2) and the Sentinel-1 composite
(VV, VH, VV - VH), with the same stretches, plus a table of the realism statistics
(:mod:`sen_preproc.synth.realism`) printed to the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio

from sen_preproc import quicklook
from sen_preproc.synth.realism import real_ranges, reference_scenes, scene_statistics

REPO = Path(__file__).resolve().parents[1]
KEYS = (
    "VV_p50",
    "VH_p50",
    "B4_p50",
    "B8_p50",
    "NDVI_p50",
    "corr_VV_VH",
    "corr_VH_NDVI",
    "acl_VV_m",
    "acl_B8_m",
)


def senprep(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "sen_preproc", *args, "-q"], check=True, stdout=subprocess.DEVNULL
    )


def generated(scene: Path, work: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    doc = json.loads((scene / "scenario.json").read_text())
    first = doc["dates"][0]
    s2, s1 = work / "s2.tif", work / "s1.tif"
    senprep(
        "s2", str(scene / "raw" / f"{first['s2']['product']}.SAFE"), "-o", str(s2), "--overwrite"
    )
    senprep("s1", str(scene / "raw" / f"{first['s1']['product']}.SAFE"), "--dem", str(scene / "raw" / "dem.tif"),
            "--like", str(s2), "--speckle", "none", "-o", str(s1), "--overwrite")  # fmt: skip
    with rasterio.open(s2) as ds:
        data = ds.read().astype(np.float64)
    with rasterio.open(s1) as ds:
        vv, vh = ds.read().astype(np.float64)
    valid = data[-1] == 1
    bands = {
        b: np.where(valid, data[i] / 10000.0, np.nan)
        for i, b in enumerate(("B2", "B3", "B4", "B8"))
    }
    return vv, vh, bands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("SENPREP_SHARED", REPO.parent / "shared")),
    )
    parser.add_argument(
        "--scene", type=Path, default=None, help="An existing senprep synth folder."
    )
    parser.add_argument("--out", type=Path, default=Path("synth_vs_real.png"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="synth-vs-real-"))
    scene = args.scene
    if scene is None:
        scene = work / "scene"
        senprep("synth", "-o", str(scene))
    scenes = [("generated (senprep synth)", *generated(scene, work))]
    scenes += reference_scenes(args.shared / "fixtures" / "pairs")
    panels = []
    rows = []
    for name, vv, vh, bands in scenes:
        panels.append((f"{name} S2", quicklook.s2_rgb(bands["B4"], bands["B3"], bands["B2"])))
        panels.append((f"{name} S1", quicklook.s1_composite(vv, vh)))
        rows.append((name, scene_statistics(vv, vh, bands)))
    quicklook.mosaic(panels, args.out, columns=6, width_px=220)
    ranges = real_ranges([s for _, s in rows[1:]])
    print("scene".ljust(30) + "".join(k.rjust(13) for k in KEYS))
    for name, stats in rows:
        print(name[:30].ljust(30) + "".join(f"{stats[k]:13.3f}" for k in KEYS))
    print(
        "real range".ljust(30) + "".join(f"{ranges[k][0]:6.2f}..{ranges[k][1]:<5.2f}" for k in KEYS)
    )
    print(f"quick-look: {args.out}")


if __name__ == "__main__":
    main()
