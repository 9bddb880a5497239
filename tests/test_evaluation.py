"""``mccgan evaluate`` on files: units, masks, regions, the copy baseline, the report files,
figures, bad inputs; and the whole chain synth -> senprep -> train -> fuse -> evaluate."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from skimage.metrics import structural_similarity

from mccgan.cli import cli
from mccgan.errors import DataError
from mccgan.evaluation.evaluate import COPY_LABEL, EvaluateConfig, evaluate

BANDS = ("B2", "B3", "B4", "B8")
TRANSFORM = Affine(10, 0, 500000, 0, -10, 5600000)


def _write(path: Path, data: np.ndarray, names: tuple[str, ...], *, dtype: str = "uint16",
           scale: str | None = "10000", transform: Affine = TRANSFORM, nodata: float | None = 0) -> Path:  # fmt: skip
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=dtype, crs="EPSG:32631", transform=transform, nodata=nodata) as ds:  # fmt: skip
        ds.write(data.astype(dtype))
        for i, name in enumerate(names, start=1):
            ds.set_band_description(i, name)
        if scale is not None:
            ds.update_tags(REFLECTANCE_SCALE=scale)
    return path


def _scene(tmp_path: Path, size: tuple[int, int] = (70, 90)) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    rows, cols = np.indices(size)
    truth = np.stack([800 + 300 * np.sin(rows / 9 + k) + 200 * np.cos(cols / 7) + rng.normal(0, 30, size)
                      for k in range(4)]) + np.array([0, 200, 100, 2500])[:, None, None]  # fmt: skip
    truth = np.rint(np.clip(truth, 1, 9000))
    pred = np.rint(np.clip(truth + rng.normal(0, 120, truth.shape), 1, 9000))
    ref = np.rint(np.clip(truth * 0.8 + 100, 1, 9000))
    valid = np.ones(size)
    valid[:6, :10] = 0
    files = {
        "truth": _write(
            tmp_path / "truth.tif", np.concatenate([truth, valid[None]]), (*BANDS, "valid")
        ),
        "pred": _write(
            tmp_path / "pred.tif", np.concatenate([pred, np.ones((1, *size))]), (*BANDS, "valid")
        ),
        "ref": _write(tmp_path / "ref.tif", ref, BANDS),
        "region": _write(
            tmp_path / "region.tif",
            (cols > 45)[None].astype(np.uint8),
            ("changed",),
            dtype="uint8",
            scale=None,
            nodata=None,
        ),
    }
    return {
        "files": files,
        "truth": truth,
        "pred": pred,
        "ref": ref,
        "valid": valid == 1,
        "cols": cols,
    }


def test_scores_match_direct_computations(tmp_path: Path) -> None:
    s = _scene(tmp_path)
    f = s["files"]
    out = tmp_path / "report"
    config = EvaluateConfig(out=out, preds=(("MCcGAN", f["pred"]),), truth=f["truth"], ref=f["ref"],
                            regions=(("changed", str(f["region"])),), block_rows=16)  # fmt: skip
    report = evaluate(config)
    ok = s["valid"]
    t, p, c = s["truth"], s["pred"], s["ref"]
    for k, band in enumerate(BANDS):
        rmse = np.sqrt(np.mean((p[k][ok] - t[k][ok]) ** 2))
        assert report.value("all", "MCcGAN", band, "rmse") == pytest.approx(rmse, rel=1e-9)
        copy = np.sqrt(np.mean((c[k][ok] - t[k][ok]) ** 2))
        assert report.value("all", COPY_LABEL, band, "rmse") == pytest.approx(copy, rel=1e-9)
        inside = ok & (s["cols"] > 45)
        region = np.sqrt(np.mean((p[k][inside] - t[k][inside]) ** 2))
        assert report.value("changed", "MCcGAN", band, "rmse") == pytest.approx(region, rel=1e-9)
        assert report.value("changed", "MCcGAN", band, "n") == inside.sum()
    document = json.loads((out / "metrics.json").read_text())
    assert document["format"] == "mccgan-evaluation" and document["data_range"] == 10000
    assert set(document["scores"]) == {"all", "changed"}
    assert set(document["scores"]["all"]) == {"MCcGAN", COPY_LABEL}
    assert (
        "NDVI" in document["scores"]["all"]["MCcGAN"]
        and "sam_deg" in document["scores"]["all"]["MCcGAN"]["all"]
    )
    with open(out / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert {r["region"] for r in rows} == {"all", "changed"}
    assert any(r["metric"] == "ssim" and r["band"] == "B8" for r in rows)
    text = (out / "metrics.md").read_text()
    lines = {
        line.split(" | ")[0] + line.split(" | ")[1]: line
        for line in text.splitlines()
        if line.startswith("| B")
    }
    assert (
        lines["| B8RMSE"].split(" | ")[2].startswith("**")
    )  # noise 120 beats the copy's +500 bias
    assert lines["| B2RMSE"].split(" | ")[3].startswith("**")  # the copy is closer in B2
    for png in ("quicklook_rgb.png", "ndvi.png", "scatter.png"):
        with open(out / png, "rb") as file:
            assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    # a second run needs --overwrite and replaces only our own report
    with pytest.raises(Exception, match="--overwrite"):
        evaluate(config)
    evaluate(EvaluateConfig(**{**config.__dict__, "overwrite": True, "figures": False}))
    assert not (out / "scatter.png").exists()


def test_ssim_equals_skimage_and_identity(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    truth = np.rint(rng.uniform(100, 5000, (4, 40, 50)))
    pred = np.rint(np.clip(truth + rng.normal(0, 300, truth.shape), 1, None))
    t = _write(tmp_path / "t.tif", truth, BANDS)
    p = _write(tmp_path / "p.tif", pred, BANDS)
    report = evaluate(
        EvaluateConfig(out=tmp_path / "r", preds=(("m", p), ("same", t)), truth=t, figures=False)
    )
    for k, band in enumerate(BANDS):
        expected = structural_similarity(truth[k], pred[k], data_range=10000, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)  # fmt: skip
        assert report.value("all", "m", band, "ssim") == pytest.approx(expected, abs=1e-9)
        assert report.value("all", "same", band, "ssim") == pytest.approx(1.0, abs=1e-12)
        assert report.value("all", "same", band, "rmse") == 0
        assert report.value("all", "same", band, "psnr") == float("inf")
    assert report.value("all", "same", "all", "sam_rad") == pytest.approx(0.0, abs=1e-6)
    document = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert document["scores"]["all"]["same"]["B2"]["psnr"] == "inf"
    assert "∞" in (tmp_path / "r" / "metrics.md").read_text()


def test_float_prediction_is_scaled_to_the_truth_unit(tmp_path: Path) -> None:
    s = _scene(tmp_path)
    f = s["files"]
    as_float = _write(
        tmp_path / "pred_f.tif", s["pred"] / 10000, BANDS, dtype="float32", scale="1", nodata=None
    )
    report = evaluate(EvaluateConfig(out=tmp_path / "r", preds=(("int", f["pred"]), ("float", as_float)),
                                     truth=f["truth"], figures=False))  # fmt: skip
    for band in BANDS:
        a, b = report.value("all", "int", band, "rmse"), report.value("all", "float", band, "rmse")
        assert a == pytest.approx(b, rel=1e-5)


def test_bad_inputs_one_line_nothing_written(tmp_path: Path) -> None:
    s = _scene(tmp_path)
    f = s["files"]
    shifted = _write(
        tmp_path / "shifted.tif", s["pred"], BANDS, transform=Affine(10, 0, 500010, 0, -10, 5600000)
    )
    before = {p.name for p in tmp_path.iterdir()}
    cases = [
        (["--pred", str(shifted), "--truth", str(f["truth"])], "not on the grid of the truth"),
        (["--pred", str(f["pred"]), "--truth", str(f["region"])], "no B2, B3, B4, B8"),
        (
            [
                "--pred",
                str(f["pred"]),
                "--truth",
                str(f["truth"]),
                "--mask",
                str(tmp_path / "none.tif"),
            ],
            "cannot open",
        ),
        (["--pred", str(f["pred"])], "--truth"),
        (["--pred", str(f["pred"]), "--truth", str(f["truth"]), "--region", "bad"], "NAME=FILE"),
    ]
    empty = _write(
        tmp_path / "empty.tif",
        np.zeros((1, 70, 90)),
        ("m",),
        dtype="uint8",
        scale=None,
        nodata=None,
    )
    before.add(empty.name)
    cases.append(
        (
            ["--pred", str(f["pred"]), "--truth", str(f["truth"]), "--mask", str(empty)],
            "no valid pixel",
        )
    )
    for args, expect in cases:
        run = CliRunner().invoke(cli, ["evaluate", *args, "-o", str(tmp_path / "report"), "-q"])
        assert run.exit_code != 0, args
        assert expect in run.output, run.output
        assert run.output.strip().count("\n") == 0 or "Usage" in run.output, run.output
        assert {p.name for p in tmp_path.iterdir()} == before
    with pytest.raises(DataError, match="no valid pixel"):
        evaluate(
            EvaluateConfig(
                out=tmp_path / "r", preds=(("m", f["pred"]),), truth=f["truth"], mask=empty
            )
        )


def test_constant_truth_gives_notes_not_nan(tmp_path: Path) -> None:
    truth = np.full((4, 30, 30), 1200.0)
    pred = truth + np.random.default_rng(0).normal(0, 10, truth.shape)
    t = _write(tmp_path / "t.tif", truth, BANDS)
    p = _write(tmp_path / "p.tif", np.rint(pred), BANDS)
    report = evaluate(EvaluateConfig(out=tmp_path / "r", preds=(("m", p),), truth=t, figures=False))
    assert report.value("all", "m", "B2", "r2") is None
    assert any("constant" in note for note in report.notes)
    text = (tmp_path / "r" / "metrics.json").read_text()
    assert "NaN" not in text and json.loads(text)["scores"]["all"]["m"]["B2"]["r2"] is None


@pytest.mark.slow
def test_chain_synth_train_fuse_evaluate(training_scene: dict[str, Path], tmp_path: Path) -> None:
    """senprep synth -> s2/s1/pair/split (the fixture) -> mccgan train (tiny) -> fuse -> evaluate,
    through the command line, with the patch mode on the dataset's split."""

    def mccgan(*args: str) -> str:
        run = subprocess.run(
            [sys.executable, "-m", "mccgan", *args], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout

    run = tmp_path / "run"
    mccgan("train", "--data", str(training_scene["dataset"]), "--out", str(run), "--ngf", "8", "--ndf", "8",
           "--epochs", "1", "--epochs-decay", "0", "--limit-train-batches", "4", "--residual", "-q")  # fmt: skip
    fused = tmp_path / "fused.tif"
    scene = training_scene["scene"]
    s1_ii = training_scene["base"] / "s1_II.tif"
    target = s1_ii if s1_ii.exists() else training_scene["pair_II"]
    mccgan("fuse", "--model", str(run / "model.pt"), "--ref", str(training_scene["pair_I"]), "--target-s1",
           str(target), "-o", str(fused), "-q")  # fmt: skip
    truth = sorted((scene / "truth").glob("reflectance_*.tif"))[-1]
    change = sorted((scene / "truth").glob("change_*.tif"))[0]
    report = tmp_path / "report"
    printed = mccgan("evaluate", "--pred", f"MCcGAN={fused}", "--truth", str(truth), "--ref",
                     str(training_scene["pair_I"]), "--region", f"changed={change}", "--region",
                     f"clouds={training_scene['pair_II']}:!valid", "-o", str(report))  # fmt: skip
    assert "| B8 | SSIM |" in printed and "### changed" in printed and "### clouds" in printed
    document = json.loads((report / "metrics.json").read_text())
    assert set(document["scores"]) == {"all", "changed", "clouds"}
    assert document["scores"]["all"]["MCcGAN"]["B4"]["rmse"] > 0
    assert {p.name for p in report.iterdir()} >= {
        "metrics.json",
        "metrics.csv",
        "metrics.md",
        "quicklook_rgb.png",
    }
    dataset = tmp_path / "dataset"
    subprocess.run([sys.executable, "-m", "sen_preproc", "split", "--ref", str(training_scene["pair_I"]),
                    "--target", str(training_scene["pair_II"]), "-o", str(dataset), "--size", "64", "--stride",
                    "64", "--split", "rows:0.5,0.2,0.3", "--max-invalid", "0.5", "-q"], check=True)  # fmt: skip
    patches = tmp_path / "patches"
    mccgan(
        "evaluate",
        "--patches",
        str(dataset),
        "--model",
        str(run / "model.pt"),
        "-o",
        str(patches),
        "-q",
    )
    document = json.loads((patches / "metrics.json").read_text())
    assert document["inputs"]["split"] == "test" and document["inputs"]["samples"] > 0


def test_uncertainty_bands_are_correlated_with_the_error(tmp_path: Path) -> None:
    """A prediction with ``std_<band>`` bands (mccgan fuse --mc-dropout): r(std, |error|) per band."""
    s = _scene(tmp_path)
    error = np.abs(s["pred"] - s["truth"])
    rng = np.random.default_rng(2)
    noisy = error + rng.uniform(0, 1, error.shape) * error.mean()
    names = (*BANDS, "valid", *(f"std_{b}" for b in BANDS))
    both = np.concatenate([s["pred"], np.ones((1, *error.shape[1:])), noisy])
    pred = _write(tmp_path / "mc.tif", both, names, dtype="float32", nodata=None)
    report = evaluate(EvaluateConfig(out=tmp_path / "r", preds=(("mc", pred),), truth=s["files"]["truth"],
                                     figures=False, block_rows=16))  # fmt: skip
    ok = s["valid"]
    for k, band in enumerate(BANDS):
        expected = np.corrcoef(noisy[k][ok], error[k][ok])[0, 1]
        got = report.uncertainty["mc"][band]["r_std_abs_error"]
        assert got == pytest.approx(expected, abs=1e-9) and 0.5 < got < 1
    assert "r(std, |error|)" in (tmp_path / "r" / "metrics.md").read_text()
