"""Term-at-a-time evaluation on numpy arrays, for large indexes.

``evaluate.Evaluator`` keeps each term's scores in a ``{docnum: score}`` dict: every
posting costs a few Python operations, to decode, to score and to combine. On a large
index the common syllables of a query (có, một, người: 20-60k paragraphs each at 100k)
make that most of a query's time. ``DenseEvaluator`` evaluates the same query tree with
the same formula and constants, but a term's posting blocks are decoded into one array and
scored in one vectorized expression, and every table is a dense array with one slot per
document (0.0: no match; a match always scores above 0), so And, Or, AndMaybe, Quorum and
Not are whole-array operations. Scores, order and totals are those of ``Evaluator`` and of
Whoosh (``tests/test_evaluate.py`` runs both evaluators against Whoosh).

numpy comes with pyvi (scikit-learn needs it) but takes ~0.1 s to import, so small indexes,
where the dict tables are fast anyway, never import it (``search._evaluator``).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3TermInfo, W3TermsReader
from whoosh.matching import FilterMatcher
from whoosh.reading import TermNotFound

from searcher import evaluate
from searcher.evaluate import Evaluator, _blocks, _norms, block_data, block_headers
from searcher.ranking import Quorum, Variants, VietnameseBM25F, idf

# Scored postings kept for the next queries as (int32 docnums, float64 scores): 16M, about
# 190 MB, least recent out. At 100k paragraphs the common terms of 1,000 benchmark
# queries hold ~14M postings; with 8M they were read again and again.
CACHE_ENTRIES = 16_000_000
# A term needed for fewer documents than df / SKIP_RATIO is read only in the blocks that
# hold them (blocks have 128 postings: fewer wanted documents than blocks, about).
SKIP_RATIO = 64


class DenseEvaluator(Evaluator):
    """``Evaluator`` on dense score arrays; keep it as long as the searcher."""

    def __init__(self, searcher):
        super().__init__(searcher)
        self.n = searcher.doc_count_all()
        dead = np.zeros(self.n, dtype=bool)
        for i, (sub, offset) in enumerate(self.segments):
            deleted = self._deleted_docs(i, sub.reader())
            if deleted:
                dead[offset + np.fromiter(deleted, dtype=np.int64, count=len(deleted))] = True
        self._dead = dead if dead.any() else None
        self._arrays: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._array_entries = 0
        self._length_arrays: dict[tuple[int, str], np.ndarray | None] = {}
        self._norms: dict[tuple[float, float, float], np.ndarray] = {}

    # -- public ------------------------------------------------------------------------

    def top(self, query: wq.Query, limit: int, allowed: set | None = None) -> tuple[list[tuple[int, float]], int]:
        mask = None
        if allowed is not None:
            mask = np.zeros(self.n, dtype=bool)
            if allowed:
                mask[np.fromiter(allowed, dtype=np.int64, count=len(allowed))] = True
        if isinstance(query, wq.AndMaybe) and query.boost == 1.0:
            required = self.dense(query.a)
            if mask is not None:
                required = np.where(mask, required, 0.0)
            hits = np.flatnonzero(required)
            total = len(hits)
            wanted = hits
            if total > limit:
                # MaxScore, as Evaluator.top: below ``floor - bound`` no document can reach
                # the top ``limit``, so the optional part is only needed above it.
                bound = self.bound(query.b)
                values = required[hits]
                floor = np.partition(values, total - limit)[total - limit]
                if bound < floor:
                    wanted = hits[values >= floor - bound]
            optional = self.dense(query.b, wanted)
            table = np.where(required > 0.0, required + optional, 0.0)
            return _best(table, limit), total
        table = self.dense(query)
        if mask is not None:
            table = np.where(mask, table, 0.0)
        return _best(table, limit), int(np.count_nonzero(table))

    def dense(self, node: wq.Query, wanted: np.ndarray | None = None) -> np.ndarray:
        """Scores of every document for ``node`` (0.0 where it does not match); with
        ``wanted`` (sorted document numbers) only those are guaranteed exact, a document
        outside may show less than its score (never more)."""
        boost = getattr(node, "boost", 1.0)
        if isinstance(node, (wq.Term, Variants)):
            return self._leaf(node, wanted) * boost if boost != 1.0 else self._leaf(node, wanted)
        if node is wq.NullQuery:
            return np.zeros(self.n)
        if isinstance(node, Quorum):
            table = self._dense_quorum(node, wanted)
        elif isinstance(node, wq.AndMaybe):
            a = self.dense(node.a, wanted)
            table = np.where(a > 0.0, a + self.dense(node.b, _matches(a, wanted)), 0.0)
        elif isinstance(node, wq.And):
            table = self._dense_and(node, wanted)
        elif isinstance(node, wq.Or) and not isinstance(node, wq.DisjunctionMax) and node.minmatch in (0, 1, None) and not node.scale:
            if any(isinstance(q, wq.Not) for q in node.subqueries):
                return self._from_table(self._whoosh(node, None))
            table = np.zeros(self.n)
            for q in node.subqueries:
                table = table + self.dense(q, wanted)
        else:
            return self._from_table(self._whoosh(node, None))
        return table * boost if boost != 1.0 else table

    # -- combinations --------------------------------------------------------------------

    def _dense_and(self, node: wq.And, wanted: np.ndarray | None) -> np.ndarray:
        positive, negative = self._split(node)
        if not positive:
            return self._from_table(self._whoosh(node, None))
        reader = self.searcher.reader()
        order = sorted(range(len(positive)), key=lambda k: positive[k].estimate_min_size(reader))
        tables: list[np.ndarray | None] = [None] * len(positive)
        present = None
        for k in order:
            t = self.dense(positive[k], wanted)
            present = t > 0.0 if present is None else present & (t > 0.0)
            tables[k] = t
            wanted = np.flatnonzero(present)
            if not len(wanted):
                return np.zeros(self.n)
        total = np.zeros(self.n)
        for t in tables:
            total = total + t
        result = np.where(present, total, 0.0)
        if negative:
            # Whoosh's InverseMatcher adds 1.0 per ``Not`` clause: see Evaluator._and.
            for q in negative:
                result[self.dense(q, wanted) > 0.0] = 0.0
            result[result > 0.0] += float(len(negative))
        return result

    def _dense_quorum(self, node: Quorum, wanted: np.ndarray | None) -> np.ndarray:
        tables = [self.dense(q, wanted) for q in node.subqueries]
        minimum = min(node.minimum, len(tables))
        count = np.zeros(self.n, dtype=np.int32)
        total = np.zeros(self.n)
        for t in tables:
            count += t > 0.0
            total = total + t
        return np.where(count >= minimum, total, 0.0)

    def _from_table(self, table: dict) -> np.ndarray:
        dense = np.zeros(self.n)
        ids, scores = _arrays(table)
        dense[ids] = scores
        return dense

    # -- leaves --------------------------------------------------------------------------

    def _leaf(self, node: wq.Term | Variants, wanted: np.ndarray | None) -> np.ndarray:
        """A term's (or a word's accent variants') unboosted scores, from the cache, from
        the postings of the blocks holding ``wanted`` documents, or from all of them."""
        fieldname = node.fieldname
        schema = self.searcher.schema
        dense = np.zeros(self.n)
        if fieldname not in schema:
            return dense
        try:
            btext = schema[fieldname].to_bytes(node.prefix() if isinstance(node, Variants) else node.text)
        except ValueError:
            return dense
        key = (type(node).__name__, fieldname, btext)
        cached = self._arrays.get(key)
        if cached is None:
            found = self._term_infos(node, fieldname, btext)
            df = sum(info.doc_frequency() for *_, infos in found for info in infos.values())
            if wanted is not None and len(wanted) * SKIP_RATIO < df:
                table = self._table_for(node, set(wanted.tolist()))
                return self._from_table(table)
            cached = self._read(node, fieldname, btext, df, found)
            if df >= evaluate.CACHE_MIN:
                self._keep(key, cached)
        else:
            self._arrays.move_to_end(key)
        ids, scores = cached
        dense[ids] = scores
        return dense

    def _term_infos(self, node, fieldname: str, btext: bytes) -> list[tuple[int, object, dict]]:
        """Per segment holding the term (or some of the variants): ``(index, subsearcher,
        {term: term info})``, one dictionary lookup per term."""
        found = []
        for i, (sub, _) in enumerate(self.segments):
            reader = sub.reader()
            terms = node.variants(reader) if isinstance(node, Variants) else [btext]
            infos = {}
            for term in terms:
                try:
                    infos[term] = reader.term_info(fieldname, term)
                except TermNotFound:
                    continue
            if infos:
                found.append((i, sub, infos))
        return found

    def _table_for(self, node, restrict: set) -> dict:
        """Scores of the ``restrict`` documents through the dict evaluator's block skipping."""
        if isinstance(node, Variants):
            return self._read_variants(node, restrict)
        btext = self.searcher.schema[node.fieldname].to_bytes(node.text)
        return self._read_term(node.fieldname, btext, restrict)

    def _keep(self, key: tuple, arrays: tuple[np.ndarray, np.ndarray]) -> None:
        arrays = (arrays[0].astype(np.int32), arrays[1])
        self._arrays[key] = arrays
        self._array_entries += len(arrays[0])
        while self._array_entries > CACHE_ENTRIES and len(self._arrays) > 1:
            _, old = self._arrays.popitem(last=False)
            self._array_entries -= len(old[0])

    def _norms_array(self, K1: float, B: float, avgfl: float) -> np.ndarray:
        key = (K1, B, avgfl)
        if key not in self._norms:
            self._norms[key] = np.array(_norms(K1, B, avgfl))
        return self._norms[key]

    def _lengths_array(self, i: int, reader, fieldname: str) -> np.ndarray | None:
        key = (i, fieldname)
        if key not in self._length_arrays:
            data = self._length_bytes(i, reader, fieldname)
            self._length_arrays[key] = None if data is None else np.frombuffer(data, dtype=np.uint8)
        return self._length_arrays[key]

    def _read(self, node, fieldname: str, btext: bytes, df: int, found: list) -> tuple[np.ndarray, np.ndarray]:
        """All of a term's (or variants') postings, scored: (global docnums, scores)."""
        variants = isinstance(node, Variants)
        field = self.searcher.schema[fieldname]
        weighting = self.searcher.weighting
        constants = None
        if isinstance(weighting, VietnameseBM25F) and field.scorable:
            # What Whoosh's BM25FScorer would compute, without its term lookups per segment.
            constants = (
                idf(min(df, self.n), self.n),  # Variants: see Variants.idf
                weighting.K1,
                weighting._field_B.get(fieldname, weighting.B),
                self.searcher.avg_field_length(fieldname) or 1,
            )
        all_ids, all_scores = [], []
        for i, sub, infos in found:
            offset = self.segments[i][1]
            reader = sub.reader()
            lengths = self._lengths_array(i, reader, fieldname) if field.scorable else None
            if constants is None and lengths is not None:
                scorer = weighting.scorer(sub, fieldname, next(iter(infos)))
                if hasattr(scorer, "idf"):
                    constants = (node.idf(self.searcher) if variants else scorer.idf, scorer.K1, scorer.B, scorer.avgfl)
            if lengths is None or constants is None:
                # Not W3, or not BM25: the dict evaluator's way, for the whole term.
                return _arrays(self._read_variants(node, None) if variants else self._read_term(fieldname, btext, None))
            postings = [_postings(reader, fieldname, term, info) for term, info in infos.items()]
            if len(postings) == 1:
                ids, weights = postings[0]
            else:
                # Variants: one term, frequencies added up per document.
                ids = np.concatenate([p[0] for p in postings])
                weights = np.concatenate([p[1] if p[1] is not None else np.ones(len(p[0])) for p in postings])
                tf = np.bincount(ids, weights=weights, minlength=reader.doc_count_all())
                ids = np.flatnonzero(tf)
                weights = tf[ids]
            term_idf, K1, B, avgfl = constants
            norms = self._norms_array(K1, B, avgfl)[lengths[ids]]
            w = np.ones(len(ids)) if weights is None else weights
            scores = term_idf * ((w * (K1 + 1)) / (w + norms))
            all_ids.append(ids + offset)
            all_scores.append(scores)
        if not all_ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        ids, scores = np.concatenate(all_ids), np.concatenate(all_scores)
        if self._dead is not None:
            alive = ~self._dead[ids]
            ids, scores = ids[alive], scores[alive]
        return ids, scores


