"""The embedded engine's evaluator: a compiled query (``searcher.engine.nodes``) over
posting lists, to the exact top hits and the exact number of matches.

Evaluation is term at a time: each term's postings are read in bulk and scored with BM25
(``searcher.engine.scoring``) into a *score table*, and the nodes combine tables (And
intersects, Or and Quorum add, Not subtracts, AndMaybe adds where the required part
matched). Every match is scored, so the total is exact (the size of its table) and no pruning can
drop a document that belongs in the top n. (Skipping the optional evidence of documents
that cannot reach the top, MaxScore, is gone with the fitted ranking: plain words are
all optional evidence of an OR, and the first tier of a keyword query can hold any
score.)

One tree walk, two kinds of table behind one small interface (``DictTables``,
``DenseTables``): a ``{docnum: score}`` dict for small indexes, where importing numpy
would cost a cold query more than it saves, and a dense numpy array per table (0.0: no
match; a match always scores above 0) for large ones, where whole-array operations beat
a Python operation per posting. Both give the same scores, order and totals.

The evaluator reads postings through a ``PostingSource`` (the embedded engine's reader
provides one): global document numbers, frequencies, positions, one norm byte per
document and field. Tables of common terms are kept (LRU) for the next queries of the
same source, which a ``--batch`` reuses.

A phrase scores as one term (``scoring``): its frequency in a paragraph is the number of
times it occurs there. Over the paragraph's syllables (``syl``, ``fold``) the phrase's
candidates and, for two syllables, its frequencies come from the bigram field (every
pair of adjacent syllables is a bigram term): a two-syllable phrase reads one short
posting list, and a longer one checks positions only in the paragraphs holding all its
bigrams.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import Iterable, Iterator, NamedTuple, Protocol, Sequence

from searcher.engine import scoring
from searcher.engine.nodes import And, AndMaybe, Not, Nothing, Or, Phrase, Quorum, Term, Tiered, Variants
from searcher.engine.schema import BM25_PARAMS, phrase_pairs
from searcher.text import VARIANT_SEP

DENSE_MIN_DOCS = 50_000  # from this many documents, dense (numpy) tables
CACHE_MIN = 512  # tables of terms in at least this many documents are kept...
DICT_CACHE_ENTRIES = 1_000_000  # ...up to this many entries in all (dict tables, ~100 MB)
DENSE_CACHE_ENTRIES = 16_000_000  # (dense: int32 docnums + float64 scores, ~190 MB)
# A term needed for fewer documents than df / SKIP_RATIO is read only in the blocks that
# hold them (blocks have 128 postings: fewer wanted documents than blocks, about).
SKIP_RATIO = 64
# The dict tables read only the blocks holding the wanted documents when those are fewer
# than df / DICT_SKIP_RATIO.
DICT_SKIP_RATIO = 8


class PostingSource(Protocol):
    """What the evaluator reads: one index as one space of document numbers."""

    size: int  # document numbers are 0 .. size-1, deleted ones included
    deleted: frozenset  # deleted document numbers
    length_table: Sequence[float]  # the length each of the 256 norm bytes stands for

    def doc_frequency(self, field: str, term: str) -> int: ...
    def expand_prefix(self, field: str, prefix: str) -> list[str]: ...
    def normed(self, field: str) -> bool: ...  # whether the field keeps lengths
    def field_count(self, field: str) -> int: ...  # documents that have the field
    def avg_length(self, field: str) -> float: ...
    def length_bytes(self, field: str) -> bytes: ...
    def blocks(self, field: str, term: str, wanted: list[int] | None = None) -> Iterator[tuple[list, Sequence | None]]: ...
    def arrays(self, field: str, term: str): ...
    def positions(self, field: str, term: str, docs: list[int]) -> dict[int, list[int]]: ...


class Evaluator:
    """Evaluates compiled queries against one ``PostingSource``; keep it as long as the source."""

    def __init__(self, source: PostingSource, params: dict[str, tuple[float, float]] | None = None, dense: bool | None = None):
        self.source = source
        self.params = BM25_PARAMS if params is None else params  # field -> (k1, b); else scoring.K1, B
        if dense is None:
            dense = source.size >= DENSE_MIN_DOCS
        self.tables: DictTables | DenseTables = DenseTables(self) if dense else DictTables(self)
        self._norms: dict[str, list[float]] = {}

    # -- public ------------------------------------------------------------------------

    def top(self, node, limit: int, allowed=None) -> tuple[list[tuple[int, float]], int, int | None]:
        """The ``limit`` best ``(docnum, score)`` pairs (score descending, then docnum; a
        ``Tiered`` query's first tier before the rest), the number of matching documents,
        and of those in the first tier (``None`` if the query is not tiered). ``allowed``
        (from ``tables.allowed``), if given, restricts the matches."""
        ops = self.tables
        if isinstance(node, Tiered):
            table = ops.restrict(self.table(node.query, allowed), allowed)
            matched = ops.docs(table)
            first = ops.restrict(self.table(node.first, matched), matched)
            head = ops.best(ops.restrict(table, ops.docs(first)), limit)
            if len(head) < limit:
                head += ops.best(ops.exclude(table, first), limit - len(head))
            return head, ops.size(table), ops.size(first)
        table = ops.restrict(self.table(node, allowed), allowed)
        return ops.best(table, limit), ops.size(table), None

    def _matching(self, node):
        """The part of ``node`` that decides which documents match (its ranking aside)."""
        while isinstance(node, (Tiered, AndMaybe)):
            node = node.query if isinstance(node, Tiered) else node.required
        return node

    def count(self, node, allowed=None) -> int:
        """The number of documents ``node`` matches (among ``allowed``)."""
        ops = self.tables
        return ops.size(ops.restrict(self.table(self._matching(node), allowed), allowed))

    def matches(self, node, allowed=None) -> list[int]:
        """Every document ``node`` matches fully (among ``allowed``: of a ``Tiered``
        query, its first tier), in docnum order."""
        ops = self.tables
        table = ops.restrict(self.table(self._matching(node), allowed), allowed)
        if isinstance(node, Tiered):
            table = ops.restrict(self.table(node.first, ops.docs(table)), ops.docs(table))
        return sorted(ops.doc_list(table))

    def table(self, node, restrict=None):
        """The scores of the documents ``node`` matches. With ``restrict`` (a docs value of
        ``tables.docs``), only those documents are guaranteed present; others may be too."""
        ops = self.tables
        if isinstance(node, (Term, Variants)):
            return self._leaf(node, restrict)
        if isinstance(node, Phrase):
            table = self._phrase(node, restrict)
        elif isinstance(node, And):
            table = self._and(node.children, restrict)
        elif isinstance(node, Or):
            table = ops.add_all([self.table(child, restrict) for child in node.children])
        elif isinstance(node, Quorum):
            tables = [self.table(child, restrict) for child in node.children]
            table = ops.quorum(tables, min(node.minimum, len(tables)))
        elif isinstance(node, AndMaybe):
            required = self.table(node.required, restrict)
            table = ops.add_where(required, self.table(node.optional, ops.docs(required)))
        elif isinstance(node, Not):
            # Alone (in an Or), a Not matches every other document, with score 1.0.
            return ops.inverse(self.table(node.child, None))
        elif isinstance(node, Tiered):
            return self.table(node.query, restrict)
        elif isinstance(node, Nothing):
            return ops.empty()
        else:
            raise TypeError(f"not a query node: {node!r}")
        boost = node.boost
        return ops.scale(table, boost) if boost != 1.0 else table

    # -- leaves ------------------------------------------------------------------------

    def k1_b(self, field: str) -> tuple[float, float]:
        return self.params.get(field, (scoring.K1, scoring.B))

    def norms(self, field: str) -> list[float]:
        """BM25's length normalisation, by norm byte (a field without lengths: k1)."""
        found = self._norms.get(field)
        if found is None:
            k1, b = self.k1_b(field)
            if self.source.normed(field):
                avg = self.source.avg_length(field) or 1
                found = [scoring.length_norm(length, avg, k1, b) for length in self.source.length_table]
            else:
                found = [k1] * 256
            self._norms[field] = found
        return found

    def _variants(self, node: Variants) -> list[str]:
        return self.source.expand_prefix(node.field, node.prefix + VARIANT_SEP)

    def _terms_of(self, node) -> list[str]:
        return [node.text] if isinstance(node, Term) else self._variants(node)

    def term_idf(self, field: str, terms: list[str]) -> tuple[int, float]:
        """Document frequency and IDF of ``terms`` taken as one term (their document
        frequencies added, capped at the number of documents: a paragraph holding two
        variants counts twice, and past the cap the IDF would turn negative)."""
        size = self.source.field_count(field)
        df = sum(self.source.doc_frequency(field, t) for t in terms)
        return df, scoring.idf(min(df, size), size)

    def _leaf(self, node, restrict):
        terms = self._terms_of(node)
        ops = self.tables
        if not terms:
            return ops.empty()
        return ops.leaf(node.field, terms, type(node) is Variants, restrict, node.boost)

    def _phrase(self, node: Phrase, restrict):
        """A phrase as one term: Lucene's PhraseQuery (frequency = occurrences, IDF = the
        sum of its terms' IDFs)."""
        ops = self.tables
        n = self.source.field_count(node.field)
        dfs = [self.source.doc_frequency(node.field, t) for t in node.terms]
        if not all(dfs):
            return ops.empty()
        phrase_idf = sum(scoring.idf(min(df, n), n) for df in dfs)
        freqs = self._phrase_freqs(node, restrict)
        return ops.from_frequencies(node.field, freqs, phrase_idf)

    def _docs(self, field: str, terms: list[str], restrict) -> set[int]:
        """The live documents holding any of ``terms`` (among ``restrict``: docs value)."""
        wanted = None if restrict is None else sorted(self.tables.doc_list_of(restrict))
        found: set[int] = set()
        for term in terms:
            for ids, _ in self.source.blocks(field, term, wanted):
                found.update(ids)
        found -= self.source.deleted
        if wanted is not None:
            found &= set(wanted)
        return found

    def _phrase_freqs(self, node: Phrase, restrict) -> dict[int, int]:
        """Document → how many times the phrase occurs in it (documents where it does)."""
        pairs = phrase_pairs(node.field, node.terms)
        if pairs is not None:
            field, prefixes = pairs
            pair_terms = [self.source.expand_prefix(field, p) if is_prefix else [p] for p, is_prefix in prefixes]
            if len(node.terms) == 2:
                # Every pair of adjacent syllables is a bigram: its frequency is the phrase's.
                wanted = None if restrict is None else sorted(self.tables.doc_list_of(restrict))
                freqs: dict[int, int] = {}
                for term in pair_terms[0]:
                    for ids, weights in self.source.blocks(field, term, wanted):
                        for k, d in enumerate(ids):
                            freqs[d] = freqs.get(d, 0) + (1 if weights is None else int(weights[k]))
                keep = set(freqs) - self.source.deleted
                if wanted is not None:
                    keep &= set(wanted)
                return {d: freqs[d] for d in keep}
            order = sorted(range(len(pair_terms)), key=lambda k: sum(self.source.doc_frequency(field, t) for t in pair_terms[k]))
            candidates = restrict
            docs: set[int] = set()
            for k in order:
                docs = self._docs(field, pair_terms[k], candidates)
                if not docs:
                    return {}
                candidates = self.tables.allowed(sorted(docs))
        else:
            order = sorted(range(len(node.terms)), key=lambda k: self.source.doc_frequency(node.field, node.terms[k]))
            candidates = restrict
            docs = set()
            for k in order:
                docs = self._docs(node.field, [node.terms[k]], candidates)
                if not docs:
                    return {}
                candidates = self.tables.allowed(sorted(docs))
        ordered = sorted(docs)
        where = [self.source.positions(node.field, term, ordered) for term in node.terms]
        freqs = {}
        for d in ordered:
            count = _occurrences([w.get(d, ()) for w in where])
            if count:
                freqs[d] = count
        return freqs

    # -- combinations ------------------------------------------------------------------

    def _and(self, children: Iterable, restrict):
        ops = self.tables
        positive = [c for c in children if not isinstance(c, Not)]
        negative = [c.child for c in children if isinstance(c, Not)]
        if not positive:
            # Only exclusions: every other document, with score 1.0 (as a lone Not).
            return ops.inverse(self.table(Or(tuple(negative)), None)) if negative else ops.empty()
        order = sorted(range(len(positive)), key=lambda k: self._estimate(positive[k]))
        tables: list = [None] * len(positive)
        keys = restrict
        for k in order:
            table = ops.restrict(self.table(positive[k], keys), keys)
            tables[k] = table
            keys = ops.docs(table)
            if not ops.size(table):
                return ops.empty()
        result = ops.intersect_sum(tables)
        for q in negative:
            if not ops.size(result):
                break
            result = ops.exclude(result, self.table(q, ops.docs(result)))
        return result

    def _estimate(self, node) -> int:
        """How many documents ``node`` may match at least (its cheapest bound)."""
        if isinstance(node, Term):
            return self.source.doc_frequency(node.field, node.text)
        if isinstance(node, Variants):
            return min(self.term_idf(node.field, self._variants(node))[0], self.source.size)
        if isinstance(node, Phrase):
            pairs = phrase_pairs(node.field, node.terms)
            if pairs is not None:
                field, prefixes = pairs
                return min(
                    sum(self.source.doc_frequency(field, t) for t in (self.source.expand_prefix(field, p) if is_prefix else [p]))
                    for p, is_prefix in prefixes
                )
            return min((self.source.doc_frequency(node.field, t) for t in node.terms), default=0)
        if isinstance(node, And):
            return min((self._estimate(c) for c in node.children if not isinstance(c, Not)), default=0)
        if isinstance(node, (Or, Quorum)):
            return sum(self._estimate(c) for c in node.children)
        if isinstance(node, AndMaybe):
            return self._estimate(node.required)
        return 0


def _occurrences(positions: list) -> int:
    """How many positions ``p`` have ``p + i`` in ``positions[i]`` for every i."""
    first, rest = positions[0], [set(p) for p in positions[1:]]
    return sum(1 for p in first if all(p + i in others for i, others in enumerate(rest, start=1)))


# -- dict tables -------------------------------------------------------------------------


class DictTables:
    """Score tables as ``{docnum: score}``; docs values are sets."""

    def __init__(self, evaluator: Evaluator):
        self.ev = evaluator
        self.source = evaluator.source
        self._cache: OrderedDict[tuple, dict] = OrderedDict()
        self._cached = 0

    def empty(self) -> dict:
        return {}

    def size(self, table: dict) -> int:
        return len(table)

    def docs(self, table: dict) -> set:
        return set(table)

    def doc_list(self, table: dict):
        return table.keys()

    def doc_list_of(self, docs: set):
        return docs

    def from_frequencies(self, field: str, freqs: dict[int, int], term_idf: float) -> dict:
        """The BM25 scores of documents with these frequencies of one term (or phrase)."""
        lengths = self.source.length_bytes(field)
        norms = self.ev.norms(field)
        k1 = self.ev.k1_b(field)[0]
        return {d: scoring.bm25(tf, norms[lengths[d]], term_idf, k1) for d, tf in freqs.items()}

    def allowed(self, docs: Iterable[int]) -> set:
        return set(docs)

    def restrict(self, table: dict, docs: set | None) -> dict:
        if docs is None:
            return table
        if len(docs) < len(table):
            return {d: table[d] for d in docs if d in table}
        return {d: s for d, s in table.items() if d in docs}

    def scale(self, table: dict, factor: float) -> dict:
        return {d: s * factor for d, s in table.items()}

    def add_all(self, tables: list[dict]) -> dict:
        tables = [t for t in tables if t]
        if not tables:
            return {}
        result = dict(tables[0])
        for table in tables[1:]:
            both = table.keys() & result.keys()
            if both:
                result.update({d: result[d] + table[d] for d in both})
            if len(both) < len(table):
                result.update({d: s for d, s in table.items() if d not in both} if both else table)
        return result

    def intersect_sum(self, tables: list[dict]) -> dict:
        keys = set(tables[0])
        for table in tables[1:]:
            keys &= table.keys()
        return {d: sum(t[d] for t in tables) for d in keys}

    def quorum(self, tables: list[dict], minimum: int) -> dict:
        counts: dict[int, int] = {}
        for table in tables:
            for d in table:
                counts[d] = counts.get(d, 0) + 1
        return {d: sum(t[d] for t in tables if d in t) for d, n in counts.items() if n >= minimum}

    def exclude(self, table: dict, gone: dict) -> dict:
        return {d: s for d, s in table.items() if d not in gone} if gone else table

    def add_where(self, table: dict, other: dict) -> dict:
        if not table:
            return {}
        return {d: s + other[d] if d in other else s for d, s in table.items()}

    def inverse(self, table: dict) -> dict:
        deleted = self.source.deleted
        return {d: 1.0 for d in range(self.source.size) if d not in table and d not in deleted}

    def best(self, table: dict, n: int) -> list[tuple[int, float]]:
        """The ``n`` best pairs: best score first, among equal scores the lower docnum."""
        if len(table) > n:
            cutoff = heapq.nlargest(n, table.values())[-1]
            pairs = [(-score, docnum) for docnum, score in table.items() if score >= cutoff]
        else:
            pairs = [(-score, docnum) for docnum, score in table.items()]
        pairs.sort()
        return [(docnum, -negated) for negated, docnum in pairs[:n]]

    # -- leaves --

    def leaf(self, field: str, terms: list[str], variants: bool, restrict: set | None, boost: float = 1.0) -> dict:
        """The scores of ``terms`` taken as one term, times ``boost``."""
        table = self._leaf(field, terms, restrict)
        return self.scale(table, boost) if boost != 1.0 else table

    def _leaf(self, field: str, terms: list[str], restrict: set | None) -> dict:
        """The unboosted scores of ``terms`` taken as one term (through the cache)."""
        df, term_idf = self.ev.term_idf(field, terms)
        key = (field, tuple(terms))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return self.restrict(cached, restrict) if restrict is not None else cached
        if df < CACHE_MIN or restrict is not None:
            return self._read(field, terms, term_idf, df, restrict)
        table = self._read(field, terms, term_idf, df, None)
        self._cache[key] = table
        self._cached += len(table)
        while self._cached > DICT_CACHE_ENTRIES and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached -= len(old)
        return table

    def _read(self, field: str, terms: list[str], term_idf: float, df: int, restrict: set | None) -> dict:
        source = self.source
        lengths = source.length_bytes(field)
        norms = self.ev.norms(field)
        k1 = self.ev.k1_b(field)[0]
        wanted = None
        if restrict is not None and len(restrict) * DICT_SKIP_RATIO < df:
            wanted = sorted(restrict)
        deleted = source.deleted
        if len(terms) > 1:
            # Variants: frequencies added up per document, then scored as one term.
            tfs: dict[int, float] = {}
            for term in terms:
                for ids, weights in source.blocks(field, term, wanted):
                    for d, tf in zip(ids, weights) if weights is not None else ((d, 1.0) for d in ids):
                        tfs[d] = tfs[d] + tf if d in tfs else tf
            return {
                d: scoring.bm25(tf, norms[lengths[d]], term_idf, k1)
                for d, tf in tfs.items()
                if d not in deleted and (restrict is None or d in restrict)
            }
        (term,) = terms
        ones = [scoring.bm25(1.0, n, term_idf, k1) for n in norms]  # most postings have tf 1
        table: dict = {}
        for ids, weights in source.blocks(field, term, wanted):
            if deleted or restrict is not None:
                keep = [k for k, d in enumerate(ids) if d not in deleted and (restrict is None or d in restrict)]
                if len(keep) < len(ids):
                    ids = [ids[k] for k in keep]
                    if weights is not None:
                        weights = [weights[k] for k in keep]
            if weights is None:
                table.update(zip(ids, [ones[lengths[d]] for d in ids]))
            else:
                table.update(
                    zip(
                        ids,
                        [
                            ones[lengths[d]] if tf == 1.0 else scoring.bm25(tf, norms[lengths[d]], term_idf, k1)
                            for d, tf in zip(ids, weights)
                        ],
                    )
                )
        return table


# -- dense tables ------------------------------------------------------------------------


class Sparse(NamedTuple):
    """A leaf's scores as the dense tables keep them until combined: ascending docnums and
    their scores (every one positive). An OR of leaves adds them in one pass."""

    ids: object
    scores: object


class DenseTables:
    """Score tables as dense numpy arrays (0.0: no match), or a leaf's as ``Sparse``;
    docs values are sorted int arrays."""

    def __init__(self, evaluator: Evaluator):
        import numpy as np

        self.np = np
        self.ev = evaluator
        self.source = evaluator.source
        self.n = evaluator.source.size
        dead = np.zeros(self.n, dtype=bool)
        if self.source.deleted:
            dead[np.fromiter(self.source.deleted, dtype=np.int64, count=len(self.source.deleted))] = True
        self.dead = dead if dead.any() else None
        self._cache: OrderedDict[tuple, tuple] = OrderedDict()
        self._cached = 0
        self._lengths: dict[str, object] = {}
        self._norm_arrays: dict[str, object] = {}

    def empty(self):
        return self.np.zeros(self.n)

    def dense(self, table):
        """``table`` as a dense array."""
        if type(table) is not Sparse:
            return table
        dense = self.np.zeros(self.n)
        dense[table.ids] = table.scores
        return dense

    def size(self, table) -> int:
        if type(table) is Sparse:
            return len(table.ids)
        return int(self.np.count_nonzero(table))

    def docs(self, table):
        if type(table) is Sparse:
            return table.ids
        return self.np.flatnonzero(table)

    def doc_list(self, table):
        return self.docs(table).tolist()

    def doc_list_of(self, docs):
        return docs.tolist()

    def from_frequencies(self, field: str, freqs: dict[int, int], term_idf: float):
        np = self.np
        dense = np.zeros(self.n)
        if freqs:
            ids = np.fromiter(freqs.keys(), dtype=np.int64, count=len(freqs))
            tfs = np.fromiter(freqs.values(), dtype=np.float64, count=len(freqs))
            norms = self._norms_of(field)
            dense[ids] = scoring.bm25(tfs, norms[self._lengths_of(field)[ids]], term_idf, self.ev.k1_b(field)[0])
        return dense

    def _lengths_of(self, field: str):
        lengths = self._lengths.get(field)
        if lengths is None:
            lengths = self._lengths[field] = self.np.frombuffer(self.source.length_bytes(field), dtype=self.np.uint8)
        return lengths

    def _norms_of(self, field: str):
        norms = self._norm_arrays.get(field)
        if norms is None:
            norms = self._norm_arrays[field] = self.np.array(self.ev.norms(field))
        return norms

    def allowed(self, docs: Iterable[int]):
        np = self.np
        docs = list(docs)
        return np.unique(np.asarray(docs, dtype=np.int64)) if docs else np.zeros(0, dtype=np.int64)

    def restrict(self, table, docs):
        if docs is None:
            return table
        table = self.dense(table)
        out = self.np.zeros(self.n)
        out[docs] = table[docs]
        return out

    def scale(self, table, factor: float):
        if type(table) is Sparse:
            return Sparse(table.ids, table.scores * factor)
        return table * factor

    def add_all(self, tables: list):
        np = self.np
        if len(tables) < 2:
            return tables[0] if tables else np.zeros(self.n)
        if all(type(t) is Sparse for t in tables):
            # One pass: bincount adds each document's scores in the tables' order, as
            # adding the dense tables one after the other does (0 + a is a).
            ids = np.concatenate([t.ids for t in tables])
            return np.bincount(ids, weights=np.concatenate([t.scores for t in tables]), minlength=self.n)
        tables = [self.dense(t) for t in tables]
        total = tables[0] + tables[1]  # a new array, added to in place (0 + a is a: the same sums)
        for table in tables[2:]:
            total += table
        return total

    def intersect_sum(self, tables: list):
        tables = [self.dense(t) for t in tables]
        present = tables[0] > 0.0
        total = tables[0]
        for table in tables[1:]:
            present &= table > 0.0
            total = total + table
        return self.np.where(present, total, 0.0)

    def quorum(self, tables: list, minimum: int):
        np = self.np
        tables = [self.dense(t) for t in tables]
        count = np.zeros(self.n, dtype=np.int32)
        total = np.zeros(self.n)
        for table in tables:
            count += table > 0.0
            total = total + table
        return np.where(count >= minimum, total, 0.0)

    def exclude(self, table, gone):
        return self.np.where(self.dense(gone) > 0.0, 0.0, self.dense(table))

    def add_where(self, table, other):
        table = self.dense(table)
        return self.np.where(table > 0.0, table + self.dense(other), 0.0)

    def inverse(self, table):
        out = self.np.where(self.dense(table) > 0.0, 0.0, 1.0)
        if self.dead is not None:
            out[self.dead] = 0.0
        return out

    def best(self, table, n: int) -> list[tuple[int, float]]:
        np = self.np
        if type(table) is Sparse:
            docs, scores = table
        else:
            docs = np.flatnonzero(table)
            scores = table[docs]
        if len(docs) > n:
            cutoff = np.partition(scores, len(docs) - n)[len(docs) - n]
            keep = scores >= cutoff
            docs, scores = docs[keep], scores[keep]
        order = np.lexsort((docs, -scores))[:n]
        return [(int(d), float(s)) for d, s in zip(docs[order], scores[order])]

    # -- leaves --

    def leaf(self, field: str, terms: list[str], variants: bool, restrict, boost: float = 1.0):
        """The scores of ``terms`` taken as one term, times ``boost`` (applied to the
        postings' scores, not to a whole table), as ``Sparse``."""
        np = self.np
        df, term_idf = self.ev.term_idf(field, terms)
        key = (field, tuple(terms))
        cached = self._cache.get(key)
        if cached is None:
            if restrict is not None and len(restrict) * SKIP_RATIO < df:
                # Few documents wanted: the dict tables' reading skips the other blocks.
                table = self.ev_dict()._read(field, terms, term_idf, df, set(restrict.tolist()))
                ids = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
                order = np.argsort(ids)
                cached = ids[order], np.fromiter(table.values(), dtype=np.float64, count=len(table))[order]
            else:
                cached = self._read(field, terms, term_idf)
                if df >= CACHE_MIN:
                    self._keep(key, cached)
        else:
            self._cache.move_to_end(key)
        ids, scores = cached
        if boost == 1.0:
            return Sparse(ids, scores)
        if boost > 0.0:
            return Sparse(ids, scores * boost)
        return self.dense(Sparse(ids, scores * boost))  # no longer all positive

    def ev_dict(self) -> DictTables:
        found = getattr(self, "_dict", None)
        if found is None:
            found = self._dict = DictTables(self.ev)
        return found

    def _keep(self, key: tuple, arrays: tuple) -> None:
        arrays = (arrays[0].astype(self.np.int32), arrays[1])
        self._cache[key] = arrays
        self._cached += len(arrays[0])
        while self._cached > DENSE_CACHE_ENTRIES and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached -= len(old[0])

    def _read(self, field: str, terms: list[str], term_idf: float):
        """All postings of ``terms`` (as one term), scored: (docnums, scores) arrays."""
        np = self.np
        lengths = self._lengths_of(field)
        norms = self._norms_of(field)
        parts = [self.source.arrays(field, term) for term in terms]
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        if len(parts) == 1:
            ids, weights = parts[0]
            tf = np.ones(len(ids)) if weights is None else weights
        else:
            ids = np.concatenate([p[0] for p in parts])
            weights = np.concatenate([p[1] if p[1] is not None else np.ones(len(p[0])) for p in parts])
            summed = np.bincount(ids, weights=weights, minlength=self.n)
            ids = np.flatnonzero(summed)
            tf = summed[ids]
        scores = scoring.bm25(tf, norms[lengths[ids]], term_idf, self.ev.k1_b(field)[0])
        if self.dead is not None:
            alive = ~self.dead[ids]
            ids, scores = ids[alive], scores[alive]
        return ids, scores
