"""What the integrity and safety checks cost a whole run (plain script).

Writes a zipped Sentinel-1 GRD product and a zipped Sentinel-2 L2A product with the test
factories (``--lines``/``--samples``, ``--s2-px``), then runs ``senprep s1`` and ``senprep s2``
on them from this checkout and, with ``--compare-with DIR``, from another checkout (e.g. a
``git worktree`` of the commit before the checks) in the same run, and prints wall time and
peak RSS of each (child processes, best of ``--repeat``).

Usage: .venv/bin/python benches/bench_integrity_overhead.py [--lines 3000] [--samples 4000]
       [--s2-px 5490] [--repeat 2] [--compare-with DIR] [--workdir DIR]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sen_preproc.testing.s1_factory import S1ProductSpec, write_s1_grd_product
from sen_preproc.testing.s2_factory import S2ProductSpec, write_s2_product


def run(checkout: Path, args: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time (s) and its peak RSS (MB) of ``python -m sen_preproc ARGS``."""
    best = (float("inf"), 0.0)
    env = dict(os.environ, PYTHONPATH=str(checkout))
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "sen_preproc", *args, "-q", "--overwrite"],
                                env=env, cwd=checkout, stdout=subprocess.DEVNULL)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{checkout}: senprep {' '.join(args)} failed ({proc.returncode})")
        best = min(best, (seconds, usage.ru_maxrss / 1024))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--s2-px", type=int, default=5490)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--compare-with", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-integrity-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.generate_only:
        write_s1_grd_product(
            workdir / "s1", S1ProductSpec(lines=args.lines, samples=args.samples), zipped=True
        )
        write_s2_product(workdir / "s2", S2ProductSpec(size_10m_px=args.s2_px), zipped=True)
        return
    # generated in a child process: a forked child's peak RSS counts its parent's pages
    subprocess.run([sys.executable, __file__, "--generate-only", "--workdir", str(workdir),
                    "--lines", str(args.lines), "--samples", str(args.samples),
                    "--s2-px", str(args.s2_px)], check=True)  # fmt: skip
    s1 = next((workdir / "s1").glob("*.zip"))
    s2 = next((workdir / "s2").glob("*.zip"))
    print(f"S1 zip {s1.stat().st_size / 1e6:.0f} MB ({args.lines} x {args.samples} px), "
          f"S2 zip {s2.stat().st_size / 1e6:.0f} MB ({args.s2_px} px at 10 m)")  # fmt: skip
    checkouts = {"this checkout": REPO}
    if args.compare_with is not None:
        checkouts["--compare-with"] = args.compare_with.resolve()
    jobs = {
        "s1 (zip, VV+VH, lee-sigma, 10 m)": ["s1", str(s1), "-o", str(workdir / "s1.tif")],
        "s2 (zip, B2,B3,B4,B8, 10 m)": ["s2", str(s2), "-o", str(workdir / "s2.tif")],
    }
    for job, cmd in jobs.items():
        for label, checkout in checkouts.items():
            seconds, rss = run(checkout, cmd, args.repeat)
            print(f"{job:<36} {label:<16} {seconds:7.1f} s  peak RSS {rss:6.0f} MB")
    if args.workdir is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
