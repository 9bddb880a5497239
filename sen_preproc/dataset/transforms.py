"""Item transforms for :class:`~sen_preproc.dataset.reader.PatchDataset` (numpy only).

A transform takes an item (dict) and returns one, as torchgeo's ``transforms`` do, so they
compose with any callable (``lambda item: f(g(item))``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sen_preproc.dataset.reader import PatchDataset, Sample


class Standardise:
    """``(x - mean) / std`` per band with the training-split statistics of ``stats.json``.

    Parameters
    ----------
    stats : dict
        Item key -> ``(mean, std)`` arrays of shape ``(bands, 1, 1)``.

    Examples
    --------
    >>> train = PatchDataset(folder, "train")  # doctest: +SKIP
    >>> train.transforms = Standardise.from_dataset(train)  # doctest: +SKIP
    """

    def __init__(
        self, stats: dict[str, tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]
    ) -> None:
        self.stats = stats

    @classmethod
    def from_dataset(cls, dataset: PatchDataset, keys: Iterable[str] | None = None) -> Standardise:
        """Statistics of ``dataset`` for ``keys`` (default: every S1/S2 key; ``valid`` stays 0/1)."""
        chosen = keys if keys is not None else [k for k in dataset.keys if "valid" not in k]
        return cls({key: dataset.band_stats(key) for key in chosen})

    def __call__(self, item: Sample) -> Sample:
        out = dict(item)
        for key, (mean, std) in self.stats.items():
            scale = np.where(std > 0, std, np.float32(1.0))
            out[key] = ((item[key] - mean) / scale).astype(np.float32)
        return out
