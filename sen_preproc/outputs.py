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

import contextlib
import errno
import logging
import os
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from sen_preproc.errors import MissingDataError, OptionError, OutputError, OutputExistsError
from sen_preproc.gdal_messages import DAMAGE_WARNING

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
    check_writable(path)


TEMPORARY_SUFFIX_BYTES = 32
"""Room kept in a file name for senprep's temporary suffixes (``.NAME.cog-PID.tif.ovr.tmp``)."""

MIN_FREE_BYTES = 1 << 20
"""Below this much free space the output folder counts as full."""


def check_writable(path: Path) -> None:
    """Check, before any work, that ``path`` can be created: its name fits the file system
    (with senprep's temporary suffix), its folder accepts a new file and is not full.

    Raises
    ------
    OptionError
        The name is too long.
    OutputError
        The folder is read-only, not writable for this user, or full.
    """
    folder = path.parent if str(path.parent) else Path(".")
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    length = len(path.name.encode())
    if length + TEMPORARY_SUFFIX_BYTES > name_max:
        raise OptionError(
            f"{path}: the name is {length} bytes; this file system allows {name_max} and senprep "
            f"needs {TEMPORARY_SUFFIX_BYTES} more for its temporary name: choose a shorter --out"
        )
    try:
        handle, probe = tempfile.mkstemp(prefix=".senprep-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(
            f"{folder}: cannot create files in this folder ({err.strerror}); choose another "
            "--out or make the folder writable"
        ) from err
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise OutputError(
            f"{folder}: the disk is full ({free} bytes free); free some space or choose "
            "another --out"
        )


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EIO}


@contextlib.contextmanager
def writing(path: Path, *, hold_native: bool = True) -> Iterator[None]:
    """Write (part of) the output ``path``: a full disk, a quota, a file-size limit or a
    read-only remount becomes one :class:`OutputError` naming ``path`` (the caller's clean-up
    removes the temporaries). GDAL's write errors carry no errno: the free space tells.
    ``hold_native`` holds back what C libraries print to descriptor 2 meanwhile (for short
    blocks only: progress bars print there too)."""
    from rasterio.errors import RasterioIOError

    logger = logging.getLogger("rasterio._err")
    held = _HeldRecords()
    logger.addFilter(held)
    native: contextlib.AbstractContextManager[None] = (
        _NativeStderr() if hold_native else contextlib.nullcontext()
    )
    reported = False  # a write failure said in one line: what GDAL printed is dropped
    try:
        with native:
            yield
    except OutputError as err:  # an inner writer's (e.g. a file in a folder being built)
        reported = True
        reason = str(err).split(": ", 1)[-1]
        raise OutputError(f"{path}: {reason}") from err
    except OSError as err:
        if _is_write_failure(path, err, RasterioIOError):
            reported = True
            raise OutputError(f"{path}: {_write_failure(path, err)} (nothing was kept)") from err
        raise
    finally:
        logger.removeFilter(held)
        if not reported:  # success, or another error: GDAL's messages are shown as usual
            _replay(native)
            held.release(logger)


def quiet_native_stderr() -> contextlib.AbstractContextManager[None]:
    """Drop what C libraries print to descriptor 2 inside the block."""
    return _NativeStderr()


_DEFERRED_SIGNALS = {
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
}


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Block SIGINT/SIGTERM/SIGHUP in this thread for a few system calls; a signal that came
    meanwhile is delivered (and its Python handler runs) right after."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _NativeStderr:
    """Holds back what C libraries print straight to file descriptor 2 while it is active
    (libtiff prints "_tiffWriteProc: No space left on device." itself, outside any Python
    logging): replayed after a successful write, dropped when the failure is reported."""

    def __init__(self) -> None:
        self._saved: int | None = None
        self._buffer: IO[bytes] | None = None
        self._captured = b""

    def __enter__(self) -> None:
        with _signals_deferred():  # a signal between the swaps must not leave fd 2 redirected
            try:
                sys.stderr.flush()
                self._buffer = tempfile.TemporaryFile()
                self._saved = os.dup(2)
                os.dup2(self._buffer.fileno(), 2)
            except (OSError, ValueError):  # no usable descriptor 2: nothing to hold back
                self._restore()
            except BaseException:
                self._restore()
                raise

    def __exit__(self, *exc: object) -> None:
        with _signals_deferred():
            self._restore()

    def _restore(self) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        if self._buffer is not None:
            self._buffer.seek(0)
            self._captured = self._buffer.read()
            self._buffer.close()
            self._buffer = None

    def replay(self) -> None:
        if self._captured:
            with contextlib.suppress(OSError):
                os.write(2, self._captured)
            self._captured = b""


def _replay(native: object) -> None:
    if isinstance(native, _NativeStderr):
        native.replay()


class _HeldRecords(logging.Filter):
    """GDAL's messages during a write, held back: a failed write is reported in one line (the
    message says why), a successful one logs them as usual."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.releasing = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.releasing or record.levelno < logging.WARNING:
            return True
        if DAMAGE_WARNING.search(record.getMessage()):
            return True  # for raster_io.decoding's filter: an input is damaged, not the output
        self.records.append(record)
        return False

    def release(self, logger: logging.Logger) -> None:
        self.releasing = True
        for record in self.records:
            logger.handle(record)
        self.records.clear()


def _free_bytes(path: Path) -> int:
    folder = path.parent if str(path.parent) else Path(".")
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return -1


def _is_write_failure(path: Path, err: OSError, gdal_error: type[OSError]) -> bool:
    """Whether ``err`` is the output failing to be written (not an input failing to be read
    inside the same block): GDAL's errors when they speak of writing or space, or the disk
    is full; a full disk, quota or size limit; a refused write under the output's folder."""
    if isinstance(err, gdal_error):
        text = str(err).lower()
        return "writ" in text or "space" in text or 0 <= _free_bytes(path) < MIN_FREE_BYTES
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    if 0 <= _free_bytes(path) < MIN_FREE_BYTES:  # e.g. numpy's "N requested and M written"
        return True
    if err.errno in _WRITE_ERRNOS:
        folder = (path.parent if str(path.parent) else Path(".")).resolve()
        return err.filename is None or _inside(Path(str(err.filename)), folder)
    return False


def _file_size_limit() -> int | None:
    """The soft RLIMIT_FSIZE in bytes, or None when unlimited (or unknown)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _write_failure(path: Path, err: OSError) -> str:
    free = _free_bytes(path)
    if err.errno in (errno.ENOSPC, errno.EDQUOT) or 0 <= free < MIN_FREE_BYTES:
        return "the disk filled up while writing; free some space or choose another --out"
    if err.errno in (errno.EROFS, errno.EACCES):
        return f"cannot write ({err.strerror}); choose another --out"
    limit = _file_size_limit()
    if err.errno == errno.EFBIG or (err.errno is None and limit is not None):
        shown = f": {limit} bytes" if limit is not None else ""
        return (
            f"the file reached this process's file-size limit (ulimit -f{shown}); raise the "
            "limit or write a smaller output"
        )
    detail = " ".join(str(err).split())[:160]
    return f"writing failed ({detail}); check the disk and the folder, then run again"


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
    if path.name in ("", ".", "..") or _same(path, Path.cwd()):
        raise OptionError(
            f"{path} is the current folder; give --out the name of a new folder for "
            f"{kind} (e.g. -o out)"
        )
    if not path.exists() or not any(path.iterdir()):
        if not path.parent.exists():
            raise MissingDataError(
                f"{path.parent}: the parent folder does not exist; create it or choose another --out"
            )
        check_writable(path)
        return
    check_writable(path)
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
