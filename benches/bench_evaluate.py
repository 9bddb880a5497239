"""Speed and memory of the ``mccgan evaluate`` metrics on a full Sentinel-2 tile (plain script).

Scores one prediction against the truth, 4 bands (B2, B3, B4, B8) of ``--size`` x ``--size`` px
(default 10 980, a full S2 tile at 10 m), one region, with NDVI and SAM, through
``mccgan.evaluation.metrics.score_scene``. The images are generated block by block inside
``read_block`` (a smooth reflectance-like field + noise, integer-valued like uint16 L2A
products, as float32; the prediction is the truth + noise), deterministically from the image
row, so memory stays at a block (plus ~20 MB of noise banks). ``--nodata`` adds a no-data
triangle at the tile's corner (as on tiles at the edge of a swath), so the masked code paths
run too.

Prints the wall time, Mpx/s (pixels of the image, all bands counted once: size^2 / s), the time
spent generating the data, and the peak RSS of the process.

Usage: .venv/bin/python benches/bench_evaluate.py [--size 10980] [--block-rows 1024] [--nodata]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mccgan.evaluation.metrics import score_scene

BANDS = ("B2", "B3", "B4", "B8")
LEVELS = (900.0, 1100.0, 1200.0, 2800.0)  # typical mean reflectance x 10 000 per band


class Scene:
    """Truth and prediction generated per block; also times the generation.

    Truth: a smooth field (an outer product of a row and a column profile) + uniform noise of
    0..300, integer-valued (like uint16 L2A reflectances x 10 000); prediction: the truth +
    Gaussian noise of 5 % of the band's level, rounded. The noise comes from small banks of
    rows, indexed by the image row, so generating a block costs a few passes over it.
    """

    BANK_ROWS = 127

    def __init__(self, size: int, nodata: bool) -> None:
        self.size = size
        self.nodata = nodata
        self.seconds = 0.0
        self.requests: list[tuple[int, int]] = []
        rng = np.random.default_rng(2024)
        cols = np.arange(size, dtype=np.float32)
        self.col_profiles = [np.cos(cols / 470.0 - b) for b in range(len(BANDS))]
        bank = (len(BANDS), self.BANK_ROWS, size)
        self.truth_noise = rng.integers(0, 300, size=bank, dtype=np.int16)
        self.pred_noise = np.stack(
            [np.rint(rng.normal(0, 0.05 * level, bank[1:])).astype(np.int16) for level in LEVELS]
        )

    def read_block(
        self, start: int, stop: int
    ) -> tuple[
        npt.NDArray[np.float32],
        dict[str, npt.NDArray[np.float32]],
        dict[str, npt.NDArray[np.bool_]],
    ]:
        t0 = time.perf_counter()
        self.requests.append((start, stop))
        rows = np.arange(start, stop)
        shape = (len(BANDS), stop - start, self.size)
        truth = np.empty(shape, np.float32)
        pred = np.empty(shape, np.float32)
        for lo in range(0, stop - start, 64):  # 64 rows at a time: stays in the CPU caches
            hi = min(lo + 64, stop - start)
            r = rows[lo:hi]
            for b, level in enumerate(LEVELS):
                t, p = truth[b, lo:hi], pred[b, lo:hi]
                row_profile = (0.6 * level * np.sin(r / 310.0 + b)).astype(np.float32)
                np.multiply.outer(row_profile, self.col_profiles[b], out=t)
                t += level
                np.rint(t, out=t)
                t += self.truth_noise[b][(r + 31 * b) % self.BANK_ROWS]
                np.add(t, self.pred_noise[b][(3 * r + 17 * b) % self.BANK_ROWS], out=p)
                np.maximum(p, 0, out=p)
        valid = np.ones(shape[1:], bool)
        if self.nodata:  # a no-data triangle over the first third of the tile's columns
            cols = np.arange(self.size)[None, :]
            valid &= cols >= (self.size // 3) * (1.0 - rows[:, None] / self.size)
        self.seconds += time.perf_counter() - t0
        return truth, {"fused": pred}, {"all": valid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10980, help="tile side, px (default 10980)")
    parser.add_argument("--block-rows", type=int, default=1024)
    parser.add_argument("--nodata", action="store_true", help="add a no-data triangle")
    args = parser.parse_args()
    scene = Scene(args.size, args.nodata)
    t0 = time.perf_counter()
    result = score_scene(
        scene.read_block,
        args.size,
        args.size,
        BANDS,
        data_range=10000.0,
        ndvi_bands=(2, 3),
        block_rows=args.block_rows,
    )
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for key, metrics in result["all"]["fused"].items():
        values = ", ".join(
            f"{name} {score.value:.6g}" if score.value is not None else f"{name} -"
            for name, score in metrics.items()
        )
        print(f"{key:>4}: {values}")
    mpx = args.size * args.size / 1e6
    print(
        f"{args.size} x {args.size} px x {len(BANDS)} bands (+NDVI, SAM), block {args.block_rows} "
        f"rows, {len(scene.requests)} reads{', no-data triangle' if args.nodata else ''}"
    )
    print(
        f"wall {wall:.1f} s ({scene.seconds:.1f} s generating the data), "
        f"{mpx / wall:.1f} Mpx/s, peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
