"""``Corpus``: the corpus folder, and every change made to it.

The folder is the truth (the index is a cache of it), so changes are careful:

- one source per id: ``add`` knows which file holds which id (a ``.txt``/``.html`` by its
  name, a ``.json`` by its ``"id"``, a ``.jsonl`` record by its line) and replaces an
  article where it lives, so ``searcher index`` never finds two sources for one id;
- every file is written to a new hidden name in the corpus folder (``O_CREAT|O_EXCL``,
  never through a link planted there) and moved into place with ``os.replace``; nothing
  is written or removed outside the folder, and no temporary file stays on any failure;
- what is added is parsed first: a file that cannot be read is reported, the others go in.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Iterable, Iterator

from searcher.corpus.listing import ARTICLE_SUFFIXES, corpus_entries, examine, walk_articles
from searcher.corpus.model import check_id, display, shown_id
from searcher.corpus.sources import Source, SourceError
from searcher.errors import SearcherError
from searcher.records import Record

STDIN = Path("<stdin>")  # how messages name standard input


class AddReport(Record):
    """What ``Corpus.add`` did: ids new to the corpus, ids whose article was replaced, and
    one message per file or record skipped (nothing of those entered the corpus)."""

    added: tuple[str, ...]
    replaced: tuple[str, ...]
    problems: tuple[str, ...]


class RemoveReport(Record):
    """What ``Corpus.remove`` did: the ids taken out, and the files deleted or rewritten."""

    removed: tuple[str, ...]
    files: tuple[Path, ...]


class _Location(Record):
    """Where an id lives: a file, and for a ``.jsonl`` record, which kind of file it is."""

    path: Path
    kind: str


class Corpus:
    """A corpus folder of article files (``Corpus(path)`` does no I/O)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Corpus({str(self.path)!r})"

    # -- reading -------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """The article files (regular files with an article suffix, not hidden), sorted."""
        return [entry.path for entry in corpus_entries(self.path) if entry.problem is None]

    def signature(self) -> str:
        """A digest of the article names, sizes and modification times: cheap to compute at
        every query, and it changes whenever an article is added, edited or removed."""
        digest = hashlib.blake2b(digest_size=16)
        for entry in corpus_entries(self.path):
            name = entry.path.name.encode("utf-8", "surrogateescape")
            if entry.problem is None:
                digest.update(name + f"\0{entry.size}\0{entry.mtime_ns}\n".encode())
            else:
                digest.update(name + b"\0?\n")
        return digest.hexdigest()

    def sources(self) -> Iterator[Source | SourceError]:
        """Every article source of the corpus, or the ``SourceError`` that kept a file (or
        a ``.jsonl`` record) out: unreadable, not a regular file, a bad id, bad JSON."""
        from searcher.corpus.sources import kind_of, read_file, scan_data

        for entry in corpus_entries(self.path):
            if entry.problem is not None:
                yield SourceError(entry.path, f"{display(entry.path)}: {entry.problem}")
                continue
            try:
                yield from scan_data(entry.path, read_file(entry.path), kind_of(entry.path.name))
            except SearcherError as exc:
                yield SourceError(entry.path, str(exc))

    def _locations(self) -> dict[str, list[_Location]]:
        """Which files hold which id (several, if the corpus has duplicates)."""
        where: dict[str, list[_Location]] = {}
        for source in self.sources():
            if isinstance(source, Source):
                where.setdefault(source.id, []).append(_Location(source.path, source.kind))
        return where

    def _require_folder(self) -> None:
        if not self.path.is_dir():
            raise SearcherError(f"corpus folder not found: {display(self.path)}")

    # -- changing ------------------------------------------------------------------------

    def add(self, items: Iterable[Path | str | bytes]) -> AddReport:
        """Put articles into the corpus: files, folders of them (hidden ones left out), or
        ``bytes`` (standard input: JSON, JSON Lines, or a text article).

        Each article is parsed first; what cannot be is a problem in the report and
        nothing of it is written. An id already in the corpus is replaced where it lives;
        the records of a ``.jsonl`` become one ``.json`` file each. ``SearcherError`` if
        the folder is missing or a write fails (no space left, …), naming the folder.
        """
        self._require_folder()
        where = self._locations()
        holders = {loc.path: i for i, locs in where.items() for loc in locs if loc.kind != "jsonl"}
        before = set(where)
        added: list[str] = []
        replaced: list[str] = []
        problems: list[str] = []
        given: dict[str, str] = {}  # id -> the input it came from, in this add
        for item in items:
            for source in self._incoming(item, problems):
                try:
                    source.load()  # refuse what cannot be indexed before it enters the corpus
                except SearcherError as exc:
                    problems.append(str(exc))
                    continue
                if source.id in given:
                    problems.append(
                        f"{source.origin}: the id '{source.id}' is given twice (also by {given[source.id]})"
                    )
                    continue
                given[source.id] = source.origin
                problem = self._put(source, where, holders)
                if problem:
                    problems.append(problem)
                else:
                    (replaced if source.id in before else added).append(source.id)
        return AddReport(tuple(added), tuple(replaced), tuple(problems))

    def remove(self, ids: Iterable[str]) -> RemoveReport:
        """Take articles out of the corpus: their files deleted, their ``.jsonl`` records
        dropped (a ``.jsonl`` left empty is deleted). An unknown id is a ``SearcherError``
        before anything changes."""
        self._require_folder()
        wanted = list(dict.fromkeys(ids))
        for article_id in wanted:
            check_id(article_id)  # a clear message for an id no article can have
        where = self._locations()
        unknown = [i for i in wanted if i not in where]
        if unknown:
            names = ", ".join(f"'{shown_id(i)}'" for i in unknown)
            raise SearcherError(f"no article with id {names} in {display(self.path)}")
        records: dict[Path, set[str]] = {}
        changed: list[Path] = []
        for article_id in wanted:
            for location in where[article_id]:
                if location.kind == "jsonl":
                    records.setdefault(location.path, set()).add(article_id)
                else:
                    self._unlink(location.path)
                    changed.append(location.path)
        for path, dropped in records.items():
            self._drop_records(path, dropped)
            changed.append(path)
        return RemoveReport(tuple(wanted), tuple(dict.fromkeys(changed)))

    # -- the steps -----------------------------------------------------------------------

    def _incoming(self, item: Path | str | bytes, problems: list[str]) -> Iterator[Source]:
        """The sources of one item given to ``add``, one file read at a time; what cannot
        be scanned goes to ``problems``."""
        from searcher.corpus.sources import kind_of, read_file, scan_data

        if isinstance(item, (bytes, bytearray, memoryview)):
            data = bytes(item)
            default_id = f"stdin_{hashlib.blake2b(data, digest_size=16).hexdigest()[:12]}"
            yield from _scanned(scan_data(STDIN, data, _stdin_kind(data), default_id), problems)
            return
        for path in _article_paths(Path(item), problems):
            try:
                data = read_file(path)
            except SearcherError as exc:
                problems.append(str(exc))
                continue
            yield from _scanned(scan_data(path, data, kind_of(path.name)), problems)

    def _put(self, source: Source, where: dict[str, list[_Location]], holders: dict[Path, str]) -> str | None:
        """Write one parsed source into the corpus as ``<id><suffix>`` and remove the other
        places its id lived; a message instead if something else is in the way.
        ``where``: id -> its files; ``holders``: file -> its id (both kept up to date)."""
        suffix = ".json" if source.kind in ("json", "jsonl") else source.path.suffix.lower()
        if suffix not in ARTICLE_SUFFIXES:
            suffix = ".txt"  # standard input's text
        target = self.path / f"{source.id}{suffix}"
        mine = [loc for loc in where.get(source.id, []) if loc.path == target]
        if not mine:
            holder = holders.get(target)
            if holder is not None:
                return f"{source.origin}: cannot add '{source.id}': {display(target)} holds the article '{shown_id(holder)}'"
            if os.path.lexists(target):
                problem = examine(target).problem
                if problem:
                    return f"{source.origin}: cannot add '{source.id}': {display(target)} is in the way ({problem})"
        write_file(target, source.data)
        dropped: dict[Path, set[str]] = {}
        for location in where.get(source.id, []):
            if location.path == target or _same_file(location.path, target):
                continue  # (the same file under another case, on a case-insensitive disk)
            if location.kind == "jsonl":
                dropped.setdefault(location.path, set()).add(source.id)
            else:
                self._unlink(location.path)
                holders.pop(location.path, None)
        for path, ids in dropped.items():
            self._drop_records(path, ids)
        where[source.id] = [_Location(target, "json" if suffix == ".json" else source.kind)]
        holders[target] = source.id
        return None

    def _inside(self, path: Path) -> Path:
        """``path`` itself, once checked to be an entry of the corpus folder."""
        if path.parent != self.path or path.name in ("", ".", ".."):
            raise SearcherError(f"{display(path)}: not in the corpus folder {display(self.path)}")
        return path

    def _unlink(self, path: Path) -> None:
        try:
            os.unlink(self._inside(path))  # a link goes, not what it points to
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SearcherError(f"cannot remove {display(path)}: {exc.strerror}") from None

    def _drop_records(self, path: Path, ids: set[str]) -> None:
        """Write a ``.jsonl`` again without the records of ``ids``; delete it if none is left."""
        from searcher.corpus.sources import jsonl_record_id, read_file

        data = read_file(self._inside(path))
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]  # a BOM would hide the first record's id
        kept = []
        for line in data.split(b"\n"):
            record = line.rstrip(b"\r")
            if record and not record.isspace() and jsonl_record_id(record) in ids:
                continue
            kept.append(line)
        rest = b"\n".join(kept)
        if not rest or rest.isspace():
            self._unlink(path)
        else:
            write_file(path, rest)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except OSError:
        return False


