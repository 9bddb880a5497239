"""Run ESA SNAP's Graph Processing Tool ``gpt`` on a graph: the only module that runs SNAP.

:func:`run_graph_parts` runs a graph split into parts (``--split-graph``: one gpt call per
part, BEAM-DIMAP intermediates removed afterwards); :func:`run_gpt` is its one-part case. Each
call runs through :mod:`sen_preproc.runner` (own process session, so a timeout kills the whole
Java tree), its merged output is written to the log as it comes and parsed for progress and
failures (:mod:`sen_preproc.snap.gpt_log`), and the outputs are checked - present, non-empty,
not 0×0, not constant - and deleted on any failure.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sen_preproc import runner
from sen_preproc.errors import (
    GptError,
    GptOutputError,
    GraphError,
    MissingDataError,
    OptionError,
    SnapError,
)
from sen_preproc.progress import NO_PROGRESS, Progress, ProgressTask
from sen_preproc.snap.gpt_log import GptOutput, failure
from sen_preproc.snap.install import (
    GptInstall,
    build_command,
    default_cache_size,
    read_vmoptions,
    total_memory_bytes,
)

LOGGER = logging.getLogger(__name__)


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
    output: GptOutput,
    expected_outputs: Sequence[Path],
) -> list[str]:
    """One gpt call; raises the mapped error (outputs removed) or returns the command."""
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
    try:
        outcome = runner.run_streaming(command, output.feed, deadline=deadline)
    except runner.StartError as err:
        remove_outputs(expected_outputs)
        raise GptError(f"{err.strerror}; check that it is SNAP's gpt (--gpt)") from err
    except BaseException:
        remove_outputs(expected_outputs)
        raise
    finally:
        output.feed(b"", final=True)
    log.write(f"\n# exit {'timeout' if outcome.timed_out else outcome.returncode}\n")
    log.flush()
    error = failure(
        outcome.returncode,
        outcome.timed_out,
        output.scan,
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
    if output.scan.orbit:
        LOGGER.warning("gpt: %s (continued without a precise orbit)", output.scan.orbit)
    output.report(1.0)
    return command


class _PercentTask:
    """Turns gpt's increasing fraction done into advances of one ``gpt`` task (0..100 %)."""

    def __init__(self, task: ProgressTask) -> None:
        self.task = task
        self.done = 0.0

    def __call__(self, fraction: float) -> None:
        percent = round(100.0 * fraction, 1)
        if percent > self.done:
            self.task.advance(percent - self.done)
            self.done = percent


def run_graph_parts(
    install: GptInstall,
    graph_files: Sequence[Path],
    parameters_per_part: Sequence[Sequence[str] | Mapping[str, object]],
    *,
    log_path: Path,
    intermediates: Sequence[Path] = (),
    expected_outputs: Sequence[Path] = (),
    cache_size: str | None = None,
    parallelism: int | None = None,
    timeout_s: float | None = None,
    progress: Progress = NO_PROGRESS,
) -> GptResult:
    """Run a graph split into parts, one gpt call per part, in order (one part: a plain run).

    gpt runs without a shell in its own session (a timeout kills the whole Java tree); its
    merged stdout/stderr is decoded leniently (undecodable bytes become U+FFFD), written to
    ``log_path`` as it comes (the parts share it, each preceded by a header), and parsed for
    progress (``....10%....20%... done.``), reported as one ``gpt`` task of 100 %.

    Parameters
    ----------
    install : GptInstall
        From :func:`sen_preproc.snap.install.find_gpt`.
    graph_files : sequence of Path
        The rendered graph parts (``.xml``), in order.
    parameters_per_part : sequence
        Per part: ``-P`` template variables, ``name=value`` strings or a mapping (plain values;
        XML-escaped here).
    log_path : Path
        The full log (overwritten).
    intermediates : sequence of Path
        BEAM-DIMAP files between parts (``x.dim`` + ``x.data/``), deleted afterwards, on
        success and on failure.
    expected_outputs : sequence of Path
        Files the (last) part writes; checked (present, non-empty, not 0×0, not constant) and
        deleted (with ``.data`` folders of ``.dim``) on any failure.
    cache_size, parallelism
        ``-c``/``-q``; defaults from ``gpt.vmoptions`` and the CPU affinity.
    timeout_s : float, optional
        Wall-clock limit of the whole run.
    progress : Progress
        Where the ``gpt`` task is reported.

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
        Any other failure (last ``Error:`` line and the log path); with several parts the
        message names the failing part.
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
    task = progress.start("gpt", 100.0, "%")
    percent = _PercentTask(task)  # one task across the parts (each reports its share)
    try:
        with _open_log(Path(log_path), "w") as log:
            for index, (graph, parameters) in enumerate(
                zip(graph_files, parameters_per_part, strict=True)
            ):
                if n_parts > 1:
                    log.write(f"\n# ===== part {index + 1}/{n_parts}: {graph} =====\n")
                last = index == n_parts - 1
                output = GptOutput(log, percent, index / n_parts, 1.0 / n_parts)
                try:
                    command = _run_part(
                        install,
                        Path(graph),
                        parameters,
                        log=log,
                        log_path=Path(log_path),
                        cache_size=cache_size,
                        parallelism=parallelism,
                        deadline=deadline,
                        timeout_s=timeout_s,
                        output=output,
                        expected_outputs=outputs if last else (),
                    )
                except SnapError as err:
                    remove_outputs(outputs)
                    if n_parts == 1:
                        raise
                    raise type(err)(
                        f"part {index + 1}/{n_parts} ({Path(graph).name}): {err}"
                    ) from err
                warnings.extend(w for w in output.scan.warnings if w not in warnings)
    except BaseException:
        remove_outputs(outputs)
        raise
    finally:
        task.close()
        remove_outputs(intermediates)
    return GptResult(
        returncode=0,
        command=tuple(command),
        log_path=Path(log_path),
        outputs=tuple(outputs),
        duration_s=time.monotonic() - started,
        warnings=tuple(warnings[:20]),
    )


def run_gpt(
    install: GptInstall,
    graph_file: Path,
    parameters: Sequence[str] | Mapping[str, object],
    *,
    log_path: Path,
    cache_size: str | None = None,
    parallelism: int | None = None,
    timeout_s: float | None = None,
    progress: Progress = NO_PROGRESS,
    expected_outputs: Sequence[Path] = (),
) -> GptResult:
    """Run one gpt graph and check its outputs: :func:`run_graph_parts` with one part."""
    return run_graph_parts(
        install,
        [graph_file],
        [parameters],
        log_path=log_path,
        expected_outputs=expected_outputs,
        cache_size=cache_size,
        parallelism=parallelism,
        timeout_s=timeout_s,
        progress=progress,
    )
