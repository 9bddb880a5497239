"""Full, read-only and size-limited output folders (issue 12): one error line naming the
output and the fix, exit code 1, and nothing left in the folder.

A tiny tmpfs is mounted when the tests run as root and may mount (CI containers usually may);
otherwise those tests are skipped with the reason. The ``RLIMIT_FSIZE`` test runs everywhere.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pair_files import write_tagged_pair

from sen_preproc.testing.s2_factory import write_s2_product


@pytest.fixture(scope="module")
def s2_product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_s2_product(tmp_path_factory.mktemp("faults") / "s2")


@contextmanager
def tmpfs(path: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``1100k``) on ``path``; skip when not possible."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root; the RLIMIT_FSIZE test covers the rest")
    path.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def run(*args: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # in the child: a file-size limit, EFBIG instead of SIGXFSZ
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", *args, "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 1, lines
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_full_disk_before_work(s2_product: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "64k") as disk:
        result = run("sen_preproc", "s2", str(s2_product), "-o", str(disk / "x.tif"))
        assert_one_line(result, str(disk), "the disk is full", "choose another --out")
        assert os.listdir(disk) == []


def test_disk_filling_up_while_writing(s2_product: Path, tmp_path: Path) -> None:
    """Passes the check before work (over 1 MiB free), then runs out: one line, no libtiff
    message, no temporary left."""
    with tmpfs(tmp_path / "disk", "1100k") as disk:
        result = run("sen_preproc", "s2", str(s2_product), "-o", str(disk / "x.tif"))
        assert_one_line(result, str(disk / "x.tif"), "the disk filled up while writing")
        assert os.listdir(disk) == []


def test_read_only_folder(s2_product: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as disk:
        result = run("sen_preproc", "s2", str(s2_product), "-o", str(disk / "x.tif"))
        assert_one_line(result, str(disk), "Read-only file system", "choose another --out")
        split = run("sen_preproc", "synth", "-o", str(disk / "scene"), "--size-km", "1")
        assert_one_line(split, str(disk), "Read-only file system")


def test_folder_without_write_permission(s2_product: Path, tmp_path: Path) -> None:
    """Without root: a folder the user may not write in (root writes anyway: skipped)."""
    if os.geteuid() == 0:
        pytest.skip("root may write in any folder; test_read_only_folder covers it")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run("sen_preproc", "s2", str(s2_product), "-o", str(folder / "x.tif"))
        assert_one_line(result, str(folder), "Permission denied", "choose another --out")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


def test_split_and_synth_filling_the_disk(tmp_path: Path) -> None:
    ref = write_tagged_pair(tmp_path / "I.tif", 0, s1_scale="db", s2_scale="10000", size=256)
    target = write_tagged_pair(tmp_path / "II.tif", 1, s1_scale="db", s2_scale="10000", size=256)
    with tmpfs(tmp_path / "disk", "1100k") as disk:
        result = run("sen_preproc", "split", "--ref", str(ref), "--target", str(target),
                     "-o", str(disk / "ds"), "--size", "32", "--stride", "16", "--max-invalid", "1")  # fmt: skip
        assert_one_line(result, str(disk / "ds"), "the disk filled up while writing")
        assert os.listdir(disk) == []
        result = run("sen_preproc", "synth", "-o", str(disk / "scene"), "--size-km", "1")
        assert_one_line(result, str(disk / "scene"), "disk", "free some space")
        assert os.listdir(disk) == []


def test_file_size_limit(s2_product: Path, tmp_path: Path) -> None:
    """``ulimit -f`` (RLIMIT_FSIZE; runs without root): EFBIG becomes one line."""
    out = tmp_path / "out"
    out.mkdir()
    result = run(
        "sen_preproc", "s2", str(s2_product), "-o", str(out / "x.tif"), limit_bytes=200_000
    )
    assert_one_line(result, str(out / "x.tif"), "ulimit -f")
    assert os.listdir(out) == []


def test_write_failure_wording(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A read-only remount is said as such even under a finite ``ulimit -f``."""
    import errno

    from sen_preproc import outputs

    monkeypatch.setattr(outputs, "_file_size_limit", lambda: 1_000_000)
    path = tmp_path / "x.tif"
    rofs = OSError(errno.EROFS, "Read-only file system", str(path))
    assert "cannot write (Read-only file system)" in outputs._write_failure(path, rofs)
    big = OSError(errno.EFBIG, "File too large", str(path))
    assert "ulimit -f: 1000000 bytes" in outputs._write_failure(path, big)
    gdal = OSError("Write failed")  # GDAL's: no errno
    assert "file-size limit" in outputs._write_failure(path, gdal)
    monkeypatch.setattr(outputs, "_file_size_limit", lambda: None)
    assert "writing failed (Write failed)" in outputs._write_failure(path, gdal)
