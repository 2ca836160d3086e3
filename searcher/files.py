"""Which files of a folder are articles: the corpus listing, without the (heavier) parser.

``searcher query`` lists the corpus at every start to notice changes since the last index;
this module keeps that from importing ``searcher.corpus`` and its cleaning rules.
"""

from __future__ import annotations

from pathlib import Path

from searcher.errors import SearcherError

ARTICLE_SUFFIXES = (".txt", ".json", ".jsonl", ".html", ".htm")


def corpus_files(corpus: Path) -> list[Path]:
    """The article files of a corpus folder, sorted by name (hidden files left out)."""
    if not corpus.is_dir():
        raise SearcherError(f"corpus folder not found: {corpus}")
    return sorted(
        p
        for p in corpus.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in ARTICLE_SUFFIXES
    )

