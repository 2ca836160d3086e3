"""The segment writer: what it writes is standard Whoosh, and its bulk posting path writes
exactly the bytes Whoosh's own per-posting loop writes."""

from __future__ import annotations

from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.query import Term

from searcher import segments
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
