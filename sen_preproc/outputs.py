"""Where outputs go and what they may replace: senprep's data-safety rules, in one place.

Every command follows them:

* an output never replaces an input - not the same file, not a folder holding an input - with
  or without ``--overwrite``;
* an existing output is replaced only with ``--overwrite``, and only when senprep wrote it: a
  GeoTIFF carrying senprep's ``SENPREP_VERSION`` tag, a graph XML opening with senprep's
  header comment, a dataset folder holding senprep's ``dataset.json`` and nothing senprep
  did not write. Anything else (a user's file, ``-o ~``, ``-o ..``) is refused with the reason;
* outputs are written to a temporary name beside the final one and renamed into place at the
  end (see :class:`sen_preproc.raster_io.GeoTiffWriter`), so a failure leaves nothing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from sen_preproc.errors import MissingDataError, OptionError, OutputExistsError

SENPREP_TAG = "SENPREP_VERSION"
"""GeoTIFF tag every senprep raster carries (and that marks it as replaceable)."""
GRAPH_HEADER = "<!-- written by senprep"
"""First characters of every graph XML that ``senprep graph`` writes."""


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def check_not_an_input(path: Path, inputs: Iterable[Path | None]) -> None:
    """Refuse an output that is an input, or a folder holding one."""
    for given in inputs:
        if given is None:
            continue
        source = Path(given)
        if _same(path, source) or (path.is_dir() and _inside(source, path)):
            what = "is" if _same(path, source) else "holds"
            raise OptionError(
                f"{path}: the output {what} the input {source}; choose another --out "
                "(senprep never writes over its inputs)"
            )


def written_by_senprep(path: Path) -> bool:
    """True for a file senprep wrote: a raster with the ``SENPREP_VERSION`` tag, or a graph XML
    with senprep's header."""
    if not path.is_file():
        return False
    if path.suffix.lower() == ".xml":
        try:
            with path.open("r", encoding="utf-8", errors="replace") as handle:
                return handle.read(512).lstrip().startswith(GRAPH_HEADER)
        except OSError:
            return False
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                return SENPREP_TAG in ds.tags()
    except (RasterioIOError, OSError):
        return False


def check_output_file(path: Path, *, overwrite: bool, inputs: Iterable[Path | None] = ()) -> None:
    """Check that ``path`` may be written (see the module rules).

    Raises
    ------
    OptionError
        ``path`` is an input, a folder, or a file senprep did not write.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    MissingDataError
        The folder of ``path`` does not exist.
    """
    check_not_an_input(path, inputs)
    if path.is_dir():
        raise OptionError(f"{path} is a folder; give a file name to --out")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")
        if path.is_symlink() or not written_by_senprep(path):
            raise OptionError(
                f"{path} exists and was not written by senprep; --overwrite replaces only "
                "senprep's own outputs: move the file away or choose another --out"
            )
    if not path.parent.exists():
        raise MissingDataError(
            f"{path.parent}: output folder does not exist; create it or choose another --out"
        )


def resolve_output(
    out: Path | None,
    default_name: str,
    overwrite: bool,
    inputs: Iterable[Path | None] = (),
) -> Path:
    """The output file: ``out``, ``out/default_name`` when ``out`` is a folder, or
    ``./default_name``; checked with :func:`check_output_file`."""
    path = out or Path.cwd() / default_name
    if path.is_dir():
        path = path / default_name
    check_output_file(path, overwrite=overwrite, inputs=inputs)
    return path


def check_output_folder(
    path: Path,
    *,
    overwrite: bool,
    inputs: Iterable[Path | None],
    foreign_entries: Callable[[Path], list[str] | None],
    kind: str,
) -> None:
    """Check that folder ``path`` may be (re)written.

    Parameters
    ----------
    foreign_entries : callable
        For an existing folder: None when it is not one senprep wrote (no marker), else the
        entries in it that senprep did not write (empty list: all its own).
    kind : str
        What the folder is, for messages (``a senprep dataset``).

    Raises
    ------
    OptionError
        ``path`` is a file, a link, holds an input, is not ``kind`` or holds other files.
    OutputExistsError
        ``path`` is a non-empty folder of ``kind`` and ``overwrite`` is False.
    """
    check_not_an_input(path, inputs)
    if path.is_symlink():
        raise OptionError(f"{path} is a symbolic link; give the real folder to --out")
    if path.exists() and not path.is_dir():
        raise OptionError(f"{path} is a file, not a folder; choose another --out")
    if not path.exists() or not any(path.iterdir()):
        if not path.parent.exists():
            raise MissingDataError(
                f"{path.parent}: the parent folder does not exist; create it or choose another --out"
            )
        return
    foreign = foreign_entries(path)
    if foreign is None:
        raise OptionError(
            f"{path} is not {kind} and not empty; senprep replaces only its own outputs: "
            "choose a new or empty folder for --out"
        )
    if not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise OptionError(
            f"{path} holds files senprep did not write ({shown}); move them away or choose "
            "another --out"
        )
