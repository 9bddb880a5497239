"""Run ESA's Sen2Cor (``L2A_Process``) on a Level-1C product: the only module here that starts
Sen2Cor. Used by ``senprep s2 --atmcor sen2cor``."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from sen_preproc.errors import MissingDataError, ProductError

LOGGER = logging.getLogger(__name__)

SEN2COR_EXECUTABLE = "L2A_Process"


def find_sen2cor() -> str | None:
    """Path of ``L2A_Process`` on PATH, or None."""
    return shutil.which(SEN2COR_EXECUTABLE)


def run_sen2cor(l1c_product: Path, output_dir: Path, *, timeout_s: float = 6 * 3600) -> Path:
    """Atmospherically correct ``l1c_product`` into ``output_dir``; returns the L2A SAFE folder.

    Raises
    ------
    MissingDataError
        When ``L2A_Process`` is not on PATH (message says how to get it).
    ProductError
        When Sen2Cor fails or writes no L2A product.
    """
    exe = find_sen2cor()
    if exe is None:
        raise MissingDataError(
            f"{l1c_product}: --atmcor sen2cor needs Sen2Cor's L2A_Process on PATH; install "
            "Sen2Cor (https://step.esa.int/main/snap-supported-plugins/sen2cor/) or use an L2A product"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "--output_dir", str(output_dir), str(l1c_product)]
    LOGGER.info("running %s", " ".join(cmd))
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace", timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise ProductError(
            f"{l1c_product}: Sen2Cor did not finish within {timeout_s:.0f} s"
        ) from err
    (output_dir / "sen2cor.log").write_text(result.stdout + result.stderr)
    products = sorted(output_dir.glob("*MSIL2A*.SAFE"))
    if result.returncode != 0 or not products:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ProductError(
            f"{l1c_product}: Sen2Cor failed (exit {result.returncode}: {last[0]}); see "
            f"{output_dir / 'sen2cor.log'}"
        )
    return products[-1]
