"""Speed and memory of ``senprep s1`` (plain script; prints figures).

Part 1 - real geometry: a copy of the real S1B GRD product of ../shared with DN written into a
4096 x 4096 window (σ0 field through the product's own LUTs), a synthetic 10 m DEM in UTM over the
window. Times each step of our chain on the window, the whole chain (noise + calibration +
refined Lee + terrain correction + dB) onto the DEM grid, and sarsen's own ``terrain_correction``
on the same DEM grid; prints the ratio.

Part 2 - full scene (``--full``): a generated full-size dual-pol IW GRD product
(16 705 x 26 102 px) processed end to end in a subprocess; prints wall time and peak RSS.

Usage: .venv/bin/python benches/bench_s1.py [--size 4096] [--full] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
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

from sen_preproc.sentinel1 import (
    calibration,
    speckle,
    terrain,
)
from sen_preproc.sentinel1 import product as safe
from sen_preproc.sentinel1 import thermal_noise as noise
from sen_preproc.sentinel1.chain import S1Config, process_s1


def shared_dir() -> Path:
    return Path(os.environ.get("SENPREP_SHARED", REPO.parent / "shared"))


def timed(label: str, func, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = func(*args, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"  {label:<38s} {elapsed:8.2f} s")
    return result, elapsed


def prepare_real_window(workdir: Path, size: int) -> tuple[Path, Path, tuple[int, int]]:
    src = next((shared_dir() / "fixtures" / "s1").glob("S1B_IW_GRDH_*.SAFE"))
    dst = workdir / src.name
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    for path in dst.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    product = safe.open_product(dst)
    meta = safe.read_metadata(product, "VV")
    r0 = (meta.image.lines - size) // 2
    c0 = (meta.image.samples - size) // 2
    rows = np.arange(r0, r0 + size)
    cols = np.arange(c0, c0 + size)
    amplitude = meta.calibration["sigmaNought"].interpolate(rows, cols)
    noise_dn2 = noise.compute_noise_lut(meta.noise, r0, r0 + size, c0, c0 + size)
    rng = np.random.default_rng(0)
    sigma0 = 0.05 * (1.0 + 0.5 * np.sin(rows[:, None] / 97.0) * np.cos(cols[None, :] / 131.0))
    sigma0 *= rng.gamma(4.4, 1 / 4.4, size=sigma0.shape)  # GRD-like speckle (ENL ~4.4)
    dn = np.sqrt(sigma0 * amplitude**2 + noise_dn2).round().clip(1, 65535).astype(np.uint16)
    with rasterio.open(product.measurement_path("VV"), "r+") as ds:
        ds.write(dn, 1, window=Window(c0, r0, size, size))
    # a 10 m DEM in UTM over the window: smooth hills, heights above the ellipsoid
    geo = meta.geolocation
    from scipy.interpolate import RegularGridInterpolator

    lon_i = RegularGridInterpolator((geo.lines, geo.pixels), geo.longitude_deg)
    lat_i = RegularGridInterpolator((geo.lines, geo.pixels), geo.latitude_deg)
    corners = np.array([[r0, c0], [r0, c0 + size], [r0 + size, c0], [r0 + size, c0 + size]], float)
    lon, lat = lon_i(corners), lat_i(corners)
    import pyproj

    from sen_preproc.grid import utm_crs_for

    crs = utm_crs_for(float(lon.mean()), float(lat.mean()))
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    # inner box of the rotated window so every DEM pixel is covered by SAR data
    xs, ys = np.sort(x), np.sort(y)
    left, right, bottom, top = xs[1], xs[2], ys[1], ys[2]
    width = int((right - left) // 10)
    height = int((top - bottom) // 10)
    xx = left + 10 * (np.arange(width) + 0.5)
    yy = top - 10 * (np.arange(height) + 0.5)
    hills = 300 + 250 * np.sin(xx[None, :] / 3000.0) * np.cos(yy[:, None] / 2500.0)
    dem_path = workdir / "bench_dem_utm10.tif"
    with rasterio.open(
        dem_path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=crs,
        transform=Affine(10, 0, left, 0, -10, top),
        tiled=True,
    ) as ds:
        ds.write(hills.astype(np.float32), 1)
    return dst, dem_path, (r0, c0)


def bench_steps(product_path: Path, r0: int, c0: int, size: int) -> None:
    product = safe.open_product(product_path)
    meta, _ = timed("read metadata", safe.read_metadata, product, "VV")
    with rasterio.open(product.measurement_path("VV")) as ds:
        dn, _ = timed("read DN window", ds.read, 1, window=Window(c0, r0, size, size))
    noise_dn2, _ = timed(
        "thermal noise LUT", noise.compute_noise_lut, meta.noise, r0, r0 + size, c0, c0 + size
    )
    sigma0, _ = timed(
        "calibration (σ0)",
        calibration.calibrate_dn,
        dn,
        meta.calibration["sigmaNought"],
        r0,
        c0,
        noise_dn2,
    )
    timed("speckle: refined-lee 7x7", speckle.filter_speckle, sigma0, "refined-lee", 7)
    timed("speckle: lee-sigma 7x7", speckle.filter_speckle, sigma0, "lee-sigma", 7)
    geometry = terrain.build_geometry(meta)
    n = size
    idx = terrain.coarse_indices(n, 16)
    geo = meta.geolocation
    lon_c = np.interp(idx, [0, n - 1], [geo.longitude_deg.min(), geo.longitude_deg.max()])
    lat_c = np.interp(idx, [0, n - 1], [geo.latitude_deg.max(), geo.latitude_deg.min()])
    lon2, lat2 = np.meshgrid(lon_c, lat_c)
    heights = np.full((n, n), 200.0)
    timed(
        f"geocoding {n}x{n} output px",
        terrain.geocode_points,
        geometry,
        lon2,
        lat2,
        idx,
        idx,
        heights,
    )


def bench_chain(product_path: Path, dem: Path, workdir: Path) -> float:
    out = workdir / "ours.tif"
    config = S1Config(
        product=product_path,
        out=out,
        overwrite=True,
        speckle="refined-lee",
        dem=dem,
        dem_datum="ellipsoid",
        like=dem,
        polarisations=("VV",),
    )
    _, elapsed = timed("ours: whole chain (refined Lee)", process_s1, config)
    with rasterio.open(out) as ds:
        data = ds.read(1)
        print(f"    output {ds.width}x{ds.height}, valid {np.isfinite(data).mean():.1%}")
    return elapsed


def bench_sarsen(product_path: Path, dem: Path, workdir: Path) -> float:
    import sarsen

    product = sarsen.Sentinel1SarProduct(str(product_path), measurement_group="IW/VV")
    out = workdir / "sarsen.tif"
    _, elapsed = timed(
        "sarsen: terrain_correction",
        sarsen.terrain_correction,
        product,
        str(dem),
        output_urlpath=str(out),
    )
    return elapsed


def bench_full(workdir: Path) -> None:
    from sen_preproc.testing.s1_factory import S1ProductSpec, write_s1_grd_product

    spec = S1ProductSpec(lines=16705, samples=26102, geolocation_step_px=16, speckle_looks=4.4)
    (product, gen_time) = timed(
        "generate full-size product", write_s1_grd_product, workdir / "full", spec
    )
    out = workdir / "full.tif"
    code = (
        f"import resource,sys,time;sys.path.insert(0,{str(REPO)!r});"
        "from sen_preproc.sentinel1.chain import S1Config, process_s1;from pathlib import Path;t=time.perf_counter();"
        f"process_s1(S1Config(product=Path({str(product)!r}), out=Path({str(out)!r}), overwrite=True, speckle='refined-lee'));"
        "print('WALL', time.perf_counter()-t);"
        "print('RSS_MB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    print(result.stdout.strip())
    if result.returncode:
        print(result.stderr[-2000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  full scene: peak RSS of the processing subprocess {peak:.0f} MB")
    del gen_time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--full", action="store_true", help="also run the full-scene memory bench")
    parser.add_argument("--no-sarsen", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senprep-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; {os.cpu_count()} CPUs")
    if (shared_dir() / "fixtures").is_dir():
        print(f"[1] real S1B geometry, {args.size}x{args.size} window")
        product, dem, (r0, c0) = prepare_real_window(workdir, args.size)
        bench_steps(product, r0, c0, args.size)
        ours = bench_chain(product, dem, workdir)
        if not args.no_sarsen:
            theirs = bench_sarsen(product, dem, workdir)
            print(f"  ratio sarsen TC alone / our whole chain: {theirs / ours:.2f}x")
    else:
        print("[1] skipped: ../shared not found (set SENPREP_SHARED)")
    if args.full:
        print("[2] full-size generated product")
        bench_full(workdir)


if __name__ == "__main__":
    main()
