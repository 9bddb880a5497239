"""Tests of mccgan.evaluation.metrics: formulas by hand, SSIM vs scikit-image, blockwise == whole."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

from mccgan.errors import DataError
from mccgan.evaluation import metrics
from mccgan.evaluation.metrics import HALO_PX, Score, score_scene

F32 = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]
Result = dict[str, dict[str, dict[str, dict[str, Score]]]]
ReadBlock = Callable[[int, int], tuple[F32, dict[str, F32], dict[str, Mask]]]


class Reader:
    """read_block over in-memory arrays; records the requested row ranges."""

    def __init__(self, truth: F32, preds: dict[str, F32], masks: dict[str, Mask]) -> None:
        self.truth, self.preds, self.masks = truth, preds, masks
        self.requests: list[tuple[int, int]] = []

    def __call__(self, start: int, stop: int) -> tuple[F32, dict[str, F32], dict[str, Mask]]:
        self.requests.append((start, stop))
        return (
            self.truth[:, start:stop].copy(),
            {k: v[:, start:stop].copy() for k, v in self.preds.items()},
            {k: v[start:stop].copy() for k, v in self.masks.items()},
        )


def score(
    truth: npt.ArrayLike,
    pred: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    data_range: float = 1.0,
    ndvi_bands: tuple[int, int] | None = None,
    block_rows: int = 1024,
    bands: list[str] | None = None,
) -> Result:
    t = np.asarray(truth, np.float32)
    t = t[None] if t.ndim == 2 else t
    p = np.asarray(pred, np.float32).reshape(t.shape)
    m = np.ones(t.shape[1:], bool) if mask is None else np.asarray(mask, bool)
    names = bands or [f"b{i}" for i in range(t.shape[0])]
    reader = Reader(t, {"pred": p}, {"all": m})
    return score_scene(reader, t.shape[1], t.shape[2], names, data_range, ndvi_bands, block_rows)


def values(result: Result) -> dict[tuple[str, ...], float | None]:
    return {
        (region, label, band, metric): s.value
        for region, by_label in result.items()
        for label, by_band in by_label.items()
        for band, by_metric in by_band.items()
        for metric, s in by_metric.items()
    }


def scene(
    rng: np.random.Generator, bands: int, height: int, width: int, scale: float = 1000.0
) -> tuple[F32, F32]:
    """A smooth-ish positive truth and a noisy prediction of it, float32."""
    base = ndimage.gaussian_filter(rng.random((bands, height, width)), (0, 3, 3))
    truth = (scale * (0.2 + base + 0.3 * rng.random((bands, height, width)))).astype(np.float32)
    pred = (truth + rng.normal(0, 0.05 * scale, truth.shape)).astype(np.float32)
    return truth, pred


# -- identical images, hand-computed formulas ------------------------------------------------


def test_identical_images_score_perfectly() -> None:
    truth, _ = scene(np.random.default_rng(0), 3, 30, 40)
    result = score(truth, truth.copy(), data_range=1000.0, ndvi_bands=(0, 1))["all"]["pred"]
    for band in ("b0", "b1", "b2", "NDVI"):
        got = {k: s.value for k, s in result[band].items()}
        assert got["n"] == 1200.0
        assert got["rmse"] == 0.0 and got["mae"] == 0.0 and got["bias"] == 0.0
        assert got["r2"] == 1.0 and got["r"] == 1.0 and got["kge"] == 1.0
        assert got["ssim"] == 1.0
        assert got["psnr"] == math.inf
    assert result["all"]["sam_rad"].value == 0.0
    assert result["all"]["sam_deg"].value == 0.0
    assert result["all"]["rmse"].value == 0.0


def test_band_metrics_by_hand_proportional_prediction() -> None:
    # truth 1..4, prediction 2 x truth: errors 1, 2, 3, 4
    result = score([[1, 2], [3, 4]], [[2, 4], [6, 8]], data_range=10.0)["all"]["pred"]["b0"]
    got = {k: s.value for k, s in result.items()}
    assert got["n"] == 4.0
    assert got["bias"] == pytest.approx((1 + 2 + 3 + 4) / 4, rel=1e-12)
    assert got["mae"] == pytest.approx((1 + 2 + 3 + 4) / 4, rel=1e-12)
    mse = (1 + 4 + 9 + 16) / 4
    assert got["rmse"] == pytest.approx(math.sqrt(mse), rel=1e-12)
    ss_tot = 1.5**2 + 0.5**2 + 0.5**2 + 1.5**2  # truth mean 2.5
    assert got["r2"] == pytest.approx(1 - (1 + 4 + 9 + 16) / ss_tot, rel=1e-12)  # -5: not r^2
    assert got["r"] == pytest.approx(1.0, rel=1e-12)
    # alpha = std p / std t = 2, beta = mean p / mean t = 5 / 2.5 = 2
    assert got["kge"] == pytest.approx(1 - math.sqrt(0 + 1 + 1), rel=1e-12)
    assert got["psnr"] == pytest.approx(10 * math.log10(10.0**2 / mse), rel=1e-12)
    assert got["ssim"] is None and "smaller than the 11 x 11" in result["ssim"].note


def test_band_metrics_by_hand_permuted_prediction() -> None:
    # truth 1, 2, 3, 4; prediction 1, 3, 2, 4: same mean and std, errors 0, 1, -1, 0
    result = score([[1, 2, 3, 4]], [[1, 3, 2, 4]], data_range=4.0)["all"]["pred"]["b0"]
    got = {k: s.value for k, s in result.items()}
    assert got["bias"] == 0.0
    assert got["mae"] == pytest.approx(2 / 4, rel=1e-12)
    assert got["rmse"] == pytest.approx(math.sqrt(2 / 4), rel=1e-12)
    # deviations from 2.5: t (-1.5, -0.5, 0.5, 1.5), p (-1.5, 0.5, -0.5, 1.5)
    cov = 2.25 - 0.25 - 0.25 + 2.25
    var = 2.25 + 0.25 + 0.25 + 2.25
    assert got["r"] == pytest.approx(cov / var, rel=1e-12)  # 0.8
    assert got["r2"] == pytest.approx(1 - 2 / var, rel=1e-12)  # 0.6
    assert got["kge"] == pytest.approx(1 - abs(cov / var - 1), rel=1e-12)  # alpha = beta = 1
    assert got["psnr"] == pytest.approx(10 * math.log10(16 / 0.5), rel=1e-12)


def test_band_metrics_by_hand_offset_prediction() -> None:
    # prediction = truth + 1: r = 1, alpha = 1, beta = 3.5 / 2.5 = 1.4
    result = score([[1, 2, 3, 4]], [[2, 3, 4, 5]], data_range=4.0)["all"]["pred"]["b0"]
    got = {k: s.value for k, s in result.items()}
    assert got["bias"] == 1.0 and got["mae"] == 1.0 and got["rmse"] == 1.0
    assert got["r"] == pytest.approx(1.0, rel=1e-12)
    assert got["kge"] == pytest.approx(1 - math.sqrt((3.5 / 2.5 - 1) ** 2), rel=1e-12)  # 0.6
    assert got["r2"] == pytest.approx(1 - 4 / 5, rel=1e-12)


def test_spectral_angle_by_hand() -> None:
    # pixels (band 0, band 1): t (0, 1) vs p (1, 0): 90 deg; t (1, 0) vs p (1, 1): 45 deg;
    # t (0, 0) vs p (1, 1): zero truth spectrum, left out of SAM
    truth = np.array([[[0, 1, 0]], [[1, 0, 0]]])
    pred = np.array([[[1, 1, 1]], [[0, 1, 1]]])
    result = score(truth, pred)["all"]["pred"]["all"]
    assert result["sam_deg"].value == pytest.approx((90 + 45) / 2, rel=1e-12)
    assert result["sam_rad"].value == pytest.approx((math.pi / 2 + math.pi / 4) / 2, rel=1e-12)
    # rmse over both bands' 3 pixels: errors 1, 0, 1 and -1, 1, 1
    assert result["rmse"].value == pytest.approx(math.sqrt(5 / 6), rel=1e-12)


def test_spectral_angle_undefined_when_every_spectrum_is_zero() -> None:
    result = score(np.zeros((2, 1, 3)), np.ones((2, 1, 3)))["all"]["pred"]["all"]
    assert result["sam_rad"].value is None and result["sam_deg"].value is None
    assert "zero spectrum" in result["sam_rad"].note


def test_ndvi_by_hand() -> None:
    # bands (red, nir); NIR + Red = 0 in the prediction (third pixel) or the truth (fourth):
    # left out of NDVI
    truth = np.array([[[0.1, 0.2, 0.3, 0.0]], [[0.5, 0.6, 0.3, 0.0]]])
    pred = np.array([[[0.1, 0.3, 0.0, 0.1]], [[0.3, 0.5, 0.0, 0.2]]])
    result = score(truth, pred, ndvi_bands=(0, 1), bands=["B4", "B8"])["all"]["pred"]["NDVI"]
    nd_t = [(0.5 - 0.1) / (0.5 + 0.1), (0.6 - 0.2) / (0.6 + 0.2)]  # 2/3, 1/2
    nd_p = [(0.3 - 0.1) / (0.3 + 0.1), (0.5 - 0.3) / (0.5 + 0.3)]  # 1/2, 1/4
    err = [nd_p[0] - nd_t[0], nd_p[1] - nd_t[1]]
    mse = (err[0] ** 2 + err[1] ** 2) / 2
    assert result["n"].value == 2.0
    assert result["bias"].value == pytest.approx((err[0] + err[1]) / 2, rel=1e-6)
    assert result["rmse"].value == pytest.approx(math.sqrt(mse), rel=1e-6)
    assert result["psnr"].value == pytest.approx(10 * math.log10(2.0**2 / mse), rel=1e-6)
    assert result["r"].value == pytest.approx(1.0, rel=1e-9)  # two points
    assert result["r2"].value == pytest.approx(
        1 - (err[0] ** 2 + err[1] ** 2) / (2 * ((nd_t[0] - nd_t[1]) / 2) ** 2), rel=1e-6
    )


# -- SSIM --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 80), (37, 53)])
@pytest.mark.parametrize("data_range", [1.0, 255.0, 10000.0])
def test_ssim_equals_skimage(shape: tuple[int, int], data_range: float) -> None:
    truth, pred = scene(np.random.default_rng(int(data_range)), 2, *shape, scale=data_range / 2)
    result = score(truth, pred, data_range=data_range, block_rows=16)["all"]["pred"]
    for b in range(2):
        expected = structural_similarity(
            truth[b].astype(np.float64),
            pred[b].astype(np.float64),
            data_range=data_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        got = result[f"b{b}"]["ssim"].value
        assert got is not None and abs(got - expected) < 1e-10
        assert 0.2 < got < 0.999  # not a degenerate case


def test_ssim_with_mask_equals_manual_computation() -> None:
    rng = np.random.default_rng(3)
    truth, pred = scene(rng, 1, 60, 70)
    mask = np.ones((60, 70), bool)
    mask[20:30, 10:25] = False
    mask[45, 50] = False
    mask[rng.random(mask.shape) < 0.002] = False
    _, ssim_map = structural_similarity(
        truth[0].astype(np.float64),
        pred[0].astype(np.float64),
        data_range=1000.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    eroded = ndimage.binary_erosion(mask, np.ones((11, 11), bool), border_value=0)
    inner = np.zeros_like(mask)
    inner[5:-5, 5:-5] = True
    expected = ssim_map[eroded & inner].mean()
    got = score(truth, pred, mask, data_range=1000.0, block_rows=9)["all"]["pred"]["b0"]
    assert got["ssim"].value == pytest.approx(expected, abs=1e-12)
    assert got["n"].value == float(mask.sum())


def test_ssim_undefined_without_a_full_window() -> None:
    truth, pred = scene(np.random.default_rng(4), 1, 40, 40)
    mask = np.zeros((40, 40), bool)
    mask[:, ::10] = True  # columns 10 px apart: no 11 x 11 window fully valid
    got = score(truth, pred, mask)["all"]["pred"]["b0"]
    assert got["ssim"].value is None
    assert "window" in got["ssim"].note
    assert got["rmse"].value is not None and got["n"].value == 160.0


# -- blockwise == whole, masks, stability --------------------------------------------------


def test_blockwise_equals_whole_image_and_reads_halos() -> None:
    rng = np.random.default_rng(5)
    truth, pred = scene(rng, 3, 53, 61)
    holes = np.ones((53, 61), bool)
    holes[10:18, 20:40] = False
    holes[rng.random(holes.shape) < 0.01] = False
    masks = {"all": np.ones((53, 61), bool), "holes": holes}
    results = {}
    for block_rows in (7, 16, 1024):
        reader = Reader(truth, {"a": pred, "b": truth * 0.9}, masks)
        results[block_rows] = values(
            score_scene(reader, 53, 61, ["x", "y", "z"], 1000.0, (0, 2), block_rows)
        )
        assert all(stop - start <= block_rows + 2 * HALO_PX for start, stop in reader.requests)
        starts = list(range(0, 53, block_rows))
        assert reader.requests == [
            (max(0, s - HALO_PX), min(53, s + block_rows + HALO_PX)) for s in starts
        ]
    whole = results[1024]
    assert whole["holes", "a", "x", "ssim"] != whole["all", "a", "x", "ssim"]
    for block_rows in (7, 16):
        assert results[block_rows].keys() == whole.keys()
        for key, value in whole.items():
            assert value is not None, key
            assert results[block_rows][key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_moments_merged_by_chunks_equal_whole() -> None:
    rng = np.random.default_rng(16)
    t = 5000 + rng.normal(0, 2, 10000)
    p = t + rng.normal(1, 1, 10000)
    merged = metrics.Moments()
    for lo, hi in [(0, 1), (1, 1), (1, 3000), (3000, 3001), (3001, 10000)]:
        merged.merge(metrics.Moments.of(t[lo:hi], p[lo:hi]))
    whole = metrics.Moments.of(t, p)
    assert merged.n == whole.n == 10000
    for name in ("mean_t", "mean_p", "m2_t", "m2_p", "c_pt", "sum_err", "sum_sq", "sum_abs"):
        assert getattr(merged, name) == pytest.approx(getattr(whole, name), rel=1e-12), name
    assert (merged.min_t, merged.max_p) == (t.min(), p.max())


def test_result_does_not_depend_on_the_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    truth, pred = scene(np.random.default_rng(6), 2, 40, 1100)
    threaded = values(score(truth, pred, data_range=1000.0, block_rows=20))
    monkeypatch.setattr(metrics, "_MAX_WORKERS", 1)
    assert values(score(truth, pred, data_range=1000.0, block_rows=20)) == threaded


def test_masked_out_pixels_do_not_matter() -> None:
    rng = np.random.default_rng(7)
    truth, pred = scene(rng, 3, 45, 50)
    mask = rng.random((45, 50)) > 0.003
    mask[5:15, 5:20] = False
    clean = values(score(truth, pred, mask, 1000.0, (0, 1), block_rows=10))
    dirty_t, dirty_p = truth.copy(), pred.copy()
    dirty_t[:, ~mask] = 1e9
    dirty_p[:, ~mask] = np.nan
    dirty_p[1, 10, :][~mask[10]] = -np.inf
    dirty = values(score(dirty_t, dirty_p, mask, 1000.0, (0, 1), block_rows=10))
    assert dirty == clean
    assert all(v is not None and math.isfinite(v) for v in clean.values())


def test_windowed_r2_is_numerically_stable_for_large_offsets() -> None:
    rng = np.random.default_rng(8)
    shape = (1, 1000, 1200)
    truth = (10000 + rng.normal(0, 0.5, shape)).astype(np.float32)
    pred = (truth + rng.normal(0.05, 0.3, shape)).astype(np.float32)
    got = score(truth, pred, data_range=10000.0, block_rows=16)["all"]["pred"]["b0"]
    t, p = truth.astype(np.float64).ravel(), pred.astype(np.float64).ravel()
    dt, dp = t - t.mean(), p - p.mean()
    r2 = 1 - np.sum((p - t) ** 2) / np.sum(dt**2)
    r = np.sum(dt * dp) / math.sqrt(np.sum(dt**2) * np.sum(dp**2))
    assert 0.3 < r2 < 0.9
    assert got["r2"].value == pytest.approx(r2, rel=1e-9)
    assert got["r"].value == pytest.approx(r, rel=1e-9)
    assert got["bias"].value == pytest.approx(np.mean(p - t), rel=1e-9)
    alpha, beta = math.sqrt(np.sum(dp**2) / np.sum(dt**2)), p.mean() / t.mean()
    kge = 1 - math.sqrt((r - 1) ** 2 + (alpha - 1) ** 2 + (beta - 1) ** 2)
    assert got["kge"].value == pytest.approx(kge, rel=1e-9)


# -- undefined values and errors -----------------------------------------------------------


def test_constant_truth_makes_r2_r_kge_undefined() -> None:
    pred = np.random.default_rng(9).normal(1234, 10, (1, 20, 20))
    got = score(np.full((1, 20, 20), 1234.0), pred, data_range=10000.0)["all"]["pred"]["b0"]
    for metric in ("r2", "r", "kge"):
        assert got[metric].value is None
        assert "constant" in got[metric].note and "1234.0" in got[metric].note
    assert got["rmse"].value is not None and got["ssim"].value is not None


def test_constant_prediction_makes_r_kge_undefined() -> None:
    truth = np.random.default_rng(10).normal(500, 10, (1, 20, 20))
    got = score(truth, np.full((1, 20, 20), 500.0), data_range=1000.0)["all"]["pred"]["b0"]
    assert got["r"].value is None and "constant" in got["r"].note
    assert got["kge"].value is None and "constant" in got["kge"].note
    assert got["r2"].value is not None


def test_region_without_valid_pixel_raises() -> None:
    truth, pred = scene(np.random.default_rng(11), 1, 20, 20)
    reader = Reader(
        truth, {"p": pred}, {"all": np.ones((20, 20), bool), "lake": np.zeros((20, 20), bool)}
    )
    with pytest.raises(DataError, match="region 'lake': no valid pixel"):
        score_scene(reader, 20, 20, ["b"], 1000.0, block_rows=8)


def test_non_finite_value_inside_the_mask_raises() -> None:
    truth, pred = scene(np.random.default_rng(12), 1, 20, 20)
    pred[0, 3, 4] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        score(truth, pred)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bands": ["b", "b"]}, "repeated or reserved"),
        ({"bands": ["all"]}, "repeated or reserved"),
        ({"data_range": 0.0}, "data_range = 0.0"),
        ({"ndvi_bands": (0, 0)}, "ndvi_bands"),
        ({"block_rows": 0}, "block_rows = 0"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], match: str) -> None:
    truth, pred = scene(np.random.default_rng(13), 2, 12, 12)
    args: dict[str, object] = {"bands": ["b", "c"], "data_range": 1.0, "block_rows": 4} | kwargs
    reader = Reader(truth, {"p": pred}, {"all": np.ones((12, 12), bool)})
    with pytest.raises(DataError, match=match):
        score_scene(reader, 12, 12, **args)  # type: ignore[arg-type]


def test_bad_blocks_raise() -> None:
    truth, pred = scene(np.random.default_rng(14), 1, 12, 12)

    def wrong_shape(start: int, stop: int) -> tuple[F32, dict[str, F32], dict[str, Mask]]:
        return (
            truth[:, start:stop, :10],
            {"p": pred[:, start:stop, :10]},
            {"all": np.ones((stop - start, 10), bool)},
        )

    with pytest.raises(DataError, match=r"truth is shape \(1, 12, 10\)"):
        score_scene(wrong_shape, 12, 12, ["b"], 1.0)

    def int_mask(
        start: int, stop: int
    ) -> tuple[F32, dict[str, F32], dict[str, npt.NDArray[np.uint8]]]:
        return (
            truth[:, start:stop],
            {"p": pred[:, start:stop]},
            {"all": np.ones((stop - start, 12), np.uint8)},
        )

    with pytest.raises(DataError, match=r"mask 'all' .* bool"):
        score_scene(int_mask, 12, 12, ["b"], 1.0)  # type: ignore[arg-type]


def test_read_block_errors_reach_the_caller() -> None:
    truth, pred = scene(np.random.default_rng(15), 1, 30, 12)
    reader = Reader(truth, {"p": pred}, {"all": np.ones((30, 12), bool)})

    def failing(start: int, stop: int) -> tuple[F32, dict[str, F32], dict[str, Mask]]:
        if start > 0:
            raise OSError("disk gone")
        return reader(start, stop)

    with pytest.raises(OSError, match="disk gone"):
        score_scene(failing, 30, 12, ["b"], 1.0, block_rows=10)
