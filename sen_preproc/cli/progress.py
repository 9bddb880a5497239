"""Progress bars (tqdm, on stderr) behind the library's :class:`~sen_preproc.progress.Progress`."""

from __future__ import annotations

from tqdm import tqdm

from sen_preproc.progress import NO_PROGRESS, Progress, ProgressTask


class _TqdmTask:
    def __init__(self, desc: str, total: float | None, unit: str) -> None:
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False)

    def advance(self, amount: float = 1.0) -> None:
        self._bar.update(amount)

    def close(self) -> None:
        self._bar.close()


class TqdmProgress:
    """One tqdm bar per task."""

    def start(self, desc: str, total: float | None, unit: str) -> ProgressTask:
        return _TqdmTask(desc, total, unit)


def progress_bars(quiet: bool) -> Progress:
    """tqdm bars, or nothing with ``--quiet``."""
    return NO_PROGRESS if quiet else TqdmProgress()
