"""Demo of the pipeline on generated data (run by ``make demo``).

1. Generates a small dual-polarisation Sentinel-1 IW GRD product (4 km x 5 km, a hill under
   one of three bright squares) and a matching DEM with ``sen_preproc.testing``.
2. Runs ``senprep s1`` on it (thermal noise, calibration, Lee sigma, terrain correction, dB).
3. Prints where the output is and a one-line summary, and writes ``report.md``.

Later releases extend this demo with Sentinel-2, pairing, the patch dataset and the model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio

from sen_preproc.testing.s1_factory import (
    S1ProductSpec,
    bright_squares,
    gaussian_hill,
    product_geometry,
    write_dem,
    write_s1_grd_product,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    args = parser.parse_args()
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)

    spec = S1ProductSpec(lines=400, samples=500, speckle_looks=4.4, seed=7)
    hill_square = bright_squares(spec)[1]
    hill = gaussian_hill(
        hill_square.lon_deg, hill_square.lat_deg, height_m=400.0, sigma_m=1200.0, base_m=50.0
    )
    products = out_dir / "raw"
    if products.exists():
        import shutil

        shutil.rmtree(products)
    t0 = time.perf_counter()
    product = write_s1_grd_product(products, spec, terrain_height=hill)
    geom = product_geometry(spec)
    lon, lat, _ = geom.geolocate(
        np.array([0, 0, spec.lines - 1, spec.lines - 1], float),
        np.array([0, spec.samples - 1, 0, spec.samples - 1], float),
    )
    dem = write_dem(
        out_dir / "dem.tif",
        (lon.min() - 0.02, lat.min() - 0.02, lon.max() + 0.02, lat.max() + 0.02),
        terrain_height=hill,
    )
    print(
        f"generated {product.name} ({spec.lines}x{spec.samples} px, VV+VH) in {time.perf_counter() - t0:.1f} s"
    )

    s1_out = out_dir / "s1_sigma0_db.tif"
    cmd = [
        sys.executable,
        "-m",
        "sen_preproc",
        "s1",
        str(product),
        "--dem",
        str(dem),
        "--dem-datum",
        "ellipsoid",
        "--out",
        str(s1_out),
        "--overwrite",
        "--quiet",
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    elapsed = time.perf_counter() - t0
    with rasterio.open(s1_out) as ds:
        data = ds.read()
        bands = ds.descriptions
        summary = (
            f"{s1_out}: {ds.width}x{ds.height} px, {ds.crs.to_string()}, {ds.res[0]:.0f} m, "
            f"bands {','.join(bands)}, "
            + ", ".join(
                f"{b} {np.nanmin(d):.1f}..{np.nanmax(d):.1f} dB (median {np.nanmedian(d):.1f})"
                for b, d in zip(bands, data, strict=True)
            )
        )
        steps = [s["step"] for s in json.loads(ds.tags()["PROCESSING_STEPS"])]
    print(f"senprep s1 took {elapsed:.1f} s")
    print(summary)
    report = out_dir / "report.md"
    report.write_text(
        "# senprep demo report\n\n"
        f"- input: generated `{product.name}` (dual-pol IW GRDH, {spec.lines}x{spec.samples} px)\n"
        f"- DEM: `{dem.name}` (synthetic hill, ellipsoidal heights)\n"
        f"- `senprep s1` ({elapsed:.1f} s): {' -> '.join(steps)}\n"
        f"- output: {summary}\n"
    )
    print(f"report: {report}")


if __name__ == "__main__":
    main()