def _scanned(sources: Iterator[Source | SourceError], problems: list[str]) -> Iterator[Source]:
    """The sources of one file; its problems (the whole file, or one record) to ``problems``."""
    try:
        for source in sources:
            if isinstance(source, SourceError):
                problems.append(str(source))
            else:
                yield source
    except SearcherError as exc:
        problems.append(str(exc))


def _article_paths(path: Path, problems: list[str]) -> list[Path]:
    """A file given to ``add``, or the article files of a folder given."""
    if not os.path.lexists(path):
        problems.append(f"{display(path)}: no such file or folder")
        return []
    if path.is_dir():
        found, skipped = walk_articles(path)
        problems.extend(skipped)
        return found
    problem = examine(path).problem
    if problem:
        problems.append(f"{display(path)}: {problem}")
        return []
    if path.suffix.lower() not in ARTICLE_SUFFIXES:
        problems.append(f"{display(path)}: not an article file ({', '.join(ARTICLE_SUFFIXES)})")
        return []
    return [path]


def _stdin_kind(data: bytes) -> str:
    """Standard input's format: JSON stays JSON (Lines if several objects), else text."""
    stripped = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"{"):
        return "jsonl" if b"\n{" in stripped.rstrip() else "json"
    return "text"


# ---------------------------------------------------------------------------------------
# Writing a file safely
# ---------------------------------------------------------------------------------------

_TMP_ATTEMPTS = 100


def _token() -> str:
    return os.urandom(6).hex()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_file(target: Path, data: bytes) -> None:
    """Put ``data`` at ``target`` atomically: written to a new hidden file beside it
    (created with ``O_EXCL|O_NOFOLLOW``, so never through a planted link), then moved
    into place. On any failure the temporary file is removed and an ``OSError`` becomes
    a ``SearcherError`` naming the folder."""
    folder = target.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp = None
    try:
        for _ in range(_TMP_ATTEMPTS):
            candidate = folder / f".{target.name}.{_token()}.tmp"
            try:
                fd = os.open(candidate, flags, 0o644)
            except FileExistsError:
                continue  # taken (by a planted link, maybe): another name
            tmp = candidate
            break
        else:
            raise OSError(errno.EEXIST, "no free temporary file name")
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise SearcherError(
            f"cannot write {display(target.name)} in the corpus folder {display(folder)}: {exc.strerror or exc}"
        ) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
