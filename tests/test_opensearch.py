"""The OpenSearch engine on the real test cluster (tests/cluster): what it shares with the
embedded engine beyond the CLI tests (vocabulary, scores), what it creates there, and its
faults, each one line on stderr naming the cluster and exit status 2."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from click.testing import CliRunner

from searcher.cli import cli
from searcher.engine import ClusterIndex
from searcher.engine import schema as s
from searcher.engine import scoring
from searcher.engine.opensearch import mapping
from searcher.index import Index
from searcher.text import has_accents
from tests.conftest import CORPUS, OpenSearch

pytestmark = pytest.mark.opensearch


@pytest.fixture(scope="module")
def cluster(opensearch_url):
    found = OpenSearch(opensearch_url)
    yield found
    found.delete(sorted(found.used | found.keep))


@pytest.fixture(scope="module")
def both(cluster, tmp_path_factory):
    """The bundled corpus indexed by both engines: (embedded snapshot, cluster snapshot)."""
    folder = tmp_path_factory.mktemp("both")
    cluster.keep.add(cluster.index_name(folder))
    embedded = Index.open_or_create(folder, corpus=CORPUS)
    embedded.sync()
    remote = Index.open_or_create(cluster.location(folder), corpus=CORPUS)
    remote.sync()
    return embedded, remote


@pytest.fixture
def client(opensearch_url):
    from opensearchpy import OpenSearch as Client

    found = Client(hosts=opensearch_url.split(","), timeout=60)
    yield found
    found.close()


def searcher(*args: str, env=None):
    return CliRunner().invoke(cli, list(args), env=env)


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


# -- what the engines share ---------------------------------------------------------


def test_the_vocabulary_is_the_embedded_engines(both):
    embedded, remote = (i.engine.snapshot() for i in both)
    for field in s.ANALYZED:
        assert sorted(remote.lexicon(field)) == sorted(embedded.lexicon(field)), field
    for field, prefix in [(s.WORD, "so|"), (s.WORD, "trach_nhiem|"), (s.BIGRAM, "can_bo|"), (s.SYL, "tr")]:
        assert remote.expand_prefix(field, prefix) == embedded.expand_prefix(field, prefix)
        assert remote.has_prefix(field, prefix)
    assert not remote.has_prefix(s.WORD, "zzq|")
    terms = sorted(embedded.lexicon(s.WORD))[::5] + ["khong_co|không_có_xyz"]
    assert remote.doc_frequencies(s.WORD, terms) == {t: embedded.doc_frequency(s.WORD, t) for t in terms}
    # Within one edit the suggester finds what Whoosh finds (at two, Lucene's keeps the
    # first letter: "thêm" is two edits from "nhiêm" but not offered).
    for term in ("trácg", "nhiêm", "cna", "so"):
        assert sorted(remote.terms_within(s.SYL, term, 1)) == sorted(set(embedded.terms_within(s.SYL, term, 1)) - {term})


def test_match_dates_and_articles_agree(both):
    from searcher.query import compile_query

    embedded, remote = (i.engine.snapshot() for i in both)
    for text in ("cán bộ", "trách nhiệm -\"nêu gương\"", "zzzxq"):
        assert sorted(remote.match_dates(compile_query(text, remote).query)) == sorted(
            embedded.match_dates(compile_query(text, embedded).query)
        )
    article = remote.article("004_94dc4981a5173811")
    assert article == embedded.article("004_94dc4981a5173811")
    assert remote.article("no_such_article") is None


QUERIES = [
    "sợ trách nhiệm",
    "so trach nhiem",
    '"nêu gương"',
    'trách nhiệm -"nêu gương"',
    '"trách nhiệm" OR "kỷ luật"',
    '(kỷ luật OR "nêu gương") cán bộ',
    'title:"Bình Thuận" cán bộ',
    "Tỉnh uỷ nào ban hành quy định số 644 về trách nhiệm nêu gương?",
    "cán bộ article:004_94dc4981a5173811",
    "-trách cán bộ",
    "đảng viên",
    "dang vien",
]


def _has_variants(node) -> bool:
    from searcher.engine.nodes import Variants, leaves

    return any(isinstance(leaf, Variants) for leaf in leaves(node))


@pytest.mark.parametrize("query", QUERIES)
def test_same_matches_and_scores_as_the_embedded_engine(both, query):
    """Same matches (the totals are exact on both) and full matches first. Where no accent
    variants are looked up as one term (a query with accents), the same hits in the same
    order with the same scores (float32 aside); an accentless query's ``Variants`` count
    their document frequency as the union of the variants' paragraphs here and as their
    capped sum in the embedded engine: scores within 10 %, the top 3 in the other's top 5."""
    from searcher.query import compile_query

    embedded, remote = both
    a, b = embedded.search(query, limit=1000), remote.search(query, limit=1000)
    assert a.total == b.total > 0
    assert a.complete == b.complete
    assert {(h.article, h.paragraph) for h in a.hits} == {(h.article, h.paragraph) for h in b.hits}
    assert [h.highlights for h in sorted(a.hits, key=lambda h: (h.article, h.paragraph))] == [
        h.highlights for h in sorted(b.hits, key=lambda h: (h.article, h.paragraph))
    ]
    assert [h.complete for h in a.hits] == [h.complete for h in b.hits]
    if not _has_variants(compile_query(query, embedded.engine.snapshot()).query):
        for x, y in zip(a.hits, b.hits):
            assert y.score == pytest.approx(x.score, rel=1e-4, abs=1e-4)
        ranked = lambda hits: [(round(h.score, 3), h.article, h.paragraph) for h in hits]  # noqa: E731
        assert sorted(ranked(a.hits), key=lambda r: (-r[0], r[1:])) == sorted(ranked(b.hits), key=lambda r: (-r[0], r[1:]))
        return
    scores = {(h.article, h.paragraph): h.score for h in a.hits}
    for hit in b.hits:
        assert hit.score == pytest.approx(scores[(hit.article, hit.paragraph)], rel=0.10)
    assert {(h.article, h.paragraph) for h in b.hits[:3]} <= {(h.article, h.paragraph) for h in a.hits[:5]}


