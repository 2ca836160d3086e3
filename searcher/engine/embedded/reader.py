"""Reading an embedded index: one Whoosh searcher on one commit, as a ``Snapshot`` and as
the evaluator's ``PostingSource``.

The segments' document numbers are laid end to end (each segment's offset is the count
of those before it), as Whoosh's own multi-segment searcher numbers them, so one
document number names one paragraph for the whole commit.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from contextlib import nullcontext
from typing import Iterable, Sequence

from whoosh.reading import EmptyReader

from searcher.engine import schema as s
from searcher.engine.base import ArticleMeta, Paragraph, Snapshot, StoredArticle
from searcher.engine.embedded.codec import SegmentPostings
from searcher.engine.embedded.fields import decode_positions
from searcher.engine.evaluate import Evaluator
from searcher.engine.nodes import Filters
from searcher.engine.scoring import LENGTH_TABLE
from searcher.errors import SearcherError


def _guarded(method):
    """A read of the snapshot: a failure caused by damaged files becomes ``IndexDamaged``
    (``WhooshEngine.reading``)."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        with self.guard():
            return method(self, *args, **kwargs)

    return guarded


def _guarded_iter(method):
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        with self.guard():
            yield from method(self, *args, **kwargs)

    return guarded


INFOS_CACHED = 100_000  # term lookups a snapshot keeps (a few hundred bytes each)


