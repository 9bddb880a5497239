"""Speed and memory of ``senprep split`` and of reading the dataset back (plain script).

Generates two aligned pairs the size of the paper's Dataset A (13 238 x 8 825 px; 7 layers:
VV, VH, B2, B3, B4, B8, valid) - or ``--scale`` times that - as tiled DEFLATE GeoTIFFs like
``senprep pair`` writes, then:

* splits them (256/128, multi-temporal) and prints samples/s, MB/s and peak RSS of a subprocess;
* reads the same strips with plain rasterio (the I/O floor) and prints the ratio;
* reads the dataset back with ``PatchDataset`` pinned to one core and prints samples/s (the
  samples are then in the page cache, as during training epochs after the first).

``--compare-with DIR`` also runs the split with the senprep code of another checkout (e.g. a
``git worktree`` of the previous commit), in the same run, and prints both.

Usage: .venv/bin/python benches/bench_split.py [--scale 1.0] [--workdir DIR] [--compare-with DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sen_preproc.dataset import PatchDataset

NAMES = ("VV", "VH", "B2", "B3", "B4", "B8", "valid")
TAGS = {  # what `senprep pair` writes
    "S2_SENSING_TIME": "2021-01-01T00:00:00Z",
    "S1_SCALE": "db",
    "S2_REFLECTANCE_SCALE": "10000",
    "SENPREP_VERSION": "bench",
}


def make_pair(path: Path, height: int, width: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=len(NAMES),
        dtype="float32",
        crs="EPSG:32650",
        transform=Affine(10, 0, 300000, 0, -10, 3500000),
        nodata=np.nan,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="DEFLATE",
        predictor=3,
        BIGTIFF="YES",
    ) as ds:
        for row in range(0, height, 512):
            rows = min(512, height - row)
            block = np.empty((len(NAMES), rows, width), np.float32)
            block[0] = rng.normal(-10, 2, (rows, width))
            block[1] = rng.normal(-17, 2, (rows, width))
            block[2:6] = rng.integers(200, 4000, (4, rows, width))
            block[6] = 1
            ds.write(block, window=Window(0, row, width, rows))
        for i, name in enumerate(NAMES, start=1):
            ds.set_band_description(i, name)
        ds.update_tags(**TAGS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--compare-with", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="senprep-split-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    width, height = int(13238 * args.scale), int(8825 * args.scale)
    pairs = [work / "I.tif", work / "II.tif"]
    start = time.perf_counter()
    for seed, path in enumerate(pairs):
        if path.exists():
            with rasterio.open(path, "r+") as ds:
                if (ds.width, ds.height) == (width, height):
                    ds.update_tags(**TAGS)  # pairs of an earlier run, maybe without the tags
                    continue
        make_pair(path, height, width, seed)
    print(
        f"pairs {width}x{height}x{len(NAMES)} float32 ready in {time.perf_counter() - start:.1f} s ({work})"
    )

    # plain rasterio: the same strip reads, nothing else
    start = time.perf_counter()
    nbytes = 0
    opened = [rasterio.open(p) for p in pairs]
    for row in range(0, height - 255, 128):
        for ds in opened:
            nbytes += ds.read(window=Window(0, row, width, 256)).nbytes
    for ds in opened:
        ds.close()
    plain = time.perf_counter() - start
    print(f"plain rasterio strip reads: {plain:.1f} s, {nbytes / plain / 2**20:.0f} MB/s")

    variants = [("this", REPO)]
    if args.compare_with is not None:
        variants.insert(0, ("other", args.compare_with.resolve()))
    times = {}
    for label, repo in variants:
        out = work / f"dataset-{label}"
        shutil.rmtree(out, ignore_errors=True)  # the bench's own output of an earlier run
        code = (
            f"import sys,time,resource;sys.path.insert(0,{str(repo)!r});from pathlib import Path;"
            "exec('try:\\n from sen_preproc.dataset.split import SplitConfig, build_dataset\\n"
            "except ImportError:\\n from sen_preproc.split import SplitConfig, build_dataset');"
            "import sen_preproc;print(sen_preproc.__file__, file=sys.stderr);t=time.perf_counter();"
            f"build_dataset(SplitConfig(ref=Path({str(pairs[0])!r}),targets=(Path({str(pairs[1])!r}),),out=Path({str(out)!r})));"
            "print(time.perf_counter()-t);print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        elapsed, rss = (float(v) for v in result.stdout.split()[-2:])
        times[label] = elapsed
        samples = len(list((out / "samples").iterdir()))
        print(
            f"senprep split ({label}: {repo}): {samples} samples in {elapsed:.1f} s = "
            f"{samples / elapsed:.0f} samples/s, {nbytes / elapsed / 2**20:.0f} MB/s of input, "
            f"peak RSS {rss:.0f} MB; ratio to plain reads {elapsed / plain:.2f}x"
        )
        written = sum(f.stat().st_size for f in (out / "samples").iterdir())
        print(
            f"written: {written / 2**30:.1f} GiB of samples = {written / elapsed / 2**20:.0f} MB/s"
        )
    if len(times) == 2:
        print(f"this / other: {times['this'] / times['other']:.2f}x")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # read back on one core
    dataset = PatchDataset(out, None)
    count = min(len(dataset), 2000)
    start = time.perf_counter()
    for i in range(count):
        dataset[i]
    read = time.perf_counter() - start
    print(f"PatchDataset read-back (one core): {count / read:.0f} samples/s")


if __name__ == "__main__":
    main()
