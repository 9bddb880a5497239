"""Termination signals, and the temporary files and folders a stopped run could leave.

Every output is written under a temporary name beside it (``.NAME.part-PID.tif``,
``.NAME.cog-PID.tif``, ``.NAME.tmp-PID/``: :func:`temporary_path`) and renamed into place at
the end; ``with`` blocks and ``finally`` clauses remove the temporaries on any exception.

* **SIGINT** (Ctrl-C) raises ``KeyboardInterrupt``; **SIGTERM** and **SIGHUP** (``kill``,
  ``timeout``, a closed terminal, a batch scheduler ending a job) would end the process on the
  spot. :func:`raise_on_termination` turns them into :class:`Terminated`, raised in the main
  thread, so the same clean-up runs; the command-line tools then print one line and exit with
  128 + the signal number (143 for SIGTERM, as a shell reports it). A signal that comes during
  an ``import`` is delivered again 50 ms later (an exception inside a module's initialisation
  would surface as an ``ImportError``); a second signal during the clean-up is ignored. The
  entry points (``python -m sen_preproc`` / ``mccgan``) install this before their imports.
* **SIGKILL** (``kill -9``, the kernel's out-of-memory killer) cannot be caught: the
  temporaries of that run stay. They carry the dead process's id, and the next run writing the
  same output removes them (:func:`remove_stale_temporaries`): only names of this pattern, only
  when no process of that id is alive.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

LOGGER = logging.getLogger(__name__)
TEMPORARY_KINDS = ("part", "cog", "tmp")
"""What a temporary is: a file being written, its COG copy, a folder being filled or a scratch
image."""
_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<kind>part|cog|tmp)-(?P<pid>\d+)(?P<rest>(\..*)?)$")
TERMINATION_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM, SIGHUP). A ``BaseException`` like
    ``KeyboardInterrupt``: ``except Exception`` handlers let it through, clean-up runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"terminated by {signal.Signals(self.signum).name}"


_raised = threading.Event()


def _importing(frame: FrameType | None) -> bool:
    """Whether the main thread is inside an ``import`` (an exception raised there would turn
    into a broken module or an ``ImportError: initialization failed``)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    if _raised.is_set():  # already stopping: let the clean-up finish
        return
    if _importing(frame):  # deliver it again in 50 ms, once the import is done
        retry = threading.Timer(0.05, os.kill, (os.getpid(), signum))
        retry.daemon = True
        retry.start()
        return
    _raised.set()
    raise Terminated(signum)


def raise_on_termination() -> None:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` (from the main thread only; elsewhere
    nothing changes). Called by the command-line entry points."""
    if threading.current_thread() is not threading.main_thread():
        return
    _raised.clear()
    for signum in TERMINATION_SIGNALS:
        signal.signal(signum, _raise_terminated)


def temporary_path(path: Path, kind: str, suffix: str = "") -> Path:
    """The temporary name of ``path`` for this process: ``.NAME.KIND-PID[SUFFIX]`` beside it."""
    if kind not in TEMPORARY_KINDS:
        raise ValueError(f"kind must be one of {', '.join(TEMPORARY_KINDS)}, got {kind!r}")
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}{suffix}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    except OSError:
        return True  # cannot tell: keep its files
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by processes that no longer exist (a SIGKILL,
    a power cut); returns what was removed. Anything else beside ``path`` is left alone."""
    removed: list[Path] = []
    folder = path.parent if str(path.parent) else Path(".")
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _PATTERN.match(entry.name)
        if match is None or match["name"] != path.name or _alive(int(match["pid"])):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as err:
            LOGGER.warning("cannot remove %s, left by a stopped run (%s)", entry, err)
            continue
        LOGGER.info("removed %s, left by a stopped run (process %s)", entry, match["pid"])
        removed.append(entry)
    return removed


EXIT_BUG = 70
"""Exit code of an unexpected exception (``EX_SOFTWARE``): a bug, reported with a traceback."""


def run_command(command: Callable[[], object], prog: str) -> None:
    """Run a command-line entry point with :func:`raise_on_termination`: a SIGTERM or SIGHUP
    ends it with one line and exit code 128 + the signal, after the clean-up."""
    raise_on_termination()
    try:
        command()
    except Terminated as err:
        sys.stderr.write(f"Error: {prog} {err}; its temporary files were removed\n")
        sys.exit(err.exit_code)
    except MemoryError:
        sys.stderr.write(
            f"Error: {prog} ran out of memory; process a smaller area (--aoi), lower "
            "--batch-size, or use a machine with more memory (temporary files were removed)\n"
        )
        sys.exit(1)
    except OSError as err:  # the system refused: a disk error, a permission, a vanished file
        where = f"{err.filename}: " if err.filename else ""
        sys.stderr.write(
            f"Error: {where}{err.strerror or err} (errno {err.errno}); check the file, its "
            "permissions and the disk, then run again (temporary files were removed)\n"
        )
        sys.exit(1)
    except Exception as err:  # not a foreseen failure (those are one line): a bug to report
        if isinstance(err, RuntimeError) and "out of memory" in str(err).lower():  # CUDA, MPS
            sys.stderr.write(
                f"Error: {prog}: the device ran out of memory ({str(err).splitlines()[0][:120]}); "
                "lower --batch-size (or --tile-size for fuse), or use --device cpu\n"
            )
            sys.exit(1)
        import traceback

        from sen_preproc import __version__

        traceback.print_exc()
        sys.stderr.write(
            f"{prog} {__version__}: unexpected {type(err).__name__}: this is a bug, not a problem "
            "with your data or options. Please report it with the command line and the "
            "traceback above (README: 'Reporting a problem'); temporary files were removed.\n"
        )
        sys.exit(EXIT_BUG)
