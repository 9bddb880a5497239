"""``mccgan fuse``: tiling and blending, georeference, resampling of the target S1, gap filling,
MC dropout, output coding and bad inputs - with stand-in models whose output is known."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from click.testing import CliRunner
from pair_files import write_tagged_pair
from rasterio.warp import Resampling, reproject
from torch import nn

from mccgan import registry
from mccgan.cli import cli
from mccgan.errors import ConfigError, DataError, MccganError
from mccgan.fusion.fuse import FuseConfig, fuse_scene
from mccgan.fusion.gapfill import fill_gaps
from mccgan.fusion.tiling import blend_window, effective_receptive_field, tile_starts
from mccgan.networks import UNetGenerator
from mccgan.registry import ModelSpec
from mccgan.training.export import export_model
from sen_preproc.errors import SenPrepError

BANDS = ["B2", "B3", "B4", "B8"]
INPUTS = ["I_VV", "I_VH", "II_VV", "II_VH", *(f"I_{b}" for b in BANDS)]
NORMALISATION = {
    "inputs": [["I_VV", -25.0, 5.0], ["I_VH", -32.5, 5.0], ["II_VV", -25.0, 5.0],
               ["II_VH", -32.5, 5.0], *([f"I_{b}", 0.0, 10000.0] for b in BANDS)],
    "target": [[f"II_{b}", 0.0, 10000.0] for b in BANDS],
    "s1_unit": "db",
    "s2_unit": "reflectance_x10000",
}  # fmt: skip


class PickChannels(nn.Module):
    """Output channel k = input channel ``channels[k]`` (after optional dropout)."""

    def __init__(self, channels: list[int], dropout: float = -1.0) -> None:
        super().__init__()
        self.channels = channels
        self.scale = nn.Parameter(torch.ones(1))  # something for the state dict
        self.dropout = nn.Dropout(dropout) if dropout >= 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x[:, self.channels] * self.scale
        return self.dropout(y) if self.dropout is not None else y


def _build_pick(*, channels: list[int], dropout: float = -1.0, **_: Any) -> nn.Module:
    return PickChannels(channels, dropout)


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``make(channels, dropout)`` -> a model.pt whose generator copies input channels."""
    spec = ModelSpec("standin", ("s1_I", "s1_II", "s2_I"), "s2_II", "multi", False, _build_pick,
                     None, "test stand-in")  # fmt: skip
    monkeypatch.setitem(registry.MODELS, "standin", spec)

    def make(channels: list[int], dropout: float = -1.0, name: str = "standin.pt",
             bands: list[str] | None = None, patch_px: int = 64) -> Path:  # fmt: skip
        options = {"channels": channels, "dropout": dropout}
        target = bands or BANDS
        norm = dict(NORMALISATION, target=[[f"II_{b}", 0.0, 10000.0] for b in target])
        return export_model(tmp_path / name, PickChannels(channels, dropout), model="standin",
                            generator_options=options, bands={"inputs": INPUTS, "target": target},
                            normalisation=norm, config={}, patch_px=patch_px)  # fmt: skip

    return make


def _read(path: Path) -> tuple[np.ndarray, tuple[str, ...], dict[str, str], Any]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.descriptions, ds.tags(), ds.profile


@pytest.mark.parametrize("size", [150, 64, 41])
def test_copy_model_reproduces_the_band_exactly(tmp_path: Path, standin: Any, size: int) -> None:
    """Output band k = S2 I band k, bit for bit, for sizes that are not multiples of the tile."""
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000", size=size)
    target = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000", size=size)
    model = standin([4, 5, 6, 7])
    out = tmp_path / "fused.tif"
    result = fuse_scene(FuseConfig(model=model, ref=ref, target_s1=target, out=out, batch_size=3))
    data, names, tags, profile = _read(out)
    truth, *_ = _read(ref)
    assert names == ("B2", "B3", "B4", "B8", "valid")
    assert profile["dtype"] == "uint16" and profile["nodata"] == 0
    with rasterio.open(ref) as ds:
        assert profile["transform"] == ds.transform and profile["crs"] == ds.crs
        assert (profile["width"], profile["height"]) == (ds.width, ds.height)
    usable = (truth[6] == 1) & np.isfinite(truth[:6]).all(axis=0)
    assert np.array_equal(data[4] == 1, usable)
    np.testing.assert_array_equal(data[:4][:, usable], truth[2:6][:, usable].astype(np.uint16))
    assert (data[:4][:, ~usable] == 0).all()
    if size > 64:
        assert result.tiles > 1
    assert tags["MODEL"] == "standin" and len(tags["MODEL_CHECKSUM"]) == 64
    assert float(tags["TIME_GAP_DAYS"]) == pytest.approx(
        10.0 - 5 / 24, abs=1e-3
    )  # 04-05 10:00 -> 04-15 05:00
    assert tags["REFERENCE_S2_TIME"].startswith("2023-04-05") and tags["TARGET_S1_TIME"].startswith(
        "2023-04-15"
    )


