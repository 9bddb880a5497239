"""The one progress protocol of the library; progress bars themselves live in the CLI.

Library functions take ``progress: Progress`` (default :data:`NO_PROGRESS`) and report through
it: :func:`track` for loops over blocks, rows or samples, ``progress.start(...).advance(n)`` for
work reported as it comes (gpt's percentages). The CLI passes a tqdm-backed implementation
(``sen_preproc.cli.progress``); callers embedding senprep pass their own or nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class ProgressTask(Protocol):
    """One unit of work being reported."""

    def advance(self, amount: float = 1.0) -> None:
        """``amount`` more units done."""

    def close(self) -> None:
        """The work is over (finished or abandoned)."""


class Progress(Protocol):
    """Starts the reporting of a unit of work."""

    def start(self, desc: str, total: float | None, unit: str) -> ProgressTask:
        """A task named ``desc`` of ``total`` ``unit``s (None: unknown)."""


class _NullTask:
    def advance(self, amount: float = 1.0) -> None:
        pass

    def close(self) -> None:
        pass


class _NullProgress:
    def start(self, desc: str, total: float | None, unit: str) -> ProgressTask:
        return _NullTask()


NO_PROGRESS: Progress = _NullProgress()
"""Reports nothing (the library's default)."""


def track(progress: Progress, items: Iterable[T], desc: str, unit: str) -> Iterator[T]:
    """Iterate over ``items``, advancing one task by one per item."""
    total = len(items) if isinstance(items, Collection) else None
    task = progress.start(desc, total, unit)
    try:
        for item in items:
            yield item
            task.advance(1)
    finally:
        task.close()
