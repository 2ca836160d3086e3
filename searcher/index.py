"""The library: an index and the corpus it is built from, as one object.

    from searcher.index import Index

    index = Index.open_or_create("index", corpus="corpus")
    index.sync()                                   # corpus → index, in one commit
    for hit in index.search("sợ trách nhiệm", limit=5).hits:
        print(hit.article, hit.paragraph, hit.score)

The corpus is the truth and the index a cache of it: ``add`` and ``remove`` change the
corpus first (``searcher.corpus.Corpus``), then bring the index up to date; ``sync``
compares each article's content hash with the one indexed and rewrites only what
changed. The CLI and the web server are thin layers over this class.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from searcher.corpus import Corpus
from searcher.engine import ClusterIndex, Location, engine_exists, open_engine
from searcher.engine.base import Engine, EngineStats, StoredArticle
from searcher.errors import ArticleNotFound, IndexDamaged, SearcherError
from searcher.search import Results, highlight_spans, search

Progress = Callable[[int, int], None]  # (articles done, articles to do)


@dataclass(frozen=True)
class SyncReport:
    """What ``Index.sync`` did."""

    added: int
    updated: int
    removed: int
    unchanged: int
    paragraphs: int
    skipped: tuple[str, ...]  # one message per corpus file that could not be indexed
    seconds: float
    repaired: str | None = None  # why the index was rebuilt although not asked to (damage found)


    def summary(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged ({self.paragraphs} paragraphs written, {self.seconds:.1f} s)"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text


@dataclass(frozen=True)
class BatchAnswer:
    """One line of a batch: its id, its query, and the results or the error."""

    query_id: object
    query: str
    results: Results | None = None
    error: str | None = None


def batch_queries(lines: Iterable[str]) -> Iterator[tuple[object, str | None, str | None]]:
    """``(query id, query, error)`` per non-blank line: plain text (the id is the line
    number) or JSON ``{"id": …, "query": …}``."""
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        if not line.startswith("{"):
            yield number, line, None
            continue
        try:
            record = json.loads(line)
            text = record["query"]
            if not isinstance(text, str):
                raise TypeError
            yield record.get("id", number), text, None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            yield number, line, f'batch line {number}: not a JSON object with a "query" string'


class Index:
    """An index (an ``Engine``) and its corpus folder."""

    def __init__(self, engine: Engine, corpus: Corpus | None = None):
        self.engine = engine
        self.corpus = corpus

    # -- opening -----------------------------------------------------------------------

    @staticmethod
    def exists(index: Location) -> bool:
        return engine_exists(index)

    @classmethod
    def open(cls, index: Location, corpus: Path | str | None = None) -> "Index":
        """The index at ``index`` (a folder, or a ``ClusterIndex``); ``SearcherError`` if
        there is none or it cannot be used."""
        _check_apart(index, corpus)
        return cls(open_engine(index), Corpus(Path(corpus)) if corpus is not None else None)

    @classmethod
    def open_or_create(cls, index: Location, corpus: Path | str | None = None, rebuild: bool = False) -> "Index":
        """The index at ``index``, created if there is none (with ``rebuild``, also if the
        one there cannot be used)."""
        _check_apart(index, corpus)
        return cls(open_engine(index, create=True, rebuild=rebuild), Corpus(Path(corpus)) if corpus is not None else None)

    def close(self) -> None:
        self.engine.close()

    def _corpus(self) -> Corpus:
        if self.corpus is None:
            raise SearcherError("no corpus folder given for this index")
        return self.corpus

    # -- the corpus and the index ------------------------------------------------------

    def sync(self, rebuild: bool = False, jobs: int | None = None, progress: Progress | None = None) -> SyncReport:
        """Bring the index up to date with the corpus in one commit.

        New articles are added, changed ones re-indexed, deleted ones removed. With
        ``rebuild`` every article is indexed afresh. A file that cannot be read is
        reported in ``skipped`` and leaves its indexed version (if any) in place, except
        with ``rebuild``, which starts from nothing.
        """
        from searcher.corpus import SourceError
        from searcher.corpus.model import display

        corpus = self._corpus()
        started = time.perf_counter()
        self.engine.check_writable()
        repaired = None
        indexed = {}
        if not rebuild:
            try:
                if self.engine.damage is not None:
                    raise self.engine.damage
                if self.engine.verify():
                    indexed = self.engine.versions()
                else:
                    repaired, rebuild = "its files carry no checksums: written by an earlier version", True
            except IndexDamaged as exc:
                repaired, rebuild = f"it was damaged: {exc.problem}", True  # rebuilt from the corpus, in one commit
        signature = corpus.signature()
        skipped: list[str] = []
        to_index = []
        present: dict[str, Path] = {}
        unchanged = 0
        for source in corpus.sources():
            if isinstance(source, SourceError):
                # Keep whatever the index has of an article whose file cannot be read now.
                present.setdefault(source.path.stem, source.path)
                skipped.append(str(source))
                continue
            if source.id in present:
                skipped.append(f"{display(source.origin)}: the id {source.id!r} is already used by {display(present[source.id])}")
                continue
            present[source.id] = source.path
            if indexed.get(source.id) == source.hash:
                unchanged += 1
                continue
            to_index.append(source)  # parsed by whoever indexes it (a worker, in parallel)
        removed = [a for a in indexed if a not in present]
        report = (lambda done: progress(done, len(to_index))) if progress else None
        try:
            written = self.engine.write(to_index, removed, rebuild=rebuild, progress=report, jobs=jobs)
        except IndexDamaged as exc:
            if rebuild:
                raise
            self.engine.damage = exc  # found while writing (merging old segments): start again, rebuilding
            return self.sync(jobs=jobs, progress=progress)
        self.engine.damage = None
        skipped.extend(written.skipped)  # parsing failed: the indexed version (if any) stays
        updated = sum(1 for a in written.articles if a in indexed)
        # Saved even when some file was skipped: that file was reported now, and the
        # warning of `searcher query` is for changes made since (the signature covers it).
        self.engine.save_state({"corpus": str(corpus.path), "signature": signature})
        return SyncReport(
            added=len(written.articles) - updated,
            updated=updated,
            removed=len(removed),
            unchanged=unchanged,
            paragraphs=written.paragraphs,
            skipped=tuple(skipped),
            seconds=time.perf_counter() - started,
            repaired=repaired,
        )

    def add(self, items: Iterable[Path | bytes], jobs: int | None = None, progress: Progress | None = None):
        """Put articles (files, folders of them, or raw bytes) into the corpus, then index
        them: ``(AddReport, SyncReport)``."""
        self.check_writable()
        added = self._corpus().add(list(items))
        return added, self.sync(jobs=jobs, progress=progress)

    def remove(self, ids: Iterable[str]):
        """Take articles out of the corpus, then out of the index: ``(RemoveReport, SyncReport)``."""
        self.check_writable()
        removed = self._corpus().remove(list(ids))
        return removed, self.sync()

    def check_writable(self) -> None:
        """``SearcherError`` if the index cannot be written (before changing the corpus)."""
        self.engine.check_writable()

    def corpus_changed(self) -> bool:
        """Whether the corpus looks different from what the last sync indexed."""
        try:
            return self.engine.load_state().get("signature") != self._corpus().signature()
        except SearcherError:
            return True

    # -- reading -----------------------------------------------------------------------

    def search(self, text: str, **options) -> Results:
        """Run a query; the options are ``searcher.search.search``'s."""
        return search(self.engine.snapshot(), text, **options)

    def batch(self, lines: Iterable[str], **options) -> Iterator[BatchAnswer]:
        """One answer per query line (``batch_queries``); a bad line or query is an
        answer with an ``error``, and the others go on."""
        for query_id, text, error in batch_queries(lines):
            if error is not None:
                yield BatchAnswer(query_id, text, error=error)
                continue
            try:
                yield BatchAnswer(query_id, text, results=self.search(text, **options))
            except SearcherError as exc:
                yield BatchAnswer(query_id, text, error=str(exc))

    def explain(self, text: str) -> str:
        from searcher.query import explain

        return explain(text, self.engine.snapshot())

    def article(self, article_id: str) -> StoredArticle:
        """One indexed article, paragraphs in order; ``SearcherError`` if not indexed."""
        found = self.engine.snapshot().article(article_id)
        if found is None:
            raise ArticleNotFound(article_id, self.engine.location)
        return found

    def highlights(self, query: str, texts: Iterable[str]) -> list[tuple[tuple[int, int], ...]]:
        """Where the words of ``query`` stand in each of ``texts``."""
        from searcher.query import compile_query

        compiled = compile_query(query, self.engine.snapshot())
        return [highlight_spans(text, compiled) for text in texts]

    def trend(self, text: str, by: str = "month", since=None, until=None, article=None):
        """Paragraphs and articles matching ``text`` per month or year: ``[Period]``
        (``searcher.trend``)."""
        from searcher.trend import trend

        return trend(self.engine.snapshot(), text, by=by, since=since, until=until, article=article)

    def stats(self) -> EngineStats:
        return self.engine.stats()


def _check_apart(index: Location, corpus: Path | str | None) -> None:
    """The corpus folder exists, and the index does not live inside it (its files would be
    read as articles)."""
    if corpus is None:
        return
    if not Path(corpus).is_dir():
        raise SearcherError(f"corpus folder not found: {corpus}")
    if isinstance(index, ClusterIndex):
        return
    index_path, corpus_path = Path(index).resolve(), Path(corpus).resolve()
    if index_path == corpus_path or corpus_path in index_path.parents:
        raise SearcherError(f"the index folder {index} is inside the corpus folder {corpus}: put it elsewhere")