def test_blending_leaves_no_seam(tmp_path: Path, standin: Any) -> None:
    """A smooth input stays smooth across tile edges: the blended output of a model whose
    output carries a tile-position artefact is continuous (no step at any tile edge)."""
    window = blend_window(64, 16)
    assert window.min() == pytest.approx(1e-3, rel=0.5) or window.min() > 1e-3
    assert (np.diff(window[:16]) > 0).all() and (window[16:48] == 1).all()
    starts = tile_starts(150, 64, 16)
    assert starts[0] == 0 and starts[-1] == 150 - 64
    assert all(b - a <= 64 - 16 for a, b in itertools.pairwise(starts))
    assert tile_starts(64, 64, 16) == [0] and tile_starts(30, 64, 16) == [0]
    # the weights of overlapping tiles sum to a smooth, positive function
    total = np.zeros(150)
    for s in starts:
        total[s : s + 64] += window
    assert total[16:-16].min() > 0.5 and total.min() > 0


def test_effective_receptive_field_of_a_unet() -> None:
    generator = UNetGenerator(3, 1, ngf=4, depth=5, norm="batch", dropout=False)
    erf = effective_receptive_field(generator, 3, 64)
    assert 2 <= erf <= 32
    assert effective_receptive_field(PickChannels([0]), 3, 32) == 0


def test_target_s1_on_another_grid_is_resampled(tmp_path: Path, standin: Any) -> None:
    """A target S1 on a coarser, shifted grid reaches the model bilinearly resampled in linear
    power: the stand-in copies II_VV (dB) into its output, compared with rasterio's reproject."""
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000", size=96)
    s1 = tmp_path / "s1_II.tif"
    rng = np.random.default_rng(3)
    vv_db = -12 + 3 * np.sin(np.arange(40)[None] / 5.0) + rng.normal(0, 0.5, (40, 40))
    data = np.stack([vv_db, vv_db - 7]).astype(np.float32)
    transform = Affine(25, 0, 299_987, 0, -25, 4_650_013)
    with rasterio.open(s1, "w", driver="GTiff", width=40, height=40, count=2, dtype="float32",
                       crs="EPSG:32633", transform=transform, nodata=np.nan) as ds:  # fmt: skip
        ds.write(data)
        ds.set_band_description(1, "VV")
        ds.set_band_description(2, "VH")
        ds.update_tags(SCALE="db", ACQUISITION_START="2023-04-20T05:00:00Z")
    model = standin([2, 2, 2, 2])  # every output band = II_VV
    out = tmp_path / "fused.tif"
    fuse_scene(FuseConfig(model=model, ref=ref, target_s1=s1, out=out, dtype="float32"))
    fused, *_ = _read(out)
    with rasterio.open(ref) as ds:
        expected = np.full((96, 96), np.nan, np.float32)
        reproject((10 ** (vv_db / 10)).astype(np.float32), expected, src_transform=transform,
                  src_crs=ds.crs, dst_transform=ds.transform, dst_crs=ds.crs,
                  resampling=Resampling.bilinear, src_nodata=np.nan, dst_nodata=np.nan)  # fmt: skip
    expected_db = 10 * np.log10(expected)
    # model unit: II_VV normalised over [-25, 5] dB, written as target B* over [0, 10000]
    as_output = (np.clip(expected_db, -25, 5) + 25) / 30 * 10000 / 10000
    compare = (fused[4] == 1) & np.isfinite(expected)
    assert compare.sum() > 0.9 * 96 * 96 - 64
    np.testing.assert_allclose(fused[0][compare], as_output[compare], atol=2e-6)


