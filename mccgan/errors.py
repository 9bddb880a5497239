"""Exception hierarchy of mccgan: one root, subclasses that also inherit the built-in type.

Every message names the offending value (a file, an option) and the fix.
"""

from __future__ import annotations


class MccganError(Exception):
    """Root of all mccgan errors."""


class ConfigError(MccganError, ValueError):
    """A training/fusion option or configuration value is invalid."""


class DataError(MccganError, ValueError):
    """A dataset is missing, damaged, or lacks what the model needs."""


class CheckpointError(MccganError, ValueError):
    """A checkpoint or exported model cannot be used (format, checksum, band layout)."""