@pytest.fixture
def union_embedded(both, monkeypatch):
    """The embedded engine counting a ``Variants`` document frequency as the cluster does:
    each paragraph holding any variant once (the folded field's), not their capped sum."""
    from searcher.engine import evaluate, scoring

    embedded, _ = both
    capped = evaluate.Evaluator.term_idf

    def union_idf(self, field, terms):
        if len(terms) < 2:
            return capped(self, field, terms)
        docs = set()
        for term in terms:
            for ids, _ in self.source.blocks(field, term):
                docs.update(ids)
        n = len(docs - self.source.deleted)
        size = self.source.field_count(field)
        return n, scoring.idf(n, size)

    monkeypatch.setattr(evaluate.Evaluator, "term_idf", union_idf)
    return Index.open(embedded.engine.location, corpus=CORPUS)


@pytest.mark.parametrize("query", QUERIES)
def test_with_a_union_variants_frequency_the_scores_are_the_same(both, union_embedded, query):
    """Every node type compiled to the DSL scores as the embedded evaluator does (per-field
    BM25, Lucene's norms, phrases as PhraseQuery, tiers) once both count a Variants
    frequency alike: the same hits in the same order, scores to 1e-4."""
    _, remote = both
    a, b = union_embedded.search(query, limit=1000), remote.search(query, limit=1000)
    assert a.total == b.total and a.complete == b.complete
    for x, y in zip(a.hits, b.hits):
        assert y.score == pytest.approx(x.score, rel=1e-4, abs=1e-4)
    ranked = lambda hits: [(round(h.score, 3), h.article, h.paragraph, h.complete) for h in hits]  # noqa: E731
    assert sorted(ranked(a.hits), key=lambda r: (not r[3], -r[0], r[1:3])) == sorted(ranked(b.hits), key=lambda r: (not r[3], -r[0], r[1:3]))


@pytest.mark.parametrize("query", ["cán bộ đảng viên", "so trach nhiem", "kỷ luật cán bộ -\"nêu gương\""])
def test_tiers_page_alike_across_their_boundary(both, query):
    """A keyword query lists its full matches first, then the rest: every page, the one
    across the boundary included, holds the same paragraphs on both engines."""
    embedded, remote = both
    whole = embedded.search(query, limit=1000)
    assert whole.complete is not None and 0 < whole.complete < whole.total
    boundary = whole.complete
    for offset in (0, max(0, boundary - 2), boundary):
        a, b = embedded.search(query, limit=4, offset=offset), remote.search(query, limit=4, offset=offset)
        assert (a.total, a.complete) == (b.total, b.complete) == (whole.total, whole.complete)
        assert [h.complete for h in a.hits] == [h.complete for h in b.hits]
        assert [h.rank for h in b.hits] == list(range(offset + 1, offset + 1 + len(b.hits)))
        if has_accents(query):  # no Variants: the same order too
            assert [(h.article, h.paragraph) for h in a.hits] == [(h.article, h.paragraph) for h in b.hits]


