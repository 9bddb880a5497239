"""Find SNAP's ``gpt`` and decide how to call it: location, release, Java heap, ``-c``/``-q``.

* :func:`find_gpt` locates ``gpt`` (``--gpt``, ``$SENPREP_GPT``, ``$SNAP_HOME``, PATH, the
  default install folders) and :func:`detect_version` reads the release (``VERSION.txt`` in the
  SNAP home, else ``gpt --diag``);
* :func:`read_vmoptions`, :func:`default_cache_size`, :func:`default_parallelism` give the
  ``-c``/``-q`` values; :func:`build_command` the argument list.

Facts used (SNAP's source): gpt takes its first argument for a graph only when it ends in
``.xml`` (or contains a path separator), otherwise for an operator name; ``-P`` values are
pasted raw into the XML text (no escaping, so we escape).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sen_preproc import runner
from sen_preproc.errors import GptNotFoundError, GraphError, OptionError
from sen_preproc.snap.graph import escape_value
from sen_preproc.snap.version import SnapVersion

LOGGER = logging.getLogger(__name__)

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

_MIB = 1 << 20
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_CACHE_SIZE = re.compile(r"\d+[KMG]?\Z", re.IGNORECASE)
_XMX = re.compile(r"^\s*-(?:Xmx|XX:MaxHeapSize=)(\d+)([kKmMgGtT]?)\s*$")
_DIAG_VERSION = re.compile(r"SNAP Release version\s+(\S+)")


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
        outcome, output = runner.run_captured([str(gpt), "--diag"], timeout_s=timeout_s)
    except runner.StartError as err:
        LOGGER.warning("cannot run %s --diag (%s); SNAP version unknown", gpt, err)
        return None
    if outcome.timed_out:
        LOGGER.warning(
            "%s --diag did not answer within %.0f s; SNAP version unknown (pass --snap-version)",
            gpt,
            timeout_s,
        )
        return None
    text = output.decode("utf-8", errors="replace")
    match = _DIAG_VERSION.search(text)
    version = _parse_version(match.group(1)) if match else None
    if version is None:
        LOGGER.warning(
            "%s --diag printed no SNAP release version (exit %d); SNAP version unknown "
            "(pass --snap-version)",
            gpt,
            outcome.returncode,
        )
    return version


# =========================================================================================
# Memory, cache, parallelism
# =========================================================================================


def vmoptions_path(install: GptInstall | Path) -> Path:
    """``gpt.vmoptions`` beside the (symlink-resolved) gpt: ``<snap_home>/bin/gpt.vmoptions``."""
    gpt = install.path if isinstance(install, GptInstall) else Path(install)
    return Path(os.path.realpath(gpt)).parent / VMOPTIONS_NAME


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
