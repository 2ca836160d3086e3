"""Incremental indexing, add/remove/show/stats, locking, bad files: nothing indexed is lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from searcher.corpus import Corpus
from searcher.engine import embedded
from searcher.index import Index
from tests.conftest import CORPUS

SEED_IDS = sorted(p.stem for p in CORPUS.glob("*.txt"))


def indexed_pids(location) -> list[str]:
    """``article#paragraph`` of every paragraph the index holds (at an engine's location)."""
    index = Index.open(location)
    snapshot = index.engine.snapshot()
    pids = []
    for article_id in index.engine.versions():
        article = snapshot.article(article_id)
        pids.extend(f"{article_id}#{n}" for n in range(1, len(article.paragraphs) + 1))
    assert len(pids) == index.stats().paragraphs
    return pids


def corpus_paragraphs(corpus: Path) -> int:
    return sum(len(s.load().paragraphs) for s in Corpus(corpus).sources())


def test_index_reports_what_it_did_and_only_touches_changes(engine, run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    first = run("index", index=index, corpus=corpus_copy)
    assert first.exit_code == 0
    assert "5 added, 0 updated, 0 removed, 0 unchanged" in first.stderr

    edited = corpus_copy / f"{SEED_IDS[0]}.txt"
    lines = edited.read_text(encoding="utf-8").split("\n")
    # A new body paragraph (at the end it would fall in the page's related-articles tail).
    lines.insert(6, "\nĐoạn văn mới về kỷ luật phát ngôn của cán bộ, đảng viên trong tỉnh.\n")
    edited.write_text("\n".join(lines), encoding="utf-8")
    (corpus_copy / f"{SEED_IDS[1]}.txt").unlink()
    (corpus_copy / "moi.txt").write_text("Bài mới\n\nHợp tác xã nuôi cá lồng trên sông.\n", encoding="utf-8")
    second = run("index", index=index, corpus=corpus_copy)
    assert second.exit_code == 0
    assert "1 added, 1 updated, 1 removed, 3 unchanged" in second.stderr

    third = run("index", index=index, corpus=corpus_copy)
    assert "0 added, 0 updated, 0 removed, 5 unchanged" in third.stderr

    pids = indexed_pids(engine.location(index))
    assert len(pids) == len(set(pids)) == corpus_paragraphs(corpus_copy)
    assert not any(p.startswith(SEED_IDS[1]) for p in pids)
    assert run("query", "nuôi cá lồng", index=index, corpus=corpus_copy).exit_code == 0
    assert run("query", "kỷ luật phát ngôn", "--article", SEED_IDS[0], index=index, corpus=corpus_copy).exit_code == 0


def test_rebuild_starts_over_with_the_same_content(engine, run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    run("index", index=index, corpus=corpus_copy)
    before = sorted(indexed_pids(engine.location(index)))
    rebuilt = run("index", "--rebuild", index=index, corpus=corpus_copy)
    assert rebuilt.exit_code == 0
    assert "5 added" in rebuilt.stderr
    assert sorted(indexed_pids(engine.location(index))) == before


def engine_module(engine):
    """The module of the engine under test (its PARALLEL_MIN_PARAGRAPHS)."""
    if engine.name == "embedded":
        return embedded
    from searcher.engine import opensearch

    return opensearch


def test_parallel_workers_index_exactly_what_one_process_does(engine, corpus_copy, tmp_path, monkeypatch):
    # Enough paragraphs to take the parallel path; the same articles under other ids.
    for source in list(Corpus(corpus_copy).sources()):
        for copy in range(3):
            shutil.copy(source.path, corpus_copy / f"{source.id}_copy{copy}.txt")
    monkeypatch.setattr(engine_module(engine), "PARALLEL_MIN_PARAGRAPHS", 50)
    serial = Index.open_or_create(engine.location(tmp_path / "serial"), corpus=corpus_copy)
    serial.sync(jobs=1)
    parallel = Index.open_or_create(engine.location(tmp_path / "parallel"), corpus=corpus_copy)
    report = parallel.sync(jobs=2)
    assert report.added == 20
    if engine.name == "embedded":
        assert parallel.stats().segments == 2
    assert sorted(indexed_pids(engine.location(tmp_path / "parallel"))) == sorted(
        indexed_pids(engine.location(tmp_path / "serial"))
    )
    for query in ("sợ trách nhiệm", "so trach nhiem", '"nêu gương"'):
        a, b = serial.search(query, limit=1000), parallel.search(query, limit=1000)
        assert a.total == b.total > 0
        assert sorted(h.score for h in a.hits) == pytest.approx(sorted(h.score for h in b.hits))


def test_add_copies_articles_into_the_corpus_and_indexes_them(engine, run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    run("index", index=index, corpus=corpus_copy)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "bao_a.txt").write_text("Cá lồng\n\nNông dân nuôi cá lồng trên hồ thuỷ điện.\n", encoding="utf-8")
    records = [
        {"id": "bao_b", "title": "Lúa mùa", "text": "Nông dân gặt lúa mùa sớm.", "date": "2024-09-01"},
        {"id": "bao_c", "title": "Cà phê", "text": "Giá cà phê tăng kỷ lục.", "author": "Minh An"},
    ]
    (incoming / "many.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    result = run("add", str(incoming / "bao_a.txt"), str(incoming / "many.jsonl"), index=index, corpus=corpus_copy)
    assert result.exit_code == 0, result.stderr
    assert "3 added" in result.stderr
    assert {p.name for p in corpus_copy.iterdir()} >= {"bao_a.txt", "bao_b.json", "bao_c.json"}
    hits = run("query", "thủy điện", "--json", index=index, corpus=corpus_copy)
    assert json.loads(hits.stdout.splitlines()[0])["article"] == "bao_a"
    coffee = json.loads(run("query", "cà phê", "--json", index=index, corpus=corpus_copy).stdout.splitlines()[0])
    assert (coffee["article"], coffee["author"]) == ("bao_c", "Minh An")

    # The same id again is an update, never a duplicate.
    (incoming / "bao_a.txt").write_text("Cá lồng\n\nNông dân nuôi cá lồng trên sông Đà.\n", encoding="utf-8")
    again = run("add", str(incoming / "bao_a.txt"), index=index, corpus=corpus_copy)
    assert "0 added, 1 updated" in again.stderr
    pids = indexed_pids(engine.location(index))
    assert len(pids) == len(set(pids))
    assert run("query", "thủy điện", index=index, corpus=corpus_copy).exit_code == 1
    assert run("query", "sông Đà", index=index, corpus=corpus_copy).exit_code == 0


def test_add_from_stdin(engine, run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    result = CliInput(engine).invoke(
        "add", "-", index=index, corpus=corpus_copy, stdin="Tin nhanh\n\nMưa lớn gây ngập ở Cần Thơ.\n"
    )
    assert result.exit_code == 0, result.stderr
    assert run("query", "ngập Cần Thơ", index=index, corpus=corpus_copy).exit_code == 0


class CliInput:
    """``run`` with standard input."""

    def __init__(self, engine):
        self.engine = engine

    def invoke(self, *args, index, corpus, stdin):
        from click.testing import CliRunner

        from searcher.cli import cli

        argv = [*self.engine.args(index), "--corpus", str(corpus), *args]
        return CliRunner().invoke(cli, argv, input=stdin.encode())


def test_remove_takes_an_article_out_of_corpus_and_index(run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    run("index", index=index, corpus=corpus_copy)
    gone = "004_94dc4981a5173811"
    assert run("query", "nêu gương", "--article", gone, index=index, corpus=corpus_copy).exit_code == 0
    result = run("remove", gone, index=index, corpus=corpus_copy)
    assert result.exit_code == 0
    assert "1 removed" in result.stderr
    assert not (corpus_copy / f"{gone}.txt").exists()
    assert run("query", "nêu gương", "--article", gone, index=index, corpus=corpus_copy).exit_code == 1
    unknown = run("remove", "no_such_article", index=index, corpus=corpus_copy)
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == f"Error: no article with id 'no_such_article' in {corpus_copy}"


def test_query_warns_when_the_corpus_changed(run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    run("index", index=index, corpus=corpus_copy)
    assert run("query", "trách nhiệm", index=index, corpus=corpus_copy).stderr == ""
    (corpus_copy / "new.txt").write_text("Bài mới\n\nNội dung mới.\n", encoding="utf-8")
    warned = run("query", "trách nhiệm", index=index, corpus=corpus_copy)
    assert warned.exit_code == 0
    assert "has changed since the last index" in warned.stderr
    assert warned.stdout  # the answer still comes, from the index as it is


def test_a_bad_file_is_skipped_by_name_and_the_rest_indexed(engine, run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    (corpus_copy / "broken.txt").write_bytes(b"\x00\x01\x02PNG\x00\x00binary" * 50)
    (corpus_copy / "empty.txt").write_bytes(b"")
    result = run("index", index=index, corpus=corpus_copy)
    assert result.exit_code == 2
    assert "broken.txt" in result.stderr and "empty.txt" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted({p.split("#")[0] for p in indexed_pids(engine.location(index))}) == SEED_IDS


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_file_that_turns_bad_keeps_its_indexed_version(engine, run, corpus_copy, tmp_path, monkeypatch, jobs):
    """Parsed where it is indexed (in a worker with --jobs 2), a file that cannot be read
    any more is reported by name, and the version indexed before stays searchable."""
    monkeypatch.setattr(engine_module(engine), "PARALLEL_MIN_PARAGRAPHS", 1)
    index = tmp_path / "index"
    run("index", index=index, corpus=corpus_copy)
    before = [p for p in indexed_pids(engine.location(index)) if p.startswith(SEED_IDS[2])]
    (corpus_copy / f"{SEED_IDS[2]}.txt").write_bytes(bytes(range(256)) * 8)
    (corpus_copy / f"{SEED_IDS[3]}.txt").write_text("Bài sửa\n\nCán bộ dám làm, dám chịu trách nhiệm.\n", encoding="utf-8")
    result = run("index", "--jobs", jobs, index=index, corpus=corpus_copy)
    assert result.exit_code == 2
    assert f"{SEED_IDS[2]}.txt" in result.stderr and "Traceback" not in result.stderr
    assert "0 added, 1 updated, 0 removed, 3 unchanged" in result.stderr
    assert [p for p in indexed_pids(engine.location(index)) if p.startswith(SEED_IDS[2])] == before
    assert [p for p in indexed_pids(engine.location(index)) if p.startswith(SEED_IDS[3])] == [f"{SEED_IDS[3]}#1", f"{SEED_IDS[3]}#2"]


@pytest.mark.engines("embedded")
def test_a_second_writer_waits_then_fails_clearly(run, corpus_copy, tmp_path, monkeypatch):
    index = tmp_path / "index"
    run("index", index=index, corpus=corpus_copy)
    (corpus_copy / "new.txt").write_text("Bài mới\n\nNội dung mới.\n", encoding="utf-8")
    monkeypatch.setattr(embedded, "LOCK_TIMEOUT", 0.5)
    # Another process holds the index's write lock.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from searcher.engine.embedded import WhooshEngine\n"
            f"writer = WhooshEngine.open({str(index)!r})._writer()\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run("index", index=index, corpus=corpus_copy)
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 2
    assert "being updated by another searcher process" in result.stderr
    assert run("index", index=index, corpus=corpus_copy).exit_code == 0


def test_show_prints_the_article_with_numbered_paragraphs(run):
    result = run("show", "004_94dc4981a5173811", "--query", "nêu gương", "--color", "always")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Thực hiện trách nhiệm nêu gương: Quyết tâm của Đảng bộ tỉnh"
    assert "date: 2020-02-18" in lines
    numbered = [line for line in lines if line.startswith("[")]
    assert numbered[0].startswith("[1] ")
    assert any("\x1b[1;31mnêu\x1b[0m" in line for line in numbered)
    as_json = json.loads(run("show", "004_94dc4981a5173811", "--json").stdout)
    assert as_json["paragraphs"][0]["paragraph"] == 1
    assert run("show", "nope").exit_code == 2


def test_stats_summarizes_the_index(run):
    result = run("stats", "--json")
    assert result.exit_code == 0
    stats = json.loads(result.stdout)
    assert stats["articles"] == 5
    assert stats["paragraphs"] == corpus_paragraphs(CORPUS)
    assert stats["terms"] > 500 and stats["size_bytes"] > 0
    assert "articles\t5" in run("stats").stdout


def test_neighbouring_paragraphs_and_titles_come_from_the_hits_own_article(engine, seed_index):
    """-C's neighbours and a hit's title (stored with paragraph 1) are the paragraphs of
    the hit's own article, whichever of its paragraphs the hit is."""
    index = Index.open(engine.location(seed_index))
    snapshot = index.engine.snapshot()
    titles = _titles()
    for article_id in SEED_IDS:
        article = index.article(article_id)
        ranked, _, _ = snapshot.top(index_query(snapshot, f"article:{article_id}"), 1000)
        for ref, _ in ranked[:5]:
            paragraph = snapshot.paragraph(ref)
            near = snapshot.paragraphs_near(ref, range(1, len(article.paragraphs) + 1))
            assert [near[n].text for n in sorted(near)] == list(article.paragraphs)
            assert all(p.article == article_id for p in near.values())
            assert near[paragraph.number].text == paragraph.text
            assert snapshot.article_meta(ref).title == titles[article_id]


def index_query(snapshot, text: str):
    from searcher.query import compile_query

    return compile_query(text, snapshot).query


def _titles() -> dict[str, str]:
    return {s.id: s.load().title for s in Corpus(CORPUS).sources()}
