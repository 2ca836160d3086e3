"""Whoosh pieces for ranking: a quorum query, an Or that survives pruning, BM25F with the
usual IDF. The measurements behind each are in benchmarks/QUALITY.md.
"""

from __future__ import annotations

import math

from whoosh import query as wq
from whoosh.matching import WrappingMatcher, mcore
from whoosh.scoring import BM25F, WeightLengthScorer, bm25

from searcher.text import VARIANT_SEP

# BM25F parameters: K1 0.9 (Whoosh's default 1.2) measured +0.001-0.004 MRR@10 on
# questions with and without distractor paragraphs; B stays at 0.75.
K1 = 0.9
B = 0.75


class UnionOr(wq.Or):
    """An Or always matched by a tree of UnionMatchers.

    For an Or of more than two clauses on an index of fewer than 5,000 documents Whoosh
    picks ArrayUnionMatcher, whose ``max_quality()`` is 0 once it has preloaded its
    clauses; TopCollector's pruning (``matcher.replace(min_score)``) then drops documents
    that belong in the top N. Measured with the question rule as a plain Or: 274 of 300
    questions got a different top 10, MRR@10 0.966 → 0.931.
    """

    matcher_type = wq.Or.DEFAULT_MATCHER


class Quorum(wq.CompoundQuery):
    """Documents matched by at least ``minimum`` of the subqueries, scored by the sum of
    those that match: ``Or`` with a floor on how many clauses a document needs."""

    JOINT = " , "

    def __init__(self, subqueries, minimum: int = 1, boost: float = 1.0):
        super().__init__(subqueries, boost=boost)
        self.minimum = max(1, minimum)

    def __unicode__(self):
        return f"QUORUM({self.minimum} of: {', '.join(str(q) for q in self.subqueries)})"

    __str__ = __unicode__

    def __eq__(self, other):
        return super().__eq__(other) and self.minimum == other.minimum

    def __hash__(self):
        return super().__hash__() ^ hash(self.minimum)

    def normalize(self):
        subqueries = [q.normalize() for q in self.subqueries]
        subqueries = [q for q in subqueries if q is not wq.NullQuery]
        if not subqueries:
            return wq.NullQuery
        return self.__class__(subqueries, minimum=min(self.minimum, len(subqueries)), boost=self.boost)

    def _matcher(self, subs, searcher, context):
        matchers = [q.matcher(searcher, context) for q in subs]
        return QuorumMatcher(matchers, min(self.minimum, len(matchers)), self.boost)


class QuorumMatcher(mcore.Matcher):
    """The documents at least ``minimum`` child matchers are on; scores added."""

    def __init__(self, children, minimum: int, boost: float = 1.0):
        self._all = list(children)
        self._children = [c for c in self._all if c.is_active()]
        self._minimum = max(1, minimum)
        self._boost = boost
        self._id = None
        self._here: list = []
        self._find()

    def _find(self) -> None:
        k = self._minimum
        while True:
            self._children = [c for c in self._children if c.is_active()]
            if len(self._children) < k:
                self._id, self._here = None, []
                return
            ids = sorted(c.id() for c in self._children)
            if ids[0] == ids[k - 1]:
                self._id = ids[0]
                self._here = [c for c in self._children if c.id() == self._id]
                return
            # No document before the k-th smallest current id can be on k children.
            target = ids[k - 1]
            for c in self._children:
                if c.id() < target:
                    c.skip_to(target)

    def is_active(self):
        return self._id is not None

    def id(self):
        return self._id

    def next(self):
        for c in self._here:
            c.next()
        self._find()
        return False

    def skip_to(self, id):
        if self._id is None or id <= self._id:
            return
        for c in self._children:
            if c.is_active() and c.id() < id:
                c.skip_to(id)
        self._find()

    def score(self):
        return sum(c.score() for c in self._here) * self._boost

    def supports_block_quality(self):
        return False

    def max_quality(self):
        # An upper bound, which TopCollector's pruning relies on.
        return sum(c.max_quality() for c in self._children if c.is_active()) * self._boost

    def replace(self, minquality=0):
        return self if self.is_active() else mcore.NullMatcher()

    def copy(self):
        return QuorumMatcher([c.copy() for c in self._all], self._minimum, self._boost)

    def reset(self):
        for c in self._all:
            c.reset()
        self._children = [c for c in self._all if c.is_active()]
        self._find()

    def children(self):
        return list(self._all)

    def term_matchers(self):
        for c in self._all:
            yield from c.term_matchers()

    def matching_terms(self, id=None):
        for c in self._here:
            yield from c.matching_terms(id)

    def depth(self):
        return 1 + max((c.depth() for c in self._all), default=0)


def idf(n: int, total: int) -> float:
    """The IDF of a term in ``n`` of ``total`` documents (see ``VietnameseBM25F``)."""
    return math.log(1 + (total - n + 0.5) / (n + 0.5))


