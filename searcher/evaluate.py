"""Term-at-a-time evaluation of compiled queries: exact top hits and exact totals, fast.

Whoosh evaluates a query document at a time through a tree of matcher objects, several
Python calls per posting per node; and counting the matches (our ``total``) runs the whole
tree once more. At 100k paragraphs that cost 0.5-2 s per query. Here the same query tree
is evaluated one posting list at a time instead: each term's postings are decoded a block
at a time straight from Whoosh's posting file and scored with the same BM25F formula,
constants and boosts Whoosh would use, into a ``{docnum: score}`` table; And, Or, AndMaybe,
Quorum and Not combine tables. Every match of the required part is scored, so the total
is exact (the size of its table) and no pruning can drop a document that belongs in the
top n; only the optional evidence of an AndMaybe is skipped for documents whose bound
says they cannot reach the top n (MaxScore). Tables of common terms are kept (LRU) for
the next queries of the same searcher, which a ``--batch`` reuses.

Query nodes this module does not know (phrases, ranges) are matched by Whoosh itself,
their matcher drained into a table, so results are the same whatever the query holds;
``tests/test_evaluate.py`` checks the scores and order against Whoosh's own searcher.
"""

from __future__ import annotations

import heapq
import math
import pickle
import struct
import zlib
from bisect import bisect_right
from collections import OrderedDict
from io import BytesIO
from itertools import accumulate, repeat

from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from searcher.ranking import Quorum, Variants

Table = dict  # global docnum -> score

CACHE_MIN = 512  # term tables at least this large are kept for the next queries...
CACHE_ENTRIES = 1_000_000  # ...up to this many entries in all (~100 MB), least recent out

_LENGTHS = [byte_to_length(b) for b in range(256)]


