"""Reading the corpus: files → ``Article`` (title, metadata, paragraphs).

The corpus folder is the source of truth; the index is derived from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from searcher.errors import SearcherError
from searcher.text import nfc

ARTICLE_SUFFIXES = (".txt",)


@dataclass(frozen=True)
class Article:
    """One article: its id (file name without suffix), metadata and paragraphs (NFC)."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    date: str | None = None  # ISO 8601 date, YYYY-MM-DD
    author: str | None = None
    url: str | None = None
    hash: str = ""  # digest of the source bytes: tells a changed article from an unchanged one


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def parse_article(article_id: str, data: bytes, origin: str) -> Article:
    """Decode and split one scraped ``.txt`` article; ``origin`` names it in errors."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SearcherError(f"{origin}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = [nfc(line).strip() for line in text.splitlines()]
    paragraphs = tuple(line for line in lines if line)
    if not paragraphs:
        raise SearcherError(f"{origin}: empty article")
    return Article(id=article_id, title=paragraphs[0], paragraphs=paragraphs, hash=content_hash(data))


def read_article(path: Path) -> Article:
    """Read one single-article file; raises ``SearcherError`` naming the file."""
    sources = list(scan_file(path))
    if len(sources) != 1:
        raise SearcherError(f"{path}: holds {len(sources)} articles, expected one")
    return sources[0].load()


@dataclass(frozen=True)
class Source:
    """One article as found in the corpus, before it is parsed.

    ``hash`` is cheap to get (the bytes of its file or record), so an unchanged article
    is recognised without being parsed again.
    """

    id: str
    hash: str
    path: Path
    data: bytes

    def load(self) -> Article:
        """Parse into an ``Article``; ``SearcherError`` naming the file if it cannot be."""
        return parse_article(self.id, self.data, str(self.path))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SearcherError(f"{path}: cannot read ({exc.strerror})") from None


def scan_file(path: Path) -> Iterator[Source]:
    """The article sources in one corpus file (one for every format so far)."""
    data = _read_bytes(path)
    yield Source(id=path.stem, hash=content_hash(data), path=path, data=data)


def corpus_files(corpus: Path) -> list[Path]:
    """The article files of a corpus folder, sorted by name."""
    if not corpus.is_dir():
        raise SearcherError(f"corpus folder not found: {corpus}")
    return sorted(p for p in corpus.iterdir() if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES)


class SourceError(SearcherError):
    """A corpus file that could not be scanned; ``path`` names it."""

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = path


def scan_corpus(corpus: Path) -> Iterator[Source | SourceError]:
    """Every article source of the corpus, or the error that kept a file out."""
    for path in corpus_files(corpus):
        try:
            yield from scan_file(path)
        except SearcherError as exc:
            yield SourceError(path, str(exc))
