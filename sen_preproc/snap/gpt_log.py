"""Read gpt's output: progress, warnings and the lines that say why a run failed.

gpt prints progress with ``PrintWriterConciseProgressMonitor`` as ``Executing processing
graph`` then ``....10%....20%...`` on one line (no newline until `` done.``), so the output is
decoded in chunks, not lines; failures print ``Error: <message>`` and exit 1, a kill by the
OOM killer gives -9, Subset without intersection only warns and exits 0. :func:`failure`
maps what a run printed (and its exit code) to one senprep error with the fix.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sen_preproc.errors import (
    GptError,
    GptMemoryError,
    GptOrbitError,
    GptOutputError,
    GptTimeoutError,
    GraphError,
    SnapError,
)
from sen_preproc.snap.install import GptInstall, read_vmoptions, vmoptions_path

LOGGER = logging.getLogger(__name__)

_MIB = 1 << 20
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


@dataclass
class LogScan:
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


class GptOutput:
    """Decodes gpt's output chunks, writes them to the log, reports the fraction done (of this
    part: ``offset + span * fraction``) and scans the lines (:class:`LogScan`)."""

    def __init__(
        self,
        log: IO[str],
        on_fraction: Callable[[float], None] | None = None,
        offset: float = 0.0,
        span: float = 1.0,
    ) -> None:
        self.log = log
        self.on_fraction = on_fraction
        self.offset = offset
        self.span = span
        self.last_fraction = -1.0
        self.scan = LogScan()
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
            if self.on_fraction is not None:
                self.on_fraction(self.offset + self.span * fraction)

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


def orbit_hint(scan: LogScan) -> str:
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


def failure(
    returncode: int | None,
    timed_out: bool,
    scan: LogScan,
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
            f"{orbit_hint(scan)}; {log}"
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
