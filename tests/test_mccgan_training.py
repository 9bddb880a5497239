"""Training MCcGAN: it learns, resumes exactly, ignores masked pixels, runs DDP; CLI and model
file. Small models (ngf 8, 64 px patches) on a simulated region (the ``training_scene``
fixture of conftest.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

from mccgan.config import build_config  # noqa: E402
from mccgan.training.export import load_model  # noqa: E402
from mccgan.training.run import train  # noqa: E402
from sen_preproc.dataset import PatchDataset  # noqa: E402

SMALL = {"ngf": 8, "ndf": 8, "batch_size": 4, "log_every_steps": 5, "images_every_epochs": 0}


def config(dataset: Path, out: Path, **options: object):  # type: ignore[no-untyped-def]
    return build_config({"data": [str(dataset)], "out": str(out), **SMALL, **options})


def generator_weights(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)[
        "state_dict"
    ]
    return {k: v for k, v in state.items() if k.startswith("generator.")}


def changed_pixel_l1(
    model_path: Path, scene: dict[str, Path], initial: bool = False
) -> tuple[float, float]:
    """Mean absolute error (reflectance x 10 000) on the validation pixels whose land changed
    between dates I and II (truth change mask), for the model and for copying S2 I."""
    from mccgan.data import _scale, denormalise
    from mccgan.networks import init_weights

    generator, document = load_model(model_path)
    if initial:
        torch.manual_seed(0)
        init_weights(generator)
    from mccgan.data import Normalisation

    norm = Normalisation.from_dict(document["normalisation"])
    val = PatchDataset(scene["dataset"], "val")
    with (
        rasterio.open(next((scene["scene"] / "truth").glob("change_*.tif"))) as ds,
        rasterio.open(scene["pair_I"]) as pair,
    ):
        change = ds.read(1)
        offset = (~ds.transform) @ (pair.transform.c, pair.transform.f)
    r0, c0 = round(offset[1]), round(offset[0])
    errors, copies = [], []
    for i in range(len(val)):
        item = val[i]
        w = item["window"]
        changed = (
            change[
                r0 + w.row_off : r0 + w.row_off + w.height,
                c0 + w.col_off : c0 + w.col_off + w.width,
            ]
            > 0
        )
        valid = (item["valid_II"][0] == 1) & changed
        if valid.sum() < 20:
            continue
        x = np.concatenate([_scale(item[k], norm.inputs[s : s + 2 if k.startswith("s1") else s + 4], False)
                            for k, s in (("s1_I", 0), ("s1_II", 2), ("s2_I", 4))])  # fmt: skip
        with torch.no_grad():
            pred = denormalise(generator(torch.from_numpy(x)[None])[0], norm.target).numpy()
        truth, copy = item["s2_II"], item["s2_I"]
        errors.append(np.abs(pred - truth)[:, valid].mean())
        copies.append(np.abs(copy - truth)[:, valid].mean())
    assert len(errors) >= 2, "the validation split should hold changed pixels"
    return float(np.mean(errors)), float(np.mean(copies))


def test_training_learns_and_beats_copying_on_changed_pixels(
    training_scene: dict[str, Path], tmp_path: Path
) -> None:
    """500 CPU steps (ngf = ndf = 8, 64 px, batch 4, 50 epochs). Thresholds: the validation L1
    falls below half its first value, and on the pixels that changed between the dates (mowing,
    growth, senescence, the flood) the model's L1 is below 0.8 of copying S2 at date I.
    Measured (~22 s): the L1 falls to 0.07-0.08 of its first value and the changed-pixel ratio
    is 0.58-0.62 over seeds 0-2, so both hold with margin; the untrained network is 5x above
    copying there."""
    run = tmp_path / "run"
    options = {"epochs": 40, "epochs_decay": 10}
    result = train(config(training_scene["dataset"], run, **options), quiet=True)
    rows = [r for r in csv.DictReader(open(run / "logs" / "metrics.csv")) if r.get("val/l1")]
    first, last = float(rows[0]["val/l1"]), float(rows[-1]["val/l1"])
    assert last < 0.5 * first
    model_l1, copy_l1 = changed_pixel_l1(result.model, training_scene)
    assert model_l1 < 0.8 * copy_l1, (model_l1, copy_l1)
    untrained_l1, _ = changed_pixel_l1(result.model, training_scene, initial=True)
    print(
        f"val L1 {first:.0f} -> {last:.0f}; changed pixels: model {model_l1:.0f}, copy {copy_l1:.0f}, untrained {untrained_l1:.0f}"
    )
    assert untrained_l1 > copy_l1  # a model whose weights were not updated fails the test


def test_resume_continues_the_same_trajectory(
    training_scene: dict[str, Path], tmp_path: Path
) -> None:
    """Two epochs straight == one epoch, stop, --resume, one more epoch (weights to 1e-6;
    optimisers, schedulers, epoch, step, sampler order and random states restored)."""
    options = {"epochs": 1, "epochs_decay": 1, "limit_train_batches": 4, "augment": True}
    straight = tmp_path / "straight"
    train(config(training_scene["dataset"], straight, **options), quiet=True)
    split = tmp_path / "split"
    first = train(
        config(training_scene["dataset"], split, stop_after_epochs=1, **options), quiet=True
    )
    assert first.epochs_done == 1
    second = train(config(training_scene["dataset"], split, resume=True, **options), quiet=True)
    assert second.epochs_done == 2
    a, b = generator_weights(straight), generator_weights(split)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)
    ckpt = torch.load(split / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    # Lightning counts optimiser steps: one discriminator + one generator step per batch
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 2 * 8
    assert ckpt["lr_schedulers"][0]["last_epoch"] == 2  # constant 1 epoch, then decayed
    sessions = json.loads((split / "run.json").read_text())["sessions"]
    assert len(sessions) == 2 and sessions[1]["resumed_from"].endswith("last.ckpt")
    epochs = [
        r["epoch"] for r in csv.DictReader(open(split / "logs" / "metrics.csv")) if r.get("val/l1")
    ]
    assert epochs == ["0", "1"]  # the resumed session continues the log of the first


def _fill_cloudy_target_pixels(dataset: Path, copy: Path, fill: str) -> int:
    """A copy of ``dataset`` whose S2 II values under ``valid_II != 1`` are replaced: ``zero``
    (stored 0) or ``garbage`` (random stored integers); returns the pixels replaced."""
    import shutil

    shutil.copytree(dataset, copy)
    info = json.loads((copy / "dataset.json").read_text())
    names = [b["name"] for b in info["bands"]["multi"]]
    s2 = [names.index(n) + 1 for n in ("II_B2", "II_B3", "II_B4", "II_B8")]
    valid = names.index("II_valid") + 1
    rng = np.random.default_rng(5)
    replaced = 0
    for path in sorted((copy / "samples").glob("*.tif")):  # multi-temporal samples only (no --mono)
        with rasterio.open(path, "r+") as ds:
            cloudy = ds.read(valid) != 1
            replaced += int(cloudy.sum())
            for band in s2:
                values = ds.read(band)
                values[cloudy] = (
                    rng.integers(-32767, 32767, cloudy.sum()) if fill == "garbage" else 0
                )
                ds.write(values, band)
    return replaced


def test_cloudy_target_pixels_do_not_change_training(
    training_scene: dict[str, Path], tmp_path: Path
) -> None:
    """The losses and metrics see target pixels only where ``valid_II == 1``: garbage and zeros
    under the clouds train to the same weights and the same validation metrics."""
    options = {"epochs": 1, "epochs_decay": 0, "limit_train_batches": 3}
    runs = {}
    for fill in ("zero", "garbage"):
        data = tmp_path / f"data_{fill}"
        assert _fill_cloudy_target_pixels(training_scene["dataset"], data, fill) > 1000
        runs[fill] = tmp_path / f"run_{fill}"
        train(config(data, runs[fill], **options), quiet=True)
    a, b = generator_weights(runs["zero"]), generator_weights(runs["garbage"])
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    rows = [
        [r for r in csv.DictReader(open(run / "logs" / "metrics.csv")) if r.get("val/l1")]
        for run in runs.values()
    ]
    assert rows[0] == rows[1] and rows[0]


DDP_SCRIPT = """
import sys
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from mccgan.config import build_config
from mccgan.training.run import train