def test_gap_filling_keeps_clear_pixels_bit_exact(tmp_path: Path, standin: Any) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000", size=80)
    target = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000", size=80)
    cloudy = tmp_path / "s2_II.tif"
    with rasterio.open(target) as src:
        profile = src.profile
        data = src.read()
        tags = src.tags()
    rr, cc = np.indices((80, 80))
    cloud = (rr - 40) ** 2 + (cc - 30) ** 2 < 15**2
    s2 = np.round(np.nan_to_num(data[2:6])).astype(np.uint16)
    valid = np.where(cloud, 0, 1).astype(np.uint16)
    profile.update(dtype="uint16", nodata=0, count=5)
    with rasterio.open(cloudy, "w", **profile) as ds:
        ds.write(np.concatenate([s2, valid[None]]))
        for i, name in enumerate([*BANDS, "valid"], start=1):
            ds.set_band_description(i, name)
        ds.update_tags(REFLECTANCE_SCALE="10000", SENSING_TIME=tags["S2_SENSING_TIME"])
    model = standin([4, 5, 6, 7])
    out = tmp_path / "filled.tif"
    result = fuse_scene(FuseConfig(model=model, ref=ref, target_s1=target, target_s2=cloudy, out=out,
                                   feather_px=4))  # fmt: skip
    fused, names, tags_out, _ = _read(out)
    assert names == ("B2", "B3", "B4", "B8", "valid", "filled")
    clear = ~cloud & np.isfinite(data[:6]).all(axis=0)
    clear &= (s2 > 0).all(axis=0)
    np.testing.assert_array_equal(fused[:4][:, clear], s2[:, clear])  # bit-exact
    assert (fused[5][cloud] == 1).all() and (fused[5][clear] == 0).all()
    assert result.filled_fraction == pytest.approx(float(tags_out["GAP_FILLED_FRACTION"]), abs=1e-4)
    # deep inside the cloud (beyond the feather) the prediction (= S2 I) is used as it is
    with rasterio.open(ref) as ds:
        s2_ref = ds.read()[2:6]
    deep = (rr - 40) ** 2 + (cc - 30) ** 2 < 9**2
    np.testing.assert_array_equal(fused[:4][:, deep], s2_ref[:, deep].astype(np.uint16))