def _arrays(table: dict) -> tuple[np.ndarray, np.ndarray]:
    """A dict evaluator's ``{docnum: score}`` as (docnums, scores) arrays."""
    return (
        np.fromiter(table.keys(), dtype=np.int64, count=len(table)),
        np.fromiter(table.values(), dtype=np.float64, count=len(table)),
    )


def _matches(table: np.ndarray, wanted: np.ndarray | None) -> np.ndarray:
    """The documents ``table`` matches (among ``wanted``, if given)."""
    if wanted is None:
        return np.flatnonzero(table)
    return wanted[table[wanted] > 0.0]


def _postings(reader, fieldname: str, btext: bytes, info):
    """A term's postings in one segment as ``(docnums, weights or None)`` arrays: from its
    term info when it is W3's (inlined postings, or a posting list whose blocks are
    decoded together), else through its matcher."""
    terms = getattr(reader, "_terms", None)
    if isinstance(terms, W3TermsReader) and isinstance(info, W3TermInfo):
        if info.is_inlined():
            ids, weights, _ = info.inlined_postings()
            return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)
        offset, length = info.extent()
        if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it a 1-tuple
            length = length[0]
        return _decode(terms._postfile.get(offset, length))
    try:
        matcher = reader.postings(fieldname, btext)
    except TermNotFound:
        return np.zeros(0, dtype=np.int64), None
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    ids, weights = [], []
    for block_ids, block_weights in _blocks(matcher):
        ids.extend(block_ids)
        weights.extend([1.0] * len(block_ids) if block_weights is None else block_weights)
    return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float64)


