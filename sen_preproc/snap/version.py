"""SNAP versions as comparable tuples."""

from __future__ import annotations

import re
from typing import NamedTuple

from sen_preproc.errors import OptionError


class SnapVersion(NamedTuple):
    """A SNAP release, e.g. ``SnapVersion(10, 0, 0)``; compares as a tuple."""

    major: int
    minor: int = 0
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @classmethod
    def parse(cls, text: str | int) -> SnapVersion:
        """``"10"``, ``"9.0.0"``, ``"SNAP Release version 10.0.0"``, ``14`` -> SnapVersion."""
        match = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text))
        if match is None:
            raise OptionError(f"cannot read a SNAP version from {text!r}; give e.g. 10 or 9.0.0")
        major, minor, patch = (int(g) if g else 0 for g in match.groups())
        return cls(major, minor, patch)


# The versions the built-in catalogue knows (SNAP 6 ... 14); others map to the nearest lower one.
KNOWN_MAJORS = tuple(range(6, 15))