class WhooshSnapshot(Snapshot):
    """A Whoosh searcher on one commit; also the ``PostingSource`` of its evaluator."""

    length_table = LENGTH_TABLE

    def __init__(self, searcher, location: str, engine=None):
        self.searcher = searcher
        self.location = location
        self.engine = engine
        self.reader = searcher.reader()
        subs = [(searcher, 0)] if searcher.is_atomic() else list(searcher.subsearchers)
        try:
            self.segments = [
                (SegmentPostings(sub.reader()), offset) for sub, offset in subs if not isinstance(sub.reader(), EmptyReader)
            ]
        except TypeError:
            raise SearcherError(f"the index at {location} is not in searcher's format: run `searcher index --rebuild`") from None
        self.offsets = [offset for _, offset in self.segments]
        self.size = self.reader.doc_count_all()
        self.paragraphs = self.reader.doc_count()
        deleted = set()
        for postings, offset in self.segments:
            reader = postings.reader
            if reader.has_deletions():
                deleted.update(offset + d for d in range(reader.doc_count_all()) if reader.is_deleted(d))
        self.deleted = frozenset(deleted)
        self._lengths: dict[str, bytes] = {}
        self._avg: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._infos_cache: dict[tuple[str, str], tuple] = {}
        self._prefixes: dict[tuple[str, str], list[str]] = {}
        self._columns: dict[str, tuple] = {}
        self._evaluator: Evaluator | None = None

    def guard(self):
        return self.engine.reading() if self.engine is not None else nullcontext()

    # -- PostingSource -----------------------------------------------------------------

    @_guarded
    def doc_frequency(self, field: str, term: str) -> int:
        # What Whoosh's reader.doc_frequency sums (deleted documents included), from the
        # term infos the reads use next: one term-dictionary lookup per segment, not two.
        return sum(info.doc_frequency() for _, _, info in self._infos(field, term))

    @_guarded
    def expand_prefix(self, field: str, prefix: str) -> list[str]:
        # Kept per snapshot, as term infos are: an accentless word's variants are asked
        # for by the compiler, then for its frequency, then for its reading.
        key = (field, prefix)
        found = self._prefixes.get(key)
        if found is None:
            if field not in self.reader.schema:
                return []
            btext = prefix.encode("utf-8")
            terms = {t for postings, _ in self.segments for t in postings.expand_prefix(field, btext)}
            found = [t.decode("utf-8") for t in sorted(terms)]
            if len(self._prefixes) >= INFOS_CACHED:
                self._prefixes.clear()
            self._prefixes[key] = found
        return list(found)

    def normed(self, field: str) -> bool:
        return field in s.ANALYZED

    def field_count(self, field: str) -> int:
        """Documents that have ``field`` (deleted ones included, as in Lucene's docCount);
        every document for a field without lengths (an id)."""
        found = self._counts.get(field)
        if found is None:
            found = self.size - self.length_bytes(field).count(0) if self.normed(field) else self.size
            self._counts[field] = found
        return found

    def avg_length(self, field: str) -> float:
        found = self._avg.get(field)
        if found is None:
            found = self._avg[field] = self.reader.field_length(field) / (self.field_count(field) or 1)
        return found


    def length_bytes(self, field: str) -> bytes:
        found = self._lengths.get(field)
        if found is None:
            found = self._lengths[field] = b"".join(p.length_bytes(field) for p, _ in self.segments)
        return found

    def _infos(self, field: str, term: str) -> tuple:
        """``(postings, offset, info)`` of each segment holding ``term``, looked up once
        per snapshot (a query asks for a term's frequency, then reads it; a batch asks
        the same common words again). The snapshot never changes, so neither do they."""
        key = (field, term)
        found = self._infos_cache.get(key)
        if found is None:
            btext = term.encode("utf-8")
            found = []
            for postings, offset in self.segments:
                info = postings.info(field, btext)
                if info is not None:
                    found.append((postings, offset, info))
            found = tuple(found)
            if len(self._infos_cache) >= INFOS_CACHED:
                self._infos_cache.clear()
            self._infos_cache[key] = found
        return found

    def blocks(self, field: str, term: str, wanted: list[int] | None = None):
        for postings, offset, info in self._infos(field, term):
            local = None
            if wanted is not None:
                end = offset + postings.reader.doc_count_all()
                lo, hi = bisect_right(wanted, offset - 1), bisect_right(wanted, end - 1)
                if lo == hi:
                    continue
                local = [d - offset for d in wanted[lo:hi]]
            for ids, weights in postings.blocks(info, local):
                yield (list(map(offset.__add__, ids)) if offset else ids), weights

    def arrays(self, field: str, term: str):
        import numpy as np

        parts = [(postings.arrays(info), offset) for postings, offset, info in self._infos(field, term)]
        if not parts:
            return np.zeros(0, dtype=np.int64), None
        if len(parts) == 1:
            (ids, weights), offset = parts[0]
            return (ids + offset if offset else ids), weights
        ids = np.concatenate([a[0] + offset for a, offset in parts])
        if all(a[1] is None for a, _ in parts):
            return ids, None
        weights = np.concatenate([a[1] if a[1] is not None else np.ones(len(a[0])) for a, _ in parts])
        return ids, weights

    def positions(self, field: str, term: str, docs: list[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for postings, offset, info in self._infos(field, term):
            end = offset + postings.reader.doc_count_all()
            local = [d - offset for d in docs if offset <= d < end]
            if local:
                for d, value in postings.values(info, local).items():
                    found[d + offset] = decode_positions(value)
        return found

    # -- Snapshot: vocabulary ----------------------------------------------------------

    @_guarded
    def terms_within(self, field: str, term: str, distance: int) -> list[str]:
        return list(self.reader.terms_within(field, term, distance))

    @_guarded_iter
    def lexicon(self, field: str) -> Iterable[str]:
        return (t.decode("utf-8") for t in self.reader.lexicon(field))

    # -- Snapshot: searching -----------------------------------------------------------

    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            self._evaluator = Evaluator(self)
        return self._evaluator

    def _docs_of(self, field: str, term: str) -> list[int]:
        docs: list[int] = []
        for ids, _ in self.blocks(field, term):
            docs.extend(ids)
        return [d for d in docs if d not in self.deleted]

    def allowed(self, filters: Filters | None):
        """The documents ``filters`` let through, as the evaluator's tables want them."""
        if not filters:
            return None
        docs: set[int] | None = None
        if filters.article:
            docs = set(self._docs_of(s.ARTICLE, filters.article))
        if filters.since or filters.until:
            low, high = filters.since or "0000", (filters.until or "9999") + "\uffff"
            dated = set()
            for date in self.lexicon(s.DATE):
                if low <= date <= high:
                    dated.update(self._docs_of(s.DATE, date))
            docs = dated if docs is None else docs & dated
        return self.evaluator().tables.allowed(sorted(docs))

    @_guarded
    def top(self, query, limit: int, filters: Filters | None = None):
        return self.evaluator().top(query, limit, self.allowed(filters))

    @_guarded
    def count(self, query, filters: Filters | None = None) -> int:
        return self.evaluator().count(query, self.allowed(filters))

    @_guarded
    def match_dates(self, query, filters: Filters | None = None) -> list[tuple[str, str, int]]:
        import numpy as np

        docs = self.evaluator().matches(query, self.allowed(filters))
        if not docs:
            return []
        (articles, article_of), (dates, date_of) = self._column(s.ARTICLE), self._column(s.DATE)
        docs = np.asarray(docs, dtype=np.int64)
        # One (article, date) pair per article: dates are an article's.
        pairs, counts = np.unique(np.stack([article_of[docs], date_of[docs]]), axis=1, return_counts=True)
        return [
            (dates[d] if d >= 0 else "", articles[a] if a >= 0 else "", int(n))
            for (a, d), n in zip(pairs.T.tolist(), counts.tolist())
        ]

    def _column(self, field: str):
        """Document number → the number of its term in ``field`` (an ID field: one term per
        document), and the terms: read once per snapshot from the term dictionary. A term
        whose postings fill its id range (an article's paragraphs are written side by side)
        is assigned that range from its term info alone; any other has its postings read."""
        import numpy as np

        found = self._columns.get(field)
        if found is None:
            names: list[str] = []
            numbers: dict[str, int] = {}
            column = np.full(self.size, -1, dtype=np.int32)
            for postings, offset in self.segments:
                for btext, info in postings.reader.iter_field(field):
                    name = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                    number = numbers.setdefault(name, len(names))
                    if number == len(names):
                        names.append(name)
                    low, high, df = info.min_id(), info.max_id(), info.doc_frequency()
                    if low is not None and high is not None and high - low + 1 == df:
                        column[offset + low : offset + high + 1] = number
                    else:
                        for ids, _ in postings.blocks(info):
                            column[offset + np.asarray(ids, dtype=np.int64)] = number
            found = self._columns[field] = (names, column)
        return found

    # -- Snapshot: stored data ---------------------------------------------------------

    def _stored(self, ref: int) -> dict:
        return self.searcher.stored_fields(ref)

    @_guarded
    def paragraph(self, ref) -> Paragraph:
        fields = self._stored(ref)
        return Paragraph(ref, fields[s.ARTICLE], fields[s.PARAGRAPH], fields[s.TEXT])

    @_guarded
    def paragraphs_near(self, ref, numbers: Sequence[int]) -> dict[int, Paragraph]:
        """An article's paragraphs are written in order, side by side in one segment, so
        each is looked for at its offset from the one known (one read); only if that
        fails are all the article's paragraphs read."""
        known = self.paragraph(ref)
        found: dict[int, Paragraph] = {}
        for number in numbers:
            guess = ref + number - known.number
            if 0 <= guess < self.size and guess not in self.deleted:
                other = self.paragraph(guess)
                if other.article == known.article and other.number == number:
                    found[number] = other
        missing = set(numbers) - set(found)
        if missing:
            for doc in self._docs_of(s.ARTICLE, known.article):
                other = self.paragraph(doc)
                if other.number in missing:
                    found[other.number] = other
        return found

    @_guarded
    def article_meta(self, ref) -> ArticleMeta:
        first = self.paragraphs_near(ref, [1]).get(1)
        fields = self._stored(first.ref) if first is not None else {}
        return ArticleMeta(
            title=fields.get(s.TITLE, ""),
            date=fields.get(s.DATE) or None,
            author=fields.get(s.AUTHOR) or None,
            url=fields.get(s.URL) or None,
        )

    @_guarded
    def article(self, article_id: str) -> StoredArticle | None:
        docs = self._docs_of(s.ARTICLE, article_id)
        if not docs:
            return None
        return s.stored_article(article_id, sorted((self._stored(d) for d in docs), key=lambda f: f[s.PARAGRAPH]))

    def up_to_date(self) -> bool:
        return self.searcher.up_to_date()

    def close(self) -> None:
        for postings, _ in self.segments:
            postings.close()
        self.searcher.close()
