"""Shared pytest fixtures.

Real Sentinel data lives in ``../shared`` beside the repo (or ``$SENPREP_SHARED``); tests that
need it use the ``shared_dir`` fixture and are skipped with a clear reason when it is absent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _package_info_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The packages' info lines are captured in every test, whatever an earlier command set."""
    caplog.set_level(logging.INFO, logger="sen_preproc")
    caplog.set_level(logging.INFO, logger="mccgan")
    yield


def find_shared_dir() -> Path | None:
    """Return the shared data folder, or None when it is not available."""
    env = os.environ.get("SENPREP_SHARED")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared"
    return candidate if (candidate / "fixtures").is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = find_shared_dir()
    if path is None:
        pytest.skip(
            "real Sentinel fixtures not found: set SENPREP_SHARED or place shared/ beside the repo"
        )
    return path


@pytest.fixture(scope="session")
def s1b_safe(shared_dir: Path) -> Path:
    path = next((shared_dir / "fixtures" / "s1").glob("S1B_IW_GRDH_*.SAFE"), None)
    if path is None:
        pytest.skip("S1B GRD fixture missing from shared/fixtures/s1")
    return path


@pytest.fixture(scope="session")
def s1a_zip(shared_dir: Path) -> Path:
    path = next((shared_dir / "fixtures" / "s1").glob("S1A_IW_GRDH_*.zip"), None)
    if path is None:
        pytest.skip("zipped S1A GRD fixture missing from shared/fixtures/s1")
    return path


@pytest.fixture(scope="session")
def rome_dem(shared_dir: Path) -> Path:
    path = shared_dir / "fixtures" / "dem" / "Rome-30m-DEM.tif"
    if not path.exists():
        pytest.skip("Rome DEM fixture missing from shared/fixtures/dem")
    return path


@pytest.fixture(scope="session")
def camargue_db(shared_dir: Path) -> Path:
    path = next((shared_dir / "fixtures" / "s1").glob("*_grd_mli_geo_norm_db.tif"), None)
    if path is None:
        pytest.skip("Camargue dB image missing from shared/fixtures/s1")
    return path


@pytest.fixture(scope="session")
def training_scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small simulated region through the whole senprep chain: ``senprep synth`` (3 km, dates
    I = 2023-05-10 clear and II = 2023-06-20 with 20 % cloud), ``s2``, ``s1 --like``, ``pair``
    and ``split`` (64 px patches at stride 32, rows 0.7/0.3/0): the dataset the model tests
    train on, with the scene's truth beside it."""
    import subprocess
    import sys

    from sen_preproc.testing.chain import process_synth_scene

    base = tmp_path_factory.mktemp("training")
    scene = base / "scene"

    def senprep(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "sen_preproc", *args, "-q"],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    senprep("synth", "-o", str(scene), "--size-km", "3", "--dates", "2023-05-10,2023-06-20",
            "--clouds", "0,0.2", "--seed", "11")  # fmt: skip
    pairs = [d.pair for d in process_synth_scene(scene, base, lambda args: senprep(*args))]
    dataset = base / "dataset"
    senprep("split", "--ref", str(pairs[0]), "--target", str(pairs[1]), "-o", str(dataset),
            "--size", "64", "--stride", "32", "--split", "rows:0.7,0.3,0", "--max-invalid", "0.5")  # fmt: skip
    return {
        "scene": scene,
        "dataset": dataset,
        "pair_I": pairs[0],
        "pair_II": pairs[1],
        "base": base,
    }


@pytest.fixture(scope="session")
def ssl4eo_pairs(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """SSL4EO-S12 location 0000200 (Punjab): S2 L2A 2020-06-04 (date I) and 2020-08-13 (date
    II, ``--like`` date I), each paired with the real S1 (GEE GRD in dB, VV and VH; 2020-06-07
    and 2020-09-03) by ``senprep pair``: ``(pair_I, pair_II)``."""
    import numpy as np
    import rasterio

    from sen_preproc.pair import PairConfig, pair_images
    from sen_preproc.sentinel2.chain import S2Config, process_s2

    root = shared_dir / "fixtures" / "pairs" / "ssl4eo-s12"
    if not root.is_dir():
        pytest.skip("SSL4EO-S12 pairs missing from shared/fixtures/pairs")
    out = tmp_path_factory.mktemp("ssl4eo")
    s1_dirs = sorted((root / "s1" / "0000200").iterdir())
    s2_dirs = sorted((root / "s2a" / "0000200").iterdir())
    s2_i = process_s2(S2Config(product=s2_dirs[0], out=out / "s2_I.tif"))
    s2_ii = process_s2(S2Config(product=s2_dirs[1], out=out / "s2_II.tif", like=s2_i))
    pairs = []
    for label, s1_dir, s2 in (("I", s1_dirs[0], s2_i), ("II", s1_dirs[1], s2_ii)):
        with rasterio.open(s1_dir / "VV.tif") as vv, rasterio.open(s1_dir / "VH.tif") as vh:
            stack = np.stack([vv.read(1), vh.read(1)]).astype(np.float32)
            profile = vv.profile | {"count": 2, "dtype": "float32", "nodata": np.nan}
            s1 = out / f"s1_{label}.tif"
            with rasterio.open(s1, "w", **profile) as ds:
                ds.write(stack)
                ds.set_band_description(1, "VV")
                ds.set_band_description(2, "VH")
                name = s1_dir.name
                ds.update_tags(
                    ACQUISITION_START=f"{name[17:21]}-{name[21:23]}-{name[23:25]}T00:00:00Z",
                    SCALE="db",
                )
        pairs.append(pair_images(PairConfig(s1=s1, s2=s2, out=out / f"pair_{label}.tif")))
    return pairs[0], pairs[1]
