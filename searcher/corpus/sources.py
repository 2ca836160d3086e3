"""Sources: the articles a corpus file holds, found cheaply (ids and content hashes from
the bytes) before they are parsed. ``Source.load()`` parses one (``formats.parse``);
scanning a ``.json`` or ``.jsonl`` reads its records' ids.

Importing this module loads no parser: ``searcher.corpus`` exports ``Source`` and the
query path imports the package at every start.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Iterator

from searcher.corpus.model import Article, check_id, content_hash, display
from searcher.errors import SearcherError
from searcher.records import Record

KINDS = {".html": "html", ".htm": "html", ".json": "json", ".jsonl": "jsonl"}  # else "text"


def kind_of(name: str) -> str:
    """``text``, ``html``, ``json`` or ``jsonl``, from a file name's suffix."""
    return KINDS.get(Path(name).suffix.lower(), "text")


class Source(Record):
    """One article as found in the corpus, before it is parsed.

    ``hash`` is cheap to get (the bytes of its file or record), so an unchanged article
    is recognised without being parsed again.
    """

    id: str
    hash: str
    path: Path
    data: bytes
    kind: str = "text"  # text | html | json | jsonl
    line: int | None = None  # the line of a .jsonl record

    @property
    def origin(self) -> str:
        """How error messages name this article: the file, and the line for JSON Lines."""
        return f"{display(self.path)}:{self.line}" if self.line is not None else display(self.path)

    def load(self) -> Article:
        """Parse into an ``Article``; ``SearcherError`` naming the file if it cannot be."""
        from searcher.corpus.formats import parse  # the parser: only when parsing

        return parse(self.kind, self.id, self.data, self.origin)


class SourceError(SearcherError):
    """A corpus file (or record) that could not be scanned; ``path`` names the file."""

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = path


# -- scanning: the sources of one file's bytes --------------------------------------------


def scan_data(path: Path, data: bytes, kind: str, default_id: str | None = None) -> Iterator[Source | SourceError]:
    """The sources in one file's bytes, or what kept each out (``SearcherError`` for the
    whole file, a ``SourceError`` for one bad record of a ``.jsonl``).

    ``path`` names the file in messages; ``default_id`` is the id of a ``.txt``/``.html``
    article and of a ``.json`` object without ``"id"`` (default: the file name's stem).
    """
    from searcher.corpus.formats import _load_json, _record_id

    origin = display(path)
    default_id = path.stem if default_id is None else default_id
    if kind == "json":
        article_id = _record_id(_load_json(data, origin), default_id, origin)
        yield Source(id=article_id, hash=content_hash(data), path=path, data=data, kind=kind)
    elif kind == "jsonl":
        yield from _scan_jsonl(path, data)
    else:
        check_id(default_id, origin)
        yield Source(id=default_id, hash=content_hash(data), path=path, data=data, kind=kind)


def _scan_jsonl(path: Path, data: bytes) -> Iterator[Source | SourceError]:
    from searcher.corpus.formats import _json_value, _record_id

    origin = display(path)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data or data.isspace():
        raise SearcherError(f"{origin}: empty file")
    if b"\x00" in data:
        raise SearcherError(f"{origin}: binary file (NUL bytes), or not UTF-8 JSON Lines")
    for number, record_bytes in jsonl_records(data):
        where = f"{origin}:{number}"
        try:
            record = _json_value(record_bytes.decode("utf-8"), where, one_line=True)
            article_id = _record_id(record, None, where)
        except UnicodeDecodeError:
            yield SourceError(path, f"{where}: not UTF-8 (JSON Lines must be UTF-8)")
            continue
        except SearcherError as exc:
            yield SourceError(path, str(exc))
            continue
        yield Source(
            id=article_id, hash=content_hash(record_bytes), path=path, data=record_bytes, kind="jsonl", line=number
        )


def jsonl_records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each non-blank line of a ``.jsonl`` file, ``\\r`` dropped."""
    start = 0
    number = 0
    size = len(data)
    while start <= size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        number += 1
        record = data[start:end].rstrip(b"\r")
        if record and not record.isspace():
            yield number, record
        start = end + 1


def jsonl_record_id(record: bytes) -> str | None:
    """The id of one ``.jsonl`` line, or ``None`` if it has none that is valid."""
    from searcher.corpus.formats import _json_value, _record_id

    try:
        return _record_id(_json_value(record.decode("utf-8"), "-"), None, "-")
    except (UnicodeDecodeError, SearcherError):
        return None


def read_file(path: Path) -> bytes:
    """The bytes of a regular file; ``SearcherError`` naming it for anything else.

    Opened without blocking (a FIFO put in place of the file after it was listed would
    otherwise hang) and checked to be a regular file once open.
    """
    import os
    import stat

    from searcher.corpus.listing import examine, kind_problem

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        problem = examine(path).problem or f"cannot read ({exc.strerror})"
        raise SearcherError(f"{display(path)}: {problem}") from None
    try:
        with os.fdopen(fd, "rb") as file:  # closes fd, whatever happens
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise SearcherError(f"{display(path)}: {kind_problem(mode)}")
            return file.read()  # one buffer of the file's size
    except OSError as exc:
        raise SearcherError(f"{display(path)}: cannot read ({exc.strerror})") from None


def scan_file(path: Path) -> Iterator[Source]:
    """The article sources in one file: one per file, one per line of ``.jsonl``;
    ``SearcherError`` naming the file (and line) at the first that cannot be scanned."""
    for source in scan_data(path, read_file(path), kind_of(path.name)):
        if isinstance(source, SourceError):
            raise SearcherError(str(source))
        yield source


def read_article(path: Path) -> Article:
    """Read one single-article file; raises ``SearcherError`` naming the file."""
    sources = list(scan_file(path))
    if len(sources) != 1:
        raise SearcherError(f"{display(path)}: holds {len(sources)} articles, expected one")
    return sources[0].load()
