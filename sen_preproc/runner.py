"""Run external programs (SNAP's gpt, Sen2Cor): the only module that starts subprocesses.

A program runs without a shell, as an argument list, in its own process session (so a
timeout, Ctrl-C or any exception stops it and every child it started - gpt's JVM, Sen2Cor's
workers), stdin closed, stdout and stderr merged. Its output is handed over in chunks as it
comes (gpt prints progress without newlines), so callers can log and parse it live.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

KILL_GRACE_S = 3.0
"""Seconds between SIGTERM and SIGKILL of the program's process group."""
EOF_GRACE_S = 5.0
"""Seconds to wait for the end of the output after the program exited (orphans may hold it)."""


class StartError(OSError):
    """The program could not be started (missing, not executable...)."""


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its exit code (None when it was stopped at the deadline)."""

    returncode: int | None
    timed_out: bool


def _start(command: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own process group/session, stdout+stderr merged."""
    options: dict[str, object] = (
        {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
        if sys.platform == "win32"
        else {"start_new_session": True}
    )
    try:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **options,
        )
    except OSError as err:
        raise StartError(err.errno, f"cannot start {command[0]}: {err.strerror or err}") from err


def kill_tree(proc: subprocess.Popen[bytes], grace_s: float = KILL_GRACE_S) -> None:
    """Stop the program and every process of its session: SIGTERM, then SIGKILL."""
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


def _drain(
    chunks: queue.Queue[bytes | None], on_output: Callable[[bytes], None], thread: threading.Thread
) -> None:
    thread.join(timeout=2.0)
    while True:
        try:
            chunk = chunks.get_nowait()
        except queue.Empty:
            break
        if chunk is None:
            break
        on_output(chunk)


def run_streaming(
    command: Sequence[str],
    on_output: Callable[[bytes], None],
    *,
    deadline: float | None = None,
) -> Outcome:
    """Run ``command``, handing each chunk of its merged output to ``on_output``.

    Parameters
    ----------
    command : sequence of str
        Program and arguments (no shell).
    on_output : callable
        Called with each chunk of bytes, in order, from this thread. An exception it raises
        stops the program (whole process group) and propagates.
    deadline : float, optional
        ``time.monotonic()`` after which the program is stopped (``timed_out``).

    Raises
    ------
    StartError
        When the program cannot be started.
    """
    proc = _start(command)
    if proc.stdout is None:  # never: Popen(stdout=PIPE) always sets it
        raise RuntimeError("subprocess started without an output pipe")
    chunks: queue.Queue[bytes | None] = queue.Queue()
    thread = threading.Thread(target=_reader, args=(proc.stdout, chunks), daemon=True)
    thread.start()
    finished = False
    try:
        exited_at: float | None = None
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                kill_tree(proc)
                _drain(chunks, on_output, thread)
                finished = True
                return Outcome(None, True)
            wait = 0.2 if deadline is None else max(0.01, min(0.2, deadline - now))
            try:
                chunk = chunks.get(timeout=wait)
            except queue.Empty:
                if proc.poll() is not None:
                    exited_at = exited_at if exited_at is not None else now
                    if now - exited_at > EOF_GRACE_S:  # orphans still hold the pipe
                        kill_tree(proc, grace_s=0.5)
                continue
            if chunk is None:
                break
            on_output(chunk)
        while True:
            try:
                returncode = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    kill_tree(proc)
                    finished = True
                    return Outcome(None, True)
        finished = True
        return Outcome(returncode, False)
    finally:
        if not finished:  # an exception (a callback, Ctrl-C...): leave nothing running
            kill_tree(proc, grace_s=1.0)
        with contextlib.suppress(OSError):
            proc.stdout.close()


def run_captured(
    command: Sequence[str], *, timeout_s: float | None = None
) -> tuple[Outcome, bytes]:
    """Run ``command`` and return how it ended with its whole merged output."""
    output = bytearray()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    outcome = run_streaming(command, output.extend, deadline=deadline)
    return outcome, bytes(output)
