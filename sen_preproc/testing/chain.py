"""The ``senprep`` chain over a ``senprep synth`` scene, as a user runs it: for each date
``s2`` (dates after the first ``--like`` the first), ``s1 --dem --like`` (straight onto the S2
grid) and ``pair``. Shared by the tests, the demo and the benches.

The commands are handed to ``run`` (a callable taking the argument list after ``senprep``):
callers start them as they need (a subprocess, with timing, quietly); this module starts
nothing itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DateOutputs:
    """What the chain wrote for one date of the scene."""

    label: str  # Roman numeral of the date (I, II, ...)
    s2: Path
    s1: Path
    pair: Path


def process_synth_scene(
    scene: Path,
    out: Path,
    run: Callable[[Sequence[str]], object],
    *,
    s2_options: Sequence[str] = (),
    options: Sequence[str] = (),
) -> list[DateOutputs]:
    """Run ``s2``, ``s1`` and ``pair`` for every date of ``scene`` into ``out``.

    Parameters
    ----------
    scene : Path
        A folder written by ``senprep synth`` (``scenario.json``, ``raw/``).
    out : Path
        Folder for ``s2_<label>.tif``, ``s1_<label>.tif`` and ``pair_<label>.tif``.
    run : callable
        Runs one ``senprep`` command from its arguments (e.g. ``["s2", SAFE, "-o", OUT]``).
    s2_options : sequence of str
        Extra options of ``senprep s2`` (e.g. ``["--bands", "B2,B3,B4,B8"]``).
    options : sequence of str
        Extra options of every command (e.g. ``["--overwrite"]``).
    """
    document = json.loads((scene / "scenario.json").read_text())
    raw = scene / "raw"
    written: list[DateOutputs] = []
    for date in document["dates"]:
        label = date["label"]
        outputs = DateOutputs(
            label, out / f"s2_{label}.tif", out / f"s1_{label}.tif", out / f"pair_{label}.tif"
        )
        like = ["--like", str(written[0].s2)] if written else []
        run(
            [
                "s2",
                str(raw / f"{date['s2']['product']}.SAFE"),
                *s2_options,
                *like,
                "-o",
                str(outputs.s2),
                *options,
            ]
        )
        run(["s1", str(raw / f"{date['s1']['product']}.SAFE"), "--dem", str(raw / "dem.tif"),
             "--like", str(outputs.s2), "-o", str(outputs.s1), *options])  # fmt: skip
        run(
            [
                "pair",
                "--s1",
                str(outputs.s1),
                "--s2",
                str(outputs.s2),
                "-o",
                str(outputs.pair),
                *options,
            ]
        )
        written.append(outputs)
    return written