class Dump(Callback):
    def on_train_start(self, trainer, module):
        self.initial = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def on_train_end(self, trainer, module):
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        torch.save({"state": state, "initial": self.initial, "step": trainer.global_step,
                    "world": trainer.world_size}, Path(sys.argv[2]) / f"rank{trainer.global_rank}.pt")


config = build_config({"data": [sys.argv[1]], "out": str(Path(sys.argv[2]) / "run"), "ngf": 8,
                       "ndf": 8, "batch_size": 2, "epochs": 1, "epochs_decay": 0,
                       "limit_train_batches": 3, "devices": 2, "strategy": "ddp",
                       "device": "cpu", "images_every_epochs": 0})
train(config, quiet=True, callbacks=[Dump()])
"""


def test_ddp_two_cpu_processes_end_with_identical_weights(
    training_scene: dict[str, Path], tmp_path: Path
) -> None:
    """``devices=2, strategy=ddp`` on CPU (gloo): Lightning starts a second process; after 3
    steps both ranks hold the same parameters and buffers, and they moved from the start."""
    import subprocess
    import sys

    script = tmp_path / "ddp_worker.py"
    script.write_text(DDP_SCRIPT)
    subprocess.run([sys.executable, str(script), str(training_scene["dataset"]), str(tmp_path)], check=True,
                   timeout=600, capture_output=True)  # fmt: skip
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2] and ranks[0]["step"] == 2 * 3
    for name, value in ranks[0]["state"].items():
        torch.testing.assert_close(value, ranks[1]["state"][name], rtol=0, atol=0, msg=name)
    moved = [
        n
        for n, v in ranks[0]["state"].items()
        if v.is_floating_point() and not torch.equal(v, ranks[0]["initial"][n])
    ]
    assert len(moved) > 0.9 * sum(v.is_floating_point() for v in ranks[0]["state"].values())
    assert (tmp_path / "run" / "model.pt").is_file()
