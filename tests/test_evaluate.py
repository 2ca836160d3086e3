"""The evaluator gives what the query means: the same matches, scores and order as a
plain, document-by-document reading of each node's definition (``reference`` below),
on every kind of query the compiler builds, with both kinds of score table, on an index
with several segments and deleted documents. And the postings it reads are what the
stored paragraphs hold."""

from __future__ import annotations

import json
import shutil

import pytest

from searcher.analysis import analyze
from searcher.engine import embedded, scoring
from searcher.engine import schema as s
from searcher.engine.schema import BM25_PARAMS
from searcher.engine.evaluate import DenseTables, DictTables, Evaluator
from searcher.engine.nodes import And, AndMaybe, Filters, Not, Nothing, Or, Phrase, Quorum, Term, Tiered, Variants
from searcher.index import Index
from searcher.query import compile_query
from searcher.text import VARIANT_SEP, fold_accents
from tests.conftest import CORPUS, shared_path

QUERIES = [
    "sợ trách nhiệm",
    "so trach nhiem",
    "trách nhiệm",
    "cán bộ",
    "của",
    "Bình Thuận",
    '"trách nhiệm"',
    '"so trach nhiem"',
    'cán bộ -"nêu gương"',
    '"kỷ luật" OR "kỷ cương"',
    "(cán bộ OR công chức) trách nhiệm",
    "(cán bộ OR -công chức) trách nhiệm",
    "((-nêu -gương)) trách nhiệm",
    '"minh bạch, dân chủ"',
    'tại sao cán bộ sợ trách nhiệm title:"bình thuận"',
    "đội nào thắng article:xquad_vi-test-a000-p000",
    '"sợ trách nhiệm" OR "Kỳ 3: Lời thề"',
    '"trach nhiem" "can bo"',
    'title:"chấn chỉnh tình trạng"',
    'title:"bình thuận"',
    "title:xuất khẩu",
    "tại sao đội thủ của Panthers thua",
    "ai là người dẫn đầu đội về số lần vật ngã",
    "Super Bowl 50 diễn ra ở đâu",
    "nhiet do trung binh nam",
    "Panthers",
    "xyzw qwrtz",
]
KINDS = [DictTables, DenseTables]


