"""Benchmark the speckle filters of :mod:`sen_preproc.sentinel1.speckle` (plain script, prints figures).

Usage::

    python benches/bench_speckle.py [--size 4096] [--window 7] [--repeat 1] [--methods lee,frost]

Times every filter on a ``size`` x ``size`` float32 array of single-look gamma speckle (seeded) and
prints seconds and megapixels per second.  numpy/scipy run single-threaded here, so the figures
are per core.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from sen_preproc.sentinel1.speckle import SPECKLE_FILTERS, filter_speckle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="image side in pixels")
    parser.add_argument("--window", type=int, default=7, help="filter window in pixels")
    parser.add_argument("--repeat", type=int, default=1, help="runs per filter (best is kept)")
    parser.add_argument("--methods", default=",".join(SPECKLE_FILTERS), help="comma list")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    img = (rng.gamma(1.0, 1.0, (args.size, args.size)) * 0.05).astype(np.float32)
    mpx = img.size / 1e6
    print(
        f"speckle filters on {args.size}x{args.size} float32 ({mpx:.1f} Mpx), "
        f"window {args.window}; python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'method':12s} {'seconds':>9s} {'Mpx/s':>8s}")
    for method in args.methods.split(","):
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            filter_speckle(img, method, args.window)
            best = min(best, time.perf_counter() - t0)
        print(f"{method:12s} {best:9.2f} {mpx / best:8.1f}")


if __name__ == "__main__":
    main()
