"""Sentinel-2 preprocessing (``senprep s2``, Python engine):

* :mod:`~sen_preproc.sentinel2.product` - open L2A/L1C SAFE (zip/folder), band-GeoTIFF folders,
  multi-band GeoTIFFs (metadata only);
* :mod:`~sen_preproc.sentinel2.radiometry` - DN -> reflectance, SCL -> ``valid``, output coding;
* :mod:`~sen_preproc.sentinel2.sen2cor` - Sen2Cor for L1C (``--atmcor sen2cor``);
* :mod:`~sen_preproc.sentinel2.chain` - the chain and its output (``process_s2``).
"""