def test_fill_gaps_feathers_the_cloud_edge() -> None:
    real = np.full((1, 1, 12), 100.0, np.float32)
    pred = np.full((1, 1, 12), 40.0, np.float32)
    clear = np.zeros((1, 12), bool)
    clear[0, :4] = True
    out = fill_gaps(real, clear, pred, feather_px=4)
    # distance to the nearest clear pixel 1, 2, 3, 4, ... -> weight 3/4, 1/2, 1/4, 0
    expected = [
        100,
        100,
        100,
        100,
        40 + 60 * 0.75,
        40 + 60 * 0.5,
        40 + 60 * 0.25,
        40,
        40,
        40,
        40,
        40,
    ]
    np.testing.assert_allclose(out[0, 0], expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(fill_gaps(real, clear, pred, 0)[0, 0, 4:], 40)


def test_mc_dropout_writes_std_bands(tmp_path: Path, standin: Any) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000", size=70)
    target = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000", size=70)
    torch.manual_seed(0)
    noisy = standin([4, 5, 6, 7], dropout=0.5, name="noisy.pt")
    out = tmp_path / "mc.tif"
    fuse_scene(
        FuseConfig(model=noisy, ref=ref, target_s1=target, out=out, mc_dropout=8, dtype="float32")
    )
    data, names, tags, _ = _read(out)
    assert names == ("B2", "B3", "B4", "B8", "valid", "std_B2", "std_B3", "std_B4", "std_B8")
    ok = data[4] == 1
    assert (data[5:][:, ok] > 0).mean() > 0.9
    assert "8 passes" in tags["TILING"]
    # dropout present but p = 0: the passes agree, the std is exactly zero
    calm = standin([4, 5, 6, 7], dropout=0.0, name="calm.pt")
    fuse_scene(FuseConfig(model=calm, ref=ref, target_s1=target, out=out, mc_dropout=4, overwrite=True,
                          dtype="float32"))  # fmt: skip
    data, *_ = _read(out)
    assert (data[5:][:, data[4] == 1] == 0).all()
    fuse_scene(
        FuseConfig(model=calm, ref=ref, target_s1=target, out=out, mc_dropout=4, overwrite=True)
    )
    data, *_ = _read(out)  # uint16: a zero standard deviation stays 0 (reflectances start at 1)
    assert data.dtype == np.uint16 and (data[5:][:, data[4] == 1] == 0).all()
    with pytest.raises(ConfigError, match="no dropout layers"):
        fuse_scene(FuseConfig(model=standin([4, 5, 6, 7], name="plain.pt"), ref=ref, target_s1=target,
                              out=tmp_path / "x.tif", mc_dropout=4))  # fmt: skip
    assert not (tmp_path / "x.tif").exists()


def _rewrite(source: Path, path: Path, *, transform: Affine | None = None, bands: list[int] | None = None,
             names: tuple[str, ...] | None = None) -> Path:  # fmt: skip
    """A copy of ``source`` moved to ``transform`` and/or cut to ``bands`` (0-based) named ``names``."""
    with rasterio.open(source) as src:
        profile, data, tags, descriptions = src.profile, src.read(), src.tags(), src.descriptions
    if bands is not None:
        data = data[bands]
        descriptions = names or tuple(descriptions[b] for b in bands)
    profile.update(count=data.shape[0], transform=transform or profile["transform"])
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        ds.descriptions = descriptions
        ds.update_tags(**tags)
    return path


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("case", ["layout", "no_overlap", "no_vh", "gap_grid", "s2_as_s1"])
def test_bad_inputs_one_line_nothing_written(tmp_path: Path, standin: Any, case: str) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000", size=64)
    target = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000", size=64)
    model = standin([4, 5, 6, 7])
    kwargs: dict[str, Any] = {"model": model, "ref": ref, "target_s1": target}
    expect = ""
    if case == "layout":
        kwargs["model"] = standin([4, 5, 6], bands=["B2", "B3", "B5"], name="other.pt")
        expect = "no B5"
    elif case == "no_overlap":
        kwargs["target_s1"] = _rewrite(
            target, tmp_path / "far.tif", transform=Affine(10, 0, 500000, 0, -10, 4650000)
        )
        expect = "covers 0 %"
    elif case == "no_vh":
        kwargs["target_s1"] = _rewrite(target, tmp_path / "vv.tif", bands=[0], names=("VV",))
        expect = "no VH band"
    elif case == "gap_grid":
        transform = Affine(10, 0, 300050, 0, -10, 4650000)
        kwargs["target_s2"] = _rewrite(target, tmp_path / "shifted.tif", transform=transform)
        expect = "not on the reference grid"
    elif case == "s2_as_s1":
        kwargs["target_s1"] = _rewrite(
            target, tmp_path / "s2.tif", bands=[2, 3, 4, 5], names=tuple(BANDS)
        )
        expect = "--target-s1 needs S1"
    before = _listing(tmp_path)
    out = tmp_path / "fused.tif"
    with pytest.raises(MccganError, match=expect) as info:
        fuse_scene(FuseConfig(out=out, **kwargs))
    assert "\n" not in str(info.value)
    assert _listing(tmp_path) == before
    # the CLI: one line, exit 1, nothing written
    args = ["fuse", "--model", str(kwargs["model"]), "--ref", str(ref), "--target-s1", str(kwargs["target_s1"]),
            "-o", str(out), "-q"]  # fmt: skip
    if "target_s2" in kwargs:
        args += ["--target-s2", str(kwargs["target_s2"])]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 1, run.output
    assert run.output.count("\n") == 1 and run.output.startswith("Error: ")
    assert _listing(tmp_path) == before


def test_output_safety_and_options(tmp_path: Path, standin: Any) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000", size=48)
    target = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000", size=48)
    model = standin([4, 5, 6, 7])
    with pytest.raises((MccganError, SenPrepError), match="input"):
        fuse_scene(FuseConfig(model=model, ref=ref, target_s1=target, out=ref, overwrite=True))
    foreign = tmp_path / "user.tif"
    foreign.write_bytes(b"not ours")
    with pytest.raises((MccganError, SenPrepError)):
        fuse_scene(FuseConfig(model=model, ref=ref, target_s1=target, out=foreign, overwrite=True))
    assert foreign.read_bytes() == b"not ours"
    for bad in (FuseConfig(model=model, ref=ref, target_s1=target, out=tmp_path / "o.tif", batch_size=0),
                FuseConfig(model=model, ref=ref, target_s1=target, out=tmp_path / "o.tif", mc_dropout=1),
                FuseConfig(model=model, target_s1=target, out=tmp_path / "o.tif")):  # fmt: skip
        with pytest.raises((ConfigError, DataError)):
            fuse_scene(bad)
    # --s1-ref/--s2-ref and float32 output: values 0-1 reflectance like senprep s2 --dtype float32
    out = tmp_path / "sep.tif"
    run = CliRunner().invoke(cli, ["fuse", "--model", str(model), "--s1-ref", str(ref), "--s2-ref", str(ref),
                                   "--target-s1", str(target), "-o", str(out), "--dtype", "float32", "-q"])  # fmt: skip
    assert run.exit_code == 0, run.output
    data, _, tags, profile = _read(out)
    truth, *_ = _read(ref)
    assert profile["dtype"] == "float32" and tags["REFLECTANCE_SCALE"] == "1"
    ok = data[4] == 1
    np.testing.assert_allclose(data[:4][:, ok], truth[2:6][:, ok] / 10000, rtol=0, atol=1e-6)
    assert np.isnan(data[:4][:, ~ok]).all()
    # replacing our own output is allowed with --overwrite only
    run = CliRunner().invoke(cli, ["fuse", "--model", str(model), "--ref", str(ref), "--target-s1", str(target),
                                   "-o", str(out), "-q"])  # fmt: skip
    assert run.exit_code == 1 and "--overwrite" in run.output


def test_residual_generator_maps_s2_i_onto_the_target_scale() -> None:
    """``--residual``: output = S2 I (re-normalised to the target's range) + the network; with a
    network that outputs 0 the S2 I reflectances come back, for differing input/target ranges."""
    from mccgan.data import BandRange, Normalisation
    from mccgan.networks import ResidualGenerator
    from mccgan.training.module import residual_options

    s1 = [BandRange(n, lo, hi) for n, lo, hi in NORMALISATION["inputs"][:4]]
    inputs = (*s1, BandRange("I_B2", 0.0, 10000.0), BandRange("I_B8", 500.0, 8000.0))
    target = (BandRange("II_B2", 0.0, 5000.0), BandRange("II_B8", 0.0, 10000.0))
    norm = Normalisation(inputs, target, "db", "reflectance_x10000")
    options = residual_options(registry.MODELS["mccgan"], norm, 6, 2)
    assert options["channels"] == [4, 5]

    class Zero(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape[0], 2, *x.shape[2:])

    generator = ResidualGenerator(Zero(), options["channels"], options["scale"], options["offset"])
    reflectance = torch.tensor([[1000.0, 2500.0], [3000.0, 7000.0]])  # B2, B8 of two pixels
    x = torch.zeros(1, 6, 1, 2)
    for k, band in enumerate(inputs[4:]):
        x[0, 4 + k, 0] = (reflectance[k] - band.low) / (band.high - band.low) * 2 - 1
    y = generator(x)
    back = torch.stack(
        [(y[0, k, 0] + 1) / 2 * (b.high - b.low) + b.low for k, b in enumerate(target)]
    )
    torch.testing.assert_close(back, reflectance, rtol=0, atol=1e-3)
    # a value beyond the target's range is clamped to it (1.0 = 5000 for B2)
    x[0, 4, 0, 0] = 1.0  # 10000 in the input range
    assert generator(x)[0, 0, 0, 0].item() == 1.0