def _decode(buffer: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Every block of a W3 posting list (``evaluate.block_headers``) at once: the id
    deltas of all blocks concatenated (each block's first id made relative to the
    previous block's last) and summed in one go, the weights likewise."""
    id_parts, weight_parts, firsts, lasts = [], [], [], []
    plain = True  # every weight 1.0
    count = 0
    for info, start, end in block_headers(buffer):
        ids, weights = block_data(buffer, info, start, end)
        firsts.append(count)
        lasts.append(info[1])
        id_parts.append(ids)
        count += len(ids)
        if weights == 1.0 or weights is None:
            weight_parts.append(len(ids))
        else:
            plain = False
            weight_parts.append(weights)
    deltas = np.concatenate([np.asarray(p, dtype=np.int64) for p in id_parts])
    if len(firsts) > 1:
        deltas[firsts[1:]] -= np.asarray(lasts[:-1], dtype=np.int64)
    ids = np.cumsum(deltas)
    if plain:
        return ids, None
    weights = np.concatenate(
        [
            np.ones(p) if isinstance(p, int) else np.full(len(q), p) if isinstance(p, float) else np.asarray(p, dtype=np.float64)
            for p, q in zip(weight_parts, id_parts)
        ]
    )
    return ids, weights


def _best(table: np.ndarray, n: int) -> list[tuple[int, float]]:
    """``evaluate.best`` for a dense table: best score first, then lower docnum."""
    docs = np.flatnonzero(table)
    scores = table[docs]
    if len(docs) > n:
        cutoff = np.partition(scores, len(docs) - n)[len(docs) - n]
        keep = scores >= cutoff
        docs, scores = docs[keep], scores[keep]
    order = np.lexsort((docs, -scores))[:n]
    return [(int(d), float(s)) for d, s in zip(docs[order], scores[order])]
