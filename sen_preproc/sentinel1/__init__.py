"""Sentinel-1 GRD preprocessing (``senprep s1``, Python engine), one module per step:

* :mod:`~sen_preproc.sentinel1.product` - open and check the SAFE (zip/folder), read metadata;
* :mod:`~sen_preproc.sentinel1.luts` - the annotation LUT grids (bilinear in line/pixel);
* :mod:`~sen_preproc.sentinel1.border_noise` - GRD border-noise removal;
* :mod:`~sen_preproc.sentinel1.thermal_noise` - range x azimuth thermal-noise LUT;
* :mod:`~sen_preproc.sentinel1.calibration` - σ0/β0/γ0;
* :mod:`~sen_preproc.sentinel1.orbit` - orbit files and interpolation;
* :mod:`~sen_preproc.sentinel1.speckle` - speckle filters (SNAP semantics);
* :mod:`~sen_preproc.sentinel1.geodesy`, :mod:`~sen_preproc.sentinel1.geoid` - ECEF, geoid
  heights;
* :mod:`~sen_preproc.sentinel1.terrain` - range-Doppler terrain correction;
* :mod:`~sen_preproc.sentinel1.chain` - the chain and its output (``process_s1``).
"""
