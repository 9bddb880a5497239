"""Shared pytest fixtures.

Real Sentinel data lives in ``../shared`` beside the repo (or ``$SENPREP_SHARED``); tests that
need it use the ``shared_dir`` fixture and are skipped with a clear reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


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
