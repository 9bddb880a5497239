"""Integrity of the zip archives products arrive in.

GDAL reads zip members through ``/vsizip/`` with random access and never checks their CRC-32,
so a damaged download decodes to plausible-looking wrong pixels (64 flipped bytes in a JP2
band: most pixels wrong, at most a warning). Every member a command reads is therefore
streamed once through :mod:`zipfile`, which checks the CRC-32 at the member's end, before its
pixels are used, whatever its size. Inflating costs ~5 s per GB of data on one core, so members
are verified in parallel threads (see ``benches/bench_zip_verify.py``).
Members already verified in this process (same file, size and modification time) are not read
again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zipfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sen_preproc.errors import ProductError

LOGGER = logging.getLogger(__name__)

VSIZIP = "/vsizip/"
CHUNK_BYTES = 4 * 2**20

_VERIFIED: set[tuple[str, int, int, str]] = set()
_LOCK = threading.Lock()


def split_vsizip(path: str) -> tuple[Path, str] | None:
    """``(zip file, member)`` of a GDAL ``/vsizip/ARCHIVE/MEMBER`` path, else ``None``.

    The archive is the shortest leading part of the path that is an existing file, so an
    archive whose name does not end in ``.zip`` is found too.
    """
    if not path.startswith(VSIZIP):
        return None
    rest = path[len(VSIZIP) :]
    cut = rest.find("/", 1)
    while cut != -1:
        if Path(rest[:cut]).is_file():
            return Path(rest[:cut]), rest[cut + 1 :]
        cut = rest.find("/", cut + 1)
    return None


def _key(zip_path: Path, member: str) -> tuple[str, int, int, str]:
    stat = zip_path.stat()
    return (str(zip_path.resolve()), stat.st_size, stat.st_mtime_ns, member)


def verify_zip_members(
    zip_path: Path, members: Iterable[str], *, product: Path | None = None
) -> None:
    """Read each member in full so that its CRC-32 is checked.

    Parameters
    ----------
    zip_path : Path
        The archive.
    members : iterable of str
        Member names as in the archive's directory.
    product : Path, optional
        What to name in the message (default ``zip_path``).

    Raises
    ------
    ProductError
        A member is missing, fails its CRC-32, or its compressed stream is damaged.
    """
    label = product or zip_path
    try:
        todo = [m for m in dict.fromkeys(members) if _key(zip_path, m) not in _VERIFIED]
    except OSError as err:
        raise ProductError(f"{label}: cannot read the archive ({err}); check the path") from err
    if not todo:
        return
    start = time.perf_counter()
    try:
        with zipfile.ZipFile(zip_path) as archive:
            infos = []
            for member in todo:
                try:
                    infos.append(archive.getinfo(member))
                except KeyError:
                    raise ProductError(
                        f"{label}: {member} is missing from the archive; download the complete "
                        "product again"
                    ) from None
        # inflating is the cost (~200 MB/s per core) and zlib releases the GIL: one thread per
        # member, each with its own handle on the archive
        workers = max(1, min(len(infos), os.cpu_count() or 1, 4))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sizes = list(pool.map(lambda info: _verify_one(zip_path, info, label), infos))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ProductError(
            f"{label}: not a readable zip archive ({err}); download the product again"
        ) from err
    LOGGER.info(
        "verified %d zip member(s), %.0f MB, in %.1f s",
        len(todo),
        sum(sizes) / 1e6,
        time.perf_counter() - start,
    )


def _verify_one(zip_path: Path, info: zipfile.ZipInfo, label: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        size = _read_member(archive, info, label)
    with _LOCK:
        _VERIFIED.add(_key(zip_path, info.filename))
    return size


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: Path) -> int:
    """Stream one member to its end (zipfile raises on a CRC mismatch); its size in bytes."""
    size = 0
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(CHUNK_BYTES):
                size += len(chunk)
    except (NotImplementedError, RuntimeError) as err:  # Deflate64 (Windows), encrypted members
        raise ProductError(
            f"{label}: zip member {Path(info.filename).name} cannot be read ({_short(err)}); "
            "unzip the product and pass its .SAFE folder, or re-zip it with plain deflate"
        ) from err
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        what = "fails its CRC-32 check" if "CRC" in str(err) else f"is damaged ({_short(err)})"
        raise ProductError(
            f"{label}: zip member {Path(info.filename).name} {what}: the download is corrupt or "
            "truncated; download the product again"
        ) from err
    return size


def _short(err: BaseException) -> str:
    """The error's text without the member name zipfile appends."""
    return str(err).split(" for file ")[0]


def verify_gdal_paths(paths: Iterable[str], *, product: Path | None = None) -> None:
    """Verify the zip members behind any ``/vsizip/`` paths (other paths are left alone)."""
    by_zip: dict[Path, list[str]] = {}
    for path in paths:
        parts = split_vsizip(path)
        if parts is not None:
            by_zip.setdefault(parts[0], []).append(parts[1])
    for zip_path, members in by_zip.items():
        verify_zip_members(zip_path, members, product=product)


def verify_whole_zip(zip_path: Path) -> None:
    """Verify every file member of an archive (for readers that choose members themselves,
    such as SNAP's gpt)."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ProductError(
            f"{zip_path}: not a readable zip archive ({err}); download the product again"
        ) from err
    verify_zip_members(zip_path, names)
