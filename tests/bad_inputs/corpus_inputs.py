"""Inputs of the bad-input corpus: small valid products and outputs of every stage, made once
per session; each case derives its damaged variant from them in its own folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from sen_preproc.testing.s1_factory import (
    S1ProductSpec,
    write_dem,
    write_orbit_file,
    write_s1_grd_product,
)
from sen_preproc.testing.s1_factory import footprint_bounds as s1_footprint
from sen_preproc.testing.s2_factory import S2ProductSpec, write_s2_product

S1_SPEC = S1ProductSpec(lines=120, samples=160, seed=7)


@dataclass(frozen=True)
class Inputs:
    """Valid inputs of every command (paths in a session folder that no case writes into)."""

    root: Path
    s1_safe: Path
    s1_zip: Path
    s1_zero: Path
    s2_safe: Path
    s2_zip: Path
    s2_l1c: Path
    s1_tif: Path
    s2_tif: Path
    pair_i: Path
    pair_ii: Path
    pair_far: Path
    dataset: Path
    model: Path
    dem: Path
    orbit: Path
    text_file: Path
    plain_tif: Path


def _footprint(margin_deg: float = 0.02) -> tuple[float, float, float, float]:
    return s1_footprint(S1_SPEC, margin_deg)


def _senprep(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sen_preproc", *args, "-q"], check=True)


def _model(path: Path) -> Path:
    from mccgan.registry import MODELS
    from mccgan.training.export import export_model

    bands = ["B2", "B3", "B4", "B8"]
    inputs = ["I_VV", "I_VH", "II_VV", "II_VH", *(f"I_{b}" for b in bands)]
    options = {"in_channels": 8, "out_channels": 4, "ngf": 8, "depth": 5, "norm": "batch",
               "dropout": 0.5, "residual": None}  # fmt: skip
    generator = MODELS["mccgan"].build_generator(**options)
    ranges = [["I_VV", -25.0, 0.0], ["I_VH", -32.5, 0.0], ["II_VV", -25.0, 0.0],
              ["II_VH", -32.5, 0.0], *([f"I_{b}", 0.0, 10000.0] for b in bands)]  # fmt: skip
    norm = {"inputs": ranges, "target": [[f"II_{b}", 0.0, 10000.0] for b in bands],
            "s1_unit": "db", "s2_unit": "reflectance_x10000"}  # fmt: skip
    return export_model(path, generator, model="mccgan", generator_options=options,
                        bands={"inputs": inputs, "target": bands}, normalisation=norm,
                        config={}, patch_px=32)  # fmt: skip


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    from pair_files import write_tagged_pair

    root = tmp_path_factory.mktemp("corpus-inputs")
    s1_safe = write_s1_grd_product(root / "s1", S1_SPEC)
    s1_zip = write_s1_grd_product(root / "s1zip", S1_SPEC, zipped=True)
    s1_zero = write_s1_grd_product(
        root / "s1zero", S1_SPEC, sigma0=lambda lon, lat, pol: np.zeros_like(lon)
    )
    s2_safe = write_s2_product(root / "s2")
    s2_zip = write_s2_product(root / "s2zip", zipped=True)
    s2_l1c = write_s2_product(root / "s2l1c", S2ProductSpec(level="L1C"))
    s1_tif, s2_tif = root / "s1.tif", root / "s2.tif"
    _senprep("s1", str(s1_safe), "--pol", "VV,VH", "--pixel-size", "20", "-o", str(s1_tif))
    _senprep("s2", str(s2_safe), "-o", str(s2_tif))
    pair_i = write_tagged_pair(root / "pair_I.tif", 0, s1_scale="db", s2_scale="10000", size=64)
    pair_ii = write_tagged_pair(root / "pair_II.tif", 1, s1_scale="db", s2_scale="10000", size=64)
    pair_far = root / "pair_far.tif"
    with rasterio.open(pair_ii) as src:
        profile, data, tags, names = src.profile, src.read(), src.tags(), src.descriptions
    profile.update(transform=Affine(10, 0, 500000, 0, -10, 4000000))
    with rasterio.open(pair_far, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = names
        dst.update_tags(**tags)
    dataset = root / "dataset"
    _senprep("split", "--ref", str(pair_i), "--target", str(pair_ii), "-o", str(dataset),
             "--size", "32", "--stride", "16", "--split", "rows:0.5,0.25,0.25", "--max-invalid", "0.9")  # fmt: skip
    model = _model(root / "model.pt")
    dem = write_dem(root / "dem.tif", _footprint(), terrain_height=lambda lo, la: 0 * lo + 100.0)
    start = S1_SPEC.start_time
    orbit = write_orbit_file(root / "S1B_OPER_AUX_POEORB_OPOD_TEST.EOF", S1_SPEC,
                             validity_start=start - timedelta(hours=1),
                             validity_stop=start + timedelta(hours=1))  # fmt: skip
    text_file = root / "notes.txt"
    text_file.write_text("not a product\n")
    plain_tif = root / "plain.tif"
    with rasterio.open(plain_tif, "w", driver="GTiff", width=8, height=8, count=1,
                       dtype="uint8") as dst:  # fmt: skip
        dst.write(np.ones((1, 8, 8), np.uint8))
    for path in root.rglob("*"):  # nothing a case does may change them
        if path.is_file():
            path.chmod(0o444)
    return Inputs(root, s1_safe, s1_zip, s1_zero, s2_safe, s2_zip, s2_l1c, s1_tif, s2_tif,
                  pair_i, pair_ii, pair_far, dataset, model, dem, orbit, text_file, plain_tif)  # fmt: skip


def copy_tree(source: Path, into: Path) -> Path:
    """A writable copy of a product folder in ``into``."""
    target = into / source.name
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    return target
