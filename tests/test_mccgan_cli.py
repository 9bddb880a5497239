"""``mccgan train`` from the command line, its configuration, its errors, the model file, Ctrl-C
and pooled datasets; and a few epochs on real SSL4EO-S12 data (skipped without ``../shared``)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")
yaml = pytest.importorskip("yaml")

from click.testing import CliRunner  # noqa: E402
from lightning.pytorch.callbacks import Callback  # noqa: E402

from mccgan.cli import cli  # noqa: E402
from mccgan.config import TrainConfig, build_config, config_from_dict  # noqa: E402
from mccgan.errors import CheckpointError, ConfigError, DataError  # noqa: E402
from mccgan.training.export import FORMAT_VERSION, load_model  # noqa: E402
from mccgan.training.run import train  # noqa: E402

TINY = ["--ngf", "8", "--ndf", "8", "--batch-size", "4", "--epochs", "1", "--epochs-decay", "1",
        "--limit-train-batches", "2", "--log-every", "1", "-q"]  # fmt: skip


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def cli_run(training_scene: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``mccgan train`` run from the command line, with a YAML file and overrides."""
    base = tmp_path_factory.mktemp("cli_run")
    config = base / "train.yaml"
    config.write_text(yaml.safe_dump({"lr": 1e-4, "seed": 3, "epochs": 5, "augment": True,
                                      "s1_ranges_db": {"VV": [-24, 1], "VH": [-31, 0]}}))  # fmt: skip
    out = base / "run"
    result = run_cli(
        "train",
        "--data",
        str(training_scene["dataset"]),
        "--out",
        str(out),
        "--config",
        str(config),
        "--workers",
        "1",  # a DataLoader worker process: samples, normalisation and masks cross processes
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert str(out / "model.pt") in result.output and "copy_l1" in result.output
    return out


def test_cli_train_writes_a_complete_run(cli_run: Path) -> None:
    assert {p.name for p in cli_run.iterdir()} >= {
        "run.json",
        "checkpoints",
        "logs",
        "images",
        "model.pt",
    }
    assert {p.name for p in (cli_run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    rows = list(csv.DictReader(open(cli_run / "logs" / "metrics.csv")))
    val = [r for r in rows if r.get("val/l1")]
    assert len(val) == 2 and all(float(r["val/ssim"]) <= 1 for r in val)
    assert any(r.get("train/loss_d") for r in rows) and any(r.get("train/loss_g") for r in rows)
    strips = sorted((cli_run / "images").glob("epoch_*.png"))
    assert [p.name for p in strips] == ["epoch_000.png", "epoch_001.png"]
    with rasterio.open(strips[0]) as png:  # columns S2 I, S2 II real, generated; 4 samples
        assert png.count == 3 and png.height > png.width >= 3 * 160


def test_config_round_trip_yaml_and_overrides(
    cli_run: Path, training_scene: dict[str, Path]
) -> None:
    """Command-line options win over the YAML file, which wins over the defaults; the merged
    configuration is stored in the checkpoint, run.json and model.pt, and comes back equal."""
    stored = json.loads((cli_run / "run.json").read_text())["config"]
    assert stored["epochs"] == 1 and stored["epochs_decay"] == 1  # command line over YAML's 5
    assert stored["lr"] == 1e-4 and stored["seed"] == 3 and stored["augment"] is True  # YAML
    assert stored["s1_ranges_db"] == {"VV": [-24, 1], "VH": [-31, 0]}
    assert stored["lambda_l1"] == 100.0 and stored["gan_mode"] == "vanilla"  # defaults
    config = config_from_dict(stored)
    assert isinstance(config, TrainConfig) and config.to_dict() == stored
    ckpt = torch.load(cli_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["mccgan"]["config"] == stored
    _, document = load_model(cli_run / "model.pt")
    assert document["config"] == stored
    # YAML written from a stored configuration gives the same configuration back
    again = cli_run.parent / "again.yaml"
    again.write_text(yaml.safe_dump(stored))
    assert build_config({}, again) == config
    # the normalisation follows the configured ranges
    inputs = {name: (low, high) for name, low, high in document["normalisation"]["inputs"]}
    assert inputs["I_VV"] == (-24.0, 1.0) and inputs["II_VH"] == (-31.0, 0.0)


def test_model_file_loads_with_weights_only_and_checks_itself(
    cli_run: Path, tmp_path: Path
) -> None:
    document = torch.load(cli_run / "model.pt", map_location="cpu", weights_only=True)
    assert document["format"] == "mccgan-model" and document["model"] == "mccgan"
    assert document["bands"]["target"] == ["B2", "B3", "B4", "B8"]
    assert document["bands"]["inputs"][:4] == ["I_VV", "I_VH", "II_VV", "II_VH"]
    assert document["generator"]["in_channels"] == 8 and len(document["datasets"]) == 1
    generator, _ = load_model(cli_run / "model.pt", target_bands=["B2", "B3", "B4", "B8"])
    with torch.no_grad():
        assert generator(torch.zeros(1, 8, 64, 64)).shape == (1, 4, 64, 64)

    with pytest.raises(CheckpointError, match=r"B2,B3,B4,B8, the input has B2,B3,B4,B8,B11"):
        load_model(cli_run / "model.pt", target_bands=["B2", "B3", "B4", "B8", "B11"])
    damaged = dict(document, state_dict=dict(document["state_dict"]))
    name = next(iter(damaged["state_dict"]))
    damaged["state_dict"][name] = damaged["state_dict"][name] + 1e-3
    torch.save(damaged, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointError, match="checksum"):
        load_model(tmp_path / "damaged.pt")
    torch.save(dict(document, format_version=FORMAT_VERSION + 1), tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match="newer than this mccgan reads"):
        load_model(tmp_path / "newer.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match=r"junk\.pt: not a readable model file"):
        load_model(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="no such model file"):
        load_model(tmp_path / "missing.pt")


@pytest.fixture(scope="module")
def vv_only_dataset(
    training_scene: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The training scene's dataset, but with S1 VV only (no VH)."""
    from sen_preproc.dataset.split import SplitConfig, build_dataset
    from sen_preproc.pair import PairConfig, pair_images

    base = tmp_path_factory.mktemp("vv_only")
    pairs = []
    for label in ("I", "II"):
        with rasterio.open(training_scene["base"] / f"s1_{label}.tif") as src:
            profile = src.profile | {"count": 1}
            with rasterio.open(base / f"s1_{label}.tif", "w", **profile) as dst:
                dst.write(src.read(1), 1)
                dst.set_band_description(1, "VV")
                dst.update_tags(**src.tags())
        pairs.append(pair_images(PairConfig(s1=base / f"s1_{label}.tif", s2=training_scene["base"] / f"s2_{label}.tif",
                                            out=base / f"pair_{label}.tif")))  # fmt: skip
    config = SplitConfig(ref=pairs[0], targets=(pairs[1],), out=base / "dataset", size_px=64, stride_px=32,
                         split="rows:0.7,0.3,0", max_invalid=0.5)  # fmt: skip
    return build_dataset(config).folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--lr", "2"], "lr must be a learning rate in (0, 1), got 2.0"),
        (["--depth", "3"], "depth must be 0 (auto) or 5..10, got 3"),
        (["--epochs", "0", "--epochs-decay", "0"], "--epochs + --epochs-decay must be at least 1"),
        (["--gan-mode", "wgan"], "Invalid value for '--gan-mode'"),
    ],
)
def test_cli_bad_option_values_are_one_line(
    training_scene: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli(
        "train", "--data", str(training_scene["dataset"]), "--out", str(tmp_path / "run"), *args
    )
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("lr: -1\n", "lr must be a learning rate in (0, 1), got -1"),
        ("batchsize: 4\n", "unknown option(s) batchsize; valid ones:"),
        ("s2_range: [10000, 0]\n", "s2_range must be [low, high] with low < high"),
        ("s1_ranges_db: [1, 2]\n", "s1_ranges_db must map polarisations to [low, high]"),
        ("ngf: eight\n", "ngf must be a positive integer, got 'eight'"),
        ("- a list\n", "the configuration must be a mapping of options, got list"),
        ("epochs: [\n", "not valid YAML"),
        ("augment: maybe\n", "augment must be true or false, got 'maybe'"),
    ],
)
def test_cli_bad_config_files_are_one_line(
    training_scene: dict[str, Path], tmp_path: Path, document: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(document)
    result = run_cli(
        "train",
        "--data",
        str(training_scene["dataset"]),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(path),
    )
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "run").exists()


def test_cli_data_errors_are_one_line(
    training_scene: dict[str, Path], vv_only_dataset: Path, tmp_path: Path
) -> None:
    cases = [
        (["--out", str(tmp_path / "a")], "give --data (or set them in --config)"),
        (["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "b")], "nowhere: no such dataset folder"),
        (["--data", str(vv_only_dataset), "--out", str(tmp_path / "c")],
         "S1 bands are VV, model mccgan needs VV and VH; process S1 with senprep s1 --pol VV,VH"),
        (["--data", str(training_scene["dataset"]), "--data", str(vv_only_dataset), "--out", str(tmp_path / "d")],
         "pool only datasets of one band layout"),
        (["--data", str(training_scene["base"]), "--out", str(tmp_path / "e")], "dataset.json"),
        (["--data", str(training_scene["dataset"]), "--out", str(tmp_path / "f"), "--resume"], "not an mccgan run folder"),
    ]  # fmt: skip
    for args, message in cases:
        result = run_cli("train", *args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, result.output)
    assert not any(p.name in "abcdef" for p in tmp_path.iterdir())


def test_cli_refuses_to_overwrite_what_it_did_not_write(
    training_scene: dict[str, Path], cli_run: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    for extra in ([], ["--overwrite"]):
        result = run_cli(
            "train", "--data", str(training_scene["dataset"]), "--out", str(foreign), *TINY, *extra
        )
        assert (
            result.exit_code == 1 and "is not an mccgan run folder and not empty" in result.output
        )
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]
    result = run_cli(
        "train", "--data", str(training_scene["dataset"]), "--out", str(cli_run), *TINY
    )
    assert result.exit_code == 1 and "--overwrite" in result.output


class _InterruptAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step >= self.step:
            raise KeyboardInterrupt


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(
    training_scene: dict[str, Path], tmp_path: Path
) -> None:
    """Ctrl-C after the second of three batches of epoch 0 saves ``interrupted.ckpt``;
    ``--resume`` does the third batch and epoch 1, ending on the weights of an uninterrupted run."""
    values = {"data": [str(training_scene["dataset"])], "out": str(tmp_path / "run"), "ngf": 8, "ndf": 8,
              "batch_size": 4, "epochs": 1, "epochs_decay": 1, "limit_train_batches": 3,
              "images_every_epochs": 0, "augment": True}  # fmt: skip
    straight = train(build_config(values | {"out": str(tmp_path / "straight")}), quiet=True)
    result = train(build_config(values), quiet=True, callbacks=[_InterruptAt(2 * 2)])
    assert result.interrupted and result.model is None
    saved = torch.load(
        tmp_path / "run" / "checkpoints" / "interrupted.ckpt", map_location="cpu", weights_only=True
    )
    assert saved["global_step"] == 2 * 2
    resumed = train(build_config(values | {"resume": True}), quiet=True)
    assert not resumed.interrupted and resumed.model is not None and resumed.epochs_done == 2
    assert not (tmp_path / "run" / "checkpoints" / "interrupted.ckpt").exists()
    a, _ = load_model(straight.model)  # type: ignore[arg-type]
    b, _ = load_model(resumed.model)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-6, msg=name)
    last = torch.load(
        tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True
    )
    assert last["global_step"] == 2 * 2 * 3


def test_pooled_datasets_keep_their_splits_and_are_recorded(
    training_scene: dict[str, Path], tmp_path: Path
) -> None:
    """Two datasets (here a copy of the same one) pooled from a list file: the training set is
    the sum of their training splits, and run.json / model.pt name both."""
    from mccgan.data import load_training_data
    from mccgan.registry import model_spec

    second = tmp_path / "second"
    shutil.copytree(training_scene["dataset"], second)
    listing = tmp_path / "datasets.txt"
    listing.write_text(
        f"# the pool\n{training_scene['dataset']}\nsecond  # relative to this file\n"
    )
    config = build_config(
        {"data": [str(listing)], "out": str(tmp_path / "run"), "ngf": 8, "ndf": 8}
    )
    data = load_training_data(config, model_spec("mccgan"))
    info = json.loads((second / "dataset.json").read_text())
    assert len(data.train) == 2 * info["counts"]["train"] and data.val is not None
    assert len(data.val) == 2 * info["counts"]["val"]
    assert [d["path"] for d in data.datasets] == [
        str(training_scene["dataset"].resolve()),
        str(second.resolve()),
    ]


def test_bad_values_in_python_api(training_scene: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give --data and --out"):
        build_config({})
    with pytest.raises(DataError, match="no such dataset folder"):
        train(
            build_config({"data": [str(tmp_path / "x")], "out": str(tmp_path / "run")}), quiet=True
        )


@pytest.mark.shared
def test_real_ssl4eo_training_few_epochs(ssl4eo_pairs: tuple[Path, Path], tmp_path: Path) -> None:
    """A few epochs on the real two-date SSL4EO-S12 pair (Punjab, June -> August 2020, 64 px
    patches): the validation L1 falls well below its first value. The figures (next to
    copying June's S2) are printed for the issue note."""
    from sen_preproc.dataset.split import SplitConfig, build_dataset

    dataset = build_dataset(SplitConfig(ref=ssl4eo_pairs[0], targets=(ssl4eo_pairs[1],), out=tmp_path / "ds",
                                        size_px=64, stride_px=32, split="rows:0.7,0.3,0", max_invalid=0.01)).folder  # fmt: skip
    config = build_config({"data": [str(dataset)], "out": str(tmp_path / "run"), "ngf": 16, "ndf": 16,
                           "batch_size": 4, "epochs": 20, "epochs_decay": 10, "images_every_epochs": 10,
                           "augment": True})  # fmt: skip
    result = train(config, quiet=True)
    rows = [
        r
        for r in csv.DictReader(open(tmp_path / "run" / "logs" / "metrics.csv"))
        if r.get("val/l1")
    ]
    first, last = float(rows[0]["val/l1"]), float(rows[-1]["val/l1"])
    figures = {k: round(float(v), 4) for k, v in rows[-1].items() if k.startswith("val/")}
    print(f"SSL4EO val L1 {first:.0f} -> {last:.0f}; final {figures}")
    assert last < 0.5 * first
    assert np.isfinite(list(figures.values())).all() and result.model is not None


def test_cli_ctrl_c_exits_130_with_a_checkpoint(
    training_scene: dict[str, Path], tmp_path: Path
) -> None:
    """SIGINT to a running ``mccgan train``: one line naming the checkpoint, exit code 130."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    command = [sys.executable, "-m", "mccgan", "train", "--data", str(training_scene["dataset"]), "--out", str(out),
               "--ngf", "8", "--ndf", "8", "--batch-size", "2", "--epochs", "200", "--epochs-decay", "0", "-q"]  # fmt: skip
    # a background shell (`make test &`) starts us with SIGINT ignored, and children inherit
    # that (Python then installs no KeyboardInterrupt handler): give the child the default
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 120
    while (
        not (out / "checkpoints" / "last.ckpt").is_file()
        and time.monotonic() < deadline
        and process.poll() is None
    ):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:  # never leave a training run behind
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "interrupted: saved" in stderr and "continue with --resume" in stderr
    assert (out / "checkpoints" / "interrupted.ckpt").is_file() and not (out / "model.pt").exists()
    assert "Traceback" not in stderr
