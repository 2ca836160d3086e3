"""The engine interface: what the rest of searcher asks of an index, whoever holds it.

An ``Engine`` is one index (the embedded Whoosh folder, or an index on a cluster). It
writes in commits (``write``: delete some articles and add others, all or nothing) and
answers through a ``Snapshot``: a read view of one commit that compiles queries against
its vocabulary, runs them to the exact top hits and total, and returns stored paragraphs.
Documents are referred to by an opaque ``ref`` (an int for the embedded engine).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import nullcontext
from typing import Callable, Iterable, Sequence

from searcher.records import Record

Progress = Callable[[int], None]  # called with the number of articles done so far


class Paragraph(Record):
    """A stored paragraph: its article, number (from 1) and text."""

    ref: object
    article: str
    number: int
    text: str


class ArticleMeta(Record):
    """An article's own fields, as stored."""

    title: str
    date: str | None
    author: str | None
    url: str | None


class StoredArticle(Record):
    """An article as the index holds it: metadata and its paragraphs, numbered from 1."""

    id: str
    title: str
    date: str | None
    author: str | None
    url: str | None
    paragraphs: tuple[str, ...]


class EngineStats(Record):
    engine: str  # "whoosh" or "opensearch"
    location: str  # the index folder, or the cluster and index name
    articles: int
    paragraphs: int
    terms: int  # distinct canonical syllables
    words: int  # distinct pyvi words (accent variants counted apart)
    size_bytes: int
    segments: int
    last_update: float | None  # POSIX time of the last commit
    schema_version: int


class Written(Record):
    """What a ``write`` indexed: article ids, paragraphs, and one message per source that
    could not be parsed (its indexed version, if any, stays)."""

    articles: tuple[str, ...]
    paragraphs: int
    skipped: tuple[str, ...]


class Snapshot(ABC):
    """A read view of one commit. Cheap to keep: reuse it while ``up_to_date()``."""

    paragraphs: int  # documents in the index
    # Whether lookups are worth batching (a cluster: one request for many): query
    # compiling then tells ``prefetch`` every lookup it will make before making them.
    batches_lookups: bool = False

    # -- vocabulary (query compiling, suggestions) --

    def prefetch(self, lookups: Iterable[tuple[str, str, str]]) -> None:
        """Get ready to answer ``("df", field, term)`` (``doc_frequency``) and
        ``("has_prefix", field, prefix)`` lookups; a no-op unless ``batches_lookups``."""

    @abstractmethod
    def doc_frequency(self, field: str, term: str) -> int:
        """Paragraphs holding ``term`` in ``field`` (0 if none)."""

    def doc_frequencies(self, field: str, terms: Iterable[str]) -> dict[str, int]:
        """``doc_frequency`` of many terms at once (an engine may ask in one request)."""
        return {term: self.doc_frequency(field, term) for term in terms}

    @abstractmethod
    def expand_prefix(self, field: str, prefix: str) -> list[str]:
        """The terms of ``field`` that start with ``prefix``, in order."""

    def has_prefix(self, field: str, prefix: str) -> bool:
        """Whether any term of ``field`` starts with ``prefix``."""
        return bool(self.expand_prefix(field, prefix))

    @abstractmethod
    def terms_within(self, field: str, term: str, distance: int) -> list[str]:
        """The terms of ``field`` at most ``distance`` edits from ``term``."""

    @abstractmethod
    def lexicon(self, field: str) -> Iterable[str]:
        """Every term of ``field``."""

    def variants_of(self, field: str, folded: Iterable[str]) -> dict[str, list[str]]:
        """The terms of ``field`` whose accent-folded form is one of ``folded``, by folded
        form (``{"so": ["so", "sò", "số", "sợ" …]}``). By default from the whole lexicon,
        read once per snapshot; an engine may ask for just these."""
        from searcher.text import fold_accents

        by_fold = getattr(self, "_by_fold", {}).get(field)
        if by_fold is None:
            by_fold = {}
            for term in self.lexicon(field):
                by_fold.setdefault(fold_accents(term), []).append(term)
            self._by_fold = {**getattr(self, "_by_fold", {}), field: by_fold}
        return {f: list(by_fold[f]) for f in dict.fromkeys(folded) if f in by_fold}

    # -- searching --

    @abstractmethod
    def top(self, query, limit: int, filters=None) -> tuple[list[tuple[object, float]], int, int | None]:
        """The ``limit`` best ``(ref, score)`` pairs of a compiled query (score
        descending, ties in index order; a ``Tiered`` query's first tier first), the
        exact number of matches, and of those in the first tier (``None``: not tiered)."""

    @abstractmethod
    def count(self, query, filters=None) -> int:
        """The exact number of paragraphs ``query`` matches."""

    @abstractmethod
    def match_dates(self, query, filters=None) -> list[tuple[str, str, int]]:
        """Every full match of ``query`` (of a ``Tiered`` query, its first tier), counted
        per article: ``(date, article, paragraphs)`` (date "" for an undated article)."""

    # -- stored data --

    @abstractmethod
    def paragraph(self, ref) -> Paragraph: ...

    @abstractmethod
    def paragraphs_near(self, ref, numbers: Sequence[int]) -> dict[int, Paragraph]:
        """Paragraphs ``numbers`` of the article ``ref`` belongs to, by number."""

    @abstractmethod
    def article_meta(self, ref) -> ArticleMeta:
        """The fields of the article ``ref`` belongs to."""

    @abstractmethod
    def article(self, article_id: str) -> StoredArticle | None: ...

    @abstractmethod
    def up_to_date(self) -> bool:
        """Whether no commit has landed since this snapshot was taken."""

    def close(self) -> None:
        pass


class Engine(ABC):
    """One index."""

    name: str  # "whoosh" or "opensearch"
    location: str  # for messages
    # Set when the index was opened for writing although damaged (``errors.IndexDamaged``):
    # the next sync rebuilds it from the corpus.
    damage = None

    def verify(self) -> bool:
        """``errors.IndexDamaged`` if the index's data is not what it committed (every byte
        read); ``False`` if the engine cannot tell (a sync then rebuilds)."""
        return True

    def check_writable(self) -> None:
        """``SearcherError`` naming the index if it cannot be written (a read-only folder)."""

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """Article id → content hash of the version indexed."""

    def writing(self):
        """A context in which this process alone writes the index (reentrant), for a
        whole read-compare-write sequence; an engine whose ``write`` locks by itself and
        keeps no other shared state may leave it a no-op."""
        return nullcontext()

    @abstractmethod
    def write(
        self,
        items: Sequence,
        removed: Iterable[str],
        rebuild: bool = False,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> Written:
        """In one commit: delete the articles ``removed``, and index ``items`` (``Article``s,
        or corpus ``Source``s parsed on the way), replacing any version of them; with
        ``rebuild`` everything else goes. A source that cannot be parsed is reported and
        keeps its indexed version."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """A read view of the latest commit (the same object while it is up to date)."""

    @abstractmethod
    def stats(self) -> EngineStats: ...

    @abstractmethod
    def load_state(self) -> dict:
        """Small bookkeeping kept with the index (what the corpus looked like when last synced)."""

    @abstractmethod
    def save_state(self, state: dict) -> None: ...

    def close(self) -> None:
        pass