class Variants(wq.Query):
    """All accent variants of a word or bigram (the terms ``<text>|…`` of a field, see
    ``text.variant_term``), matched and scored as one term: a document's frequency is
    the sum of its variants' frequencies, the document frequency the sum of theirs (at
    most the number of documents). That is what a field of accent-folded terms would
    score, but for a paragraph holding two variants (số and sợ), which that field would
    count once in the document frequency: the sum is known from the term dictionary
    alone, before any posting is read."""

    def __init__(self, fieldname: str, text: str, boost: float = 1.0):
        self.fieldname = fieldname
        self.text = text
        self.boost = boost

    def __unicode__(self):
        boost = f"^{self.boost:g}" if self.boost != 1.0 else ""
        return f"{self.fieldname}:{self.text}{VARIANT_SEP}*{boost}"

    __str__ = __unicode__

    def __repr__(self):
        return f"{self.__class__.__name__}({self.fieldname!r}, {self.text!r}, boost={self.boost!r})"

    def __eq__(self, other):
        return (
            type(other) is type(self)
            and (self.fieldname, self.text, self.boost) == (other.fieldname, other.text, other.boost)
        )

    def __hash__(self):
        return hash((type(self).__name__, self.fieldname, self.text, self.boost))

    def is_leaf(self):
        return True

    def field(self):
        return self.fieldname

    def has_terms(self):
        return True

    def terms(self, phrases=False):
        return iter(())  # which terms depends on the index: see ``variants``

    def normalize(self):
        return self

    def prefix(self) -> str:
        return self.text + VARIANT_SEP

    def variants(self, reader) -> list[bytes]:
        """The index terms of the variants in ``reader``."""
        if self.fieldname not in reader.schema:
            return []
        return list(reader.expand_prefix(self.fieldname, self.prefix()))

    def estimate_size(self, ixreader):
        return sum(ixreader.doc_frequency(self.fieldname, t) for t in self.variants(ixreader))

    def estimate_min_size(self, ixreader):
        return self.estimate_size(ixreader)

    def idf(self, searcher) -> float:
        """The IDF of the variants taken together, from the whole index's statistics.
        Their document frequencies added can exceed the number of documents (a paragraph
        with số, sổ and sợ counts three times): capped there, or the IDF would turn
        negative and a match would score below no match."""
        parent = searcher.get_parent()
        reader = parent.reader()
        total = reader.doc_count_all()
        return idf(min(self.estimate_size(reader), total), total)

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        weights: dict[int, float] = {}
        maxweight, minlength = 0.0, None
        for btext in self.variants(reader):
            info = reader.term_info(self.fieldname, btext)
            maxweight += info.max_weight()
            minlength = info.min_length() if minlength is None else min(minlength, info.min_length())
            m = reader.postings(self.fieldname, btext)
            while m.is_active():
                d = m.id()
                weights[d] = weights.get(d, 0.0) + m.weight()
                m.next()
        if not weights:
            return mcore.NullMatcher()
        ids = sorted(weights)
        weighting = searcher.weighting
        scorer = VariantsScorer(
            searcher,
            self.fieldname,
            self.idf(searcher),
            getattr(weighting, "_field_B", {}).get(self.fieldname, getattr(weighting, "B", B)),
            getattr(weighting, "K1", K1),
            maxweight,
            minlength or 1,
        )
        matcher = mcore.ListMatcher(ids, [weights[d] for d in ids], scorer=scorer, term=None)
        if self.boost != 1.0:
            matcher = WrappingMatcher(matcher, boost=self.boost)
        return matcher


class VariantsScorer(WeightLengthScorer):
    """BM25 of a ``Variants`` query in one segment: given IDF, the field's lengths."""

    def __init__(self, searcher, fieldname, idf, B, K1, maxweight, minlength):
        self.idf = idf
        self.avgfl = searcher.get_parent().avg_field_length(fieldname) or 1
        self.B = B
        self.K1 = K1
        self.dfl = lambda docid: searcher.doc_field_length(docid, fieldname, 1)
        self._maxquality = self._score(maxweight, minlength)

    def _score(self, weight, length):
        return bm25(self.idf, weight, length, self.avgfl, self.B, self.K1)

    def supports_block_quality(self):
        return False

    def block_quality(self, matcher):
        return self._maxquality


class VietnameseBM25F(BM25F):
    """BM25F with the IDF of Lucene and the BM25 literature, ``log(1 + (N-n+0.5)/(n+0.5))``.

    Whoosh's own ``log(N/(n+1)) + 1`` never drops below 1, so the function syllables a
    Vietnamese question is full of (của, là, có, được, người, năm…) keep a weight of 1-2
    against 5-6 for the rare syllable that identifies the paragraph. Measured: +0.002-0.005
    MRR@10 with and without distractor paragraphs.
    """

    def __init__(self, B=B, K1=K1, **kwargs):
        super().__init__(B=B, K1=K1, **kwargs)

    def idf(self, searcher, fieldname, text):
        parent = searcher.get_parent()
        return idf(parent.doc_frequency(fieldname, text), parent.doc_count_all())