class Evaluator:
    """Evaluates queries against one Whoosh searcher; keep it as long as the searcher."""

    def __init__(self, searcher):
        self.searcher = searcher
        if searcher.is_atomic():
            self.segments = [(searcher, 0)]
        else:
            self.segments = list(searcher.subsearchers)
        self._lengths: dict[tuple[int, str], bytes | None] = {}
        self._deleted: dict[int, frozenset] = {}
        self._cache: OrderedDict[tuple[str, bytes], Table] = OrderedDict()
        self._cached = 0  # entries in all cached tables

    # -- public ------------------------------------------------------------------------

    def top(self, query: wq.Query, limit: int, allowed: set | None = None) -> tuple[list[tuple[int, float]], int]:
        """The ``limit`` best ``(docnum, score)`` pairs (score descending, then docnum, as
        Whoosh orders them) and the number of matching documents. ``allowed``, if given,
        restricts the matches to those document numbers."""
        if isinstance(query, wq.AndMaybe) and query.boost == 1.0:
            required = self.table(query.a, allowed)
            if allowed is not None:
                required = {d: s for d, s in required.items() if d in allowed}
            total = len(required)
            if total > limit:
                # MaxScore: the optional part adds at most ``bound`` to a document, and the
                # ``limit`` best by the required part alone score at least ``floor`` in
                # the end; a document below ``floor - bound`` cannot reach the top.
                bound = self.bound(query.b)
                floor = heapq.nlargest(limit, required.values())[-1]
                if bound < floor:
                    cut = floor - bound
                    required = {d: s for d, s in required.items() if s >= cut}
            table = self._add_optional(required, query.b)
            return best(table, limit), total
        table = self.table(query, allowed)
        if allowed is not None:
            table = {d: s for d, s in table.items() if d in allowed}
        return best(table, limit), len(table)

    def bound(self, node: wq.Query) -> float:
        """An upper bound of any document's score for ``node`` (``inf`` if unknown)."""
        if isinstance(node, wq.Term):
            return self._term_bound(node)
        if isinstance(node, Variants):
            return self._variants_bound(node)
        if isinstance(node, (wq.And, wq.Or)) and not isinstance(node, wq.DisjunctionMax):
            if any(isinstance(q, wq.Not) for q in node.subqueries) or getattr(node, "scale", None):
                return math.inf
            return sum(self.bound(q) for q in node.subqueries) * node.boost
        return math.inf

    def _term_bound(self, node: wq.Term) -> float:
        """BM25 grows with the term's frequency and shrinks with the field's length: the
        largest frequency and the shortest length of any document with the term bound it."""
        schema = self.searcher.schema
        if node.fieldname not in schema or not schema[node.fieldname].scorable:
            return math.inf
        btext = schema[node.fieldname].to_bytes(node.text)
        weighting = self.searcher.weighting
        top = 0.0
        for sub, _ in self.segments:
            reader = sub.reader()
            if (node.fieldname, btext) not in reader:
                continue
            scorer = weighting.scorer(sub, node.fieldname, btext)
            info = reader.term_info(node.fieldname, btext)
            if not hasattr(scorer, "idf"):
                return math.inf
            K1, B = scorer.K1, scorer.B
            tf, length = info.max_weight(), info.min_length() or 1
            top = max(top, scorer.idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * length / scorer.avgfl))))
        return top * node.boost * (1 + 1e-9)  # float slack

    def _variants_bound(self, node: Variants) -> float:
        """As ``_term_bound``: a document's frequency is at most the sum of the variants'
        largest frequencies, its length at least the shortest of theirs."""
        weighting = self.searcher.weighting
        top = 0.0
        for sub, _ in self.segments:
            reader = sub.reader()
            terms = node.variants(reader)
            if not terms:
                continue
            scorer = weighting.scorer(sub, node.fieldname, terms[0])
            if not hasattr(scorer, "idf"):
                return math.inf
            infos = [reader.term_info(node.fieldname, t) for t in terms]
            tf = sum(info.max_weight() for info in infos)
            length = min(info.min_length() for info in infos) or 1
            K1, B = scorer.K1, scorer.B
            top = max(top, (tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * length / scorer.avgfl)))
        return top * node.idf(self.searcher) * node.boost * (1 + 1e-9)

    def _add_optional(self, required: Table, optional_node: wq.Query) -> Table:
        if not required:
            return {}
        optional = self.table(optional_node, set(required))
        return {d: s + optional[d] if d in optional else s for d, s in required.items()}

    def table(self, node: wq.Query, restrict: set | None = None) -> Table:
        """Scores of the documents ``node`` matches; with ``restrict``, only those docs
        are guaranteed to be present (others may be left out)."""
        boost = getattr(node, "boost", 1.0)
        if isinstance(node, (wq.Term, Variants)):
            return self._term(node, restrict)
        if node is wq.NullQuery:
            return {}
        if isinstance(node, Quorum):
            table = self._quorum(node, restrict)
        elif isinstance(node, wq.AndMaybe):
            table = self._and_maybe(node, restrict)
        elif isinstance(node, wq.And):
            table = self._and(node, restrict)
        elif isinstance(node, wq.Or) and not isinstance(node, wq.DisjunctionMax) and node.minmatch in (0, 1, None) and not node.scale:
            table = self._or(node, restrict)
        else:
            return self._whoosh(node, restrict)
        if boost != 1.0:
            table = {d: s * boost for d, s in table.items()}
        return table

    # -- leaves --------------------------------------------------------------------------

    def _deleted_docs(self, i: int, reader) -> frozenset:
        if i not in self._deleted:
            deleted: frozenset = frozenset()
            if reader.has_deletions():
                deleted = frozenset(d for d in range(reader.doc_count_all()) if reader.is_deleted(d))
            self._deleted[i] = deleted
        return self._deleted[i]

    def _length_bytes(self, i: int, reader, fieldname: str) -> bytes | None:
        """The segment's length column of ``fieldname``: one byte per document, Whoosh's
        quantized field length (``byte_to_length``); ``None`` if it cannot be read."""
        key = (i, fieldname)
        if key not in self._lengths:
            data = None
            try:
                column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
                if column is not None and column._fixedlen == 1:
                    data = bytes(column._dbfile.get(column._basepos, column._count))
                    data += bytes(max(0, reader.doc_count_all() - len(data)))
            except AttributeError:  # another codec: score through Whoosh's matcher
                data = None
            self._lengths[key] = data
        return self._lengths[key]

    def _term(self, node: wq.Term | Variants, restrict: set | None, into: Table | None = None) -> Table:
        """The term's (or variants') scores, boost applied; with ``into``, added to that table."""
        fieldname = node.fieldname
        schema = self.searcher.schema
        if fieldname not in schema:
            return {} if into is None else into
        try:
            btext = schema[fieldname].to_bytes(node.prefix() if isinstance(node, Variants) else node.text)
        except ValueError:
            return {} if into is None else into
        if isinstance(node, Variants):
            scores = self._variants_scores(node, btext, restrict)
        else:
            scores = self._term_scores(fieldname, btext, restrict)
        boost = node.boost
        if into is None:
            return dict(scores) if boost == 1.0 else {g: s * boost for g, s in scores.items()}
        if boost != 1.0:
            scores = {g: s * boost for g, s in scores.items()}
        if not into:
            into.update(scores)
            return into
        both = scores.keys() & into.keys()
        if both:
            into.update({g: into[g] + scores[g] for g in both})
        if len(both) < len(scores):
            into.update({g: s for g, s in scores.items() if g not in both} if both else scores)
        return into

    def _term_scores(self, fieldname: str, btext: bytes, restrict: set | None) -> Table:
        """A term's unboosted scores (see ``_through_cache``)."""
        df = sum(
            sub.reader().doc_frequency(fieldname, btext)
            for sub, _ in self.segments
            if (fieldname, btext) in sub.reader()
        )
        return self._through_cache((fieldname, btext), df, lambda r: self._read_term(fieldname, btext, r), restrict)

    def _variants_scores(self, node: Variants, prefix: bytes, restrict: set | None) -> Table:
        """The unboosted scores of a word's accent variants taken as one term."""
        df = node.estimate_size(self.searcher.reader())
        return self._through_cache((node.fieldname, prefix), df, lambda r: self._read_variants(node, r), restrict)

    def _through_cache(self, key: tuple[str, bytes], df: int, read, restrict: set | None) -> Table:
        """Scores from the cache when it has them (``restrict`` then applied to the cached
        table), else ``read(restrict)``; a whole table of at least ``CACHE_MIN`` documents
        is kept, so the next query with that term reads no postings."""
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            if restrict is None:
                return cached
            if len(restrict) < len(cached):
                return {g: cached[g] for g in restrict if g in cached}
            return {g: s for g, s in cached.items() if g in restrict}
        if df < CACHE_MIN or restrict is not None:
            return read(restrict)
        table = read(None)
        self._cache[key] = table
        self._cached += len(table)
        while self._cached > CACHE_ENTRIES and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached -= len(old)
        return table

    def _read_term(self, fieldname: str, btext: bytes, restrict: set | None) -> Table:
        """A term's unboosted scores read from its postings, segment by segment."""
        field = self.searcher.schema[fieldname]
        weighting = self.searcher.weighting
        table: Table = {}
        for i, (sub, offset) in enumerate(self.segments):
            reader = sub.reader()
            if (fieldname, btext) not in reader:
                continue
            scorer = weighting.scorer(sub, fieldname, btext)
            try:
                matcher = reader.postings(fieldname, btext)
            except TermNotFound:
                continue
            deleted = self._deleted_docs(i, reader)
            if isinstance(matcher, FilterMatcher):
                matcher = matcher.child
            lengths = self._length_bytes(i, reader, fieldname) if field.scorable else None
            if not field.scorable or not hasattr(scorer, "idf") or lengths is None:
                self._drain(matcher, scorer, offset, deleted, restrict, table)
                continue
            idf, K1, B, avgfl = scorer.idf, scorer.K1, scorer.B, scorer.avgfl
            k1p1 = K1 + 1
            norms = _norms(K1, B, avgfl)
            # The score of a posting with frequency 1, by length byte: most postings.
            ones = [idf * ((1.0 * k1p1) / (1.0 + n)) for n in norms]
            wanted = None
            if restrict is not None and len(restrict) * 8 < reader.doc_frequency(fieldname, btext):
                end = offset + reader.doc_count_all()
                wanted = sorted(g - offset for g in restrict if offset <= g < end)
            keep_global = restrict.__contains__ if restrict is not None else None
            for ids, weights in _blocks(matcher, wanted):
                if not deleted:
                    # The common case, filtered and scored at C speed where possible.
                    if offset:
                        ids = list(map(offset.__add__, ids))
                    if weights is None:
                        if keep_global is not None:
                            ids = list(filter(keep_global, ids))
                        scores = [ones[lengths[g - offset]] for g in ids]
                    else:
                        pairs = zip(ids, weights)
                        if keep_global is not None:
                            pairs = [(g, tf) for g, tf in pairs if g in restrict]
                        pairs = list(pairs)
                        ids = [g for g, _ in pairs]
                        scores = [
                            ones[lengths[g - offset]]
                            if tf == 1.0
                            else idf * ((tf * k1p1) / (tf + norms[lengths[g - offset]]))
                            for g, tf in pairs
                        ]
                    table.update(zip(ids, scores))
                    continue
                # A segment with deletions.
                keep = [
                    k
                    for k, d in enumerate(ids)
                    if d not in deleted and (restrict is None or d + offset in restrict)
                ]
                if len(keep) < len(ids):
                    ids = [ids[k] for k in keep]
                    if weights is not None and not isinstance(weights, repeat):
                        weights = [weights[k] for k in keep]
                if weights is None:
                    scores = [ones[lengths[d]] for d in ids]
                else:
                    scores = [idf * ((tf * k1p1) / (tf + norms[lengths[d]])) for d, tf in zip(ids, weights)]
                if offset:
                    ids = [d + offset for d in ids]
                table.update(zip(ids, scores))
        return table

    def _read_variants(self, node: Variants, restrict: set | None) -> Table:
        """The scores of a word's accent variants as one term: frequencies added up per
        document, then BM25 with the variants' IDF (``Variants.idf``)."""
        fieldname = node.fieldname
        weighting = self.searcher.weighting
        idf = node.idf(self.searcher)
        table: Table = {}
        for i, (sub, offset) in enumerate(self.segments):
            reader = sub.reader()
            terms = node.variants(reader)
            if not terms:
                continue
            deleted = self._deleted_docs(i, reader)
            scorer = weighting.scorer(sub, fieldname, terms[0])
            lengths = self._length_bytes(i, reader, fieldname)
            if lengths is None or not hasattr(scorer, "idf"):
                # Whoosh's matcher, unboosted: the caller applies the boost.
                self._drain(node.with_boost(1.0).matcher(sub), None, offset, deleted, restrict, table)
                continue
            wanted = None
            if restrict is not None and len(restrict) * 8 < node.estimate_size(reader):
                end = offset + reader.doc_count_all()
                wanted = sorted(g - offset for g in restrict if offset <= g < end)
            tfs: dict[int, float] = {}
            for btext in terms:
                matcher = reader.postings(fieldname, btext)
                if isinstance(matcher, FilterMatcher):
                    matcher = matcher.child
                for ids, weights in _blocks(matcher, wanted):
                    for d, tf in zip(ids, repeat(1.0) if weights is None else weights):
                        tfs[d] = tfs[d] + tf if d in tfs else tf
            K1, B = scorer.K1, scorer.B
            k1p1 = K1 + 1
            norms = _norms(K1, B, scorer.avgfl)
            for d, tf in tfs.items():
                g = d + offset
                if d in deleted or (restrict is not None and g not in restrict):
                    continue
                table[g] = idf * ((tf * k1p1) / (tf + norms[lengths[d]]))
        return table

    def _drain(self, matcher, scorer, offset, deleted, restrict, table) -> None:
        """Scores from a matcher, one posting at a time (``scorer`` set if it has none)."""
        if scorer is not None and getattr(matcher, "scorer", None) is None:
            matcher.scorer = scorer
        while matcher.is_active():
            d = matcher.id()
            g = d + offset
            if d not in deleted and (restrict is None or g in restrict):
                table[g] = matcher.score()
            matcher.next()

    def _whoosh(self, node: wq.Query, restrict: set | None) -> Table:
        """Any other query: Whoosh's own matcher, drained (deleted documents excluded)."""
        table: Table = {}
        for i, (sub, offset) in enumerate(self.segments):
            deleted = self._deleted_docs(i, sub.reader())
            self._drain(node.matcher(sub), None, offset, deleted, restrict, table)
        return table

    # -- combinations --------------------------------------------------------------------

    def _split(self, node) -> tuple[list, list]:
        positive = [q for q in node.subqueries if not isinstance(q, wq.Not)]
        negative = [q.query for q in node.subqueries if isinstance(q, wq.Not)]
        return positive, negative

    def _exclude(self, table: Table, negative: list) -> Table:
        for q in negative:
            if not table:
                break
            gone = self.table(q, restrict=set(table))
            if gone:
                table = {d: s for d, s in table.items() if d not in gone}
        return table

    def _and(self, node: wq.And, restrict: set | None) -> Table:
        positive, negative = self._split(node)
        if not positive:
            return self._whoosh(node, restrict)
        reader = self.searcher.reader()
        order = sorted(range(len(positive)), key=lambda k: positive[k].estimate_min_size(reader))
        tables: list[Table | None] = [None] * len(positive)
        keys = restrict
        for k in order:
            t = self.table(positive[k], keys)
            if keys is not None:
                t = {d: s for d, s in t.items() if d in keys}
            tables[k] = t
            keys = set(t)
            if not keys:
                return {}
        result = {d: sum(t[d] for t in tables) for d in keys}
        if negative:
            # Whoosh matches each ``Not`` clause with an InverseMatcher, which adds 1.0 to
            # the score of every document it lets through; so do we, to rank identically.
            bonus = float(len(negative))
            result = {d: s + bonus for d, s in self._exclude(result, negative).items()}
        return result

    def _or(self, node: wq.Or, restrict: set | None) -> Table:
        positive, negative = self._split(node)
        if negative:
            return self._whoosh(node, restrict)
        result: Table = {}
        for q in positive:
            if isinstance(q, (wq.Term, Variants)):
                self._term(q, restrict, into=result)
                continue
            for d, s in self.table(q, restrict).items():
                result[d] = result[d] + s if d in result else s
        return result

    def _and_maybe(self, node: wq.AndMaybe, restrict: set | None) -> Table:
        return self._add_optional(self.table(node.a, restrict), node.b)

    def _quorum(self, node: Quorum, restrict: set | None) -> Table:
        tables = [self.table(q, restrict) for q in node.subqueries]
        minimum = min(node.minimum, len(tables))
        counts: dict[int, int] = {}
        for t in tables:
            for d in t:
                counts[d] = counts.get(d, 0) + 1
        result: Table = {}
        for d, n in counts.items():
            if n >= minimum:
                result[d] = sum(t[d] for t in tables if d in t)
        return result