# -- what it creates ------------------------------------------------------------------


def test_the_mapping_is_made_from_the_schema(monkeypatch):
    """A field added to schema.ANALYZED needs no code of the engine's: it is mapped,
    filled and copied for the vocabulary like the others."""
    monkeypatch.setitem(s.ANALYZED, "wfold", s.FieldSpec("words", folded=True))
    props = mapping.properties()
    assert props["wfold"]["type"] == "text" and props["wfold"]["index_options"] == "freqs"
    assert props["wfold_terms"]["type"] == "keyword"
    assert props[s.WORD]["fields"]["folded"]["analyzer"] == "searcher_folded"
    assert props[s.SYL]["index_options"] == "positions" and "fields" not in props[s.SYL]
    # Each field scores with its own BM25 (k1, b): the embedded evaluator's.
    similarities = mapping.index_settings(2, 1)["similarity"]
    for name in s.ANALYZED:
        k1, b = s.BM25_PARAMS.get(name, (scoring.K1, scoring.B))
        assert similarities[props[name]["similarity"]] == {"type": "BM25", "k1": k1, "b": b}, name
    assert props[s.BIGRAM]["fields"]["folded"]["similarity"] == props[s.BIGRAM]["similarity"]
    assert props[s.TITLE_BIGRAM]["fields"]["folded"]["analyzer"] == "searcher_folded"
    assert similarities["default"] == {"type": "BM25", "k1": scoring.K1, "b": scoring.B}
    from searcher.corpus import Corpus

    article = next(iter(Corpus(CORPUS).sources())).load()
    (_, source), *_ = mapping.sources(article)
    assert source["wfold"] and set(source["wfold"].split()) == set(source["wfold_terms"])
    with_field = mapping.digest(1, 0)
    monkeypatch.undo()
    assert mapping.digest(1, 0) != with_field  # an index made without it is refused


def test_punctuation_leaves_no_hole_in_phrase_positions():
    """``chức trách, nhiệm vụ``: positions continue over the comma (schema 4), so the tokens
    sent are the syllables in order, and the cluster's positions and lengths are the
    embedded engine's."""
    from searcher.analysis import analyze

    tokens = mapping.field_tokens(s.ANALYZED[s.SYL], analyze("chức trách, nhiệm vụ"))
    assert tokens == ["chức", "trách", "nhiệm", "vụ"]
    assert mapping.field_tokens(s.ANALYZED[s.BIGRAM], analyze("chức trách, nhiệm vụ"))  # counts


