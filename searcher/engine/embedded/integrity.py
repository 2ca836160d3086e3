"""Checksums of an index's files: recorded at every commit, checked when it is opened.

Whoosh trusts its files: a truncated posting file, an emptied term dictionary or a
zero-filled length column give tracebacks or, worse, different results without a word.
So each commit writes, beside its TOC, ``_<indexname>_<generation>.sums``: every segment
file's size, CRC-32, and the CRC-32 of its first and last ``EDGE`` bytes. Opening an index
(every query) checks what is cheap: each file is there with its size, its edges are
intact (a zero-filled or overwritten file is caught by its header), and the length
columns (one byte per paragraph, read by every query anyway) are intact throughout.
``verify`` (``searcher index``, ``add``, ``remove``, ``stats``) reads every byte.

An index written before these files existed has none: it is checked for the files its
TOC names only.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from pathlib import Path

from searcher.errors import IndexDamaged

EDGE = 4096  # bytes at each end of a file whose CRC is checked at every opening
WHOLE_BELOW = 256 * 1024  # smaller files are checked whole at every opening
_LENGTHS = re.compile(r"_[a-z]+_len\.col$")  # length columns: checked whole (results depend on them)


def sums_name(indexname: str, generation: int) -> str:
    return f"_{indexname}_{generation}.sums"


def _crc(path: Path, start: int = 0, size: int | None = None) -> int:
    crc = 0
    with open(path, "rb") as f:
        f.seek(start)
        left = size
        while left is None or left > 0:
            block = f.read(1 << 20 if left is None else min(1 << 20, left))
            if not block:
                break
            crc = zlib.crc32(block, crc)
            if left is not None:
                left -= len(block)
    return crc


def _edges(path: Path, size: int) -> int:
    if size <= 2 * EDGE:
        return _crc(path)
    return zlib.crc32(_read(path, size - EDGE, EDGE), zlib.crc32(_read(path, 0, EDGE)))


def _read(path: Path, start: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(size)


def fingerprint(path: Path) -> dict:
    size = path.stat().st_size
    return {"size": size, "crc": _crc(path), "edges": _edges(path, size)}


def record(folder: Path, indexname: str, generation: int, files: list[str]) -> None:
    """Write the sums of ``files`` for ``generation`` (before its TOC: a crash in between
    leaves a sums file of no commit, which the next commit removes). Entries of the
    previous commit are reused for its files, so a commit reads only its new files."""
    try:
        previous = load(folder, indexname, generation - 1) or {}
    except IndexDamaged:
        previous = {}
    sums = {}
    for name in files:
        old = previous.get(name)
        path = folder / name
        if old is not None and old.get("size") == path.stat().st_size:
            sums[name] = old
        else:
            sums[name] = fingerprint(path)
    target = folder / sums_name(indexname, generation)
    tmp = folder / f".{target.name}.tmp"
    try:
        tmp.write_text(json.dumps({"files": sums}, sort_keys=True), encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def clean(folder: Path, indexname: str, generation: int) -> None:
    """Remove the sums files of other commits."""
    pattern = re.compile(rf"^_{re.escape(indexname)}_(\d+)\.sums$")
    for name in os.listdir(folder):
        match = pattern.match(name)
        if match and int(match.group(1)) != generation:
            try:
                os.unlink(folder / name)
            except OSError:
                pass


def load(folder: Path, indexname: str, generation: int) -> dict | None:
    """The recorded sums of ``generation`` (file name → entry), or ``None`` if there are none."""
    try:
        data = json.loads((folder / sums_name(indexname, generation)).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        data = None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise damaged(folder, sums_name(indexname, generation), "cannot be read")
    return files


def damaged(folder: Path, name: str, what: str) -> IndexDamaged:
    return IndexDamaged(str(folder), f"{name} {what}")


def check(folder: Path, indexname: str, generation: int, whole: bool = False) -> bool:
    """``IndexDamaged`` if a file of the commit is missing, of another size, or (what can
    be read cheaply, or everything with ``whole``) of other contents than recorded;
    ``False`` if the commit has no sums to check against."""
    sums = load(folder, indexname, generation)
    if sums is None:
        return False
    for name, entry in sums.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise damaged(folder, name, "is missing") from None
        try:
            if size != entry["size"]:
                raise damaged(folder, name, f"has {size:,} bytes instead of {entry['size']:,}")
            if whole or size <= WHOLE_BELOW or _LENGTHS.search(name):
                if _crc(path) != entry["crc"]:
                    raise damaged(folder, name, "has been changed (checksum)")
            elif _edges(path, size) != entry["edges"]:
                raise damaged(folder, name, "has been changed (checksum)")
        except (KeyError, TypeError):
            raise damaged(folder, sums_name(indexname, generation), "is not valid") from None
    return True
