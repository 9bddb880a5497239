"""Speed and memory of ``mccgan fuse`` on CPU, side by side with the bare model forward passes.

Runs, each in a fresh process (peak RSS is its own):

* ``fuse``: :func:`mccgan.fusion.fuse.fuse_scene` on a ``--size`` x ``--size`` scene (default
  4096) with an ``ngf`` 64 MCcGAN generator (256 px tiles, the overlap from its effective
  receptive field, batch 8): windowed reads, tiling, blending, the scratch image, the COG;
* ``bare``: the same generator's forward passes over the same number of tiles (batches of 8
  already in memory, ``torch.inference_mode``): the floor;
* ``memory``: ``fuse`` on a scene of the paper's Dataset A size (13 238 x 8 825 px) with a small
  generator (``ngf`` 8: the pipeline's memory, not the network's), peak RSS against 3 GB.

The scene: smooth random fields written block by block (a pair at date I: VV, VH, B2, B3, B4,
B8, valid; S1 at date II: VV, VH), built once in ``--workdir``. The generator's weights are
random (speed does not depend on them).

Usage: .venv/bin/python benches/bench_fuse.py [--workdir DIR] [--size 4096] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

BANDS = ("B2", "B3", "B4", "B8")
DATASET_A_PX = (8825, 13238)  # rows, cols


def write_scene(folder: Path, height: int, width: int) -> tuple[Path, Path]:
    """``pair_I.tif`` and ``s1_II.tif`` of ``height`` x ``width`` px (reused when present)."""
    pair, s1 = folder / f"pair_I_{width}x{height}.tif", folder / f"s1_II_{width}x{height}.tif"
    if pair.exists() and s1.exists():
        return pair, s1
    profile = {"driver": "GTiff", "width": width, "height": height, "dtype": "float32", "crs": "EPSG:32631",
               "transform": Affine(10, 0, 600000, 0, -10, 5700000), "nodata": float("nan"), "tiled": True,
               "blockxsize": 512, "blockysize": 512, "compress": "deflate"}  # fmt: skip
    rng = np.random.default_rng(0)
    with (
        rasterio.open(pair, "w", count=7, **profile) as a,
        rasterio.open(s1, "w", count=2, **profile) as b,
    ):
        for i, name in enumerate(("VV", "VH", *BANDS, "valid"), start=1):
            a.set_band_description(i, name)
        b.set_band_description(1, "VV")
        b.set_band_description(2, "VH")
        a.update_tags(S1_SCALE="db", S2_REFLECTANCE_SCALE="10000", SENPREP_VERSION="bench",
                      S2_SENSING_TIME="2023-05-10T10:00:00Z", S1_ACQUISITION_TIME="2023-05-08T05:00:00Z")  # fmt: skip
        b.update_tags(SCALE="db", ACQUISITION_START="2023-06-20T05:00:00Z", SENPREP_VERSION="bench")
        for row in range(0, height, 512):
            h = min(512, height - row)
            rr, cc = np.mgrid[row : row + h, 0:width].astype(np.float32)
            field = np.sin(rr / 37.0) * np.cos(cc / 53.0)
            noise = rng.normal(0, 1, (6, h, width)).astype(np.float32)
            s1_i = np.stack([-12 + 3 * field + noise[0], -19 + 3 * field + noise[1]])
            s2_i = np.stack([800 + 400 * field + 50 * noise[k] for k in range(2, 6)]) + np.array(
                [0, 200, 100, 2500], np.float32
            ).reshape(4, 1, 1)
            valid = np.ones((1, h, width), np.float32)
            window = Window(0, row, width, h)
            a.write(np.concatenate([s1_i, s2_i, valid]).astype(np.float32), window=window)
            b.write((s1_i - 0.5 * field).astype(np.float32), window=window)
    return pair, s1


def write_model(folder: Path, ngf: int) -> Path:
    import torch

    from mccgan.registry import model_spec
    from mccgan.training.export import export_model

    path = folder / f"model_ngf{ngf}.pt"
    if path.exists():
        return path
    torch.manual_seed(0)
    options = {
        "in_channels": 8,
        "out_channels": 4,
        "ngf": ngf,
        "depth": 8,
        "norm": "batch",
        "dropout": True,
    }
    generator = model_spec("mccgan").build_generator(**options)
    inputs = ["I_VV", "I_VH", "II_VV", "II_VH", *(f"I_{b}" for b in BANDS)]
    ranges = [[n, -25.0, 0.0] if "V" in n else [n, 0.0, 10000.0] for n in inputs]
    normalisation = {"inputs": ranges, "target": [[f"II_{b}", 0.0, 10000.0] for b in BANDS],
                     "s1_unit": "db", "s2_unit": "reflectance_x10000"}  # fmt: skip
    return export_model(path, generator, model="mccgan", generator_options=options,
                        bands={"inputs": inputs, "target": list(BANDS)}, normalisation=normalisation,
                        config={}, patch_px=256)  # fmt: skip


def child_fuse(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from mccgan.fusion.fuse import FuseConfig, fuse_scene

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    start = time.perf_counter()
    result = fuse_scene(FuseConfig(model=Path(args.model), ref=Path(args.pair), target_s1=Path(args.s1), out=out,
                                   batch_size=8, device="cpu", overwrite=True))  # fmt: skip
    seconds = time.perf_counter() - start
    out.unlink()
    return {"seconds": seconds, "tiles": result.tiles, "overlap_px": result.overlap_px,
            "erf_px": result.receptive_field_px}  # fmt: skip


def child_bare(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from mccgan.training.export import load_model

    torch.set_num_threads(args.threads)
    generator, _ = load_model(Path(args.model))
    generator.eval()
    batch = torch.zeros(8, 8, 256, 256).uniform_(-1, 1)
    done = 0
    with torch.inference_mode():
        generator(batch[:2])  # warm-up
        start = time.perf_counter()
        while done < args.tiles:
            n = min(8, args.tiles - done)
            generator(batch[:n])
            done += n
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "tiles": done}


def run_child(mode: str, **options: Any) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", mode]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    run = subprocess.run(argv, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--child", choices=("fuse", "bare"))
    parser.add_argument("--model")
    parser.add_argument("--pair")
    parser.add_argument("--s1")
    parser.add_argument("--out")
    parser.add_argument("--tiles", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        result = child_fuse(args) if args.child == "fuse" else child_bare(args)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_fuse_"))
    work.mkdir(parents=True, exist_ok=True)
    pair, s1 = write_scene(work, args.size, args.size)
    model = write_model(work, 64)
    fuse = run_child(
        "fuse", model=model, pair=pair, s1=s1, out=work / "fused.tif", threads=args.threads
    )
    bare = run_child("bare", model=model, tiles=fuse["tiles"], threads=args.threads)
    mpx = args.size * args.size / 1e6
    print(f"scene {args.size} x {args.size} px, ngf 64, {fuse['tiles']} tiles of 256 px, overlap "
          f"{fuse['overlap_px']} px (effective receptive field {fuse['erf_px']} px), {args.threads} threads")  # fmt: skip
    print("| run | seconds | Mpx/s | x bare | peak RSS (MB) |\n|---|---|---|---|---|")
    for name, r in (("bare forward", bare), ("mccgan fuse", fuse)):
        print(f"| {name} | {r['seconds']:.1f} | {mpx / r['seconds']:.3f} | {r['seconds'] / bare['seconds']:.3f} | "
              f"{r['peak_rss_mb']:.0f} |")  # fmt: skip
    if not args.skip_memory:
        rows, cols = DATASET_A_PX
        pair_a, s1_a = write_scene(work, rows, cols)
        small = write_model(work, 8)
        memory = run_child(
            "fuse",
            model=small,
            pair=pair_a,
            s1=s1_a,
            out=work / "fused_a.tif",
            threads=args.threads,
        )
        print(f"| Dataset A size ({cols} x {rows} px, ngf 8) | {memory['seconds']:.1f} | "
              f"{rows * cols / 1e6 / memory['seconds']:.3f} | - | {memory['peak_rss_mb']:.0f} (limit 3072) |")  # fmt: skip


if __name__ == "__main__":
    main()
