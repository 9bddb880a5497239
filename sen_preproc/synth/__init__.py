"""Simulated Sentinel-1 + Sentinel-2 landscapes (``senprep synth``).

A region with relief, rivers, a lake, forest, settlements and farmland whose fields follow their
crop calendars, observed by Sentinel-2 (reflectance from a canopy model, clouds and shadows)
and Sentinel-1 (water cloud model over soil, local incidence, speckle) at several dates, written
as real-looking SAFE products plus the truth behind them:

* :mod:`~sen_preproc.synth.fields` - correlated random fields;
* :mod:`~sen_preproc.synth.landscape` - the static layout;
* :mod:`~sen_preproc.synth.phenology` - crops, events, soil moisture, floods;
* :mod:`~sen_preproc.synth.optics` - Sentinel-2 reflectance;
* :mod:`~sen_preproc.synth.radar` - Sentinel-1 backscatter;
* :mod:`~sen_preproc.synth.atmosphere` - clouds, cirrus, haze, shadows, scene classification;
* :mod:`~sen_preproc.synth.location` - tile, UTM zone and acquisition times;
* :mod:`~sen_preproc.synth.build` - ``senprep synth`` itself;
* :mod:`~sen_preproc.synth.realism` - statistics to compare a scene with real data.
"""
