"""senprep: Sentinel-1 / Sentinel-2 preprocessing for SAR-optical image fusion."""

__version__ = "0.1.0"

from sen_preproc.errors import SenPrepError

__all__ = ["SenPrepError", "__version__"]
