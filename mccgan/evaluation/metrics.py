"""Image-quality metrics of predictions against the truth, row block by row block (mccgan evaluate).

:func:`score_scene` scores one or more predictions of a scene (e.g. fused S2 images) against the
true image, per region (a boolean mask per region), per band, for NDVI and over all bands, while
holding only one block of rows (plus a halo of :data:`HALO_PX` rows) in memory at a time:

* per band (and NDVI): pixel count ``n``, ``rmse``, ``mae``, ``bias``, ``r2`` (coefficient of
  determination), ``r`` (Pearson), ``kge`` (Kling-Gupta efficiency), ``psnr`` and ``ssim``;
* over all bands (key ``"all"``): the mean spectral angle ``sam_rad`` / ``sam_deg`` and ``rmse``.

Everything is computed and accumulated in float64. Variances and covariances are merged tile by
tile with Chan et al.'s parallel formula from per-tile (count, mean, M2, co-moment), so a scene
scored in blocks gives the same values as one scored whole (to ~1e-12 relative), even for
reflectances around 10 000 over 10^8 pixels. SSIM is filtered in float64 with the same Gaussian
passes as scikit-image, so on a fully valid image it equals
``skimage.metrics.structural_similarity(truth, pred, data_range=L, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False)`` to ~1e-14 (see :func:`_ssim_map`).

Each block is cut into strips of rows, scored in a thread pool of one thread per CPU (up to 8;
scipy.ndimage and numpy release the GIL), each strip tile by tile (256 x 512 px) so that the
float64 temporaries stay in the CPU caches; the parts are merged in a fixed order, so the results
do not depend on the number of threads. The next block is read, in a background thread, while
one is scored.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from mccgan.errors import DataError

__all__ = [
    "ALL_KEY",
    "ALL_METRICS",
    "BAND_METRICS",
    "HALO_PX",
    "NDVI_DATA_RANGE",
    "NDVI_KEY",
    "SSIM_K1",
    "SSIM_K2",
    "SSIM_RADIUS_PX",
    "SSIM_SIGMA",
    "SSIM_TRUNCATE",
    "BoolArray",
    "FloatArray",
    "Moments",
    "ReadBlock",
    "Score",
    "score_scene",
]

FloatArray = npt.NDArray[np.float32]
"""A float32 image or stack of images."""
BoolArray = npt.NDArray[np.bool_]
"""A boolean mask (True: the pixel counts)."""
_F64 = npt.NDArray[np.float64]

ReadBlock = Callable[[int, int], tuple[FloatArray, dict[str, FloatArray], dict[str, BoolArray]]]
"""``read_block(row_start, row_stop) -> (truth, preds, masks)``, see :func:`score_scene`."""

SSIM_SIGMA = 1.5
"""Standard deviation of the SSIM Gaussian window, px (Wang et al. 2004)."""
SSIM_TRUNCATE = 3.5
"""The SSIM Gaussian window is truncated at this many sigmas (as scikit-image does)."""
SSIM_RADIUS_PX = 5
"""Radius of the SSIM window, px: ``int(3.5 * 1.5 + 0.5)``, i.e. an 11 x 11 px window."""
SSIM_K1 = 0.01
SSIM_K2 = 0.03
HALO_PX = SSIM_RADIUS_PX
"""Rows asked for above and below each block (clipped at the image), px."""
NDVI_KEY = "NDVI"
"""Band key of the NDVI metrics."""
ALL_KEY = "all"
"""Band key of the over-bands metrics."""
NDVI_DATA_RANGE = 2.0
"""Data range of NDVI (-1 to 1) used for its PSNR and SSIM."""
BAND_METRICS = ("n", "rmse", "mae", "bias", "r2", "r", "kge", "psnr", "ssim")
"""Metric keys of each band and of NDVI, in report order."""
ALL_METRICS = ("sam_rad", "sam_deg", "rmse")
"""Metric keys of :data:`ALL_KEY`, in report order."""

_WINDOW_PX = 2 * SSIM_RADIUS_PX + 1
_STRIP_ROWS = 256  # rows scored by one task
_TILE_COLS = 512  # columns scored at a time: ~1 MB per float64 temporary
_MIN_STRIP_ROWS = 64  # smaller strips would spend too much on their halo
_MAX_WORKERS = 8


@dataclass(frozen=True)
class Score:
    """One metric's value, or why it has none.

    Attributes
    ----------
    value
        The value (units of the metric: reflectance units for rmse / mae / bias, dB for psnr,
        rad or deg for sam, a pixel count for n, unitless otherwise); ``None`` when undefined.
        ``float('inf')`` for the PSNR of identical images. Never NaN.
    note
        Why ``value`` is None, e.g. ``"undefined: the truth is constant (1234.0) over the 5000
        valid pixels"``; empty otherwise.
    """

    value: float | None
    note: str = ""


@dataclass
class Moments:
    """Mergeable float64 moments of paired samples (t, p), e.g. (truth, prediction).

    Build one per chunk with :meth:`of` and combine chunks with :meth:`merge` (Chan, Golub &
    LeVeque's pairwise update), which keeps variances and covariances accurate to ~1e-12
    relative whatever the offset of the data and the number of chunks. Units: those of t and p
    (squared for m2 / c / sum_sq).

    Attributes
    ----------
    n
        Number of pairs.
    mean_t, mean_p
        Means of t and p.
    m2_t, m2_p, c_pt
        Sum of (t - mean_t)^2, of (p - mean_p)^2 and of (p - mean_p)(t - mean_t).
    sum_err, sum_abs, sum_sq
        Sum of p - t, of |p - t| and of (p - t)^2.
    min_t, max_t, min_p, max_p
        Extremes of t and p (inf / -inf when n is 0).
    """

    n: int = 0
    mean_t: float = 0.0
    mean_p: float = 0.0
    m2_t: float = 0.0  # sum (t - mean_t)^2
    m2_p: float = 0.0  # sum (p - mean_p)^2
    c_pt: float = 0.0  # sum (p - mean_p)(t - mean_t)
    sum_err: float = 0.0  # sum (p - t)
    sum_abs: float = 0.0  # sum |p - t|
    sum_sq: float = 0.0  # sum (p - t)^2
    min_t: float = math.inf
    max_t: float = -math.inf
    min_p: float = math.inf
    max_p: float = -math.inf

    @classmethod
    def of(cls, t: _F64, p: _F64) -> Moments:
        """Moments of one chunk.

        Parameters
        ----------
        t, p
            float64 arrays of the same 1-D or 2-D shape (e.g. truth and prediction values of
            the chunk's valid pixels); may be empty.

        Returns
        -------
        Moments
            Centred on the chunk's own means (sums of products via ``np.einsum``, not
            ``np.dot``: BLAS serialises concurrent calls from several threads).
        """
        if t.size == 0:
            return cls()
        mean_t = float(t.mean())
        mean_p = float(p.mean())
        dt = t - mean_t
        dp = p - mean_p
        err = p - t
        return cls(
            n=int(t.size),
            mean_t=mean_t,
            mean_p=mean_p,
            m2_t=_dot(dt, dt),
            m2_p=_dot(dp, dp),
            c_pt=_dot(dp, dt),
            sum_err=float(err.sum()),
            sum_sq=_dot(err, err),
            sum_abs=float(np.abs(err, out=err).sum()),
            min_t=float(t.min()),
            max_t=float(t.max()),
            min_p=float(p.min()),
            max_p=float(p.max()),
        )

    def merge(self, other: Moments) -> None:
        """Add ``other``'s pixels to these moments (Chan's pairwise update)."""
        if other.n == 0:
            return
        if self.n == 0:
            self.__dict__.update(other.__dict__)
            return
        n = self.n + other.n
        d_t = other.mean_t - self.mean_t
        d_p = other.mean_p - self.mean_p
        f = self.n * other.n / n
        self.mean_t = (self.n * self.mean_t + other.n * other.mean_t) / n
        self.mean_p = (self.n * self.mean_p + other.n * other.mean_p) / n
        self.m2_t += other.m2_t + d_t * d_t * f
        self.m2_p += other.m2_p + d_p * d_p * f
        self.c_pt += other.c_pt + d_p * d_t * f
        self.n = n
        self.sum_err += other.sum_err
        self.sum_abs += other.sum_abs
        self.sum_sq += other.sum_sq
        self.min_t = min(self.min_t, other.min_t)
        self.max_t = max(self.max_t, other.max_t)
        self.min_p = min(self.min_p, other.min_p)
        self.max_p = max(self.max_p, other.max_p)


def _dot(a: _F64, b: _F64) -> float:
    """Sum of a * b over every element (1-D or 2-D arrays of the same shape)."""
    return float(np.einsum("ij,ij->" if a.ndim == 2 else "i,i->", a, b))


@dataclass
class _BandAcc:
    """Accumulators of one band (or NDVI) of one (region, prediction)."""

    moments: Moments = field(default_factory=Moments)
    ssim_sum: float = 0.0
    ssim_count: int = 0

    def merge(self, other: _BandAcc) -> None:
        self.moments.merge(other.moments)
        self.ssim_sum += other.ssim_sum
        self.ssim_count += other.ssim_count


@dataclass
class _Acc:
    """Accumulators of one (region, prediction): per band (then NDVI) and the spectral angle."""

    bands: list[_BandAcc]
    sam_sum: float = 0.0
    sam_count: int = 0

    def merge(self, other: _Acc) -> None:
        for mine, theirs in zip(self.bands, other.bands, strict=True):
            mine.merge(theirs)
        self.sam_sum += other.sam_sum
        self.sam_count += other.sam_count


@dataclass(frozen=True)
class _Span:
    """One tile's extent along one axis, as indices into the arrays it is cut from.

    ``[lo, hi)``: the rows (or columns) read, i.e. the scored ones plus up to ``HALO_PX`` on each
    side; ``core`` (relative to ``lo``): the scored ones; ``ssim`` (relative to ``lo``): those of
    the core at least ``SSIM_RADIUS_PX`` from the image border; ``first``: the image index of
    the core's first row (column), for messages.
    """

    lo: int
    hi: int
    core: slice
    ssim: slice
    first: int


def _span(start: int, stop: int, origin: int, avail_lo: int, avail_hi: int, size: int) -> _Span:
    """The span scoring image indices [start, stop), with the arrays' index 0 at image ``origin``
    and image indices [avail_lo, avail_hi) available in them, the image being ``size`` long."""
    lo = max(avail_lo, start - HALO_PX)
    hi = min(avail_hi, stop + HALO_PX)
    s_lo = min(max(start, SSIM_RADIUS_PX), stop)
    s_hi = max(min(stop, size - SSIM_RADIUS_PX), s_lo)
    return _Span(
        lo=lo - origin,
        hi=hi - origin,
        core=slice(start - lo, stop - lo),
        ssim=slice(s_lo - lo, s_hi - lo),
        first=start,
    )


def _splits(start: int, stop: int, n: int) -> list[tuple[int, int]]:
    """[start, stop) cut into n near-equal parts."""
    bounds = [start + ((stop - start) * i) // n for i in range(n + 1)]
    return list(itertools.pairwise(bounds))


@dataclass(frozen=True)
class _Setup:
    """What every task needs besides its rows."""

    height: int
    width: int
    bands: tuple[str, ...]
    regions: tuple[str, ...]
    data_range: float
    ndvi_bands: tuple[int, int] | None
    col_tiles: tuple[_Span, ...]


def score_scene(
    read_block: ReadBlock,
    height: int,
    width: int,
    bands: Sequence[str],
    data_range: float,
    ndvi_bands: tuple[int, int] | None = None,
    block_rows: int = 1024,
) -> dict[str, dict[str, dict[str, dict[str, Score]]]]:
    """Score every prediction against the truth, per region, band by band, block by block.

    Parameters
    ----------
    read_block
        ``read_block(row_start, row_stop) -> (truth, preds, masks)`` for image rows
        ``[row_start, row_stop)`` over the full width: ``truth`` shape (bands, rows, width),
        float (float32 expected; reflectance units, any scale without offset);
        ``preds`` {label: (bands, rows, width)} with the same labels on every call;
        ``masks`` {region: (rows, width) bool} with the same regions on every call, True where
        the pixel counts (region, valid in the truth and in every prediction). Values at
        pixels outside every mask may be anything, NaN included; values inside must be finite.
        It is called once per block, in row order, for the block plus :data:`HALO_PX` rows above
        and below (clipped at the image): at most ``block_rows + 2 * HALO_PX`` rows. The calls
        are made one at a time from one background thread, each while the previous block is
        being scored: return new arrays on each call (not a reused buffer), and do not rely on
        thread-local state of the calling thread (e.g. a ``rasterio.Env`` entered there).
    height, width
        Size of the image, px.
    bands
        Names of the bands, in the order of the arrays' first axis; the band keys of the result.
    data_range
        Dynamic range L of the bands (e.g. 10000 for reflectance x 10 000), in their units; used
        for PSNR and SSIM (C1 = (0.01 L)^2, C2 = (0.03 L)^2). NDVI uses 2.0.
    ndvi_bands
        ``(red, nir)`` indices into ``bands`` to also score NDVI = (NIR - Red) / (NIR + Red),
        computed per pixel (in float64) from the bands as given, so remove any reflectance
        offset first; the NDVI mask of a region, per prediction, is its mask where NIR + Red > 0
        in the truth and in that prediction. None: no NDVI.
    block_rows
        Rows per block, px. Memory: two blocks of every array (the one scored and the next one,
        being read) plus ~30 MB of float64 temporaries per thread.

    Returns
    -------
    dict
        ``result[region][label][key][metric] -> Score``. ``key`` is each band name, then
        ``"NDVI"`` (with ``ndvi_bands``), then ``"all"``. Band / NDVI metrics (see
        :data:`BAND_METRICS`), over the mask's pixels:

        * ``n``: pixel count; ``rmse``, ``mae``, ``bias`` (mean prediction - truth), in the
          band's units;
        * ``r2``: coefficient of determination 1 - SS_res / SS_tot with the truth as reference
          (SS_res = sum (p - t)^2, SS_tot = sum (t - mean t)^2); not the squared Pearson r, and
          negative when the prediction is worse than the truth's mean;
        * ``r``: Pearson correlation;
        * ``kge``: Kling-Gupta efficiency (Gupta et al. 2009),
          1 - sqrt((r - 1)^2 + (alpha - 1)^2 + (beta - 1)^2), alpha = std p / std t
          (population std), beta = mean p / mean t;
        * ``psnr``: 10 log10(L^2 / MSE), dB; inf when MSE = 0;
        * ``ssim``: mean of the SSIM map (Wang et al. 2004; Gaussian window sigma 1.5 px
          truncated at 3.5 sigma = 11 x 11 px, K1 0.01, K2 0.03, population covariance) over
          the pixels at least 5 px from the image border whose whole window is in the mask.

        ``"all"`` (see :data:`ALL_METRICS`): ``sam_rad`` / ``sam_deg``, the mean spectral angle
        arccos(clip(p.t / (|p| |t|), -1, 1)) over the mask's pixels where neither spectrum is
        zero, and ``rmse`` over all bands' pixels.

        Undefined values are ``Score(None, note)``: r2 when the truth is constant, r and kge
        when the truth or the prediction is constant (kge also when the truth's mean is 0),
        ssim when no pixel has a full valid window, everything but n when NDVI has no pixel.

    Raises
    ------
    DataError
        For bad arguments, for arrays from ``read_block`` of the wrong shape, dtype, labels or
        regions, for non-finite values inside a mask, and when a region's mask has no pixel.
    """
    setup = _check_args(height, width, bands, data_range, ndvi_bands, block_rows)
    workers = _workers()
    labels: tuple[str, ...] | None = None
    accs: dict[tuple[str, str], _Acc] = {}
    n_keys = len(setup.bands) + (setup.ndvi_bands is not None)
    blocks: list[tuple[int, int, int, int]] = []  # rows scored, rows read (with the halo)
    for start in range(0, height, block_rows):
        stop = min(start + block_rows, height)
        blocks.append((start, stop, max(0, start - HALO_PX), min(height, stop + HALO_PX)))
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mccgan-metrics-read")
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mccgan-metrics")
    try:
        pending = reader.submit(read_block, blocks[0][2], blocks[0][3])
        for i, (block_start, block_stop, ext_start, ext_stop) in enumerate(blocks):
            truth, preds, masks = pending.result()
            if i + 1 < len(blocks):  # read the next block while this one is scored
                pending = reader.submit(read_block, blocks[i + 1][2], blocks[i + 1][3])
            if labels is None:
                labels = tuple(preds) if isinstance(preds, dict) else ()
                if not labels:
                    raise DataError(
                        f"read_block({ext_start}, {ext_stop}) returned no prediction; "
                        "return a dict {label: (bands, rows, width) array} with at least one entry"
                    )
                if not isinstance(masks, dict) or not masks:
                    raise DataError(
                        f"read_block({ext_start}, {ext_stop}) returned no mask; "
                        "return a dict {region: (rows, width) bool array} with at least one entry"
                    )
                setup = dataclasses.replace(setup, regions=tuple(masks))
                for region in setup.regions:
                    for label in labels:
                        accs[region, label] = _Acc([_BandAcc() for _ in range(n_keys)])
            truth_a, pred_list, mask_list = _check_block(
                truth, preds, masks, ext_start, ext_stop, setup, labels
            )
            del truth, preds, masks
            union = mask_list[0].copy()
            for mask in mask_list[1:]:
                union |= mask
            strips = _strips(block_start, block_stop, ext_start, ext_stop, setup, workers)
            futures = [
                pool.submit(
                    _score_strip, truth_a, pred_list, mask_list, union, strip, setup, labels
                )
                for strip in strips
            ]
            for future in futures:  # merged in a fixed order: independent of the threads
                for label, by_region in zip(labels, future.result(), strict=True):
                    for region, part in zip(setup.regions, by_region, strict=True):
                        accs[region, label].merge(part)
            del truth_a, pred_list, mask_list, union, futures
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        reader.shutdown(wait=True, cancel_futures=True)
    if labels is None:  # unreachable: height >= 1, so at least one block was read
        raise DataError(f"height = {height!r}: no row to score")
    for region in setup.regions:
        if accs[region, labels[0]].bands[0].moments.n == 0:
            raise DataError(
                f"region {region!r}: no valid pixel common to the truth and every prediction; "
                "check the masks / valid bands"
            )
    return {
        region: {label: _finish(accs[region, label], setup) for label in labels}
        for region in setup.regions
    }


def _workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(_MAX_WORKERS, cpus))


def _check_args(
    height: int,
    width: int,
    bands: Sequence[str],
    data_range: float,
    ndvi_bands: tuple[int, int] | None,
    block_rows: int,
) -> _Setup:
    for name, value in (("height", height), ("width", width), ("block_rows", block_rows)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise DataError(f"{name} = {value!r}: must be a positive whole number of pixels")
    names = tuple(bands)
    if not names or not all(isinstance(b, str) for b in names):
        raise DataError(f"bands = {bands!r}: give the band names, one per array plane")
    clashes = sorted({b for b in names if names.count(b) > 1} | ({NDVI_KEY, ALL_KEY} & set(names)))
    if clashes:
        raise DataError(
            f"bands = {names!r}: {clashes} repeated or reserved for the NDVI / over-bands "
            f"keys ({NDVI_KEY!r}, {ALL_KEY!r}); rename the bands"
        )
    if (
        not isinstance(data_range, int | float | np.number)
        or not math.isfinite(data_range)
        or data_range <= 0
    ):
        raise DataError(
            f"data_range = {data_range!r}: must be a positive finite number in the bands' units "
            "(e.g. 10000 for reflectance x 10 000, 1.0 for reflectance)"
        )
    if ndvi_bands is not None:
        ok = (
            isinstance(ndvi_bands, tuple | list)
            and len(ndvi_bands) == 2
            and all(isinstance(i, int | np.integer) and 0 <= i < len(names) for i in ndvi_bands)
            and ndvi_bands[0] != ndvi_bands[1]
        )
        if not ok:
            raise DataError(
                f"ndvi_bands = {ndvi_bands!r}: must be two different (red, nir) indices into "
                f"bands {names!r}, or None for no NDVI"
            )
        ndvi_bands = (int(ndvi_bands[0]), int(ndvi_bands[1]))
    col_tiles = tuple(
        _span(start, stop, 0, 0, int(width), int(width))
        for start, stop in _splits(0, int(width), -(-int(width) // _TILE_COLS))
    )
    return _Setup(int(height), int(width), names, (), float(data_range), ndvi_bands, col_tiles)


def _describe(value: object) -> str:
    """What ``read_block`` returned instead of an array of the right shape, for messages."""
    return (
        f"shape {value.shape} {value.dtype}"
        if isinstance(value, np.ndarray)
        else type(value).__name__
    )


def _check_block(
    truth: object,
    preds: object,
    masks: object,
    row_start: int,
    row_stop: int,
    setup: _Setup,
    labels: tuple[str, ...],
) -> tuple[npt.NDArray[np.floating], list[npt.NDArray[np.floating]], list[BoolArray]]:
    """Check the arrays read_block returned; return them in the order of labels / regions."""
    where = f"read_block({row_start}, {row_stop})"
    shape = (len(setup.bands), row_stop - row_start, setup.width)

    def image(name: str, value: object) -> npt.NDArray[np.floating]:
        if (
            not isinstance(value, np.ndarray)
            or value.shape != shape
            or value.dtype.kind not in "fiu"
        ):
            got = _describe(value)
            raise DataError(
                f"{where}: {name} is {got}; return a numeric (bands, rows, width) = {shape} array"
            )
        return value

    truth_a = image("the truth", truth)
    if not isinstance(preds, dict) or set(preds) != set(labels):
        got = sorted(preds) if isinstance(preds, dict) else type(preds).__name__
        raise DataError(
            f"{where}: predictions {got}, the first block had {sorted(labels)}; "
            "return the same labels for every block"
        )
    pred_list = [image(f"prediction {label!r}", preds[label]) for label in labels]
    if not isinstance(masks, dict) or set(masks) != set(setup.regions):
        got = sorted(masks) if isinstance(masks, dict) else type(masks).__name__
        raise DataError(
            f"{where}: regions {got}, the first block had {sorted(setup.regions)}; "
            "return the same regions for every block"
        )
    mask_list: list[BoolArray] = []
    for region in setup.regions:
        mask = masks[region]
        if not isinstance(mask, np.ndarray) or mask.shape != shape[1:] or mask.dtype != np.bool_:
            got = _describe(mask)
            raise DataError(
                f"{where}: mask {region!r} is {got}; return a bool (rows, width) = {shape[1:]} "
                "array (e.g. mask != 0)"
            )
        mask_list.append(mask)
    return truth_a, pred_list, mask_list


def _strips(
    block_start: int,
    block_stop: int,
    ext_start: int,
    ext_stop: int,
    setup: _Setup,
    workers: int,
) -> list[_Span]:
    """Cut a block's rows into strips of about _STRIP_ROWS, a multiple of the workers if cheap."""
    rows = block_stop - block_start
    n = -(-rows // _STRIP_ROWS)
    while n % workers and rows // (n + 1) >= _MIN_STRIP_ROWS:
        n += 1
    return [
        _span(start, stop, ext_start, ext_start, ext_stop, setup.height)
        for start, stop in _splits(block_start, block_stop, n)
    ]


def _score_strip(
    truth: npt.NDArray[np.floating],
    preds: list[npt.NDArray[np.floating]],
    masks: list[BoolArray],
    union: BoolArray,
    rows: _Span,
    setup: _Setup,
    labels: tuple[str, ...],
) -> list[list[_Acc]]:
    """Score every prediction over one strip of rows, tile by tile: [label][region] -> _Acc.

    Tiles of about _TILE_COLS columns keep the float64 temporaries in the CPU caches (and
    avoid page-faulting large fresh arrays), which is ~2x faster than whole strips.
    """
    n_keys = len(setup.bands) + (setup.ndvi_bands is not None)
    accs = [[_Acc([_BandAcc() for _ in range(n_keys)]) for _ in masks] for _ in preds]
    for cols in setup.col_tiles:
        parts = _score_tile(truth, preds, masks, union, rows, cols, setup, labels)
        for by_region, part_by_region in zip(accs, parts, strict=True):
            for acc, part in zip(by_region, part_by_region, strict=True):
                acc.merge(part)
    return accs


def _score_tile(
    truth: npt.NDArray[np.floating],
    preds: list[npt.NDArray[np.floating]],
    masks: list[BoolArray],
    union: BoolArray,
    rows: _Span,
    cols: _Span,
    setup: _Setup,
    labels: tuple[str, ...],
) -> list[list[_Acc]]:
    """Score every prediction over one tile: [label][region] -> _Acc."""
    window = (slice(rows.lo, rows.hi), slice(cols.lo, cols.hi))
    core = (rows.core, cols.core)
    union_t = union[window]
    all_valid = bool(union_t.all())
    masks_t = [m[window] for m in masks]
    full = [bool(m.all()) for m in masks_t]
    accs = [[_Acc([]) for _ in masks] for _ in preds]
    ndvi: dict[int, tuple[_F64, list[_F64]]] = {}
    core_shape = (rows.core.stop - rows.core.start, cols.core.stop - cols.core.start)
    tt = np.zeros(core_shape)  # per pixel, over bands: |t|^2, and per prediction |p|^2, p.t
    pps = [np.zeros(core_shape) for _ in preds]
    dots = [np.zeros(core_shape) for _ in preds]
    for b, band in enumerate(setup.bands):
        x = _filled(truth[(b, *window)], union_t, all_valid)
        ys = [_filled(pred[(b, *window)], union_t, all_valid) for pred in preds]
        truth_side = _TruthSide(x, rows, cols)
        for acc_l, y, label in zip(accs, ys, labels, strict=True):
            parts = _score_image(truth_side, y, masks_t, full, setup.data_range)
            for acc, part in zip(acc_l, parts, strict=True):
                _check_finite(part.moments, rows, cols, label, band)
                acc.bands.append(part)
        xc = x[core]
        tt += xc * xc
        for y, pp, dot in zip(ys, pps, dots, strict=True):
            yc = y[core]
            pp += yc * yc
            dot += xc * yc
        if setup.ndvi_bands is not None and b in setup.ndvi_bands:
            ndvi[b] = (x, ys)
    if setup.ndvi_bands is not None:
        (red_t, red_ps), (nir_t, nir_ps) = (ndvi[i] for i in setup.ndvi_bands)
        nd_t, ok_t = _ndvi(red_t, nir_t)
        truth_side = _TruthSide(nd_t, rows, cols)
        for acc_l, red_p, nir_p in zip(accs, red_ps, nir_ps, strict=True):
            nd_p, ok = _ndvi(red_p, nir_p)
            ok &= ok_t
            nd_full = bool(ok.all())
            nd_masks = [m if nd_full and f else m & ok for m, f in zip(masks_t, full, strict=True)]
            nd_fulls = [nd_full and f for f in full]
            parts = _score_image(truth_side, nd_p, nd_masks, nd_fulls, NDVI_DATA_RANGE)
            for acc, part in zip(acc_l, parts, strict=True):
                acc.bands.append(part)
    for acc_l, pp, dot in zip(accs, pps, dots, strict=True):
        _add_sam(acc_l, masks_t, full, core, tt, pp, dot)
    return accs


def _add_sam(
    accs: list[_Acc],
    masks: list[BoolArray],
    full: list[bool],
    core: tuple[slice, slice],
    tt: _F64,
    pp: _F64,
    dot: _F64,
) -> None:
    """Add the spectral angles of a tile's core to each region's _Acc (pp, dot: overwritten)."""
    norms = np.multiply(tt, pp, out=pp)
    ok = norms > 0
    np.sqrt(norms, out=norms)
    cos = np.divide(dot, norms, out=dot, where=ok)
    np.clip(cos, -1.0, 1.0, out=cos)
    angle = np.arccos(cos, out=cos, where=ok)
    all_ok = bool(ok.all())
    for acc, mask, is_full in zip(accs, masks, full, strict=True):
        if is_full and all_ok:
            acc.sam_sum, acc.sam_count = float(angle.sum()), angle.size
        else:
            sel = mask[core] & ok
            acc.sam_sum = float(angle[sel].sum())
            acc.sam_count = int(np.count_nonzero(sel))


def _filled(band: npt.NDArray[np.floating], union: BoolArray, all_valid: bool) -> _F64:
    """``band`` as a float64 copy with 0 outside ``union`` (so nothing invalid leaks)."""
    out = band.astype(np.float64)
    if not all_valid:
        out[~union] = 0.0
    return out


def _ndvi(red: _F64, nir: _F64) -> tuple[_F64, BoolArray]:
    """NDVI (0 where undefined) and where it is defined (NIR + Red > 0)."""
    total = nir + red
    ok = total > 0
    out = np.zeros_like(total)
    np.divide(nir - red, total, out=out, where=ok)
    return out, ok


def _check_finite(moments: Moments, rows: _Span, cols: _Span, label: str, band: str) -> None:
    if moments.n and not (
        math.isfinite(moments.sum_sq)
        and math.isfinite(moments.m2_t)
        and math.isfinite(moments.m2_p)
    ):
        r0, r1 = rows.first, rows.first + rows.core.stop - rows.core.start - 1
        c0, c1 = cols.first, cols.first + cols.core.stop - cols.core.start - 1
        raise DataError(
            f"band {band!r}, prediction {label!r}: a non-finite (or overflowing) value at a pixel "
            f"a mask counts, in rows {r0}-{r1}, columns {c0}-{c1}; exclude invalid pixels from "
            "the masks"
        )


class _TruthSide:
    """One band of the truth over a tile, with what SSIM needs of it (shared by predictions)."""

    def __init__(self, x: _F64, rows: _Span, cols: _Span) -> None:
        self.x = x
        self.rows = rows
        self.cols = cols
        self.core = (rows.core, cols.core)
        self.ssim = (rows.ssim, cols.ssim)
        self.has_ssim = rows.ssim.stop > rows.ssim.start and cols.ssim.stop > cols.ssim.start
        empty = np.empty((0, 0))
        self.mean = _gaussian(x, self.ssim) if self.has_ssim else empty  # mu_x
        self.square = x * x if self.has_ssim else empty  # x^2


def _score_image(
    truth: _TruthSide,
    y: _F64,
    masks: list[BoolArray],
    full: list[bool],
    data_range: float,
) -> list[_BandAcc]:
    """Moments and SSIM sums of one band of a tile, per mask (y: the prediction).

    ``full[i]``: ``masks[i]`` is all True over the tile (fast path).
    """
    ssim = _ssim_map(truth, y, data_range) if truth.has_ssim else None
    xc, yc = truth.x[truth.core], y[truth.core]
    out = []
    for mask, is_full in zip(masks, full, strict=True):
        if is_full:
            acc = _BandAcc(Moments.of(xc, yc))
        else:
            mc = mask[truth.core]
            acc = _BandAcc(Moments.of(xc[mc], yc[mc]))
        if ssim is not None and acc.moments.n:
            if is_full:
                acc.ssim_sum, acc.ssim_count = float(ssim.sum()), ssim.size
            else:
                inside = _erode(mask)[truth.ssim]
                acc.ssim_sum = float(ssim[inside].sum())
                acc.ssim_count = int(np.count_nonzero(inside))
        out.append(acc)
    return out


def _gaussian_weights() -> _F64:
    """The 11 taps of the SSIM window, computed as ``scipy.ndimage.gaussian_filter1d`` does."""
    taps = np.arange(-SSIM_RADIUS_PX, SSIM_RADIUS_PX + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (SSIM_SIGMA * SSIM_SIGMA) * taps**2)
    weights: _F64 = (phi / phi.sum())[::-1].copy()
    return weights


_WEIGHTS = _gaussian_weights()


def _gaussian(image: _F64, at: tuple[slice, slice]) -> _F64:
    """The SSIM window's weighted mean of ``image`` at pixels ``image[at]``.

    Equal to ``scipy.ndimage.gaussian_filter(image, 1.5, truncate=3.5, mode="reflect")[at]``
    (what ``skimage.metrics.structural_similarity`` filters with: same passes, same order),
    computing the second pass on the rows of ``at`` only.
    """
    rows, cols = at
    first = np.empty_like(image)  # np.empty: cheaper than the zeros ndimage would allocate
    ndimage.correlate1d(image, _WEIGHTS, axis=0, output=first, mode="reflect")
    kept = first[rows]
    second: _F64 = np.empty(kept.shape)
    ndimage.correlate1d(kept, _WEIGHTS, axis=1, output=second, mode="reflect")
    return second[:, cols]


def _ssim_map(truth: _TruthSide, y: _F64, data_range: float) -> _F64:
    """SSIM map (Wang et al. 2004) of truth x vs prediction y over the tile's SSIM pixels.

    As ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` computes it, except that var x + var y is computed as
    G(x^2 + y^2) - (mu_x^2 + mu_y^2), one Gaussian filter G instead of two (4 filters per
    prediction instead of 5, mu_x shared by all predictions). That differs from scikit-image
    by rounding only: |diff| < ~1e-13 for data within [0, L] (the cancellation in the variance
    is bounded by C2 = (0.03 L)^2), and identical images still give exactly 1.
    """
    x = truth.x
    sel = truth.ssim
    ux = truth.mean
    uy = _gaussian(y, sel)
    sum_sq = y * y
    sum_sq += truth.square
    s2 = _gaussian(sum_sq, sel)  # G(x^2) + G(y^2)
    uxy = _gaussian(x * y, sel)
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    ux_uy = ux * uy
    a1 = 2 * ux
    a1 *= uy
    a1 += c1  # 2 ux uy + C1
    a2 = np.subtract(uxy, ux_uy, out=ux_uy)
    a2 *= 2
    a2 += c2  # 2 cov_xy + C2
    b1 = ux * ux
    b1 += uy * uy  # ux^2 + uy^2
    b2 = np.subtract(s2, b1, out=s2)
    b2 += c2  # var_x + var_y + C2
    b1 += c1  # ux^2 + uy^2 + C1
    a1 *= a2
    b1 *= b2
    a1 /= b1
    return a1


def _erode(mask: BoolArray) -> BoolArray:
    """Pixels whose whole 11 x 11 window lies in ``mask`` (False within 5 px of its edges)."""
    out = ndimage.minimum_filter1d(mask.view(np.uint8), _WINDOW_PX, axis=0, mode="constant", cval=0)
    out = ndimage.minimum_filter1d(out, _WINDOW_PX, axis=1, mode="constant", cval=0)
    eroded: BoolArray = out.view(np.bool_)
    return eroded


def _finish(acc: _Acc, setup: _Setup) -> dict[str, dict[str, Score]]:
    keys = [*setup.bands, *([NDVI_KEY] if setup.ndvi_bands is not None else [])]
    out = {
        key: _band_scores(
            band, setup, NDVI_DATA_RANGE if key == NDVI_KEY else setup.data_range, key == NDVI_KEY
        )
        for key, band in zip(keys, acc.bands, strict=True)
    }
    n_all = sum(band.moments.n for band in acc.bands[: len(setup.bands)])
    sq_all = sum(band.moments.sum_sq for band in acc.bands[: len(setup.bands)])
    if acc.sam_count:
        sam = acc.sam_sum / acc.sam_count
        sam_rad, sam_deg = Score(sam), Score(math.degrees(sam))
    else:
        note = "undefined: every valid pixel has a zero spectrum in the truth or the prediction"
        sam_rad = sam_deg = Score(None, note)
    out[ALL_KEY] = {
        "sam_rad": sam_rad,
        "sam_deg": sam_deg,
        "rmse": Score(math.sqrt(sq_all / n_all))
        if n_all
        else Score(None, "undefined: no valid pixel"),
    }
    return out


def _band_scores(
    acc: _BandAcc, setup: _Setup, data_range: float, is_ndvi: bool
) -> dict[str, Score]:
    m = acc.moments
    n = m.n
    if n == 0:
        why = " where NIR + Red > 0 in the truth and the prediction" if is_ndvi else ""
        none = Score(None, f"undefined: no valid pixel{why}")
        return {"n": Score(0.0), **{key: none for key in BAND_METRICS[1:]}}
    mse = m.sum_sq / n
    truth_const = m.min_t == m.max_t
    pred_const = m.min_p == m.max_p
    const_t = Score(
        None, f"undefined: the truth is constant ({m.min_t!r}) over the {n} valid pixels"
    )
    const_p = Score(
        None, f"undefined: the prediction is constant ({m.min_p!r}) over the {n} valid pixels"
    )
    if truth_const:
        r2 = r = kge = const_t
    else:
        r2 = Score(1.0 - m.sum_sq / m.m2_t)
        if pred_const:
            r = kge = const_p
        else:
            r_value = max(-1.0, min(1.0, m.c_pt / math.sqrt(m.m2_t * m.m2_p)))
            r = Score(r_value)
            if m.mean_t == 0:
                kge = Score(
                    None,
                    f"undefined: the truth's mean is 0 over the {n} valid pixels "
                    "(beta = mean prediction / mean truth)",
                )
            else:
                alpha = math.sqrt(m.m2_p / m.m2_t)
                beta = m.mean_p / m.mean_t
                kge = Score(
                    1.0 - math.sqrt((r_value - 1) ** 2 + (alpha - 1) ** 2 + (beta - 1) ** 2)
                )
    if acc.ssim_count:
        ssim = Score(acc.ssim_sum / acc.ssim_count)
    elif setup.height < _WINDOW_PX or setup.width < _WINDOW_PX:
        ssim = Score(
            None,
            f"undefined: the image ({setup.height} x {setup.width} px) is smaller than the "
            f"{_WINDOW_PX} x {_WINDOW_PX} px SSIM window",
        )
    else:
        ssim = Score(
            None,
            f"undefined: none of the {n} valid pixels has its whole {_WINDOW_PX} x {_WINDOW_PX} px "
            f"SSIM window valid and lies {SSIM_RADIUS_PX} px or more inside the image",
        )
    return {
        "n": Score(float(n)),
        "rmse": Score(math.sqrt(mse)),
        "mae": Score(m.sum_abs / n),
        "bias": Score(m.sum_err / n),
        "r2": r2,
        "r": r,
        "kge": kge,
        "psnr": Score(10.0 * math.log10(data_range**2 / mse) if mse > 0 else math.inf),
        "ssim": ssim,
    }
