"""What GDAL's warnings mean for senprep (shared by the readers and the writers).

GDAL reports a damaged compressed stream only as a warning and returns the pixels it could
guess: OpenJPEG's "Stream does not end with EOC", libtiff's "TIFFReadEncodedStrip ... Read
error", zlib's "Error -3 while decompressing". The patterns are anchored on those phrases so
that harmless warnings ("Geocentric CRS not supported", "TIFFReadDirectory: Sum of
Photometric type-related color channels and ExtraSamples doesn't match") do not count.
"""

from __future__ import annotations

import re

DAMAGE_WARNING = re.compile(
    r"does not end with EOC|\bEOC marker\b|truncated (file|stream|data|image|tile|strip)|"
    r"file is truncated|premature end|corrupt(ed)? (data|stream|file|image|tile|strip|JPEG)|"
    r"unexpected end of (file|data|stream)|stream too short|not enough data|"
    r"IReadBlock failed|TIFFRead(Encoded|Raw)(Strip|Tile)|TIFFFill(Strip|Tile)|"
    r"\bread error\b|failed to decode|decompression (error|failed)|while decompressing",
    re.IGNORECASE,
)
"""A GDAL warning saying that the stream being decoded is damaged."""