def test_phrases_match_across_punctuation_on_either_engine(engine, run, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Tin\n\nAnh ấy nhận chức trách, nhiệm vụ mới.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("Tin khác\n\nAnh ấy có trách nhiệm với nhiệm vụ.\n", encoding="utf-8")
    (corpus / "c.txt").write_text("Tin nữa\n\nNhiệm vụ và trách phạt.\n", encoding="utf-8")
    out = run("query", '"trách nhiệm"', "--json", index=tmp_path / "i", corpus=corpus).stdout
    hits = [json.loads(line) for line in out.splitlines()]
    assert sorted(h["article"] for h in hits if h["type"] == "hit") == ["a", "b"]


def test_index_settings_alias_and_meta(cluster, client, tmp_path):
    location = cluster.location(tmp_path / "made")
    Index.open_or_create(location, corpus=CORPUS).sync()
    (concrete, body), = client.indices.get(index=location.name).items()
    assert concrete.startswith(f"{location.name}-v{s.SCHEMA_VERSION}-") and location.name in body["aliases"]
    settings = body["settings"]["index"]
    assert settings["similarity"]["default"] == {"type": "BM25", "k1": "0.9", "b": "0.75"}
    assert settings["similarity"]["bm25_k1_0p6_b_0p9"] == {"type": "BM25", "k1": "0.6", "b": "0.9"}
    assert body["mappings"]["properties"][s.BIGRAM]["similarity"] == "bm25_k1_0p6_b_0p9"  # schema.BM25_PARAMS
    assert (settings["number_of_shards"], settings["number_of_replicas"], settings["refresh_interval"]) == ("2", "1", "-1")
    meta = body["mappings"]["_meta"]["searcher"]
    assert (meta["schema"], meta["mapping"], meta["commit"]) == (s.SCHEMA_VERSION, mapping.MAPPING_VERSION, 1)
    assert meta["state"]["signature"]
    doc = client.get(index=location.name, id="004_94dc4981a5173811#2")["_source"]
    assert {"article", "para", "version", "text", "title", "date"} <= set(doc)
    assert not set(doc) & set(s.ANALYZED)  # indexed, not stored
    assert doc["version"].startswith("004_94dc4981a5173811:") and doc["version"].endswith(":%d" % len(
        Index.open(location).article("004_94dc4981a5173811").paragraphs))


def test_a_rebuild_swaps_the_name_to_a_new_index_and_cleans_up(cluster, client, tmp_path):
    location = cluster.location(tmp_path / "swap")
    index = Index.open_or_create(location, corpus=CORPUS)
    index.sync()
    (first,) = client.indices.get(index=location.name)
    # A rebuild interrupted before its end left an index behind: the next write deletes it.
    engine = index.engine
    orphan = engine.create(alias=False)
    assert Index.open_or_create(location, corpus=CORPUS).sync(rebuild=True).added == 5
    names = set(client.indices.get(index=f"{location.name}-v*"))
    assert len(names) == 1 and first not in names and orphan not in names
    assert Index.open(location, corpus=CORPUS).search("nêu gương").total > 0


# -- an interrupted sync ---------------------------------------------------------------


def test_a_sync_that_died_mid_way_is_finished_by_the_next(cluster, tmp_path, corpus_copy, monkeypatch):
    """Killed after some bulk batches (here: a batch that fails for good), the next sync
    re-writes every article whose paragraphs do not all carry its new version, and removes
    paragraphs an older, longer version left."""
    from searcher.engine.opensearch import bulk

    location = cluster.location(tmp_path / "resume")
    Index.open_or_create(location, corpus=corpus_copy).sync(jobs=1)
    # Every article changes: shorter for two of them.
    for number, path in enumerate(sorted(corpus_copy.glob("*.txt"))):
        text = path.read_text(encoding="utf-8")
        if number < 2:
            text = "\n\n".join(text.split("\n\n")[:4])
        path.write_text(text.replace("cán bộ", "cán bộ (sửa)", 1), encoding="utf-8")
    monkeypatch.setattr(bulk, "MAX_ACTIONS", 20)
    sent = []
    real = bulk.Bulk.flush

    def dying(self):
        if len(sent) == 2:
            raise KeyboardInterrupt  # as a kill would: mid-way, nothing after it runs
        sent.append(1)
        return real(self)

    monkeypatch.setattr(bulk.Bulk, "flush", dying)
    with pytest.raises(KeyboardInterrupt):
        Index.open_or_create(location, corpus=corpus_copy).sync(jobs=1)
    monkeypatch.setattr(bulk.Bulk, "flush", real)
    half = Index.open(location, corpus=corpus_copy)
    versions = half.engine.versions()
    from searcher.corpus import Corpus

    sources = {src.id: src for src in Corpus(corpus_copy).sources()}
    assert sum(versions[a] == sources[a].hash for a in sources) < len(sources)  # not done
    report = Index.open_or_create(location, corpus=corpus_copy).sync(jobs=1)
    assert report.updated + report.unchanged == 5
    done = Index.open(location, corpus=corpus_copy)
    assert done.engine.versions() == {a: src.hash for a, src in sources.items()}
    for article_id, src in sources.items():
        assert done.article(article_id).paragraphs == src.load().paragraphs
    assert done.stats().paragraphs == sum(len(src.load().paragraphs) for src in sources.values())


# -- the write lock ---------------------------------------------------------------------


def _lock_doc(client, name):
    from searcher.engine.opensearch import lock

    found = client.get(index=lock.INDEX, id=name, ignore=404)
    return found.get("_source") if found.get("found") else None


def test_a_second_writer_waits_then_gives_up_naming_the_first(cluster, client, tmp_path, corpus_copy, monkeypatch):
    """While one process writes (here: a rebuild that has made its new concrete index, not
    yet named), another's `searcher index` waits, then is one line naming the holder, and
    touches nothing: the rebuild's index is still there (every write deletes leftovers of
    interrupted rebuilds, so without the lock it would have gone)."""
    import os

    from searcher.engine.opensearch import lock

    monkeypatch.setattr(lock, "WAIT_S", 1.0)
    location = cluster.location(tmp_path / "locked")
    index = Index.open_or_create(location, corpus=corpus_copy)
    index.sync()
    engine = index.engine
    with engine.writing():
        held = _lock_doc(client, location.name)
        assert held["pid"] == os.getpid() and held["expires"] > held["renewed"]
        rebuilding = engine.create(alias=False)
        (corpus_copy / "new.txt").write_text("Bài mới\n\nCán bộ sợ trách nhiệm nên né tránh việc khó.\n", encoding="utf-8")
        args = ["--corpus", str(corpus_copy), *cluster.args(tmp_path / "locked"), "index"]
        line = one_error_line(searcher(*args))
        assert f"{location.name!r}" in line and "is being updated by another searcher process" in line
        assert f"pid {os.getpid()}" in line and "waited 1 s" in line
        assert client.indices.exists(index=rebuilding)
        assert Index.open(location, corpus=corpus_copy).stats().articles == 5
    assert _lock_doc(client, location.name) is None  # released
    result = searcher(*args)
    assert result.exit_code == 0, result.output
    assert Index.open(location, corpus=corpus_copy).stats().articles == 6
    assert not client.indices.exists(index=rebuilding)  # now a leftover: the next write cleans it up


def test_the_lock_is_reentrant_and_released_on_an_error(cluster, client, tmp_path):
    location = cluster.location(tmp_path / "reentrant")
    engine = Index.open_or_create(location, corpus=CORPUS).engine
    with pytest.raises(RuntimeError):
        with engine.writing():
            with engine.writing():
                pass
            assert _lock_doc(client, location.name) is not None  # the outer one still holds it
            raise RuntimeError("interrupted")
    assert _lock_doc(client, location.name) is None


def test_a_dead_writers_lock_lapses_and_a_late_one_commits_nothing(cluster, client, tmp_path, corpus_copy):
    """A holder that stops renewing (killed elsewhere) blocks others only until its lease
    runs out; the next writer then takes the lock over. Should the first come back, it
    finds its lock lost before committing, and its release leaves the new holder's alone.
    (That a live lease is waited for: the test of the second writer above.)"""
    import time

    from searcher.engine.opensearch import lock
    from searcher.errors import SearcherError

    location = cluster.location(tmp_path / "lapsed")
    index = Index.open_or_create(location, corpus=corpus_copy)
    index.sync()
    dead = lock.WriteLock(index.engine, lease_s=0.5)
    dead.__enter__()
    dead._stop.set()  # as if its process had stopped: nobody renews it any more
    dead._thread.join()
    time.sleep(1.0)  # past its lease, whatever the load
    (corpus_copy / "new.txt").write_text("Bài mới\n\nCán bộ sợ trách nhiệm nên né tránh việc khó.\n", encoding="utf-8")
    later = Index.open_or_create(location, corpus=corpus_copy)
    later.engine._lock = lock.WriteLock(later.engine, wait_s=0.0, on_acquire=later.engine._forget_reads)
    with later.engine.writing() as taken:  # the lease has lapsed: taken over at once
        assert _lock_doc(client, location.name)["owner"] == taken.owner != dead.owner
        assert later.sync().added == 1
        with pytest.raises(SearcherError, match=r"write lock of the index .* was lost \(another searcher process took it over\): nothing was committed"):
            dead.check()  # asks the cluster
        dead.__exit__(None, None, None)
        assert _lock_doc(client, location.name)["owner"] == taken.owner
    assert _lock_doc(client, location.name) is None


def test_a_writer_that_waited_reads_the_index_again(cluster, tmp_path, corpus_copy):
    """What a writer read of the index before it took the lock is read again under it:
    a sync after another writer's commit does not write the older commit number back."""
    location = cluster.location(tmp_path / "reread")
    Index.open_or_create(location, corpus=corpus_copy).sync()
    late = Index.open_or_create(location, corpus=corpus_copy)
    assert late.engine.commit_number() == 1  # read now, before the other writer's commit
    (corpus_copy / "new.txt").write_text("Bài mới\n\nCán bộ sợ trách nhiệm nên né tránh việc khó.\n", encoding="utf-8")
    assert Index.open_or_create(location, corpus=corpus_copy).sync().added == 1
    report = late.sync()  # nothing left to do but save the state
    assert (report.added, report.unchanged) == (0, 6)
    assert Index.open(location).engine.commit_number(fresh=True) == 2


def test_add_leaves_the_corpus_alone_while_another_process_writes(cluster, tmp_path, corpus_copy, monkeypatch):
    from searcher.engine.opensearch import lock

    monkeypatch.setattr(lock, "WAIT_S", 0.0)
    location = cluster.location(tmp_path / "add-busy")
    index = Index.open_or_create(location, corpus=corpus_copy)
    index.sync()
    new = tmp_path / "new.txt"
    new.write_text("Bài mới\n\nCán bộ sợ trách nhiệm nên né tránh việc khó.\n", encoding="utf-8")
    before = sorted(p.name for p in corpus_copy.iterdir())
    with index.engine.writing():
        line = one_error_line(searcher("--corpus", str(corpus_copy), *cluster.args(tmp_path / "add-busy"), "add", str(new)))
        assert "is being updated by another searcher process" in line
        assert sorted(p.name for p in corpus_copy.iterdir()) == before


def test_the_lock_of_a_killed_process_here_is_taken_at_once(cluster, client, tmp_path):
    """A holder of this machine that is gone (SIGKILL) need not be waited out: its pid no
    longer runs (or is another process's), so the next writer takes the lock over at once.
    A live holder, or one of another machine, is waited for."""
    import signal
    import subprocess

    from searcher.engine.opensearch import lock
    from searcher.errors import SearcherError

    location = cluster.location(tmp_path / "killed")
    engine = Index.open_or_create(location, corpus=CORPUS).engine
    holder = lock.WriteLock(engine)
    victim = subprocess.Popen(["sleep", "30"])
    try:
        body = {**holder._body(), "pid": victim.pid, "started": lock._started(victim.pid), "expires": 4e9}
        holder._ensure_index()
        client.index(index=lock.INDEX, id=location.name, body=body, refresh=True)
        with pytest.raises(SearcherError, match=f"pid {victim.pid} on "):
            lock.WriteLock(engine, wait_s=0.0).__enter__()  # alive: waited for
        client.index(index=lock.INDEX, id=location.name, body={**body, "host": "elsewhere"})
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    with pytest.raises(SearcherError, match="is being updated"):
        lock.WriteLock(engine, wait_s=0.0).__enter__()  # another machine's: only its lease tells
    client.index(index=lock.INDEX, id=location.name, body={**body, "pidns": 1})
    with pytest.raises(SearcherError, match="is being updated"):
        lock.WriteLock(engine, wait_s=0.0).__enter__()  # another pid namespace's (a container): the same
    client.index(index=lock.INDEX, id=location.name, body=body)
    with lock.WriteLock(engine, wait_s=0.0) as taken:
        assert _lock_doc(client, location.name)["owner"] == taken.owner
    assert _lock_doc(client, location.name) is None


def test_the_lock_index_name_is_reserved_and_a_foreign_one_is_never_written(cluster, client, tmp_path):
    from searcher.engine.opensearch import lock

    line = one_error_line(searcher("--engine", "opensearch", "--url", cluster.url, "--name", lock.INDEX, "index"))
    assert line == f"Error: the index name {lock.INDEX!r} is searcher's own (its write locks): choose another --name"
    location = cluster.location(tmp_path / "foreign-lock")
    Index.open_or_create(location, corpus=CORPUS).sync()
    saved = client.indices.get_mapping(index=lock.INDEX)
    client.indices.delete(index=lock.INDEX)
    client.indices.create(index=lock.INDEX, body={"mappings": {"properties": {"x": {"type": "keyword"}}}})
    client.index(index=lock.INDEX, id="data", body={"x": "somebody's"}, refresh=True)
    args = ["--corpus", str(CORPUS), *cluster.args(tmp_path / "foreign-lock"), "index", "--rebuild"]
    try:
        line = one_error_line(searcher(*args))
        assert f"the index {lock.INDEX!r} on the OpenSearch cluster at" in line and "is not searcher's write-lock index" in line
        assert client.count(index=lock.INDEX)["count"] == 1
    finally:
        client.indices.delete(index=lock.INDEX)
    assert list(saved.values())[0]["mappings"]["_meta"] == {lock.MARK: 1}
    assert searcher(*args).exit_code == 0  # made again, as searcher's
    # One the cluster made by itself (a lock document written just after the index was
    # removed: action.auto_create_index) holds lock documents only: adopted.
    client.indices.delete(index=lock.INDEX)
    client.index(index=lock.INDEX, id="other", body={"owner": "x", "expires": 1.0}, refresh=True)
    assert searcher(*args).exit_code == 0
    assert client.indices.get_mapping(index=lock.INDEX)[lock.INDEX]["mappings"]["_meta"] == {lock.MARK: 1}


# -- faults -------------------------------------------------------------------------------


def test_an_unknown_index_is_one_line(opensearch_url):
    """(``query`` builds a missing index from the corpus first, as on the embedded engine.)"""
    where = opensearch_url
    for command in (["stats"], ["show", "x"]):
        line = one_error_line(searcher("--engine", "opensearch", "--url", where, "--name", "no-such-index", *command))
        assert line.startswith(f"Error: no index 'no-such-index' on the OpenSearch cluster at {where}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_one_line():
    url = f"http://127.0.0.1:{_free_port()}"
    line = one_error_line(searcher("--engine", "opensearch", "--url", url, "query", "cán bộ"))
    assert line == f"Error: cannot reach the OpenSearch cluster at {url}: connection refused"


class _Server:
    """A local HTTP server answering every request with ``status`` and ``body`` (or
    never, with ``silent``): what a secured or a hung cluster looks like to a client."""

    def __init__(self, status=401, body=None, silent=False):
        answer = json.dumps(body or {}).encode()
        hold = threading.Event()
        self.hold = hold

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if silent:
                    hold.wait(30)
                    return
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_HEAD = do_POST = do_PUT = do_GET

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def test_bad_credentials_are_one_line_and_never_shown():
    server = _Server(401, {"error": {"type": "security_exception", "reason": "unable to authenticate user [me]"}, "status": 401})
    try:
        env = {"SEARCHER_OPENSEARCH_USER": "me", "SEARCHER_OPENSEARCH_PASSWORD": "s3cret-pw"}
        result = searcher("--engine", "opensearch", "--url", server.url, "stats", env=env)
        line = one_error_line(result)
        assert line.startswith(f"Error: the OpenSearch cluster at {server.url} refused the credentials (401)")
        assert "s3cret-pw" not in result.output
    finally:
        server.close()
    # Credentials in the URL are refused before anything is sent.
    line = one_error_line(searcher("--engine", "opensearch", "--url", "https://me:s3cret-pw@example.org:9200", "stats"))
    assert "refused" in line and "s3cret-pw" not in line and "example.org:9200" in line


def test_a_cluster_that_does_not_answer_is_a_timeout():
    server = _Server(silent=True)
    try:
        result = searcher("--engine", "opensearch", "--url", server.url, "query", "cán bộ", env={"SEARCHER_OPENSEARCH_TIMEOUT": "0.5"})
        assert one_error_line(result) == (
            f"Error: the OpenSearch cluster at {server.url} did not answer within 0.5 s (SEARCHER_OPENSEARCH_TIMEOUT)"
        )
    finally:
        server.close()


def test_another_version_asks_for_a_rebuild_and_a_foreign_index_is_never_touched(cluster, client, tmp_path, corpus_copy):
    old = cluster.location(tmp_path / "old")
    Index.open_or_create(old, corpus=corpus_copy).sync()
    meta = client.indices.get_mapping(index=old.name)
    (concrete, body), = meta.items()
    ours = body["mappings"]["_meta"]["searcher"]
    client.indices.put_mapping(index=concrete, body={"_meta": {"searcher": {**ours, "schema": 2}}})
    args = ["--engine", "opensearch", "--url", cluster.url, "--name", old.name, "--corpus", str(corpus_copy)]
    line = one_error_line(searcher(*args, "query", "cán bộ"))
    assert "incompatible version of searcher (schema 2" in line and "index --rebuild" in line
    assert searcher(*args, "index", "--rebuild").exit_code == 0
    assert searcher(*args, "query", "cán bộ").exit_code == 0

    foreign = cluster.index_name(tmp_path / "foreign")
    client.indices.create(index=foreign, body={"mappings": {"properties": {"x": {"type": "keyword"}}}})
    client.index(index=foreign, body={"x": "theirs"}, refresh=True)
    args = ["--engine", "opensearch", "--url", cluster.url, "--name", foreign, "--corpus", str(corpus_copy)]
    for command in (["query", "cán bộ"], ["index", "--rebuild"]):
        line = one_error_line(searcher(*args, *command))
        assert "was not made by searcher" in line
    assert client.count(index=foreign)["count"] == 1


def test_a_mapping_conflict_is_one_line_and_a_rebuild_mends_it(cluster, client, tmp_path, corpus_copy):
    """An index that says it is searcher's but maps a field otherwise (made by hand, or by
    a tool): the first refused paragraph stops the sync with the cluster's reason."""
    location = cluster.location(tmp_path / "conflict")
    meta = {"searcher": {**mapping.fingerprint(), "alias": location.name, "commit": 0, "state": {}}}
    body = {
        "settings": mapping.index_settings(1, 0),
        "mappings": {**mapping.mappings(meta), "properties": {**mapping.properties(), s.PARAGRAPH: {"type": "boolean"}}},
        "aliases": {location.name: {}},
    }
    client.indices.create(index=f"{location.name}-v{s.SCHEMA_VERSION}-1", body=body)
    args = ["--engine", "opensearch", "--url", cluster.url, "--name", location.name, "--corpus", str(corpus_copy)]
    line = one_error_line(searcher(*args, "index"))
    assert "refused paragraph" in line and "mapper_parsing_exception" in line and "--rebuild" in line
    assert searcher(*args, "index", "--rebuild").exit_code == 0
    assert searcher(*args, "index").stderr.count("5 unchanged") == 1


def test_bulk_batches_are_bounded_and_retried_with_backoff(monkeypatch):
    """A batch the cluster cannot take now (429, 5xx, a node gone) is sent again after a
    growing pause, and so are the items it refused one by one with 429; a batch never
    holds more than MAX_ACTIONS actions; any other refused item is one line."""
    from searcher.engine.opensearch import bulk
    from searcher.errors import SearcherError

    pauses = []
    monkeypatch.setattr(bulk.time, "sleep", pauses.append)
    monkeypatch.setattr(bulk, "MAX_ACTIONS", 3)

    class Cluster:
        index, location = "t", "http://node:9200"

        def __init__(self, answers):
            self.answers, self.sent = list(answers), []

        def bulk_request(self, body):
            lines = body.decode().splitlines()
            self.sent.append([json.loads(line)["index"]["_id"] for line in lines[::2]])
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer(self.sent[-1])

    ok = lambda ids: {"errors": False, "items": [{"index": {"_id": i, "status": 201}} for i in ids]}  # noqa: E731
    first_busy = lambda ids: {  # noqa: E731
        "errors": True,
        "items": [{"index": {"_id": i, "status": 429 if n == 0 else 201}} for n, i in enumerate(ids)],
    }
    cluster = Cluster([bulk._Retry("503"), first_busy, ok, ok])
    writer = bulk.Bulk(cluster)
    for n in range(4):
        writer.index(f"a#{n}", {"text": "x"})
    writer.flush()
    assert cluster.sent == [["a#0", "a#1", "a#2"], ["a#0", "a#1", "a#2"], ["a#0"], ["a#3"]]
    assert pauses == [0.5, 1.0]
    refused = lambda ids: {  # noqa: E731
        "errors": True,
        "items": [{"index": {"_id": ids[0], "status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [para]"}}}],
    }
    writer = bulk.Bulk(Cluster([refused]))
    writer.index("b#1", {"text": "x"})
    with pytest.raises(SearcherError, match=r"refused paragraph b#1 \(400 mapper_parsing_exception: failed to parse field \[para\]\)"):
        writer.flush()


def test_a_huge_article_is_sent_while_it_is_analysed(monkeypatch):
    """The sink holds one bulk batch, never every analysed paragraph of an article: the
    first batch leaves before the article's later paragraphs are analysed."""
    from searcher.corpus.model import Article
    from searcher.engine.opensearch import bulk

    monkeypatch.setattr(bulk, "MAX_ACTIONS", 4)
    analysed = []
    real = s.analyze
    monkeypatch.setattr(s, "analyze", lambda text, **kw: analysed.append(text) or real(text, **kw))

    class Cluster:
        index, location = "t", "http://node:9200"
        batches: list = []

        def bulk_request(self, body):
            lines = [json.loads(line) for line in body.decode().splitlines()]
            actions = sum(set(line) in ({"index"}, {"delete"}) for line in lines)
            self.batches.append((actions, len(analysed)))
            return {"errors": False, "items": []}

    paragraphs = tuple(f"Đoạn {n}: cán bộ sợ trách nhiệm, né tránh việc khó." for n in range(1, 11))
    article = Article(id="huge", title="Bài rất dài", paragraphs=paragraphs)
    cluster = Cluster()
    sink = bulk.BulkSink(cluster, {"huge": 12})
    assert sink.add(article) == ("huge", 10)
    sink.finish()
    # Batches of 4 actions: 10 paragraphs indexed, then the 2 an older version had deleted.
    assert [n for n, _ in cluster.batches] == [4, 4, 4]
    assert [when for _, when in cluster.batches] == [1 + 4, 1 + 8, 1 + 10]  # the title, then paragraph by paragraph

