"""Run ESA's Sen2Cor (``L2A_Process``) on a Level-1C product (``senprep s2 --atmcor sen2cor``).

Sen2Cor runs through :mod:`sen_preproc.runner` like gpt: its own process session (a timeout or
Ctrl-C stops it and its workers), output streamed into ``sen2cor.log`` beside the L2A product.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import time
from pathlib import Path

from sen_preproc import runner
from sen_preproc.errors import MissingDataError, ProductError

LOGGER = logging.getLogger(__name__)

SEN2COR_EXECUTABLE = "L2A_Process"
DEFAULT_TIMEOUT_S = 6 * 3600.0


def find_sen2cor() -> str | None:
    """Path of ``L2A_Process`` on PATH, or None."""
    return shutil.which(SEN2COR_EXECUTABLE)


def run_sen2cor(
    l1c_product: Path, output_dir: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Path:
    """Atmospherically correct ``l1c_product`` into ``output_dir``; returns the L2A SAFE folder.

    Raises
    ------
    MissingDataError
        When ``L2A_Process`` is not on PATH (message says how to get it).
    ProductError
        When Sen2Cor fails, times out or writes no L2A product (the log is named).
    """
    exe = find_sen2cor()
    if exe is None:
        raise MissingDataError(
            f"{l1c_product}: --atmcor sen2cor needs Sen2Cor's L2A_Process on PATH; install "
            "Sen2Cor (https://step.esa.int/main/snap-supported-plugins/sen2cor/) or use an L2A product"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    command = [exe, "--output_dir", str(output_dir), str(l1c_product)]
    log_path = output_dir / "sen2cor.log"
    LOGGER.info("running %s (log: %s)", shlex.join(command), log_path)
    tail = bytearray()

    def keep(chunk: bytes) -> None:
        log.write(chunk)
        tail.extend(chunk)
        del tail[:-4096]

    with open(log_path, "wb") as log:
        try:
            outcome = runner.run_streaming(command, keep, deadline=time.monotonic() + timeout_s)
        except runner.StartError as err:
            raise ProductError(
                f"{l1c_product}: {err.strerror}; check Sen2Cor's installation"
            ) from err
    if outcome.timed_out:
        raise ProductError(
            f"{l1c_product}: Sen2Cor did not finish within {timeout_s:.0f} s and was stopped; "
            f"see {log_path}"
        )
    products = sorted(output_dir.glob("*MSIL2A*.SAFE"))
    if outcome.returncode != 0 or not products:
        lines = tail.decode("utf-8", errors="replace").strip().splitlines()
        raise ProductError(
            f"{l1c_product}: Sen2Cor failed (exit {outcome.returncode}: "
            f"{lines[-1] if lines else 'no output'}); see {log_path}"
        )
    return products[-1]
