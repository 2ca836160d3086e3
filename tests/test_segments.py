"""The segment writer: what it writes is standard Whoosh, and its bulk posting path writes
exactly the bytes Whoosh's own per-posting loop writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.query import Term

from searcher import segments, store
from searcher.store import INDEX_NAME, Index
from tests.conftest import CORPUS


def _build(path: Path) -> dict[str, bytes]:
    Index.open_or_create(path).sync(CORPUS, jobs=1)
    files = {}
    for file in path.iterdir():
        if file.suffix in (".pst", ".trm", ".col"):
            # segment files are named <index>_<random segment id>.<ext>
            files[file.name.split(".", 1)[1]] = file.read_bytes()
    return files


def test_bulk_postings_write_the_same_bytes_as_whoosh(tmp_path, monkeypatch):
    bulk = _build(tmp_path / "bulk")
    monkeypatch.setattr(segments, "BULK_POSTINGS", False)
    loop = _build(tmp_path / "loop")
    assert set(bulk) == set(loop) and "pst" in bulk and "trm" in bulk
    for name in bulk:
        assert bulk[name] == loop[name], name


def test_segments_are_plain_w3_that_whoosh_reads_alone(tmp_path):
    path = tmp_path / "index"
    Index.open_or_create(path).sync(CORPUS, jobs=1)
    assert not list(path.glob("*.seg"))  # not compound
    ix = whoosh_index.open_dir(str(path), indexname=INDEX_NAME)
    segment = ix._segments()[0]
    assert type(segment.codec()) is W3Codec
    with ix.searcher() as searcher:
        hits = searcher.search(Term("fold", "nhiem"), limit=None)
        assert len(hits) > 0
        positions = searcher.reader().postings("syl", "trách").value_as("positions")
        assert positions and all(isinstance(p, int) for p in positions)


def _hits(path: Path, text: str) -> list[tuple]:
    from searcher.search import search

    results = search(Index.open(path), text, limit=20, context=1)
    return [
        (h.article, h.paragraph, h.score, h.title, h.date, [(c.paragraph, c.text) for c in h.before + h.after])
        for h in results.hits
    ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_full_pool_starts_a_new_segment_and_the_answers_stay_the_same(tmp_path, monkeypatch, jobs):
    """Memory is bounded by finishing a segment when the pool reaches its limit: an
    index cut into many segments that way answers exactly like one written in one go."""
    whole = tmp_path / "whole"
    Index.open_or_create(whole).sync(CORPUS, jobs=1)
    monkeypatch.setattr(store, "WRITER_LIMIT_MB", 1)
    monkeypatch.setattr(segments, "POSTING_BYTES", 100_000)  # full after every article
    monkeypatch.setattr(store, "PARALLEL_MIN_PARAGRAPHS", 1)
    cut = tmp_path / "cut"
    Index.open_or_create(cut).sync(CORPUS, jobs=jobs)
    assert len(Index.open(whole)._ix._segments()) == 1
    assert len(Index.open(cut)._ix._segments()) >= 4
    assert Index.open(cut).doc_count() == Index.open(whole).doc_count()
    for text in ("sợ trách nhiệm", "so trach nhiem", '"cán bộ"', "bình thuận"):
        whole_hits, cut_hits = _hits(whole, text), _hits(cut, text)
        assert whole_hits, text
        assert [h[:2] for h in cut_hits] == [h[:2] for h in whole_hits], text
        assert [h[2] for h in cut_hits] == pytest.approx([h[2] for h in whole_hits], rel=1e-6), text
        assert [h[3:] for h in cut_hits] == [h[3:] for h in whole_hits] and all(h[3] for h in cut_hits), text


def test_the_pool_gives_postings_in_whoosh_order_whatever_order_they_came_in():
    pool = segments._TermPool(limitmb=1)
    items = [("syl", b"b", 5, 1.0, b"\x01"), ("fold", b"a", 3, 2.0, b"\x02\x03"), ("syl", b"b", 2, 1.0, b"\x04"),
             ("syl", b"a", 9, 1.0, b"\x05"), ("fold", b"a", 1, 1.0, b"\x06")]
    for item in items:
        pool.add(item)
    assert list(pool.iter_postings()) == sorted(items)
