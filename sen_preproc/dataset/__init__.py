"""The patch dataset: ``senprep split`` writes it, :class:`PatchDataset` reads it.

Modules, in the order data flows through them:

* :mod:`~sen_preproc.dataset.pairs` - the aligned pairs (dates I, II, ...), their units and grid;
* :mod:`~sen_preproc.dataset.tiling` - patch windows and leakage-free spatial splits;
* :mod:`~sen_preproc.dataset.coding` - how values are stored (int16 scale/offset or float32);
* :mod:`~sen_preproc.dataset.blocks` - strips of rows read and encoded once;
* :mod:`~sen_preproc.dataset.samples` - the sample GeoTIFF writer and reader;
* :mod:`~sen_preproc.dataset.stats` - training-split statistics;
* :mod:`~sen_preproc.dataset.export` - the paper's 8-bit JPGs;
* :mod:`~sen_preproc.dataset.schema` - the folder's contract (dataset.json, manifest, stats);
* :mod:`~sen_preproc.dataset.split` - ``senprep split`` (plan, write, summarise);
* :mod:`~sen_preproc.dataset.reader` - :class:`PatchDataset`;
* :mod:`~sen_preproc.dataset.transforms` - item transforms (standardisation).
"""

from sen_preproc.dataset.reader import PatchDataset
from sen_preproc.dataset.samples import read_sample
from sen_preproc.dataset.schema import DatasetError, DatasetInfo, read_info

__all__ = ["DatasetError", "DatasetInfo", "PatchDataset", "read_info", "read_sample"]
