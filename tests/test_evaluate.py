"""The term-at-a-time evaluator must give what Whoosh's own searcher gives: the same
matches, the same scores and the same order, on every kind of query the compiler builds,
on an index with several segments and deleted documents."""

from __future__ import annotations

import json
import math

import pytest
from whoosh import query as wq

from searcher.corpus import Article
from searcher.dense import DenseEvaluator
from searcher.evaluate import Evaluator
from searcher.query import compile_query
from searcher.ranking import Variants
from searcher.store import Index
from searcher.text import fold_accents
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
    "cán bộ -\"nêu gương\"",
    '"kỷ luật" OR "kỷ cương"',
    "(cán bộ OR công chức) trách nhiệm",
    'title:"bình thuận"',
    "title:xuất khẩu",
    "tại sao đội thủ của Panthers thua",
    "ai là người dẫn đầu đội về số lần vật ngã",
    "Super Bowl 50 diễn ra ở đâu",
    "nhiet do trung binh nam",
    "Panthers",
    "xyzw qwrtz",
]


def _articles() -> list[Article]:
    articles = []
    with open(shared_path("data", "xquad_vi", "passages.jsonl"), encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            articles.append(
                Article(id=record["id"], title=record["title"], paragraphs=(record["title"], record["text"]), hash="x")
            )
    return articles


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Index:
    """The bundled corpus and the XQuAD passages in several segments, some documents
    deleted (articles re-indexed after their first version)."""
    path = tmp_path_factory.mktemp("evaluate-index")
    ix = Index.open_or_create(path)
    ix.sync(CORPUS, jobs=1)
    articles = _articles()
    ix.add_articles(articles[:120], jobs=2)  # two workers: two more segments
    ix.add_articles(articles[100:], jobs=1)  # 20 re-indexed: their old documents deleted
    return Index.open(path)


# Both evaluators: dicts (small indexes) and numpy arrays (large ones, searcher/dense.py).
EVALUATORS = [Evaluator, DenseEvaluator]


def _whoosh_top(searcher, query, limit, filter_query=None):
    results = searcher.search(query, limit=limit, filter=filter_query)
    return [(hit.docnum, hit.score) for hit in results], len(results)


def test_the_index_has_segments_and_deletions(index):
    with index.searcher() as searcher:
        reader = searcher.reader()
        assert len(searcher.subsearchers) >= 3
        assert reader.has_deletions()


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("text", QUERIES)
def test_same_matches_scores_and_order_as_whoosh(index, text, evaluator):
    with index.searcher() as searcher:
        query = compile_query(text, searcher.reader()).query
        expected, total = _whoosh_top(searcher, query, limit=None)
        best, count = evaluator(searcher).top(query, limit=len(expected) or 10)
    assert count == total
    assert [d for d, _ in best] == [d for d, _ in expected] or _same_up_to_ties(best, expected)
    for (_, ours), (_, theirs) in zip(best, expected):
        assert ours == pytest.approx(theirs, rel=1e-9)


def test_most_queries_match_something(index):
    """The comparison above is only worth something if the queries find paragraphs."""
    with index.searcher() as searcher:
        evaluator = Evaluator(searcher)
        counts = [evaluator.top(compile_query(t, searcher.reader()).query, 1)[1] for t in QUERIES]
    assert sum(1 for c in counts if c > 0) >= len(QUERIES) - 2
    assert counts[-1] == 0


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("text", ["của", "so trach nhiem"])
def test_a_filter_restricts_the_matches(index, evaluator, text):
    with index.searcher() as searcher:
        query = compile_query(text, searcher.reader()).query
        article = wq.Term("article", "xquad_vi-test-a000-p000" if text == "của" else "000_130b3206c8046e67")
        expected, total = _whoosh_top(searcher, query, limit=None, filter_query=article)
        allowed = set(searcher.docs_for_query(article))
        best, count = evaluator(searcher).top(query, limit=100, allowed=allowed)
    assert 0 < count == total < 10
    assert [d for d, _ in best] == [d for d, _ in expected]


def _same_up_to_ties(ours, theirs) -> bool:
    """Equal but for neighbours whose scores differ by rounding only."""
    if sorted(d for d, _ in ours) != sorted(d for d, _ in theirs):
        return False
    for (d1, s1), (d2, s2) in zip(ours, theirs):
        if d1 != d2 and s1 != pytest.approx(s2, rel=1e-9):
            return False
    return True


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_a_reused_evaluator_answers_like_a_fresh_one(index, monkeypatch, evaluator):
    """Term tables cached by earlier queries (every table, here) change nothing."""
    monkeypatch.setattr("searcher.evaluate.CACHE_MIN", 1)
    with index.searcher() as searcher:
        reused = evaluator(searcher)
        for _ in range(2):
            for text in QUERIES:
                query = compile_query(text, searcher.reader()).query
                assert reused.top(query, 50) == evaluator(searcher).top(query, 50), text
        assert reused._cache or getattr(reused, "_arrays", None), "nothing was cached: the test exercised nothing"


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize("limit", [1, 5])
def test_the_top_few_are_the_head_of_the_full_ranking(index, limit, monkeypatch, evaluator):
    """``top(query, n)`` skips the optional evidence of documents that cannot reach the
    top n (MaxScore); what it returns must still be exactly the head of the ranking."""
    pruned = []
    if evaluator is Evaluator:
        original = Evaluator._add_optional

        def spy(self, required, node):
            pruned.append(len(required))
            return original(self, required, node)

        monkeypatch.setattr(Evaluator, "_add_optional", spy)
    else:
        original = DenseEvaluator.dense
        optional = []

        def spy(self, node, wanted=None):
            if optional and node is optional[0] and wanted is not None:
                pruned.append(len(wanted))  # the documents the optional part is evaluated for
            return original(self, node, wanted)

        monkeypatch.setattr(DenseEvaluator, "dense", spy)
    with index.searcher() as searcher:
        skipped = 0
        for text in QUERIES:
            query = compile_query(text, searcher.reader()).query
            expected, total = _whoosh_top(searcher, query, limit=None)
            pruned.clear()
            if evaluator is DenseEvaluator:
                optional[:] = [query.b] if isinstance(query, wq.AndMaybe) else []
            best, count = evaluator(searcher).top(query, limit)
            assert count == total, text
            assert [d for d, _ in best] == [d for d, _ in expected[:limit]] or _same_up_to_ties(
                best, expected[:limit]
            ), text
            if pruned and pruned[0] < total:
                skipped += 1
    assert skipped >= 1, "the bound never pruned anything: the test exercised nothing"


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize(("fieldname", "folded"), [("word", "so"), ("word", "trach_nhiem"), ("big", "can_bo"), ("word", "doi")])
def test_accent_variants_match_and_score_as_one_term(index, fieldname, folded, evaluator):
    """An accentless word is every indexed word with its letters (số, sợ, sở… for "so"):
    the documents of any variant, frequencies added up, one IDF for all; the evaluator
    and Whoosh's matcher agree, deleted documents left out by both."""
    query = Variants(fieldname, folded, boost=0.6)
    with index.searcher() as searcher:
        reader = searcher.reader()
        variants = [t.decode("utf-8") for t in query.variants(reader)]
        assert variants and all(fold_accents(v.split("|")[1]) == folded for v in variants)
        union = set()
        for v in variants:
            union |= set(searcher.docs_for_query(wq.Term(fieldname, v)))
        expected, total = _whoosh_top(searcher, query, limit=None)
        best, count = evaluator(searcher).top(query, limit=len(expected))
        df = sum(reader.doc_frequency(fieldname, v) for v in variants)
        assert query.idf(searcher) == pytest.approx(math.log(1 + (reader.doc_count_all() - df + 0.5) / (df + 0.5)))
    assert {d for d, _ in expected} == union and count == total == len(union)
    assert [d for d, _ in best] == [d for d, _ in expected] or _same_up_to_ties(best, expected)
    for (_, ours), (_, theirs) in zip(best, expected):
        assert ours == pytest.approx(theirs, rel=1e-9)


def test_several_accent_variants_are_found(index):
    """"so" must stand for several indexed words, or the test above checks a plain term."""
    with index.searcher() as searcher:
        assert len(Variants("word", "so").variants(searcher.reader())) >= 3


@pytest.mark.parametrize("options", [{}, {"since": "2024-03-01"}, {"group": 2}, {"offset": 3, "limit": 4}])
def test_search_answers_the_same_with_either_evaluator(index, monkeypatch, options):
    """``search`` picks numpy's evaluator for large indexes: hits, scores and totals must
    not depend on that choice."""
    from searcher import search as search_module

    def answers(min_docs):
        monkeypatch.setattr(search_module, "DENSE_MIN_DOCS", min_docs)
        fresh = Index.open(index.path)
        out = []
        for text in ("sợ trách nhiệm", "so trach nhiem", 'cán bộ -"nêu gương"', "Panthers", "của"):
            results = search_module.search(fresh, text, **options)
            out.append((results.total, [(h.article, h.paragraph, h.score, h.title) for h in results.hits]))
        with fresh.searcher() as searcher:
            kind = type(search_module._evaluator(searcher))
        return out, kind

    dense, dense_kind = answers(0)
    small, small_kind = answers(10**9)
    assert (dense_kind, small_kind) == (DenseEvaluator, Evaluator)
    assert dense == small and any(hits for _, hits in small)
