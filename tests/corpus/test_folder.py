"""Changing the corpus folder: ``Corpus.add`` and ``Corpus.remove`` know which file holds
which id, so the corpus never holds two sources for one article."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from searcher.corpus import AddReport, Corpus, RemoveReport, Source, SourceError
from searcher.errors import SearcherError
from tests.conftest import CORPUS

BODY_1 = (
    "Đảng bộ tỉnh Bình Thuận hiện có 463 tổ chức cơ sở Đảng với 41.782 đảng viên; trong đó, "
    "cán bộ thuộc diện Ban Thường vụ Tỉnh ủy quản lý có 370 đồng chí, nhiều người đã được luân chuyển."
)
BODY_2 = (
    "Đợt sinh hoạt chính trị đặt ra yêu cầu mỗi cá nhân nhận thức đầy đủ, sâu sắc hơn về niềm vinh dự, "
    "tự hào, danh dự và trách nhiệm của người cán bộ, đảng viên trước tổ chức và nhân dân."
)
BODY_3 = "Ngay khi phát động, các chi bộ trên địa bàn tỉnh đã có nhiều cách làm sáng tạo."


def record(article_id: str, title: str, text: str = BODY_1, **fields) -> dict:
    return {"id": article_id, "title": title, "text": text, **fields}


def jsonl(*records: dict) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def ids_and_files(corpus: Path) -> dict[str, str]:
    """Article id -> the file holding it (``name:line`` for a JSON Lines record)."""
    found = {}
    for source in Corpus(corpus).sources():
        assert isinstance(source, Source), str(source)
        assert source.id not in found, f"{source.id} twice: {found[source.id]} and {source.path.name}"
        found[source.id] = source.path.name + (f":{source.line}" if source.line else "")
    return found


def hidden(corpus: Path) -> list[str]:
    return sorted(p.name for p in corpus.iterdir() if p.name.startswith("."))


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


@pytest.fixture
def incoming(tmp_path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


# ---------------------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------------------


def test_a_corpus_is_made_without_io_and_a_missing_folder_is_one_clear_error(tmp_path):
    corpus = Corpus(tmp_path / "nowhere")  # nothing checked yet
    for call in (corpus.files, corpus.signature, lambda: list(corpus.sources()), lambda: corpus.add([])):
        with pytest.raises(SearcherError, match=r"^corpus folder not found: .*nowhere$"):
            call()


def test_files_signature_and_sources_of_the_bundled_corpus():
    corpus = Corpus(CORPUS)
    assert [p.name for p in corpus.files()] == sorted(p.name for p in CORPUS.glob("*.txt"))
    assert corpus.signature() == Corpus(CORPUS).signature()
    sources = list(corpus.sources())
    assert [s.id for s in sources] == [p.stem for p in corpus.files()]
    assert sources[4].load().title == "Thực hiện trách nhiệm nêu gương: Quyết tâm của Đảng bộ tỉnh"


def test_the_signature_changes_when_an_article_is_added_edited_or_removed(corpus):
    write(corpus / "a.txt", f"Cán bộ dám nghĩ\n\n{BODY_1}\n")
    first = Corpus(corpus).signature()
    write(corpus / "b.txt", f"Cán bộ dám làm\n\n{BODY_2}\n")
    second = Corpus(corpus).signature()
    write(corpus / "b.txt", f"Cán bộ dám làm\n\n{BODY_3}\n")
    third = Corpus(corpus).signature()
    (corpus / "b.txt").unlink()
    assert len({first, second, third}) == 3
    assert Corpus(corpus).signature() == first


def test_add_files_and_jsonl_records_then_replace_one(corpus, incoming):
    write(incoming / "bao_a.txt", "Cá lồng\n\nNông dân nuôi cá lồng trên hồ thuỷ điện.\n")
    write(incoming / "many.jsonl", jsonl(record("bao_b", "Lúa mùa", "Nông dân gặt lúa mùa sớm."),
                                         record("bao_c", "Cà phê", "Giá cà phê tăng kỷ lục.")))
    report = Corpus(corpus).add([incoming / "bao_a.txt", incoming / "many.jsonl"])
    assert report == AddReport(added=("bao_a", "bao_b", "bao_c"), replaced=(), problems=())
    # The records of a .jsonl become one .json file per article.
    assert ids_and_files(corpus) == {"bao_a": "bao_a.txt", "bao_b": "bao_b.json", "bao_c": "bao_c.json"}
    assert json.loads((corpus / "bao_c.json").read_text(encoding="utf-8"))["title"] == "Cà phê"

    write(incoming / "bao_a.txt", "Cá lồng\n\nNông dân nuôi cá lồng trên sông Đà.\n")
    again = Corpus(corpus).add([incoming / "bao_a.txt"])
    assert (again.added, again.replaced, again.problems) == ((), ("bao_a",), ())
    assert "sông Đà" in (corpus / "bao_a.txt").read_text(encoding="utf-8")
    assert hidden(corpus) == []


def test_adding_an_id_that_lives_in_a_jsonl_takes_the_record_out_of_it(corpus, incoming):
    """The case that used to leave a corpus every later `searcher index` rejected."""
    write(corpus / "feed.jsonl", jsonl(record("x1", "Tin một"), record("x2", "Tin hai", BODY_2)))
    write(incoming / "x1.json", json.dumps(record("x1", "Tin một, bản mới", BODY_3), ensure_ascii=False))
    report = Corpus(corpus).add([incoming / "x1.json"])
    assert (report.added, report.replaced, report.problems) == ((), ("x1",), ())
    assert ids_and_files(corpus) == {"x1": "x1.json", "x2": "feed.jsonl:1"}
    assert Corpus(corpus).remove(["x2"]) == RemoveReport(removed=("x2",), files=(corpus / "feed.jsonl",))
    assert not (corpus / "feed.jsonl").exists()  # its last record gone: no empty file left to fail on


def test_adding_replaces_a_json_whose_id_differs_from_its_file_name(corpus, incoming):
    write(corpus / "ban-cu.json", json.dumps(record("bai-1", "Bản cũ"), ensure_ascii=False))
    write(corpus / "bai-2.txt", f"Bài hai\n\n{BODY_2}\n")
    write(incoming / "bai-1.txt", f"Bản mới\n\n{BODY_3}\n")
    write(incoming / "bai-2.json", json.dumps(record("bai-2", "Bài hai, dạng JSON"), ensure_ascii=False))
    report = Corpus(corpus).add([incoming / "bai-1.txt", incoming / "bai-2.json"])
    assert (report.replaced, report.problems) == (("bai-1", "bai-2"), ())
    assert ids_and_files(corpus) == {"bai-1": "bai-1.txt", "bai-2": "bai-2.json"}


def test_a_file_named_like_the_article_but_holding_another_is_never_overwritten(corpus, incoming):
    write(corpus / "x.json", json.dumps(record("y", "Bài y"), ensure_ascii=False))
    write(incoming / "feed.jsonl", jsonl(record("x", "Bài x")))
    report = Corpus(corpus).add([incoming / "feed.jsonl"])
    assert report.added == ()
    assert report.problems == (f"{incoming / 'feed.jsonl'}:1: cannot add 'x': {corpus / 'x.json'} holds the article 'y'",)
    assert ids_and_files(corpus) == {"y": "x.json"}


def test_what_cannot_be_read_is_reported_and_the_rest_goes_in(corpus, incoming):
    write(incoming / "good.txt", f"Cán bộ dám nghĩ\n\n{BODY_1}\n")
    write(incoming / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    write(incoming / "feed.jsonl", jsonl(record("r1", "Tin một")) + "{hỏng\n" + jsonl(record("r3", "Tin ba", BODY_2)))
    write(incoming / "notes.md", "Ghi chú")
    write(incoming / "dup" / "good.txt", f"Bản khác\n\n{BODY_3}\n")
    report = Corpus(corpus).add(
        [incoming / "good.txt", incoming / "binary.txt", incoming / "feed.jsonl", incoming / "notes.md",
         incoming / "missing.txt", incoming / "dup" / "good.txt"]
    )
    assert report.added == ("good", "r1", "r3")
    assert report.problems == (
        f"{incoming / 'binary.txt'}: binary file (NUL bytes), not a text article",
        f"{incoming / 'feed.jsonl'}:2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        f"{incoming / 'notes.md'}: not an article file (.txt, .json, .jsonl, .html, .htm)",
        f"{incoming / 'missing.txt'}: no such file or folder",
        f"{incoming / 'dup' / 'good.txt'}: the id 'good' is given twice (also by {incoming / 'good.txt'})",
    )
    assert ids_and_files(corpus) == {"good": "good.txt", "r1": "r1.json", "r3": "r3.json"}
    assert BODY_1 in (corpus / "good.txt").read_text(encoding="utf-8")


def test_standard_input_becomes_a_file_named_after_its_content(corpus):
    text = "Tin nhanh\n\nMưa lớn gây ngập ở Cần Thơ.\n".encode("utf-8")
    report = Corpus(corpus).add([text])
    (article_id,) = report.added
    assert article_id.startswith("stdin_") and (corpus / f"{article_id}.txt").read_bytes() == text
    assert Corpus(corpus).add([text]).replaced == (article_id,)  # the same text again: the same article
    records = jsonl(record("s1", "Tin một"), record("s2", "Tin hai", BODY_2)).encode("utf-8")
    assert Corpus(corpus).add([records]).added == ("s1", "s2")
    bad = Corpus(corpus).add([b"{\"id\": \"s3\", \"title\": \"x\"}"])
    assert bad.problems == ('<stdin>: the article needs a "text" string',)


def test_remove_jsonl_records_and_files_and_refuse_unknown_ids_before_anything_changes(corpus):
    write(corpus / "feed.jsonl", jsonl(record("r1", "Tin một"), record("r2", "Tin hai", BODY_2), record("r3", "Tin ba")))
    write(corpus / "khac.json", json.dumps(record("r4", "Tin bốn"), ensure_ascii=False))
    write(corpus / "r5.txt", f"Tin năm\n\n{BODY_3}\n")
    before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    with pytest.raises(SearcherError, match=r"^no article with id 'nope', 'r9' in "):
        Corpus(corpus).remove(["r1", "nope", "r9"])
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == before

    report = Corpus(corpus).remove(["r2", "r4", "r5"])
    assert report.removed == ("r2", "r4", "r5")
    assert ids_and_files(corpus) == {"r1": "feed.jsonl:1", "r3": "feed.jsonl:2"}
    assert hidden(corpus) == []


# ---------------------------------------------------------------------------------------
# Through the command line
# ---------------------------------------------------------------------------------------


def test_cli_add_reports_each_problem_indexes_the_rest_and_exits_2(run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    incoming = tmp_path / "incoming"
    write(incoming / "ca_long.txt", "Cá lồng\n\nNông dân nuôi cá lồng trên hồ thuỷ điện.\n")
    write(incoming / "hong.json", '{"id": "hong", "title": "Hỏng"')
    result = run("add", str(incoming / "ca_long.txt"), str(incoming / "hong.json"), index=index, corpus=corpus_copy)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {incoming / 'hong.json'}: not valid JSON (Expecting ',' delimiter at line 1 column 31) (skipped)"]
    assert "Copied 1 article(s)" in result.stderr and "6 added" in result.stderr
    assert run("query", "cá lồng", index=index, corpus=corpus_copy).exit_code == 0


def test_cli_add_over_a_jsonl_record_then_index_finds_one_source_per_id(run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    write(corpus_copy / "feed.jsonl", jsonl(record("x1", "Thủy điện"), record("x2", "Lúa mùa", BODY_2)))
    assert run("index", index=index, corpus=corpus_copy).exit_code == 0
    new = write(tmp_path / "x1.json", json.dumps(record("x1", "Cá lồng", "Nông dân nuôi cá lồng trên sông Đà."), ensure_ascii=False))
    added = run("add", str(new), index=index, corpus=corpus_copy)
    assert added.exit_code == 0, added.stderr
    assert "0 added, 1 updated" in added.stderr
    again = run("index", index=index, corpus=corpus_copy)
    assert again.exit_code == 0, again.stderr
    assert run("query", "sông Đà", "--article", "x1", index=index, corpus=corpus_copy).exit_code == 0


def test_cli_remove_a_json_whose_id_is_not_its_file_name(run, corpus_copy, tmp_path):
    index = tmp_path / "index"
    write(corpus_copy / "ban-tin.json", json.dumps(record("bt-7", "Cán bộ dám nghĩ"), ensure_ascii=False))
    assert run("index", index=index, corpus=corpus_copy).exit_code == 0
    result = run("remove", "bt-7", index=index, corpus=corpus_copy)
    assert result.exit_code == 0, result.stderr
    assert "Removed 1 article(s)" in result.stderr and "1 removed" in result.stderr
    assert not (corpus_copy / "ban-tin.json").exists()


def test_cli_add_from_a_real_standard_input(tmp_path, corpus_copy):
    """`searcher add -` reads the process's binary stdin (sys.stdin.buffer)."""
    text = "Tin nhanh\n\nMưa lớn gây ngập ở Cần Thơ, nhiều tuyến đường bị chia cắt.\n"
    result = subprocess.run(
        [sys.executable, "-m", "searcher", "--index", str(tmp_path / "index"), "--corpus", str(corpus_copy), "add", "-"],
        input=text.encode("utf-8"), capture_output=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    (added,) = [p for p in corpus_copy.iterdir() if p.name.startswith("stdin_")]
    assert added.read_text(encoding="utf-8") == text
    assert b"DeprecationWarning" not in result.stderr


def test_a_folder_added_twice_changes_nothing_the_second_time(corpus, incoming):
    for n in range(3):
        write(incoming / f"2024/bai-{n}.txt", f"Bài số {n}\n\n{BODY_1}\n")
    first = Corpus(corpus).add([incoming])
    assert first.added == ("bai-0", "bai-1", "bai-2")
    second = Corpus(corpus).add([incoming])
    assert (second.added, second.replaced) == ((), ("bai-0", "bai-1", "bai-2"))
    assert sorted(p.name for p in corpus.iterdir()) == ["bai-0.txt", "bai-1.txt", "bai-2.txt"]


def test_sources_name_the_file_of_each_problem(corpus):
    write(corpus / "a.txt", f"Cán bộ dám nghĩ\n\n{BODY_1}\n")
    write(corpus / "b.json", "{hỏng")
    found = list(Corpus(corpus).sources())
    assert [type(s) for s in found] == [Source, SourceError]
    assert found[1].path == corpus / "b.json" and str(found[1]).startswith(f"{corpus / 'b.json'}: not valid JSON")
