"""Stopped runs leave nothing behind: SIGTERM/SIGHUP clean up like Ctrl-C (exit 128 + signal,
one line), the final name is never a partial file, and after a SIGKILL the next run removes the
dead process's temporaries - for ``senprep s2``, ``s1``, ``pair``, ``split`` and ``mccgan fuse``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from sen_preproc.interrupts import Terminated, remove_stale_temporaries, temporary_path


def _dead_pid() -> int:
    """The id of a process that has ended (a short-lived child, reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_names_and_stale_removal(tmp_path: Path) -> None:
    out = tmp_path / "x.tif"
    assert temporary_path(out, "part", ".tif").name == f".x.tif.part-{os.getpid()}.tif"
    dead = _dead_pid()
    stale = [tmp_path / f".x.tif.part-{dead}.tif", tmp_path / f".x.tif.cog-{dead}.tif.ovr.tmp",
             tmp_path / f".x.tif.tmp-{dead}.scratch.tif"]  # fmt: skip
    for path in stale:
        path.write_bytes(b"partial")
    folder = tmp_path / f".x.tif.tmp-{dead}"
    (folder / "samples").mkdir(parents=True)
    (folder / "samples" / "a.tif").write_bytes(b"partial")
    keep = [
        tmp_path / f".x.tif.part-{os.getpid()}.tif",  # this process: still writing
        tmp_path / ".x.tif.part-1.tif",  # pid 1 is alive
        tmp_path / f".y.tif.part-{dead}.tif",  # another output's
        tmp_path / f".x.tif.old-{dead}",  # not a temporary kind removed here
        tmp_path / ".x.tif.part-abc.tif",  # not our pattern
        tmp_path / "x.tif.part-1.tif",  # not hidden
        tmp_path / "notes.txt",
    ]
    for path in keep:
        path.write_bytes(b"user")
    removed = remove_stale_temporaries(out)
    assert sorted(removed) == sorted([*stale, folder])
    assert all(not p.exists() for p in [*stale, folder])
    assert all(p.read_bytes() == b"user" for p in keep)
    with pytest.raises(ValueError, match="kind"):
        temporary_path(out, "backup")


def test_sigterm_raises_terminated_and_exits_143(tmp_path: Path) -> None:
    """``run_command``: SIGTERM mid-run -> the ``with`` clean-up runs, one line, exit 143."""
    script = tmp_path / "slow.py"
    script.write_text(
        "import sys, time\n"
        "from pathlib import Path\n"
        "from sen_preproc.interrupts import run_command, temporary_path\n"
        f"out = Path({str(tmp_path / 'out.tif')!r})\n"
        "def work():\n"
        "    tmp = temporary_path(out, 'part', '.tif')\n"
        "    try:\n"
        "        tmp.write_bytes(b'partial')\n"
        "        print('ready', flush=True)\n"
        "        time.sleep(30)\n"
        "    finally:\n"
        "        tmp.unlink(missing_ok=True)\n"
        "run_command(work, 'test')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.strip() == "Error: test terminated by SIGTERM; its temporary files were removed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.py"]
    assert (
        str(Terminated(signal.SIGHUP)) == "terminated by SIGHUP"
        and Terminated(signal.SIGHUP).exit_code == 129
    )


def _leftovers(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


def _complete(path: Path) -> bool:
    """The final name holds a whole output (a readable raster, or a dataset folder)."""
    if path.is_dir():
        return json.loads((path / "dataset.json").read_text())["format"] == "senprep-dataset"
    with rasterio.open(path) as ds:
        ds.read(1, window=((ds.height - 1, ds.height), (0, ds.width)))
        return "SENPREP_VERSION" in ds.tags()


@pytest.fixture(scope="module")
def commands(
    training_scene: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Each command of the chain (and mccgan fuse) as an argument list writing into ``{out}``."""
    base = tmp_path_factory.mktemp("kill")
    scene = training_scene["scene"]
    doc = json.loads((scene / "scenario.json").read_text())
    raw = scene / "raw"
    first = doc["dates"][0]
    s2 = training_scene["base"] / "s2_I.tif"
    s1 = training_scene["base"] / "s1_I.tif"
    model = _tiny_model(base / "model.pt")
    py = [sys.executable, "-m", "sen_preproc"]
    return {
        "s2": [*py, "s2", str(raw / f"{first['s2']['product']}.SAFE"), "-o", "{out}", "-q"],
        "s1": [
            *py,
            "s1",
            str(raw / f"{first['s1']['product']}.SAFE"),
            "--dem",
            str(raw / "dem.tif"),
            "--like",
            str(s2),
            "-o",
            "{out}",
            "-q",
        ],
        "pair": [*py, "pair", "--s1", str(s1), "--s2", str(s2), "-o", "{out}", "-q"],
        "split": [
            *py,
            "split",
            "--ref",
            str(training_scene["pair_I"]),
            "--target",
            str(training_scene["pair_II"]),
            "-o",
            "{out}",
            "--size",
            "64",
            "--stride",
            "16",
            "--max-invalid",
            "1",
            "-q",
        ],
        "fuse": [
            sys.executable,
            "-m",
            "mccgan",
            "fuse",
            "--model",
            str(model),
            "--ref",
            str(training_scene["pair_I"]),
            "--target-s1",
            str(training_scene["pair_II"]),
            "--tile-size",
            "64",
            "-o",
            "{out}",
            "-q",
        ],
    }


def _tiny_model(path: Path) -> Path:
    import torch

    from mccgan.registry import model_spec
    from mccgan.training.export import export_model

    torch.manual_seed(0)
    options = {
        "in_channels": 8,
        "out_channels": 4,
        "ngf": 8,
        "depth": 6,
        "norm": "batch",
        "dropout": True,
    }
    bands = ["B2", "B3", "B4", "B8"]
    inputs = ["I_VV", "I_VH", "II_VV", "II_VH", *(f"I_{b}" for b in bands)]
    ranges = [[n, -25.0, 0.0] if "V" in n else [n, 0.0, 10000.0] for n in inputs]
    norm = {"inputs": ranges, "target": [[f"II_{b}", 0.0, 10000.0] for b in bands], "s1_unit": "db",
            "s2_unit": "reflectance_x10000"}  # fmt: skip
    return export_model(path, model_spec("mccgan").build_generator(**options), model="mccgan",
                        generator_options=options, bands={"inputs": inputs, "target": bands},
                        normalisation=norm, config={}, patch_px=64)  # fmt: skip


def _run(args: list[str], out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([a.replace("{out}", str(out)) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", ["s2", "s1", "pair", "split", "fuse"])
def test_killed_runs_leave_nothing(commands: dict[str, Any], tmp_path: Path, name: str) -> None:
    args = commands[name]
    suffix = "" if name == "split" else ".tif"
    # a complete run first: how long the command takes
    start = time.perf_counter()
    full = _run(args, tmp_path / f"full{suffix}")
    _, err = full.communicate(timeout=300)
    assert full.returncode == 0, err[-1500:]
    seconds = time.perf_counter() - start
    rng = np.random.default_rng(list(map(ord, name)))
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
        out = tmp_path / f"{signum.name.lower()}{suffix}"
        proc = _run(args, out)
        time.sleep(float(rng.uniform(0.4, 0.95)) * seconds)  # while it works: reading, writing
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
        assert not out.exists() or _complete(out), f"{out} is a partial output"
        if proc.returncode == 0:  # finished before the signal came
            assert _leftovers(tmp_path, out.name) == []
            continue
        if signum == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
            # the next run of the same output removes what the dead process left
            again = _run(
                [*args, "--overwrite"], out
            )  # (it may have been killed just after the rename)
            _, err = again.communicate(timeout=300)
            assert again.returncode == 0, err[-1500:]
            assert _complete(out)
        elif proc.returncode == -signum:
            # it came while Python itself was starting (nothing written yet) or ending (the
            # output complete): the default action; nothing partial (above) nor left (below)
            pass
        else:
            assert proc.returncode == 128 + signum, err[-1500:]
            assert (
                err.strip()
                .splitlines()[-1]
                .endswith(f"terminated by {signum.name}; its temporary files were removed")
            )
            assert not out.exists()
        assert _leftovers(tmp_path, out.name) == [], (
            f"{signum.name} left {_leftovers(tmp_path, out.name)}"
        )


@pytest.mark.slow
def test_sigterm_during_training_saves_the_interrupted_checkpoint(
    training_scene: dict[str, Path], tmp_path: Path
) -> None:
    """A scheduler's SIGTERM (pre-emption) ends ``mccgan train`` like Ctrl-C: the interrupted
    checkpoint is written (``--resume`` continues from it), exit 143, no temporaries."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "mccgan", "train", "--data", str(training_scene["dataset"]),
                             "--out", str(run), "--ngf", "8", "--ndf", "8", "--epochs", "50", "--epochs-decay", "0",
                             "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while (
        not (run / "checkpoints" / "last.ckpt").exists()
        and time.monotonic() < deadline
        and proc.poll() is None
    ):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert (run / "checkpoints" / "interrupted.ckpt").is_file()
    assert "continue with --resume" in err and err.strip().splitlines()[-1].endswith(
        "its temporary files were removed"
    )
    assert [p.name for p in run.rglob(".*-*")] == []


def test_an_unexpected_exception_is_reported_as_a_bug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Foreseen failures are one line; anything else keeps its traceback, says it is a bug and
    how to report it, and exits 70 (EX_SOFTWARE)."""
    from sen_preproc.interrupts import EXIT_BUG, run_command

    def broken() -> None:
        raise ZeroDivisionError("a bug")

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with pytest.raises(SystemExit) as info:
            run_command(broken, "senprep")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert info.value.code == EXIT_BUG == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError: a bug" in err
    assert "unexpected ZeroDivisionError: this is a bug" in err and "Reporting a problem" in err


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MemoryError(), "ran out of memory"),
        (OSError(5, "Input/output error", "/data/product.zip"), "/data/product.zip: Input/output error (errno 5)"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "the device ran out of memory"),
    ],
)  # fmt: skip
def test_environment_failures_are_one_line_not_bugs(
    capsys: pytest.CaptureFixture[str], error: BaseException, expected: str
) -> None:
    from sen_preproc.interrupts import run_command

    def failing() -> None:
        raise error

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with pytest.raises(SystemExit) as info:
            run_command(failing, "senprep")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error: ") and expected in err
    assert "Traceback" not in err