def _write_passages(corpus, records, version: str) -> None:
    for record in records:
        text = record["text"] if version == "1" else record["text"] + " Bản sửa lần hai."
        (corpus / f"{record['id']}.json").write_text(
            json.dumps({"id": record["id"], "title": record["title"], "text": text}, ensure_ascii=False), encoding="utf-8"
        )


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """The bundled corpus and the XQuAD passages in several segments, some documents
    deleted (20 articles indexed again after their first version)."""
    root = tmp_path_factory.mktemp("evaluate")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    with open(shared_path("data", "xquad_vi", "passages.jsonl"), encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    ix = Index.open_or_create(root / "index", corpus=corpus)
    ix.sync(jobs=1)
    _write_passages(corpus, records[:120], "1")
    ix.sync(jobs=2)  # two workers: two more segments
    _write_passages(corpus, records[100:], "2")  # 20 re-indexed: their old documents deleted
    ix.sync(jobs=1)
    return Index.open(root / "index", corpus=corpus)


def evaluator(index, kind) -> Evaluator:
    return Evaluator(index.engine.snapshot(), dense=kind is DenseTables)


# -- the definition, document by document ------------------------------------------------


class Reference:
    """Each node's score for each live document, from the definitions in
    ``searcher.engine.nodes`` and ``searcher.engine.scoring``, one document at a time."""

    def __init__(self, source):
        self.source = source
        self.live = [d for d in range(source.size) if d not in source.deleted]

    def postings(self, field: str, term: str) -> dict[int, float]:
        found = {}
        for ids, weights in self.source.blocks(field, term):
            for k, d in enumerate(ids):
                if d not in self.source.deleted:
                    found[d] = 1.0 if weights is None else weights[k]
        return found

    def norm(self, field: str, d: int) -> float:
        k1, b = BM25_PARAMS.get(field, (scoring.K1, scoring.B))
        if not self.source.normed(field):  # an id field: no lengths
            return k1
        length = self.source.length_table[self.source.length_bytes(field)[d]]
        return scoring.length_norm(length, self.source.avg_length(field), k1, b)

    def k1(self, field: str) -> float:
        return BM25_PARAMS.get(field, (scoring.K1, scoring.B))[0]

    def idf(self, field: str, terms: list[str]) -> float:
        n = self.source.field_count(field)  # the documents that have the field
        return scoring.idf(min(sum(self.source.doc_frequency(field, t) for t in terms), n), n)

    def term_scores(self, field: str, terms: list[str]) -> dict[int, float]:
        tfs: dict[int, float] = {}
        for term in terms:
            for d, tf in self.postings(field, term).items():
                tfs[d] = tfs.get(d, 0.0) + tf
        idf = self.idf(field, terms)
        return {d: scoring.bm25(tf, self.norm(field, d), idf, self.k1(field)) for d, tf in tfs.items()}

    def scores(self, node) -> dict[int, float]:
        if isinstance(node, Term):
            return {d: v * node.boost for d, v in self.term_scores(node.field, [node.text]).items()}
        if isinstance(node, Variants):
            terms = self.source.expand_prefix(node.field, node.prefix + VARIANT_SEP)
            return {d: v * node.boost for d, v in self.term_scores(node.field, terms).items()} if terms else {}
        if isinstance(node, Phrase):
            # One term whose frequency is the phrase's occurrences, IDF the sum of its terms'.
            parts = [self.postings(node.field, t) for t in node.terms]
            docs = set.intersection(*(set(p) for p in parts))
            where = [self.source.positions(node.field, t, sorted(docs)) for t in node.terms]
            idf = sum(self.idf(node.field, [t]) for t in node.terms)
            found = {}
            for d in docs:
                occurrences = sum(
                    1 for p in where[0].get(d, []) if all(p + i in where[i].get(d, []) for i in range(1, len(where)))
                )
                if occurrences:
                    found[d] = scoring.bm25(occurrences, self.norm(node.field, d), idf, self.k1(node.field)) * node.boost
            return found
        if isinstance(node, Not):
            gone = self.scores(node.child)
            return {d: 1.0 for d in self.live if d not in gone}
        if isinstance(node, Nothing):
            return {}
        if isinstance(node, Tiered):
            return self.scores(node.query)
        children = [self.scores(c) for c in getattr(node, "children", ())]
        found = {}
        if isinstance(node, And):
            negatives = [c for c in node.children if isinstance(c, Not)]
            positives = [t for c, t in zip(node.children, children) if not isinstance(c, Not)]
            excluded = set().union(*(self.scores(c.child) for c in negatives))
            docs = set.intersection(*(set(t) for t in positives)) if positives else set(self.live)
            docs -= excluded
            # Exclusions only filter; with nothing else, every other document scores 1.0.
            found = {d: sum(t[d] for t in positives) if positives else 1.0 for d in docs}
        elif isinstance(node, Or):
            for t in children:
                for d, v in t.items():
                    found[d] = found.get(d, 0.0) + v
        elif isinstance(node, Quorum):
            counts: dict[int, int] = {}
            for t in children:
                for d in t:
                    counts[d] = counts.get(d, 0) + 1
            found = {d: sum(t.get(d, 0.0) for t in children) for d, c in counts.items() if c >= node.minimum}
        elif isinstance(node, AndMaybe):
            required, optional = self.scores(node.required), self.scores(node.optional)
            found = {d: v + optional.get(d, 0.0) for d, v in required.items()}
        return {d: v * node.boost for d, v in found.items()}

    def ranking(self, node, allowed=None) -> list[tuple[int, float]]:
        found = self.scores(node)
        if allowed is not None:
            found = {d: v for d, v in found.items() if d in allowed}
        first = set(self.scores(node.first)) if isinstance(node, Tiered) else set(found)
        return sorted(found.items(), key=lambda item: (item[0] not in first, -item[1], item[0]))


def assert_same_ranking(ours, expected):
    """The same documents in the same order; scores equal but for float rounding, and
    neighbours whose scores differ only by rounding may trade places."""
    assert sorted(d for d, _ in ours) == sorted(d for d, _ in expected)
    for (d1, s1), (d2, s2) in zip(ours, expected):
        assert s1 == pytest.approx(s2, rel=1e-9)
        if d1 != d2:
            assert s1 == pytest.approx(dict(expected)[d1], rel=1e-9)


# -- the tests ---------------------------------------------------------------------------


def test_the_index_has_segments_and_deletions(index):
    snapshot = index.engine.snapshot()
    assert len(snapshot.segments) >= 3
    assert len(snapshot.deleted) >= 40  # 20 articles of two paragraphs


@pytest.mark.parametrize("field", [s.SYL, s.FOLD, s.WORD, s.BIGRAM, s.TITLE_SYL])
def test_postings_are_what_the_stored_paragraphs_hold(index, field):
    """For a sample of terms, the live postings (frequencies, positions) are exactly what
    analyzing each indexed paragraph's stored text gives."""
    snapshot = index.engine.snapshot()
    spec = s.ANALYZED[field]
    expected: dict[str, dict[int, list]] = {}
    for d in range(0, snapshot.size, 7):
        if d in snapshot.deleted:
            continue
        paragraph = snapshot.paragraph(d)
        text = snapshot.article_meta(d).title if spec.title else paragraph.text
        analysis = analyze(text, words=not spec.title)
        for term, value in s.field_postings(spec, analysis).items():
            expected.setdefault(term, {})[d] = value
    terms = sorted(expected)[:: max(1, len(expected) // 40)]
    reference = Reference(snapshot)
    for term in terms:
        found = reference.postings(field, term)
        for d, value in expected[term].items():
            assert found[d] == (len(value) if spec.positions else value), (term, d)
            if spec.positions:
                assert snapshot.positions(field, term, [d])[d] == value
        assert not set(found) & snapshot.deleted


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", QUERIES)
def test_same_matches_scores_and_order_as_the_definition(index, text, kind):
    snapshot = index.engine.snapshot()
    query = compile_query(text, snapshot).query
    expected = Reference(snapshot).ranking(query)
    best, count, _ = evaluator(index, kind).top(query, max(1, len(expected)))
    assert count == len(expected)
    assert_same_ranking(best, expected)


def test_most_queries_match_something(index):
    """The comparison above is only worth something if the queries find paragraphs."""
    snapshot = index.engine.snapshot()
    counts = [snapshot.count(compile_query(t, snapshot).query) for t in QUERIES]
    assert sum(1 for c in counts if c > 0) >= len(QUERIES) - 2
    assert counts[-1] == 0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("text", "article"), [("của", "xquad_vi-test-a000-p000"), ("so trach nhiem", "000_130b3206c8046e67")])
def test_a_filter_restricts_the_matches(index, kind, text, article):
    snapshot = index.engine.snapshot()
    query = compile_query(text, snapshot).query
    mine = evaluator(index, kind)
    allowed_docs = {d for d in range(snapshot.size) if d not in snapshot.deleted and snapshot.paragraph(d).article == article}
    expected = Reference(snapshot).ranking(query, allowed_docs)
    best, count, _ = mine.top(query, 100, mine.tables.allowed(sorted(allowed_docs)))
    assert 0 < count == len(expected) <= len(allowed_docs)
    assert_same_ranking(best, expected)
    assert snapshot.top(query, 100, Filters(article=article))[:2] == (best, count)


@pytest.mark.parametrize("kind", KINDS)
def test_a_reused_evaluator_answers_like_a_fresh_one(index, monkeypatch, kind):
    """Term tables cached by earlier queries (every table, here) change nothing."""
    monkeypatch.setattr("searcher.engine.evaluate.CACHE_MIN", 1)
    snapshot = index.engine.snapshot()
    reused = evaluator(index, kind)
    for _ in range(2):
        for text in QUERIES:
            query = compile_query(text, snapshot).query
            assert reused.top(query, 50) == evaluator(index, kind).top(query, 50), text
    assert reused.tables._cache, "nothing was cached: the test exercised nothing"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("limit", [1, 5])
def test_the_top_few_are_the_head_of_the_full_ranking(index, limit, kind):
    """``top(query, n)``: exactly the head of the ranking, a keyword query's full matches
    first, and the number of those."""
    snapshot = index.engine.snapshot()
    tiered = 0
    for text in QUERIES:
        query = compile_query(text, snapshot).query
        reference = Reference(snapshot)
        expected = reference.ranking(query)
        best, count, full = evaluator(index, kind).top(query, limit)
        assert count == len(expected), text
        assert_same_ranking(best, expected[:limit])
        if isinstance(query, Tiered):
            tiered += 1
            assert full == len(set(reference.scores(query.first)) & {d for d, _ in expected}), text
        else:
            assert full is None
    assert tiered >= 5


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("field", "folded"), [(s.WORD, "so"), (s.WORD, "trach_nhiem"), (s.BIGRAM, "can_bo"), (s.WORD, "doi")])
def test_accent_variants_match_and_score_as_one_term(index, field, folded, kind):
    """An accentless word is every indexed word with its letters (số, sợ, sở… for "so"):
    the documents of any variant, frequencies added up, one IDF for all (their document
    frequencies added, at most the number of documents)."""
    snapshot = index.engine.snapshot()
    variants = snapshot.expand_prefix(field, folded + VARIANT_SEP)
    assert variants and all(fold_accents(v.split("|")[1]) == folded for v in variants)
    if folded == "so":
        assert len(variants) >= 3  # or this checks a plain term
    union = set()
    for v in variants:
        union |= set(Reference(snapshot).postings(field, v))
    query = Variants(field, folded, 0.6)
    expected = Reference(snapshot).ranking(query)
    best, count, _ = evaluator(index, kind).top(query, len(expected))
    assert {d for d, _ in expected} == union and count == len(union)
    assert_same_ranking(best, expected)


@pytest.mark.parametrize("options", [{}, {"since": "2024-03-01"}, {"group": 2}, {"offset": 3, "limit": 4}, {"context": 1}])
def test_search_answers_the_same_with_either_kind_of_table(index, monkeypatch, options):
    """Large indexes are evaluated on numpy arrays: hits, scores and totals must not
    depend on that choice."""

    def answers(min_docs):
        monkeypatch.setattr("searcher.engine.evaluate.DENSE_MIN_DOCS", min_docs)
        fresh = Index.open(index.engine.location, corpus=index.corpus.path)
        out = []
        for text in ("sợ trách nhiệm", "so trach nhiem", 'cán bộ -"nêu gương"', "Panthers", "của"):
            results = fresh.search(text, **options)
            out.append((results.total, [(h.article, h.paragraph, h.score, h.title, h.before, h.after) for h in results.hits]))
        return out, type(fresh.engine.snapshot().evaluator().tables)

    dense, dense_kind = answers(0)
    small, small_kind = answers(10**9)
    assert (dense_kind, small_kind) == (DenseTables, DictTables)
    assert dense == small and any(hits for _, hits in small)


def test_parallel_segments_are_listed_in_one_commit(index):
    """The workers' segments and the parent's deletions landed together: every article
    of the corpus is indexed exactly once."""
    versions = index.engine.versions()
    assert len(versions) == 5 + 240
    assert embedded.INDEX_NAME.startswith("searcher_v")
