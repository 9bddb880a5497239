"""Find and run ESA SNAP's Graph Processing Tool ``gpt``: the only module that starts SNAP.

* :func:`find_gpt` locates ``gpt`` (``--gpt``, ``$SENPREP_GPT``, ``$SNAP_HOME``, PATH, the
  default install folders) and :func:`detect_version` reads the release (``VERSION.txt`` in the
  SNAP home, else ``gpt --diag``);
* :func:`read_vmoptions`, :func:`default_cache_size`, :func:`default_parallelism` give the
  ``-c``/``-q`` values; :func:`build_command` the argument list;
* :func:`run_gpt` runs one graph (own process session, merged output streamed to a log file
  and parsed for progress, failures mapped to clear errors, partial outputs removed);
  :func:`run_graph_parts` runs a split graph (``--split-graph``) and removes its BEAM-DIMAP
  intermediates;
* :func:`place_orbit_file` copies an ``.EOF`` into the folder where SNAP's Apply-Orbit-File
  looks before trying to download.

Facts used (SNAP's source, snap-engine/microwave-toolbox): gpt takes its first argument for a
graph only when it ends in ``.xml`` (or contains a path separator), otherwise for an operator
name; ``-P`` values are pasted raw into the XML text (no escaping, so we escape); failures print
``Error: <message>`` and exit 1, a kill by the OOM killer gives -9; Subset without intersection
only warns and exits 0; progress is printed by ``PrintWriterConciseProgressMonitor`` as
``Executing processing graph`` then ``....10%....20%...`` on one line (no newline until
`` done.``), so the output is read in chunks, not lines.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from sen_preproc.errors import (
    GptError,
    GptMemoryError,
    GptNotFoundError,
    GptOrbitError,
    GptOutputError,
    GptTimeoutError,
    GraphError,
    MissingDataError,
    OptionError,
    OrbitError,
    SnapError,
)
from sen_preproc.snap.graph import escape_value
from sen_preproc.snap.version import SnapVersion

LOGGER = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

GPT_ENV_VAR = "SENPREP_GPT"
SNAP_HOME_ENV_VAR = "SNAP_HOME"
VERSION_FILE_NAME = "VERSION.txt"
"""First line = release version (snap-engine ``SystemUtils.getReleaseVersion``, what
``gpt --diag`` prints as ``SNAP Release version``)."""
VMOPTIONS_NAME = "gpt.vmoptions"

DEFAULT_GPT_LOCATIONS: dict[str, tuple[str, ...]] = {
    # SNAP <= 9 installs into "snap", SNAP >= 10 into "esa-snap".
    "linux": (
        "~/esa-snap/bin/gpt",
        "~/snap/bin/gpt",
        "/opt/esa-snap/bin/gpt",
        "/opt/snap/bin/gpt",
        "/usr/local/esa-snap/bin/gpt",
        "/usr/local/snap/bin/gpt",
    ),
    "darwin": (
        "/Applications/esa-snap/bin/gpt",
        "/Applications/snap/bin/gpt",
        "~/Applications/esa-snap/bin/gpt",
        "~/Applications/snap/bin/gpt",
        "~/esa-snap/bin/gpt",
        "~/snap/bin/gpt",
    ),
    "win32": (
        r"%ProgramFiles%\esa-snap\bin\gpt.exe",
        r"%ProgramFiles%\snap\bin\gpt.exe",
        r"C:\Program Files\esa-snap\bin\gpt.exe",
        r"C:\Program Files\snap\bin\gpt.exe",
        r"%LOCALAPPDATA%\Programs\esa-snap\bin\gpt.exe",
        r"%LOCALAPPDATA%\Programs\snap\bin\gpt.exe",
    ),
}
"""Default install locations per ``sys.platform`` (``~`` and ``%VAR%`` expanded from the
environment given to :func:`find_gpt`)."""

CACHE_FRACTION = 0.65
"""``-c`` as a fraction of the Java heap (users' rule of thumb: 50–75 % of ``-Xmx``)."""
FALLBACK_CACHE = "1024M"
KILL_GRACE_S = 3.0
"""Seconds between SIGTERM and SIGKILL of gpt's process group."""
EOF_GRACE_S = 5.0
"""Seconds to wait for the end of gpt's output after it exited (orphans may hold the pipe)."""

_MIB = 1 << 20
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_CACHE_SIZE = re.compile(r"\d+[KMG]?\Z", re.IGNORECASE)
_XMX = re.compile(r"^\s*-(?:Xmx|XX:MaxHeapSize=)(\d+)([kKmMgGtT]?)\s*$")
_DIAG_VERSION = re.compile(r"SNAP Release version\s+(\S+)")

# --- output patterns -----------------------------------------------------------------------
_PERCENT = re.compile(r"\.(\d{1,3})%")
_DONE = re.compile(r"[.%]\s*done\.")
_UNKNOWN_ELEMENT = re.compile(
    r"(?:\[NodeId:\s*(?P<node>[^\]]+?)\s*\]\s*)?(?:Operator\s+'(?P<op>[^']+)':\s*)?"
    r"Unknown element '(?P<param>[^']+)'"
)
_JAVA_OOM = re.compile(r"OutOfMemoryError|Java heap space|GC overhead limit exceeded")
_HEAP_RESERVE = re.compile(r"Could not reserve enough space|Invalid maximum heap size")
_NO_INTERSECTION = re.compile(r"No intersection", re.IGNORECASE)
_ORBIT = re.compile(
    r"No valid orbit file found|Unable to find POD orbit file|"
    r"not within the validity period of the orbit",
    re.IGNORECASE,
)
_ORBIT_DIR = re.compile(r"placed in\s+(?P<dir>\S.*?)\s*$")
_ORBIT_DATE = re.compile(r"orbit file found for\s+\d{1,2}-(?P<mon>[A-Za-z]{3})-(?P<year>\d{4})")
_NETWORK = re.compile(
    r"UnknownHostException|ConnectException|NoRouteToHostException|No route to host|"
    r"Network is unreachable|SocketTimeoutException"
)
_ERROR_LINE = re.compile(r"^\s*(?:Error:|SEVERE:|Exception in thread \"main\")\s*(?P<msg>.+)")
_WARNING_LINE = re.compile(r"^\s*WARNING:\s*(?P<msg>.+)")
_MONTHS = {
    m: i for i, m in enumerate(("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC").split(), 1)
}

# --- orbit file names ----------------------------------------------------------------------
_ORBIT_NAME = re.compile(
    r"^(?P<mission>S1[A-D])_OPER_AUX_(?P<kind>POEORB|RESORB)_OPOD_(?P<created>\d{8}T\d{6})_"
    r"V(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})(?P<ext>\.EOF(?:\.ZIP)?|\.ZIP)$",
    re.IGNORECASE,
)


# =========================================================================================
# Installation
# =========================================================================================


@dataclass(frozen=True)
class GptInstall:
    """A SNAP ``gpt`` executable.

    Attributes
    ----------
    path : Path
        The ``gpt`` (``gpt.exe``) executable, absolute.
    version : SnapVersion or None
        The SNAP release, None when unknown.
    snap_home : Path or None
        The SNAP installation folder (parent of ``bin``), None when ``gpt`` is not in a ``bin``.
    """

    path: Path
    version: SnapVersion | None
    snap_home: Path | None

    @property
    def vmoptions(self) -> Path:
        """Where the Java options of this gpt are (``<snap_home>/bin/gpt.vmoptions``)."""
        return vmoptions_path(self)

    def describe(self) -> str:
        """``/opt/esa-snap/bin/gpt (SNAP 10.0.0)``."""
        version = f"SNAP {self.version}" if self.version else "SNAP version unknown"
        return f"{self.path} ({version})"


def snap_home_of(gpt: Path) -> Path | None:
    """SNAP installation folder of a ``gpt`` executable (symlinks resolved), or None."""
    real = Path(os.path.realpath(gpt))
    return real.parent.parent if real.parent.name.lower() == "bin" else None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or env.get("USERPROFILE") or str(Path.home())


def _expand(template: str, env: Mapping[str, str]) -> Path | None:
    """Expand ``~`` and ``%VAR%``/``$VAR`` from ``env``; None when a variable is unset."""
    text = template
    if text.startswith("~"):
        text = _home(env) + text[1:]
    for name in re.findall(r"%([^%]+)%", text):
        if name not in env:
            return None
        text = text.replace(f"%{name}%", env[name])
    return Path(text)


def _gpt_in(folder: Path) -> Path | None:
    """``gpt`` inside a folder given for it (a SNAP home or its ``bin``)."""
    for sub in ("bin", ""):
        for name in ("gpt", "gpt.exe"):
            candidate = folder / sub / name if sub else folder / name
            if _is_executable(candidate):
                return candidate
    return None


def _looks_like_snap(gpt: Path) -> bool:
    """A ``gpt`` found on PATH belongs to SNAP (macOS has an unrelated ``/usr/sbin/gpt``)."""
    real = Path(os.path.realpath(gpt))
    home = real.parent.parent
    return (
        (real.parent / VMOPTIONS_NAME).exists()
        or (home / VERSION_FILE_NAME).exists()
        or (home / "etc" / "snap.properties").exists()
        or (home / "etc" / "snap.auxdata.properties").exists()
    )


def _install(path: Path, probe_version: bool) -> GptInstall:
    path = Path(os.path.abspath(path))
    version = detect_version(path) if probe_version else None
    return GptInstall(path=path, version=version, snap_home=snap_home_of(path))


def _checked(path: Path, origin: str, probe_version: bool) -> GptInstall:
    """The gpt named by ``--gpt`` or an environment variable, which must work."""
    if path.is_dir():
        inner = _gpt_in(path)
        if inner is None:
            raise GptNotFoundError(
                f"{origin} points to {path}, a folder without bin/gpt; give the gpt executable "
                "(e.g. /opt/esa-snap/bin/gpt) or the SNAP installation folder"
            )
        path = inner
    if not path.exists():
        raise GptNotFoundError(
            f"{origin} points to {path}, which does not exist; give the path of SNAP's gpt "
            "executable (e.g. ~/esa-snap/bin/gpt), or use --engine python"
        )
    if not _is_executable(path):
        raise GptNotFoundError(
            f"{origin} points to {path}, which is not an executable file; give SNAP's bin/gpt "
            "(chmod +x it if needed), or use --engine python"
        )
    return _install(path, probe_version)


def find_gpt(
    explicit: Path | None = None,
    env: Mapping[str, str] = os.environ,
    *,
    default_locations: Sequence[str | Path] | None = None,
    probe_version: bool = True,
) -> GptInstall:
    """Locate SNAP's ``gpt``.

    Search order: ``explicit`` (``--gpt``), ``$SENPREP_GPT``, ``$SNAP_HOME/bin/gpt``, PATH, the
    default install folders of the platform (:data:`DEFAULT_GPT_LOCATIONS`).

    Parameters
    ----------
    explicit : Path, optional
        ``--gpt``: the executable or a SNAP installation folder.
    env : mapping
        Environment (``SENPREP_GPT``, ``SNAP_HOME``, ``PATH``, ``HOME``...).
    default_locations : sequence, optional
        Replaces the platform's default locations (``~``/``%VAR%`` expanded).
    probe_version : bool
        Detect the SNAP version (:func:`detect_version`).

    Raises
    ------
    GptNotFoundError
        When an explicit or environment path does not work (naming it), or nothing is found
        (listing where it looked and the fixes).
    """
    if explicit is not None:
        return _checked(Path(explicit).expanduser(), "--gpt", probe_version)
    if env.get(GPT_ENV_VAR):
        return _checked(Path(env[GPT_ENV_VAR]).expanduser(), f"${GPT_ENV_VAR}", probe_version)
    looked: list[str] = ["--gpt (not given)", f"${GPT_ENV_VAR} (not set)"]
    if env.get(SNAP_HOME_ENV_VAR):
        home = Path(env[SNAP_HOME_ENV_VAR]).expanduser()
        found = _gpt_in(home)
        if found is not None:
            return _install(found, probe_version)
        LOGGER.warning("$%s=%s holds no bin/gpt; searching elsewhere", SNAP_HOME_ENV_VAR, home)
        looked.append(f"${SNAP_HOME_ENV_VAR}/bin/gpt = {home / 'bin' / 'gpt'}")
    else:
        looked.append(f"${SNAP_HOME_ENV_VAR} (not set)")
    on_path = shutil.which("gpt", path=env.get("PATH", os.defpath))
    if on_path is not None and _looks_like_snap(Path(on_path)):
        return _install(Path(on_path), probe_version)
    looked.append(
        "PATH" if on_path is None else f"PATH ({on_path} is not SNAP's gpt: no gpt.vmoptions)"
    )
    if default_locations is None:
        platform = "win32" if sys.platform == "win32" else sys.platform
        default_locations = DEFAULT_GPT_LOCATIONS.get(platform, DEFAULT_GPT_LOCATIONS["linux"])
    for location in default_locations:
        candidate = _expand(str(location), env)
        if candidate is None:
            continue
        if _is_executable(candidate):
            return _install(candidate, probe_version)
        looked.append(str(candidate))
    raise GptNotFoundError(
        "SNAP's gpt was not found; looked at: "
        + ", ".join(looked)
        + ". Fix: install ESA SNAP (https://step.esa.int/main/download/snap-download/), pass "
        f"--gpt /path/to/snap/bin/gpt, set {GPT_ENV_VAR}, or use --engine python (no SNAP needed)"
    )


def _first_line(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline().strip() or None
    except OSError:
        return None


def _parse_version(text: str) -> SnapVersion | None:
    if not re.search(r"\d", text):
        return None
    try:
        return SnapVersion.parse(text)
    except OptionError:
        return None


def detect_version(gpt: Path, *, timeout_s: float = 60) -> SnapVersion | None:
    """The SNAP release of a ``gpt``: ``<snap_home>/VERSION.txt``, else ``gpt --diag``.

    Returns None (with a warning) when neither can be read.
    """
    home = snap_home_of(gpt)
    if home is not None:
        line = _first_line(home / VERSION_FILE_NAME)
        version = _parse_version(line) if line else None
        if version is not None:
            return version
    try:
        result = subprocess.run(
            [str(gpt), "--diag"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        LOGGER.warning(
            "%s --diag did not answer within %.0f s; SNAP version unknown (pass --snap-version)",
            gpt,
            timeout_s,
        )
        return None
    except OSError as err:
        LOGGER.warning("cannot run %s --diag (%s); SNAP version unknown", gpt, err)
        return None
    text = result.stdout.decode("utf-8", errors="replace")
    match = _DIAG_VERSION.search(text)
    version = _parse_version(match.group(1)) if match else None
    if version is None:
        LOGGER.warning(
            "%s --diag printed no SNAP release version (exit %d); SNAP version unknown "
            "(pass --snap-version)",
            gpt,
            result.returncode,
        )
    return version


# =========================================================================================
# Memory, cache, parallelism
# =========================================================================================


def vmoptions_path(install: GptInstall | Path) -> Path:
    """``gpt.vmoptions`` beside the (symlink-resolved) gpt: ``<snap_home>/bin/gpt.vmoptions``."""
    gpt = install.path if isinstance(install, GptInstall) else Path(install)
    return Path(os.path.realpath(gpt)).parent / VMOPTIONS_NAME


def parse_size(text: str) -> int:
    """``8G``, ``8192m``, ``1024k``, ``123`` (bytes) -> bytes (JVM/gpt suffixes, 1024-based)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)[bB]?\s*", text)
    if match is None:
        raise OptionError(f"cannot read a memory size from {text!r}; give e.g. 4G or 2048M")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def read_vmoptions(install: GptInstall | Path) -> int | None:
    """The Java heap limit ``-Xmx`` (bytes) from ``gpt.vmoptions``; None when absent/unset.

    The last ``-Xmx`` (or ``-XX:MaxHeapSize=``) line wins, as in the JVM; ``#`` lines are
    comments.
    """
    path = vmoptions_path(install)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    heap: int | None = None
    for line in lines:
        match = _XMX.match(line)
        if match:
            heap = int(match.group(1)) * _UNITS[match.group(2).upper()]
    return heap


def total_memory_bytes() -> int | None:
    """Physical memory of this machine, or None when unknown."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def default_cache_size(heap_bytes: int | None, total_ram_bytes: int | None = None) -> str:
    """``-c`` value: :data:`CACHE_FRACTION` of the Java heap, in MiB (e.g. ``"5324M"``).

    With an unknown heap, the JVM's default maximum heap (a quarter of the RAM) is assumed;
    with neither known, :data:`FALLBACK_CACHE`. A heap larger than the RAM is capped to it.
    """
    heap = heap_bytes
    if heap is None and total_ram_bytes:
        heap = total_ram_bytes // 4
    if heap is None or heap <= 0:
        return FALLBACK_CACHE
    if total_ram_bytes:
        heap = min(heap, total_ram_bytes)
    return f"{max(64, int(heap * CACHE_FRACTION) // _MIB)}M"


def default_parallelism() -> int:
    """``-q`` value: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# =========================================================================================
# Command line
# =========================================================================================


def _parameter_items(parameters: Sequence[str] | Mapping[str, object]) -> list[tuple[str, str]]:
    if isinstance(parameters, Mapping):
        return [(str(k), _value_text(v)) for k, v in parameters.items()]
    if isinstance(parameters, str):  # one "name=value", not a sequence of characters
        parameters = [parameters]
    items = []
    for item in parameters:
        name, sep, value = str(item).partition("=")
        if not sep:
            raise GraphError(f"gpt parameter {item!r} is not name=value; give e.g. input=/x.zip")
        items.append((name, value))
    return items


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_value_text(v) for v in value)
    return "" if value is None else str(value)


def build_command(
    install: GptInstall,
    graph_file: Path,
    parameters: Sequence[str] | Mapping[str, object],
    *,
    cache_size: str | None,
    parallelism: int | None,
) -> list[str]:
    """Argument list ``gpt <graph.xml> -e -c <size> -q <n> -Pname=value ...`` (no shell).

    gpt pastes ``-P`` values raw into the graph XML (TemplateReader), so ``&``, ``<``, ``>``
    and quotes are XML-escaped here, and ``$`` as ``&#36;`` so that a value is never
    substituted again (:func:`sen_preproc.snap.graph.escape_value`): give the plain values.

    Parameters
    ----------
    install : GptInstall
        The gpt to run.
    graph_file : Path
        The graph; must end in ``.xml`` (otherwise gpt takes it for an operator name).
    parameters : sequence of ``name=value`` or mapping
        Template variables (``${name}`` in the graph).
    cache_size : str or None
        ``-c`` (``4G``, ``2048M``, bytes); None = :func:`default_cache_size` of the install.
    parallelism : int or None
        ``-q``; None = :func:`default_parallelism`.

    Raises
    ------
    GraphError
        For a graph path not ending in ``.xml`` or a bad parameter name.
    OptionError
        For a bad cache size or parallelism.
    """
    graph = Path(graph_file)
    if graph.suffix.lower() != ".xml":
        raise GraphError(
            f"{graph}: a gpt graph file must end in .xml (gpt takes anything else for an "
            "operator name); rename it"
        )
    if cache_size is None:
        cache_size = default_cache_size(read_vmoptions(install), total_memory_bytes())
    cache = str(cache_size).strip()
    if not _CACHE_SIZE.match(cache):
        raise OptionError(f"tile cache size {cache_size!r} is invalid; give e.g. 4G or 2048M")
    threads = default_parallelism() if parallelism is None else int(parallelism)
    if threads < 1:
        raise OptionError(f"parallelism {parallelism!r} must be at least 1")
    command = [str(install.path), str(graph), "-e", "-c", cache.upper(), "-q", str(threads)]
    for name, value in _parameter_items(parameters):
        if not _PARAM_NAME.match(name):
            raise GraphError(
                f"gpt parameter name {name!r} is invalid (letters, digits, _ and . only)"
            )
        command.append(f"-P{name}={escape_value(value)}")
    return command


# =========================================================================================
# Running
# =========================================================================================


@dataclass(frozen=True)
class GptResult:
    """Outcome of a successful gpt run.

    Attributes
    ----------
    returncode : int
        0.
    command : tuple of str
        The (last) command line.
    log_path : Path
        The full log.
    outputs : tuple of Path
        The checked outputs.
    duration_s : float
        Wall time.
    warnings : tuple of str
        gpt's ``WARNING:`` lines (first 20, deduplicated).
    """

    returncode: int
    command: tuple[str, ...]
    log_path: Path
    outputs: tuple[Path, ...] = ()
    duration_s: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclass
class _Scan:
    """What the output of one gpt run said."""

    unknown: re.Match[str] | None = None
    java_oom: str | None = None
    heap_reserve: str | None = None
    no_intersection: str | None = None
    orbit: str | None = None
    orbit_dir: str | None = None
    orbit_month: tuple[int, int] | None = None
    network: str | None = None
    last_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=30))


class _OutputSink:
    """Decodes gpt's output chunks, writes them to the log, reports progress, scans lines."""

    def __init__(
        self,
        log: IO[str],
        progress: ProgressCallback | None,
        offset: float = 0.0,
        span: float = 1.0,
    ) -> None:
        self.log = log
        self.progress = progress
        self.offset = offset
        self.span = span
        self.last_fraction = -1.0
        self.scan = _Scan()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._carry = ""

    def feed(self, chunk: bytes, final: bool = False) -> None:
        text = self._decoder.decode(chunk, final=final)
        if text:
            self.log.write(text)
            self.log.flush()
            self._progress_in(text)
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._line(line.rstrip("\r"))
            if len(self._pending) > 65536:
                self._line(self._pending)
                self._pending = ""
        if final and self._pending:
            self._line(self._pending.rstrip("\r"))
            self._pending = ""

    def report(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction > self.last_fraction:
            self.last_fraction = fraction
            if self.progress is not None:
                self.progress(self.offset + self.span * fraction)

    def _progress_in(self, text: str) -> None:
        window = self._carry + text
        for match in _PERCENT.finditer(window):
            self.report(int(match.group(1)) / 100.0)
        if _DONE.search(window):
            self.report(1.0)
        self._carry = window[-16:]

    def _line(self, line: str) -> None:
        scan = self.scan
        if not line.strip():
            return
        LOGGER.debug("gpt: %s", line)
        scan.tail.append(line)
        if scan.unknown is None:
            scan.unknown = _UNKNOWN_ELEMENT.search(line)
        if scan.java_oom is None and _JAVA_OOM.search(line):
            scan.java_oom = line.strip()
        if scan.heap_reserve is None and _HEAP_RESERVE.search(line):
            scan.heap_reserve = line.strip()
        if scan.no_intersection is None and _NO_INTERSECTION.search(line):
            scan.no_intersection = line.strip()
        if _ORBIT.search(line) and scan.orbit is None:
            scan.orbit = line.strip()
        date = _ORBIT_DATE.search(line)
        if date and date.group("mon").upper() in _MONTHS:
            scan.orbit_month = (int(date.group("year")), _MONTHS[date.group("mon").upper()])
        orbit_dir = _ORBIT_DIR.search(line)
        if orbit_dir and "Orbits" in orbit_dir.group("dir"):
            scan.orbit_dir = orbit_dir.group("dir")
        if scan.network is None and _NETWORK.search(line):
            scan.network = line.strip()
        error = _ERROR_LINE.match(line)
        if error:
            scan.last_error = error.group("msg").strip()
        warning = _WARNING_LINE.match(line)
        text = warning.group("msg").strip() if warning else ""
        if text and len(scan.warnings) < 20 and text not in scan.warnings:
            scan.warnings.append(text)


def _start(command: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start gpt without a shell in its own process group/session, stdout+stderr merged."""
    if sys.platform == "win32":
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            creationflags=subprocess.CREATE_NEW_PROCESS_GROUP,
        )
    return subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill_tree(proc: subprocess.Popen[bytes], grace_s: float = KILL_GRACE_S) -> None:
    """Stop gpt and every process of its session (the JVM and its children)."""
    if sys.platform == "win32":
        with contextlib.suppress(OSError):
            proc.kill()
        return
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)


def _reader(stream: IO[bytes], sink: queue.Queue[bytes | None]) -> None:
    try:
        fd = stream.fileno()
        while chunk := os.read(fd, 65536):
            sink.put(chunk)
    except (OSError, ValueError):
        pass
    finally:
        sink.put(None)


def _execute(
    command: Sequence[str], sink: _OutputSink, deadline: float | None
) -> tuple[int | None, bool]:
    """Run ``command``, streaming its merged output into ``sink``.

    Returns (returncode, timed_out); returncode is None when it timed out.
    """
    try:
        proc = _start(command)
    except OSError as err:
        raise GptError(
            f"cannot start {command[0]} ({err}); check that it is SNAP's gpt (--gpt)"
        ) from err
    assert proc.stdout is not None
    chunks: queue.Queue[bytes | None] = queue.Queue()
    thread = threading.Thread(target=_reader, args=(proc.stdout, chunks), daemon=True)
    thread.start()
    finished = False
    try:
        exited_at: float | None = None
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                _kill_tree(proc)
                _drain(chunks, sink, thread)
                finished = True
                return None, True
            wait = 0.2 if deadline is None else max(0.01, min(0.2, deadline - now))
            try:
                chunk = chunks.get(timeout=wait)
            except queue.Empty:
                if proc.poll() is not None:
                    exited_at = exited_at if exited_at is not None else now
                    if now - exited_at > EOF_GRACE_S:  # orphans of gpt still hold the pipe
                        _kill_tree(proc, grace_s=0.5)
                continue
            if chunk is None:
                break
            sink.feed(chunk)
        while True:
            try:
                returncode = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    _kill_tree(proc)
                    sink.feed(b"", final=True)
                    finished = True
                    return None, True
        sink.feed(b"", final=True)
        finished = True
        return returncode, False
    finally:
        if not finished:  # an exception (progress callback, Ctrl-C...): leave nothing running
            _kill_tree(proc, grace_s=1.0)
        with contextlib.suppress(OSError):
            proc.stdout.close()


def _drain(chunks: queue.Queue[bytes | None], sink: _OutputSink, thread: threading.Thread) -> None:
    thread.join(timeout=2.0)
    while True:
        try:
            chunk = chunks.get_nowait()
        except queue.Empty:
            break
        if chunk is None:
            break
        sink.feed(chunk)
    sink.feed(b"", final=True)


def remove_outputs(paths: Iterable[Path]) -> None:
    """Delete outputs (``x.dim`` with its ``x.data/``, folders, ``.aux.xml`` side files)."""
    for raw in paths:
        path = Path(raw)
        targets = [path, path.with_name(path.name + ".aux.xml")]
        if path.suffix.lower() == ".dim":
            targets.append(path.with_suffix(".data"))
        for target in targets:
            try:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
            except OSError as err:
                LOGGER.warning("could not remove %s (%s); delete it by hand", target, err)


def _check_output(path: Path) -> str | None:
    """Why ``path`` is not a usable gpt output, or None when it is."""
    if not path.exists():
        return "was not written"
    if path.is_file() and path.stat().st_size == 0:
        return "is empty (0 bytes)"
    suffix = path.suffix.lower()
    if suffix == ".dim":
        data = path.with_suffix(".data")
        images = sorted(data.glob("*.img")) if data.is_dir() else []
        if not images:
            return f"has no band images ({data.name}/*.img missing)"
        problems = [_raster_problem(image) for image in images]
        if all(problems):
            return f"holds no information: {images[0].name} {problems[0]}"
        return None
    if suffix in (".tif", ".tiff", ".img"):
        return _raster_problem(path)
    return None


def _raster_problem(path: Path) -> str | None:
    # raster_io (rasterio, scipy) is imported only when an output is checked: find_gpt and
    # the doctor stay light.
    from sen_preproc.raster_io import raster_summary

    try:
        summary = raster_summary(path)
    except (MissingDataError, OSError) as err:
        return f"cannot be read ({err})"
    size = f"{summary.width}×{summary.height} pixels"
    if summary.empty:
        return f"has {size}"
    if summary.all_nodata:
        return f"is all nodata ({size})"
    if summary.constant:
        return f"is constant (every valid pixel = {summary.value:g}, {size})"
    return None


def _orbit_hint(scan: _Scan) -> str:
    if scan.orbit_dir:
        folder = scan.orbit_dir
    else:
        year, month = scan.orbit_month or (None, None)
        folder = str(
            Path("~/.snap/auxdata/Orbits/Sentinel-1/POEORB")
            / "<S1A|S1B|S1C>"
            / (f"{year:04d}" if year else "YYYY")
            / (f"{month:02d}" if month else "MM")
        )
    return (
        f"put the precise orbit file (S1x_OPER_AUX_POEORB_OPOD_*.EOF, or .zip) for the "
        f"acquisition in {folder}/ (RESORB files under .../RESORB/...); --orbit-file FILE.EOF "
        "places it there"
    )


def _failure(
    returncode: int | None,
    timed_out: bool,
    scan: _Scan,
    *,
    install: GptInstall,
    graph_file: Path,
    log_path: Path,
    timeout_s: float | None,
    cache: str,
) -> SnapError | None:
    """The error for a finished run (None when gpt reported success)."""
    log = f"full gpt log: {log_path}"
    if timed_out:
        return GptTimeoutError(
            f"gpt ({graph_file.name}) did not finish within {timeout_s:g} s and was stopped "
            "(its whole process group was killed); raise --timeout, or make the job smaller "
            f"(--aoi, --split-graph); {log}"
        )
    vmoptions = vmoptions_path(install)
    heap = read_vmoptions(install)
    heap_text = f"now -Xmx{heap // _MIB}m" if heap else "no -Xmx set there"
    if scan.heap_reserve:
        return GptMemoryError(
            f"Java could not start gpt with its heap ({scan.heap_reserve}); the -Xmx in "
            f"{vmoptions} ({heap_text}) exceeds what this machine can reserve: lower it; {log}"
        )
    killed = returncode is not None and returncode in (-9, 137)
    if (returncode != 0 and killed) or scan.java_oom:
        if scan.java_oom:
            cause = f"gpt ran out of Java heap memory ({scan.java_oom})"
        else:
            cause = (
                f"gpt was killed (exit {returncode}, SIGKILL), usually by the system's "
                "out-of-memory killer"
            )
        return GptMemoryError(
            f"{cause}; raise the heap by editing the -Xmx line in {vmoptions} ({heap_text}; "
            "keep it below the machine's free RAM), lower the tile cache (-c, now "
            f"{cache}), or run with --split-graph; {log}"
        )
    if returncode != 0 and scan.unknown is not None:
        param = scan.unknown.group("param")
        where = ""
        if scan.unknown.group("op"):
            where += f" of Operator '{scan.unknown.group('op')}'"
        if scan.unknown.group("node"):
            where += f" (node '{scan.unknown.group('node')}')"
        release = f"SNAP {install.version}" if install.version else "this SNAP (version unknown)"
        return GraphError(
            f"{graph_file}: {release} does not know parameter '{param}'{where}; render the graph "
            "for this version (senprep detects it; --snap-version overrides); " + log
        )
    if returncode != 0 and scan.orbit:
        return GptOrbitError(
            f"gpt found no orbit file ({scan.orbit}); offline, SNAP cannot download it: "
            f"{_orbit_hint(scan)}; {log}"
        )
    if scan.no_intersection:
        return GptOutputError(
            f"the AOI does not intersect the product: gpt reported '{scan.no_intersection}' "
            f"(exit {returncode}); check --aoi (lon,lat order, WGS84) against the product "
            f"footprint; {log}"
        )
    if returncode != 0 and scan.network:
        return GptError(
            f"gpt needed the network ({scan.network}): an auto-download of an orbit file or a "
            "DEM failed; offline, pass --orbit-file FILE.EOF and --dem FILE (External DEM); " + log
        )
    if returncode != 0:
        message = scan.last_error or (scan.tail[-1] if scan.tail else "no output")
        return GptError(f"gpt failed (exit {returncode}): {message}; {log}")
    return None


def _open_log(log_path: Path, mode: str) -> IO[str]:
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        return log_path.open(mode, encoding="utf-8", errors="replace")
    except OSError as err:
        raise GptError(
            f"{log_path}: cannot write the gpt log ({err}); choose another folder"
        ) from err


def _run_part(
    install: GptInstall,
    graph_file: Path,
    parameters: Sequence[str] | Mapping[str, object],
    *,
    log: IO[str],
    log_path: Path,
    cache_size: str | None,
    parallelism: int | None,
    deadline: float | None,
    timeout_s: float | None,
    progress: ProgressCallback | None,
    offset: float,
    span: float,
    expected_outputs: Sequence[Path],
) -> tuple[list[str], _Scan]:
    """One gpt call; raises the mapped error (outputs removed) or returns (command, scan)."""
    if not Path(graph_file).is_file():
        raise GraphError(f"{graph_file}: graph file not found; render it first")
    if cache_size is None:
        cache_size = default_cache_size(read_vmoptions(install), total_memory_bytes())
    command = build_command(
        install, graph_file, parameters, cache_size=cache_size, parallelism=parallelism
    )
    log.write(f"# senprep: {shlex.join(command)}\n# started {datetime.now().isoformat()}\n")
    log.flush()
    LOGGER.info("running %s (log: %s)", shlex.join(command), log_path)
    sink = _OutputSink(log, progress, offset, span)
    try:
        returncode, timed_out = _execute(command, sink, deadline)
    except BaseException:
        remove_outputs(expected_outputs)
        raise
    log.write(f"\n# exit {'timeout' if timed_out else returncode}\n")
    log.flush()
    error = _failure(
        returncode,
        timed_out,
        sink.scan,
        install=install,
        graph_file=Path(graph_file),
        log_path=log_path,
        timeout_s=timeout_s,
        cache=cache_size,
    )
    if error is None:
        problems = [(p, _check_output(Path(p))) for p in expected_outputs]
        bad = [(p, why) for p, why in problems if why]
        if bad:
            what = "; ".join(f"{p} {why}" for p, why in bad)
            error = GptOutputError(
                f"gpt finished (exit 0) but {what}; check the inputs and --aoi; "
                f"full gpt log: {log_path}"
            )
    if error is not None:
        remove_outputs(expected_outputs)
        raise error
    if sink.scan.orbit:
        LOGGER.warning("gpt: %s (continued without a precise orbit)", sink.scan.orbit)
    sink.report(1.0)
    return command, sink.scan


def run_gpt(
    install: GptInstall,
    graph_file: Path,
    parameters: Sequence[str] | Mapping[str, object],
    *,
    log_path: Path,
    cache_size: str | None = None,
    parallelism: int | None = None,
    timeout_s: float | None = None,
    progress: ProgressCallback | None = None,
    expected_outputs: Sequence[Path] = (),
) -> GptResult:
    """Run one gpt graph and check its outputs.

    gpt runs without a shell in its own session (a timeout kills the whole Java tree); its
    merged stdout/stderr is decoded leniently (undecodable bytes become U+FFFD), written to
    ``log_path`` as it comes, and parsed for progress (``....10%....20%... done.``).

    Parameters
    ----------
    install : GptInstall
        From :func:`find_gpt`.
    graph_file : Path
        The rendered graph (``.xml``).
    parameters : sequence of ``name=value`` or mapping
        ``-P`` template variables (plain values; XML-escaped here).
    log_path : Path
        The full log (overwritten).
    cache_size, parallelism
        ``-c``/``-q``; defaults from ``gpt.vmoptions`` and the CPU affinity.
    timeout_s : float, optional
        Wall-clock limit.
    progress : callable, optional
        Called with the fraction done (0..1, increasing, 1.0 at the end).
    expected_outputs : sequence of Path
        Files the graph writes; checked (present, non-empty, not 0×0, not constant) and deleted
        (with ``.data`` folders of ``.dim``) on any failure.

    Raises
    ------
    GraphError
        A parameter the installed SNAP does not know (``Unknown element``).
    GptMemoryError
        Java heap exhausted or gpt killed (-9).
    GptOrbitError
        No orbit file available offline.
    GptOutputError
        No intersection with the AOI, or a missing/empty/constant output.
    GptTimeoutError
        ``timeout_s`` exceeded.
    GptError
        Any other failure (last ``Error:`` line and the log path).
    """
    started = time.monotonic()
    deadline = None if timeout_s is None else started + float(timeout_s)
    with _open_log(Path(log_path), "w") as log:
        command, scan = _run_part(
            install,
            Path(graph_file),
            parameters,
            log=log,
            log_path=Path(log_path),
            cache_size=cache_size,
            parallelism=parallelism,
            deadline=deadline,
            timeout_s=timeout_s,
            progress=progress,
            offset=0.0,
            span=1.0,
            expected_outputs=expected_outputs,
        )
    return GptResult(
        returncode=0,
        command=tuple(command),
        log_path=Path(log_path),
        outputs=tuple(Path(p) for p in expected_outputs),
        duration_s=time.monotonic() - started,
        warnings=tuple(scan.warnings),
    )


def run_graph_parts(
    install: GptInstall,
    graph_files: Sequence[Path],
    parameters_per_part: Sequence[Sequence[str] | Mapping[str, object]],
    *,
    log_path: Path,
    intermediates: Sequence[Path],
    expected_outputs: Sequence[Path] = (),
    cache_size: str | None = None,
    parallelism: int | None = None,
    timeout_s: float | None = None,
    progress: ProgressCallback | None = None,
) -> GptResult:
    """Run a graph split into parts (``--split-graph``), one gpt call per part, in order.

    The parts share one log (each preceded by a header); ``timeout_s`` limits the whole run.
    The BEAM-DIMAP ``intermediates`` (``x.dim`` + ``x.data/``) are deleted afterwards, on
    success and on failure; ``expected_outputs`` (written by the last part) are checked and,
    on failure, deleted like in :func:`run_gpt`.

    Raises
    ------
    SnapError
        As :func:`run_gpt`; the message names the failing part.
    """
    if len(graph_files) != len(parameters_per_part):
        raise OptionError(
            f"{len(graph_files)} graph parts but {len(parameters_per_part)} parameter sets; "
            "give one parameter set per part"
        )
    started = time.monotonic()
    deadline = None if timeout_s is None else started + float(timeout_s)
    n_parts = len(graph_files)
    outputs = [Path(p) for p in expected_outputs]
    command: list[str] = []
    warnings: list[str] = []
    try:
        with _open_log(Path(log_path), "w") as log:
            for index, (graph, parameters) in enumerate(
                zip(graph_files, parameters_per_part, strict=True)
            ):
                log.write(f"\n# ===== part {index + 1}/{n_parts}: {graph} =====\n")
                last = index == n_parts - 1
                try:
                    command, scan = _run_part(
                        install,
                        Path(graph),
                        parameters,
                        log=log,
                        log_path=Path(log_path),
                        cache_size=cache_size,
                        parallelism=parallelism,
                        deadline=deadline,
                        timeout_s=timeout_s,
                        progress=progress,
                        offset=index / n_parts,
                        span=1.0 / n_parts,
                        expected_outputs=outputs if last else (),
                    )
                except SnapError as err:
                    remove_outputs(outputs)
                    raise type(err)(
                        f"part {index + 1}/{n_parts} ({Path(graph).name}): {err}"
                    ) from err
                warnings.extend(w for w in scan.warnings if w not in warnings)
    except BaseException:
        remove_outputs(outputs)
        raise
    finally:
        remove_outputs(intermediates)
    return GptResult(
        returncode=0,
        command=tuple(command),
        log_path=Path(log_path),
        outputs=tuple(outputs),
        duration_s=time.monotonic() - started,
        warnings=tuple(warnings[:20]),
    )


# =========================================================================================
# SNAP auxdata: orbit files
# =========================================================================================


def _read_properties(path: Path) -> dict[str, str]:
    """Java ``.properties`` (``key = value``, ``key: value``, ``#``/``!`` comments, ``\\``
    escapes and line continuations)."""
    try:
        text = path.read_text(encoding="latin-1")
    except OSError:
        return {}
    props: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            logical += line[:-1]
            continue
        logical += line
        match = re.match(r"((?:\\.|[^=:\s])+)\s*[=:\s]\s*(.*)", logical)
        if match:
            key = re.sub(r"\\(.)", r"\1", match.group(1))
            value = re.sub(
                r"\\(.)", lambda m: {"t": "\t", "n": "\n"}.get(m[1], m[1]), match.group(2)
            )
            props[key] = value.strip()
        logical = ""
    return props


def _substitute(value: str, variables: Mapping[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: variables.get(m[1], m[0]), value)


def snap_auxdata_dir(home: Path | None = None) -> Path:
    """SNAP's auxdata folder: ``AuxDataPath`` of ``~/.snap/etc/snap.auxdata.properties``, else
    ``~/.snap/auxdata``."""
    user_home = Path(home) if home is not None else Path.home()
    props = _read_properties(user_home / ".snap" / "etc" / "snap.auxdata.properties")
    value = props.get("AuxDataPath", "").strip()
    if value:
        value = _substitute(value, {"user.home": str(user_home)})
        if "${" not in value:
            return Path(value).expanduser()
    return user_home / ".snap" / "auxdata"


def s1_orbit_dir(kind: str, auxdata_dir: Path | None = None, *, home: Path | None = None) -> Path:
    """``<auxdata>/Orbits/Sentinel-1/POEORB`` (or ``RESORB``), honouring the
    ``OrbitFiles.sentinel1POEOrbitPath``/``...RESOrbitPath`` settings when ``auxdata_dir`` is
    not given."""
    kind = kind.upper()
    if kind not in ("POEORB", "RESORB"):
        raise OptionError(f"orbit kind {kind!r} must be POEORB or RESORB")
    if auxdata_dir is not None:
        return Path(auxdata_dir) / "Orbits" / "Sentinel-1" / kind
    user_home = Path(home) if home is not None else Path.home()
    auxdata = snap_auxdata_dir(user_home)
    props = _read_properties(user_home / ".snap" / "etc" / "snap.auxdata.properties")
    key = (
        "OrbitFiles.sentinel1POEOrbitPath"
        if kind == "POEORB"
        else "OrbitFiles.sentinel1RESOrbitPath"
    )
    value = _substitute(
        props.get(key, ""), {"AuxDataPath": str(auxdata), "user.home": str(user_home)}
    )
    if value and "${" not in value:
        return Path(value).expanduser()
    return auxdata / "Orbits" / "Sentinel-1" / kind


@dataclass(frozen=True)
class OrbitFileName:
    """Fields of an ESA Sentinel-1 orbit file name."""

    mission: str
    kind: str
    validity_start: datetime
    validity_stop: datetime


def parse_orbit_file_name(name: str) -> OrbitFileName:
    """``S1A_OPER_AUX_POEORB_OPOD_<created>_V<start>_<stop>.EOF[.zip]`` -> fields.

    Raises
    ------
    OrbitError
        When the name is not a Sentinel-1 POEORB/RESORB file name.
    """
    match = _ORBIT_NAME.match(name)
    if match is None:
        raise OrbitError(
            f"{name}: not a Sentinel-1 orbit file name (expected S1A_OPER_AUX_POEORB_OPOD_"
            "<created>_V<start>_<stop>.EOF, or RESORB, plain or .zip); SNAP finds orbit files "
            "by this name: keep the name ESA gave it"
        )
    start = datetime.strptime(match.group("start"), "%Y%m%dT%H%M%S")
    stop = datetime.strptime(match.group("stop"), "%Y%m%dT%H%M%S")
    if stop <= start:
        raise OrbitError(f"{name}: validity stop {stop} is not after its start {start}")
    return OrbitFileName(
        mission=match.group("mission").upper(),
        kind=match.group("kind").upper(),
        validity_start=start,
        validity_stop=stop,
    )


def _months(start: datetime, stop: datetime) -> list[tuple[int, int]]:
    months = []
    year, month = start.year, start.month
    while (year, month) <= (stop.year, stop.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def place_orbit_file(
    eof: Path,
    auxdata_dir: Path | None = None,
    *,
    acquisition_time: datetime | None = None,
    home: Path | None = None,
    check_content: bool = True,
) -> Path:
    """Copy an orbit file (``--orbit-file``) to where SNAP's Apply-Orbit-File looks for it.

    SNAP searches ``<orbits>/<S1A|S1B|S1C>/<YYYY>/<MM>/`` with year and month of the
    *product's* state-vector time (``SentinelPODOrbitFile.findOrbitFile``), not of the orbit's
    validity start; a POEORB file starts ~1 h before its day, so one covering the 1st of a
    month starts in the previous month. The file is therefore copied into the month of
    ``acquisition_time`` when given, else into every month its validity window touches.

    Parameters
    ----------
    eof : Path
        ``S1x_OPER_AUX_POEORB|RESORB_OPOD_<created>_V<start>_<stop>.EOF`` (or ``.EOF.zip``).
    auxdata_dir : Path, optional
        SNAP's auxdata folder; default ``AuxDataPath`` of ``~/.snap/etc/snap.auxdata.properties``
        or ``~/.snap/auxdata`` (and the ``OrbitFiles.*`` settings).
    acquisition_time : datetime, optional
        Start of the product (naive UTC); must lie within the validity.
    home : Path, optional
        User home (tests).
    check_content : bool
        Also read the file (:func:`sen_preproc.sentinel1.orbit.read_orbit_file`) and check its mission.

    Returns
    -------
    Path
        The copy SNAP uses for ``acquisition_time`` (else the one of the validity's middle).

    Raises
    ------
    OrbitError
        Bad name, unreadable file, mission mismatch, acquisition outside the validity.
    """
    src = Path(eof).expanduser()
    info = parse_orbit_file_name(src.name)
    if not src.is_file():
        raise OrbitError(f"{src}: orbit file not found; pass an existing .EOF (or zipped) file")
    if check_content:
        from sen_preproc.sentinel1.orbit import read_orbit_file

        orbit = read_orbit_file(src)
        if orbit.mission and orbit.mission.upper() != info.mission:
            raise OrbitError(
                f"{src}: the file holds a {orbit.mission} orbit but is named {info.mission}; "
                "download the file again"
            )
    if acquisition_time is not None:
        if not info.validity_start <= acquisition_time <= info.validity_stop:
            raise OrbitError(
                f"{src}: validity {info.validity_start} – {info.validity_stop} does not cover "
                f"the acquisition {acquisition_time}; pass the orbit file of that day"
            )
        months = [(acquisition_time.year, acquisition_time.month)]
        primary = months[0]
    else:
        months = _months(info.validity_start, info.validity_stop)
        middle = info.validity_start + (info.validity_stop - info.validity_start) / 2
        primary = (middle.year, middle.month)
    base = s1_orbit_dir(info.kind, auxdata_dir, home=home) / info.mission
    result = base / f"{primary[0]:04d}" / f"{primary[1]:02d}" / src.name
    for year, month in months:
        folder = base / f"{year:04d}" / f"{month:02d}"
        target = folder / src.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not (target.exists() and target.stat().st_size == src.stat().st_size):
                tmp = folder / f".{src.name}.part-{os.getpid()}"
                shutil.copyfile(src, tmp)
                os.replace(tmp, target)
        except OSError as err:
            raise OrbitError(
                f"{src}: cannot copy the orbit file to {folder} ({err}); check the permissions "
                "of SNAP's auxdata folder"
            ) from err
        LOGGER.info("orbit file placed in %s", target)
    return result