def best(table: Table, n: int) -> list[tuple[int, float]]:
    """The ``n`` best ``(docnum, score)`` pairs of a table: best score first, and among
    equal scores the lower document number, as Whoosh orders them."""
    if len(table) > n:
        cutoff = heapq.nlargest(n, table.values())[-1]
        pairs = [(-score, docnum) for docnum, score in table.items() if score >= cutoff]
    else:
        pairs = [(-score, docnum) for docnum, score in table.items()]
    pairs.sort()
    return [(docnum, -negated) for negated, docnum in pairs[:n]]


def _norms(K1: float, B: float, avgfl: float) -> list[float]:
    """BM25's length normalisation by length byte (byte 0, no length, counts as 1)."""
    norms = [K1 * ((1 - B) + B * fl / avgfl) for fl in _LENGTHS]
    norms[0] = K1 * ((1 - B) + B * 1 / avgfl)
    return norms


_INT = struct.Struct("!i")


def block_headers(buffer: bytes):
    """Each block of a whole W3 posting list: ``(info, data start, data end)``. W3's layout
    is the magic ``W3Bl``, then per block a signed int (negative on the last block) giving
    the length of a pickled info tuple ``(count, last id, max weight, compression, min
    length byte, max length byte)`` followed by the block's data (``block_data``)."""
    stream = BytesIO(buffer)
    unpickler = pickle.Unpickler(stream)
    position, end = 4, len(buffer)
    while position < end:
        length = _INT.unpack_from(buffer, position)[0]
        start = position + 4
        position = start + abs(length)
        stream.seek(start)
        info = unpickler.load()
        yield info, stream.tell(), position
        if length < 0:
            return


