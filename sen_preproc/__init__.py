"""senprep: Sentinel-1 / Sentinel-2 preprocessing for SAR-optical image fusion.

The folders follow the pipeline (``senprep <command>`` -> where it lives):

* ``sentinel1/`` - ``senprep s1``: GRD SAFE -> terrain-corrected σ0 GeoTIFF (``chain.py``);
* ``sentinel2/`` - ``senprep s2``: L2A/L1C -> reflectance + ``valid`` GeoTIFF (``chain.py``);
* ``pair.py`` - ``senprep pair``: S1 + S2 on one grid, cropped to their overlap;
* ``dataset/`` - ``senprep split`` and :class:`~sen_preproc.dataset.PatchDataset`;
* ``snap/`` - the SNAP engine (``--engine snap``, ``senprep graph``), ``engines.py`` the seam
  between engines; ``doctor.py`` - ``senprep doctor``;
* shared: ``bands.py`` (band names), ``grid.py`` (grids, AOIs), ``raster_io.py`` (raster I/O),
  ``outputs.py`` (what an output may replace), ``progress.py``, ``runner.py`` (subprocesses),
  ``quicklook.py`` (PNG quick-looks),
  ``errors.py``; ``cli/`` the commands; ``testing/`` format-faithful test products.

``sen_preproc`` never imports torch or ``mccgan``.
"""

__version__ = "0.1.0"

from sen_preproc.errors import SenPrepError

__all__ = ["SenPrepError", "__version__"]
