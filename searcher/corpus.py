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
    """Read one article file; raises ``SearcherError`` naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SearcherError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_article(path.stem, data, str(path))


def corpus_files(corpus: Path) -> list[Path]:
    """The article files of a corpus folder, sorted by name."""
    if not corpus.is_dir():
        raise SearcherError(f"corpus folder not found: {corpus}")
    return sorted(p for p in corpus.iterdir() if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES)


def iter_corpus(corpus: Path) -> Iterator[Article | SearcherError]:
    """Every article of the corpus, or the error that kept a file out."""
    for path in corpus_files(corpus):
        try:
            yield read_article(path)
        except SearcherError as exc:
            yield exc