def block_data(buffer: bytes, info: tuple, start: int, end: int):
    """A block's ``(id deltas, weights)`` as pickled: the first id is the block's own,
    weights ``None``/``1.0`` (all one), one float (all equal), or one per posting."""
    data = buffer[start:end]
    if info[3]:
        data = zlib.decompress(data)
    ids, weights, _ = pickle.loads(data)
    return ids, weights


def _buffer_blocks(buffer: bytes, wanted: list | None):
    """``_blocks`` for a whole posting list read in one piece (``block_headers``)."""
    previous_max = -1
    for info, start, end in block_headers(buffer):
        if wanted is not None:
            k = bisect_right(wanted, previous_max)
            previous_max = info[1]
            if k >= len(wanted):
                return
            if wanted[k] > info[1]:
                continue
        ids, weights = block_data(buffer, info, start, end)
        ids = list(accumulate(ids))
        if weights == 1.0:
            weights = None
        elif isinstance(weights, float):
            weights = repeat(weights)
        yield ids, weights


def _blocks(matcher, wanted: list | None = None):
    """(ids, weights) of each posting block of a term, decoded in bulk (as
    ``W3LeafMatcher._read_ids``/``_read_weights`` do, without a call per posting);
    weights ``None`` when every posting's frequency is 1.
    With ``wanted`` (sorted document numbers), blocks holding none of them are skipped
    undecoded: each block's header gives its last id."""
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        length = matcher._length
        if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it a 1-tuple
            length = length[0]
        yield from _buffer_blocks(matcher._postfile.get(matcher._startoffset, length), wanted)
        return
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    yield ids, weights
