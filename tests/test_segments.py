"""The segment writer: what it writes is standard Whoosh W3, which Whoosh alone reads,
and a writer whose pool fills up starts another segment without changing any answer."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter
from whoosh.query import Phrase, Term
from whoosh.reading import TermNotFound

from searcher.engine import embedded
from searcher.engine.embedded import INDEX_NAME, codec
from searcher.index import Index
from tests.conftest import CORPUS


def _index(path: Path, jobs: int = 1) -> Index:
    index = Index.open_or_create(path, corpus=CORPUS)
    index.sync(jobs=jobs)
    return index


def test_segments_are_plain_w3_that_whoosh_reads_alone(tmp_path):
    """Whoosh's own reader and searcher, with none of searcher's reading code, find in
    our segments what searcher itself finds."""
    path = tmp_path / "index"
    ours = _index(path)
    assert not list(path.glob("*.seg"))  # not compound
    ix = whoosh_index.open_dir(str(path), indexname=INDEX_NAME)
    assert all(type(segment.codec()) is W3Codec for segment in ix._segments())
    with ix.searcher() as searcher:
        folded = {hit["article"] + f"#{hit['para']}" for hit in searcher.search(Term("fold", "nhiem"), limit=None)}
        phrase = {hit["article"] + f"#{hit['para']}" for hit in searcher.search(Phrase("syl", ["trách", "nhiệm"]), limit=None)}
        postings = searcher.reader().postings("syl", "trách")
        positions = postings.value_as("positions")
        word = searcher.reader().doc_frequency("word", "trach_nhiem|trách_nhiệm")
    assert positions and all(isinstance(p, int) for p in positions)
    # The corpus has terms common enough for blocks whose positions are packed apart,
    # so Whoosh's phrase search above read those too.
    assert _packed_blocks(ours, "syl") > 0
    found = ours.search('"trách nhiệm"', limit=1000)
    assert {f"{h.article}#{h.paragraph}" for h in found.hits} == phrase and found.total == len(phrase) > 10
    assert len(folded) >= len(phrase)
    assert word == ours.engine.snapshot().doc_frequency("word", "trach_nhiem|trách_nhiệm") > 10


def _packed_blocks(index: Index, field: str) -> int:
    count = 0
    for postings, _ in index.engine.snapshot().segments:
        for _, info in postings.reader.iter_field(field):
            if not info.is_inlined():
                buffer = postings._buffer(info)
                for header, start, end in codec.block_headers(buffer):
                    count += isinstance(codec.block_data(buffer, header, start, end)[2], codec.PackedValues)
    return count


def test_packed_values_give_back_every_value_by_index_and_in_order():
    """Positions packed apart, with sizes of one byte or (past 255) four."""
    for values in ([b"\x01", b"", b"\x02\x83\x04"] * 30, [b"x" * 300, b"\x05", b"y" * 70_000]):
        packed = pickle.loads(codec.dumps(codec.PackedValues.pack(values)))
        assert len(packed) == len(values)
        assert list(packed) == values
        assert [packed[k] for k in range(len(values))] == values and packed[-1] == values[-1]
        with pytest.raises(IndexError):
            packed[len(values)]


def test_prefix_expansion_over_the_mapped_term_file_is_whooshs(tmp_path):
    """The binary search over the memory-mapped term file finds what Whoosh's finds,
    for any prefix: empty, one letter, an accentless word's variants, none, past the end."""
    index = _index(tmp_path / "index")
    snapshot = index.engine.snapshot()
    assert all(postings._mapped() is not None for postings, _ in snapshot.segments)
    reader = snapshot.reader
    cases = [("word", ""), ("word", "t"), ("word", "trach_nhiem|"), ("fold", "ng"), ("syl", "nhi"), ("word", "zzzz"),
             ("syl", "\uffff"), ("tfold", ""), ("nosuchfield", "a")]
    for field, prefix in cases:
        ours = snapshot.expand_prefix(field, prefix)
        theirs = [t.decode() for t in reader.expand_prefix(field, prefix)] if field in reader.schema else []
        assert ours == theirs, (field, prefix)
    assert len(snapshot.expand_prefix("word", "")) > 1000 and snapshot.expand_prefix("word", "trach_nhiem|")


def test_term_lookup_over_the_mapped_term_file_is_whooshs(tmp_path):
    """Every term of every field, and terms that are not there, looked up in the hash
    file over the memory map: the same term info as Whoosh's lookup, or none."""
    index = _index(tmp_path / "index")
    [(postings, _)] = index.engine.snapshot().segments
    assert postings._mapped() is not None
    reader = postings.reader
    checked = 0
    for field in ("syl", "fold", "word", "big", "article", "date"):
        for btext in [*reader.lexicon(field), b"", b"zzz", "trách_nhiệm".encode()]:
            ours = postings.info(field, btext)
            try:
                theirs = reader._terms.term_info(field, btext)
            except TermNotFound:
                theirs = None
            assert (ours is None) == (theirs is None), (field, btext)
            if ours is not None:
                assert (ours.doc_frequency(), ours.weight(), ours.extent(), ours.is_inlined()) == (
                    theirs.doc_frequency(), theirs.weight(), theirs.extent(), theirs.is_inlined()), (field, btext)
                checked += 1
    assert checked > 5000
    assert postings.info("nosuchfield", b"a") is None


