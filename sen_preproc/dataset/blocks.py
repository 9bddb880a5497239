"""Strips of rows of each pair, encoded once, for cutting samples (``senprep split``'s reader)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.windows import Window

from sen_preproc.dataset.coding import CodingRangeError, SampleCoding


class BlockReader:
    """Rows of each pair in stored form (see :mod:`sen_preproc.dataset.coding`), decoded once.

    Each pair is read in blocks of rows aligned with the file's own tiles (``senprep pair``
    writes 512 px tiles), column chunk by column chunk, so every tile is decompressed exactly
    once with a small GDAL cache; each block is encoded and its invalid mask computed once per
    pixel (patches overlap 4x at the paper's 256/128). A background thread reads the next block
    while the current rows are cut and written (GDAL and numpy release the GIL).

    Parameters
    ----------
    datasets : dict
        Open rasterio datasets of the pairs, by path.
    offsets : dict
        (row, col) of the common grid's origin in each pair.
    width : int
        Width of the common grid (px).
    size_px : int
        Patch size (rows of a strip).
    coding : SampleCoding
        The coding of one date's layers (the same for every pair).
    """

    def __init__(
        self,
        datasets: dict[Path, Any],
        offsets: dict[Path, tuple[int, int]],
        width: int,
        size_px: int,
        coding: SampleCoding,
    ) -> None:
        self.datasets = datasets
        self.offsets = offsets
        self.width = width
        self.size = size_px
        self.coding = coding
        self._fill = np.array(coding.nodata).astype(coding.dtype)
        self._rows: dict[Path, int] = {}
        self._tile_cols: dict[Path, int] = {}
        for path, ds in datasets.items():
            block_rows, block_cols = ds.block_shapes[0]
            tiled = 16 <= block_rows <= 2048 and block_cols < ds.width
            self._rows[path] = block_rows if tiled else max(size_px, 256)
            self._tile_cols[path] = block_cols if tiled else ds.width
        self._cache: dict[tuple[Path, int], Future[tuple[Any, Any]]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="senprep-read")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._cache.clear()

    def _load(
        self, path: Path, index: int
    ) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.bool_]]:
        ds = self.datasets[path]
        col0 = self.offsets[path][1]
        block = self._rows[path]
        top = index * block
        rows = max(0, min(block, ds.height - top))
        stored = np.full((ds.count, block, self.width), self._fill, dtype=self.coding.dtype)
        if rows:
            # column chunks of whole tiles: ~32 MB of float32 at a time
            tile = self._tile_cols[path]
            step = max(tile, (32 << 20) // (4 * ds.count * block) // tile * tile)
            col = col0
            while col < col0 + self.width:
                stop = min(col0 + self.width, (col // tile) * tile + step)
                data = ds.read(window=Window(col, top, stop - col, rows), out_dtype="float32")
                try:
                    encoded = self.coding.encode(data)
                except CodingRangeError as err:
                    raise CodingRangeError(f"{path}: {err}") from err
                stored[:, :rows, col - col0 : stop - col0] = encoded
                col = stop
        return stored, self.coding.invalid(stored)

    def _future(self, path: Path, index: int) -> Future[tuple[Any, Any]]:
        key = (path, index)
        if key not in self._cache:
            self._cache[key] = self._pool.submit(self._load, path, index)
        return self._cache[key]

    def strip(self, path: Path, row: int) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.bool_]]:
        """Grid rows ``[row, row + size)``: stored bands ``(bands, size, width)`` and the
        invalid mask ``(size, width)``."""
        block = self._rows[path]
        top = self.offsets[path][0] + row
        first, last = top // block, (top + self.size - 1) // block
        for key in [k for k in self._cache if k[0] == path and k[1] < first]:
            del self._cache[key]  # blocks above the current strip are never needed again
        parts = [self._future(path, k).result() for k in range(first, last + 1)]
        if (last + 1) * block < self.datasets[path].height:
            self._future(path, last + 1)  # read ahead
        start = top - first * block
        if len(parts) == 1:
            stored, invalid = parts[0]
            return stored[:, start : start + self.size], invalid[start : start + self.size]
        stored = np.concatenate([p[0] for p in parts], axis=1)[:, start : start + self.size]
        invalid = np.concatenate([p[1] for p in parts], axis=0)[start : start + self.size]
        return stored, invalid
