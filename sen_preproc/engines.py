"""The processing engines of ``senprep s1`` and ``senprep s2``, behind one entry point.

``python`` (the default) runs the built-in chains (:mod:`sen_preproc.sentinel1.chain`,
:mod:`sen_preproc.sentinel2.chain`); ``snap`` runs ESA SNAP's gpt on the graphs in ``graphs/``
(:mod:`sen_preproc.snap.engine`); ``auto`` takes SNAP when a gpt is found. Both write the same
conventions (band names, units, tags), so every later step takes either engine's output. A new
engine adds a branch here and nothing else changes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sen_preproc.errors import GptNotFoundError, OptionError
from sen_preproc.progress import NO_PROGRESS, Progress

LOGGER = logging.getLogger(__name__)

ENGINES = ("auto", "python", "snap")
"""Choices of ``--engine``."""
SENSORS = ("s1", "s2")


def choose_engine(engine: str, gpt: Path | None = None) -> str:
    """``auto`` -> ``snap`` when a gpt is found (``gpt``: ``--gpt``), else ``python``."""
    if engine not in ENGINES:
        raise OptionError(f"unknown engine {engine!r}; use {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    from sen_preproc.snap.install import find_gpt

    try:
        find_gpt(gpt, probe_version=False)
    except GptNotFoundError:
        LOGGER.info("no SNAP gpt found: using the Python engine")
        return "python"
    return "snap"


def _check_sensor(sensor: str) -> None:
    if sensor not in SENSORS:
        raise OptionError(f"unknown sensor {sensor!r}; use {', '.join(SENSORS)}")


def process(
    sensor: str,
    config: Any,
    engine: str = "python",
    snap: Any = None,
    progress: Progress = NO_PROGRESS,
) -> Path:
    """Run the ``sensor`` chain (``s1``/``s2``) of ``config`` (an ``S1Config``/``S2Config``)
    with ``engine``; ``snap`` holds the :class:`~sen_preproc.snap.engine.SnapOptions`.
    Returns the output path."""
    _check_sensor(sensor)
    from sen_preproc.snap.engine import SnapOptions, process_s1_snap, process_s2_snap

    snap = snap if snap is not None else SnapOptions()
    if choose_engine(engine, snap.gpt) == "snap":
        return (
            process_s1_snap(config, snap, progress)
            if sensor == "s1"
            else process_s2_snap(config, snap, progress)
        )
    if sensor == "s1":
        from sen_preproc.sentinel1.chain import process_s1

        return process_s1(config, progress)
    from sen_preproc.sentinel2.chain import process_s2

    return process_s2(config, progress)