def test_an_index_written_in_the_earlier_block_layout_answers_alike(tmp_path, monkeypatch):
    """Segments written before positions were packed apart (blocks of 128, a tuple of
    value strings, every weight a float) are read as they are: same hits, scores and
    totals, phrases included."""
    new = _index(tmp_path / "new")
    with monkeypatch.context() as patch:
        patch.setattr(codec, "BLOCK_LIMIT", 128)
        patch.setattr(codec._PostingsWriter, "_mini_values", W3PostingsWriter._mini_values)
        patch.setattr(codec._PostingsWriter, "_mini_weights", W3PostingsWriter._mini_weights)
        old = _index(tmp_path / "old")
    assert _packed_blocks(new, "syl") > 0 and _packed_blocks(old, "syl") == 0
    for text in ("sợ trách nhiệm", "so trach nhiem", '"trách nhiệm"', '"cán bộ" OR "người dân"', "bình thuận"):
        ours, theirs = new.search(text, limit=50), old.search(text, limit=50)
        assert ours.total == theirs.total > 0, text
        assert [(h.article, h.paragraph) for h in ours.hits] == [(h.article, h.paragraph) for h in theirs.hits], text
        assert [h.score for h in ours.hits] == pytest.approx([h.score for h in theirs.hits], rel=1e-9), text


def _hits(index: Index, text: str) -> list[tuple]:
    results = index.search(text, limit=20, context=1)
    return [
        (h.article, h.paragraph, h.score, h.title, h.date, [(c.paragraph, c.text) for c in h.before + h.after])
        for h in results.hits
    ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_full_pool_starts_a_new_segment_and_the_answers_stay_the_same(tmp_path, monkeypatch, jobs):
    """Memory is bounded by finishing a segment when the pool reaches its limit, within
    an article too: an index cut into many segments that way answers exactly like one
    written in one go (hits, scores, context paragraphs, whole articles)."""
    whole = _index(tmp_path / "whole")
    monkeypatch.setattr(embedded, "WRITER_LIMIT_MB", 1)
    monkeypatch.setattr(codec, "POSTING_BYTES", 100_000)  # full after every paragraph
    monkeypatch.setattr(embedded, "PARALLEL_MIN_PARAGRAPHS", 1)
    cut = _index(tmp_path / "cut", jobs=jobs)
    assert whole.stats().segments == 1
    # The pool is checked within an article too: every article spans several segments.
    assert cut.stats().segments > 2 * cut.stats().articles
    assert cut.stats().paragraphs == whole.stats().paragraphs
    for path in sorted(CORPUS.glob("*.txt")):
        assert cut.article(path.stem) == whole.article(path.stem)
    for text in ("sợ trách nhiệm", "so trach nhiem", '"cán bộ"', "bình thuận"):
        whole_hits, cut_hits = _hits(whole, text), _hits(cut, text)
        assert whole_hits, text
        assert [h[:2] for h in cut_hits] == [h[:2] for h in whole_hits], text
        assert [h[2] for h in cut_hits] == pytest.approx([h[2] for h in whole_hits], rel=1e-6), text
        assert [h[3:] for h in cut_hits] == [h[3:] for h in whole_hits] and all(h[3] for h in cut_hits), text


def test_the_pool_writes_postings_in_document_order_whatever_order_they_came_in(tmp_path):
    """Merged segments feed the pool one posting at a time, possibly out of order; a
    term's postings still come out sorted by document, with their values."""
    pool = codec.TermPool(limitmb=1)
    items = [("syl", b"b", 5, 1.0, b"\x01"), ("fold", b"a", 3, 2.0, b"\x02\x03"), ("syl", b"b", 2, 1.0, b"\x04"),
             ("syl", b"a", 9, 1.0, b"\x05"), ("fold", b"a", 1, 1.0, b"\x06")]
    for item in items:
        pool.add(item)
    out = []
    for fieldname, terms in pool.fields():
        for btext in sorted(terms):
            docs, weights, values, sizes = terms[btext]
            if (fieldname, btext) in pool.unordered:
                docs, weights, values, sizes = codec._in_order(docs, weights, values, sizes)
            ends = [0]
            for size in sizes:
                ends.append(ends[-1] + size)
            for k, (d, w) in enumerate(zip(docs, weights)):
                out.append((fieldname, btext, d, w, bytes(values[ends[k] : ends[k + 1]])))
    assert out == sorted(items)
