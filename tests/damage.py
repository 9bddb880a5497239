"""Damaged copies of products, as a truncated download or a bad disk leaves them (tests)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path


def member_data_span(zip_path: Path, pattern: str) -> tuple[zipfile.ZipInfo, int]:
    """The member whose name contains ``pattern`` and the offset of its stored bytes."""
    with zipfile.ZipFile(zip_path) as archive:
        info = next(i for i in archive.infolist() if pattern in i.filename and not i.is_dir())
    raw = zip_path.read_bytes()
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    return info, info.header_offset + 30 + name_len + extra_len


def flip_member_bytes(zip_path: Path, pattern: str, out: Path, count: int = 64) -> str:
    """Copy ``zip_path`` to ``out`` with ``count`` bytes flipped in the middle of a member."""
    info, start = member_data_span(zip_path, pattern)
    raw = bytearray(zip_path.read_bytes())
    middle = start + info.compress_size // 2
    for i in range(min(count, info.compress_size // 4)):
        raw[middle + i] ^= 0xFF
    out.write_bytes(bytes(raw))
    return Path(info.filename).name


def damage_jp2_tail(safe: Path, band: str, workdir: Path, name: str) -> Path:
    """A copy of the SAFE folder whose ``band`` JP2 has its last bytes flipped (the stream
    then lacks its end-of-codestream marker: GDAL decodes it with a warning only)."""
    copy = workdir / name / safe.name
    if copy.exists():
        shutil.rmtree(copy.parent)
    shutil.copytree(safe, copy)
    jp2 = next(copy.rglob(f"*{band}_10m.jp2"))
    jp2.chmod(0o644)
    raw = bytearray(jp2.read_bytes())
    for i in range(1, 11):
        raw[-i] ^= 0xFF
    jp2.write_bytes(bytes(raw))
    return copy
