"""Exception hierarchy: one root, subclasses that also inherit the matching built-in type.

Every message names the offending value (usually a file) and the fix.
"""

from __future__ import annotations


class SenPrepError(Exception):
    """Root of all senprep errors."""


class ProductError(SenPrepError, ValueError):
    """The input product is not what it should be (not a SAFE, wrong type, truncated...)."""


class MissingDataError(SenPrepError, FileNotFoundError):
    """A file the processing needs is absent (measurement, polarisation, DEM, geoid grid)."""


class OptionError(SenPrepError, ValueError):
    """A user option has an invalid value."""


class OrbitError(SenPrepError, ValueError):
    """An orbit file is unreadable or does not cover the acquisition."""


class GeometryError(SenPrepError, ValueError):
    """Geocoding failed or the requested area does not intersect the product."""


class OutputExistsError(SenPrepError, FileExistsError):
    """The output exists and ``--overwrite`` was not given."""


class SnapError(SenPrepError, RuntimeError):
    """Root of the SNAP engine's errors (graphs, gpt)."""


class GraphError(SnapError, ValueError):
    """A GPT graph is malformed or would be rejected by gpt (unknown element, bad value...)."""


class GptNotFoundError(SnapError, FileNotFoundError):
    """No SNAP ``gpt`` executable was found."""


class GptError(SnapError, RuntimeError):
    """gpt failed (non-zero exit, Java error, empty output...)."""


class GptTimeoutError(GptError, TimeoutError):
    """gpt ran longer than ``--timeout``."""


class GptMemoryError(GptError):
    """gpt ran out of Java heap or was killed (SIGKILL, usually the system's OOM killer)."""


class GptOrbitError(GptError):
    """gpt's Apply-Orbit-File found no orbit file (offline, or none placed in SNAP's auxdata)."""


class GptOutputError(GptError):
    """gpt exited 0 but its output is unusable: AOI without intersection, missing, empty,
    0×0 or constant."""


class EmptyOutputError(SenPrepError, ValueError):
    """The result holds no valid pixel (no overlap, an all-zero product, a grid of no data):
    refused instead of written."""


class OutputError(SenPrepError, OSError):
    """An output cannot be written: a read-only or full disk, missing permissions, a name the
    file system refuses. Nothing is left behind."""
