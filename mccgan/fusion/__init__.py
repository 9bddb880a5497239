"""Full-scene fusion (``mccgan fuse``): :mod:`~mccgan.fusion.inputs` (what is read, on which
grid), :mod:`~mccgan.fusion.tiling` (tiles, blending, receptive field),
:mod:`~mccgan.fusion.gapfill` (keeping the clear pixels of the target date) and
:mod:`~mccgan.fusion.fuse` (the two passes)."""

OUTPUT_DTYPES = ("auto", "uint16", "float32")
"""``--dtype`` of ``mccgan fuse`` (``auto``: as ``senprep s2`` wrote the reference S2)."""
