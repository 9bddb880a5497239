"""Cost of verifying zip members before their pixels are read (plain script).

Writes a zip the size of a real dual-pol IW GRD download (two ~800 MB uint16 measurement TIFFs,
DEFLATE level 1 as ESA's zips; ``--scale`` changes the size) and times, in one run:

* ``sen_preproc.archives.verify_zip_members`` on the two members (what ``senprep s1`` now does);
* ``zipfile.ZipFile.testzip`` (what the S1 path did below 64 MiB);
* ``unzip -tq`` (Info-ZIP's test, the usual reference), when installed;
* reading the zip's bytes once (``cat > /dev/null``: the I/O floor).

Peak RSS of the verification is printed too (it streams 4 MiB chunks).

Usage: .venv/bin/python benches/bench_zip_verify.py [--scale 1.0] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sen_preproc import archives


def write_zip(path: Path, member_bytes: int) -> list[str]:
    """Two members of speckle-like uint16 data (compresses ~1.3x, like real GRD TIFFs)."""
    rng = np.random.default_rng(0)
    names = [f"S1A_IW_GRDH.SAFE/measurement/s1a-iw-grd-{p}-001.tiff" for p in ("vv", "vh")]
    chunk = 16 * 2**20
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name in names:
            with zf.open(name, "w", force_zip64=True) as handle:
                written = 0
                while written < member_bytes:
                    n = min(chunk, member_bytes - written) // 2
                    amplitude = rng.gamma(4.0, 60.0, n).astype(np.uint16)
                    handle.write(amplitude.tobytes())
                    written += 2 * n
    return names


def timed(label: str, func: object, size_mb: float) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    print(f"{label:<42} {seconds:7.2f} s  {size_mb / seconds:7.0f} MB/s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-zip-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "S1A_IW_GRDH.zip"
    member_bytes = int(800e6 * args.scale)
    print(f"writing {path} (2 members x {member_bytes / 1e6:.0f} MB) ...", flush=True)
    names = write_zip(path, member_bytes)
    zip_mb = path.stat().st_size / 1e6
    data_mb = 2 * member_bytes / 1e6
    print(f"zip {zip_mb:.0f} MB, uncompressed {data_mb:.0f} MB; rates per uncompressed MB")
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm the cache
    timed(
        "cat (read the zip once, I/O floor)",
        lambda: subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True),
        data_mb,
    )
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ours = timed(
        "archives.verify_zip_members (senprep)",
        lambda: archives.verify_zip_members(path, names),
        data_mb,
    )
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    archives.verify_zip_members(path, names)
    print(f"second call (cached): {1e3 * (time.perf_counter() - start):.2f} ms")
    archives._VERIFIED.clear()
    with zipfile.ZipFile(path) as archive:
        timed("zipfile.testzip (stdlib)", archive.testzip, data_mb)
    if shutil.which("unzip"):
        reference = timed(
            "unzip -tq (Info-ZIP)",
            lambda: subprocess.run(["unzip", "-tq", str(path)], check=True, capture_output=True),
            data_mb,
        )
        print(f"senprep / unzip -t: {ours / reference:.2f}x")
    print(f"peak RSS growth while verifying: {(rss1 - rss0) / 1024:.1f} MB")
    if args.workdir is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
