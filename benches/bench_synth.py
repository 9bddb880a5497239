"""Speed and memory of ``senprep synth`` (plain script; prints figures).

* the default scene: 6 x 6 km, 4 dates, every raw product (target: under 60 s on 2 cores);
* with ``--large``: 20 x 20 km, 2 dates (target: peak RSS under ~2 GB).

Each run is a fresh ``senprep synth`` process; wall time and its peak RSS are printed.

Usage: .venv/bin/python benches/bench_synth.py [--large] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(out: Path, *args: str) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)  # the bench's own output of an earlier run
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sen_preproc", "synth", "-o", str(out), "-q", *args],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(rss, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="senprep-synth-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    elapsed, rss = run(work / "scene6")
    size = sum(f.stat().st_size for f in (work / "scene6").rglob("*") if f.is_file())
    print(
        f"senprep synth 6 x 6 km, 4 dates: {elapsed:.1f} s, peak RSS {rss:.0f} MB, {size / 2**20:.0f} MB written"
    )
    if args.large:
        elapsed, rss = run(work / "scene20", "--size-km", "20", "--dates", "2023-04-20,2023-06-29")
        print(f"senprep synth 20 x 20 km, 2 dates: {elapsed:.1f} s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
