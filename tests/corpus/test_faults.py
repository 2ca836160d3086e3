"""Faults a user can cause in or around the corpus folder: planted links, a full disk,
hostile ids, odd entries (links, FIFOs, folders named like articles), names that are not
UTF-8, deep folders, deep or huge JSON. Each ends in a message naming the culprit, never
a traceback, a hang, or a write outside the corpus folder."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from searcher.corpus import Corpus, Source, SourceError
from searcher.corpus import folder as folder_module
from searcher.corpus.sources import read_article
from searcher.errors import SearcherError
from tests.conftest import CORPUS

BODY = (
    "Đợt sinh hoạt chính trị đặt ra yêu cầu mỗi cá nhân nhận thức đầy đủ, sâu sắc hơn về niềm vinh dự, "
    "tự hào, danh dự và trách nhiệm của người cán bộ, đảng viên trước tổ chức và nhân dân."
)
ARTICLE = f"Cán bộ dám nghĩ, dám làm\n\n{BODY}\n"
SEED = next(CORPUS.glob("004_*.txt"))


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def searcher(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "searcher", *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file outside the corpus that nothing may write to (a stand-in for /etc/passwd)."""
    return write(tmp_path / "passwd", "root:x:0:0:root:/root:/bin/bash\n")


def leftovers(corpus: Path) -> list[str]:
    return sorted(p.name for p in corpus.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


# ---------------------------------------------------------------------------------------
# Writing: planted links, failing writes
# ---------------------------------------------------------------------------------------


def test_a_planted_link_at_a_temporary_name_is_never_followed(corpus, outside, tmp_path, monkeypatch):
    source = write(tmp_path / "in" / "bai-moi.txt", ARTICLE)
    # Where earlier versions wrote their temporary file ...
    (corpus / ".bai-moi.txt.tmp").symlink_to(outside)
    # ... and the exact name this one tries first.
    tokens = iter(["aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(folder_module, "_token", lambda: next(tokens))
    (corpus / ".bai-moi.txt.aaaaaaaaaaaa.tmp").symlink_to(outside)
    report = Corpus(corpus).add([source])
    assert report.added == ("bai-moi",) and report.problems == ()
    assert outside.read_text() == "root:x:0:0:root:/root:/bin/bash\n"
    assert (corpus / "bai-moi.txt").read_text(encoding="utf-8") == ARTICLE
    assert not (corpus / "bai-moi.txt").is_symlink()
    assert leftovers(corpus) == [".bai-moi.txt.aaaaaaaaaaaa.tmp", ".bai-moi.txt.tmp"]  # the planted links only


def test_replacing_an_article_that_is_a_link_replaces_the_link_not_its_target(corpus, outside, tmp_path):
    (corpus / "bai.txt").symlink_to(outside)  # a corpus entry pointing out of the folder
    report = Corpus(corpus).add([write(tmp_path / "in" / "bai.txt", ARTICLE)])
    assert report.replaced == ("bai",)
    assert outside.read_text() == "root:x:0:0:root:/root:/bin/bash\n"
    assert not (corpus / "bai.txt").is_symlink()
    Corpus(corpus).remove(["bai"])
    assert outside.exists() and not (corpus / "bai.txt").exists()


def test_a_full_disk_leaves_no_temporary_file_and_names_the_folder(corpus, tmp_path, monkeypatch):
    old = write(corpus / "bai.txt", ARTICLE)
    records = [{"id": f"r{n}", "title": f"Tin {n}", "text": BODY} for n in (1, 2)]
    write(corpus / "feed.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))

    def no_space(fd, data):
        os.write(fd, data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(folder_module, "_write_all", no_space)
    new = write(tmp_path / "in" / "bai.txt", f"Bản mới\n\n{BODY}\n")
    with pytest.raises(SearcherError) as info:
        Corpus(corpus).add([new])
    assert str(info.value) == f"cannot write bai.txt in the corpus folder {corpus}: No space left on device"
    assert old.read_text(encoding="utf-8") == ARTICLE  # the old version stays whole
    with pytest.raises(SearcherError, match="No space left on device"):
        Corpus(corpus).remove(["r1"])  # rewriting the .jsonl fails the same way
    assert leftovers(corpus) == []
    assert [s.id for s in Corpus(corpus).sources()] == ["bai", "r1", "r2"]


def _limit_file_size():
    # A real failing write: files may not grow past 64 KB (EFBIG instead of a signal).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE (POSIX)")
def test_cli_add_that_cannot_write_exits_2_without_a_traceback_or_a_temporary_file(corpus, tmp_path):
    big = write(tmp_path / "in" / "dai.txt", "Bài rất dài\n\n" + (BODY + "\n\n") * 2000)
    result = searcher("--index", str(tmp_path / "index"), "--corpus", str(corpus), "add", str(big), preexec_fn=_limit_file_size)
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: cannot write dai.txt in the corpus folder {corpus}: File too large"
    assert list(corpus.iterdir()) == []


# ---------------------------------------------------------------------------------------
# Ids
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "article_id, reason",
    [
        ("..%2f..%2fetc", "the id starts with '.'"),
        ("a%2f..%2fpasswd", "the id holds '/' or '\\'"),
        ("a%5Cb", "the id holds '/' or '\\'"),
        ("%2e%2e", "the id starts with '.'"),
        (".bashrc", "the id starts with '.'"),
        ("..", "the id starts with '.'"),
        ("a\u0000b", "the id holds a control or invisible character"),
        ("a\u001bb", "the id holds a control or invisible character"),
        ("cán\u202ebộ", "the id holds a control or invisible character"),
        ("a%00b", "the id holds a control or invisible character"),
        ("bài" * 67, "the id is longer than 200 bytes"),
    ],
)
def test_bad_json_ids_are_refused_naming_the_file(corpus, article_id, reason):
    path = write(corpus / "bai.json", json.dumps({"id": article_id, "title": "Tin", "text": BODY}))
    with pytest.raises(SearcherError) as info:
        read_article(path)
    message = str(info.value)
    assert message.startswith(f"{path}: bad article id ") and message.endswith(f"({reason})")
    assert "\n" not in message and "\x00" not in message and "\x1b" not in message
    (problem,) = Corpus(corpus).sources()
    assert isinstance(problem, SourceError) and str(problem) == message
    with pytest.raises(SearcherError) as refused:
        Corpus(corpus).remove([article_id])
    assert str(refused.value).startswith("bad article id ") and str(refused.value).endswith(f"({reason})")
    assert str(refused.value).isprintable()


def test_an_id_of_200_bytes_is_fine_and_201_is_not(corpus, tmp_path):
    longest = "bài-" + "a" * 195  # 200 bytes of UTF-8
    assert len(longest.encode()) == 200
    report = Corpus(corpus).add(
        [write(tmp_path / "in" / f"{longest}.txt", ARTICLE), write(tmp_path / "in" / f"{longest}b.txt", ARTICLE)]
    )
    assert report.added == (longest,)
    assert report.problems == (
        f"{tmp_path / 'in' / (longest + 'b.txt')}: bad article id '{longest[:60]}…' (the id is longer than 200 bytes)",
    )


def test_a_file_whose_name_is_not_a_valid_id_is_named_and_skipped(corpus, tmp_path):
    write(corpus / "tốt.txt", ARTICLE)
    write(corpus / "xấu\x07.txt", ARTICLE)
    found = list(Corpus(corpus).sources())
    assert [type(s) for s in found] == [Source, SourceError]
    assert str(found[1]) == f"{corpus}/xấu\\x07.txt: bad article id 'xấu\\x07' (the id holds a control or invisible character)"
    (tmp_path / "other").mkdir()
    report = Corpus(tmp_path / "other").add([corpus])
    assert report.added == ("tốt",) and report.problems == (str(found[1]),)


# ---------------------------------------------------------------------------------------
# Walking folders given to add
# ---------------------------------------------------------------------------------------


def test_add_folder_skips_hidden_files_and_folders(corpus, tmp_path):
    incoming = tmp_path / "incoming"
    write(incoming / "bai-1.txt", ARTICLE)
    write(incoming / ".git" / "config.json", json.dumps({"id": "config", "title": "git", "text": BODY}))
    write(incoming / ".an.txt", ARTICLE)
    write(incoming / "2024" / ".cache" / "bai-3.txt", ARTICLE)
    write(incoming / "2024" / "bai-2.txt", ARTICLE)
    report = Corpus(corpus).add([incoming])
    assert (sorted(report.added), report.problems) == (["bai-1", "bai-2"], ())
    assert sorted(p.name for p in corpus.iterdir()) == ["bai-1.txt", "bai-2.txt"]


@pytest.mark.slow
def test_add_a_folder_1500_levels_deep(corpus, tmp_path):
    deep = tmp_path / "incoming"
    chain = [deep]
    for _ in range(1500):
        chain.append(chain[-1] / "d")
        chain[-1].mkdir(parents=True)
    try:
        write(chain[-1] / "sau-nhat.txt", ARTICLE)
        write(deep / "d" / "nong.txt", ARTICLE)
        report = Corpus(corpus).add([deep])
        assert (sorted(report.added), report.problems) == (["nong", "sau-nhat"], ())
    finally:  # bottom up: a recursive clean-up (pytest's) would hit the recursion limit
        for folder in reversed(chain):
            for path in folder.iterdir():
                if not path.is_dir():
                    path.unlink()
            folder.rmdir()


def test_add_follows_links_to_folders_but_never_round_a_loop(corpus, tmp_path):
    incoming = tmp_path / "incoming"
    write(incoming / "a" / "bai-a.txt", ARTICLE)
    write(tmp_path / "elsewhere" / "bai-b.txt", ARTICLE)
    (incoming / "a" / "back").symlink_to(incoming)  # a loop
    (incoming / "self").symlink_to(".")  # another
    (incoming / "b").symlink_to(tmp_path / "elsewhere")
    report = Corpus(corpus).add([incoming])
    assert (sorted(report.added), report.problems) == (["bai-a", "bai-b"], ())


# ---------------------------------------------------------------------------------------
# Entries that are not regular files
# ---------------------------------------------------------------------------------------


def odd_entries(folder: Path) -> dict[str, str]:
    """Names like articles that are not regular files, and what each is."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dangling.txt").symlink_to(folder / "gone.txt")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "folder.txt").mkdir()
    os.mkfifo(folder / "pipe.txt")
    return {
        "dangling.txt": "a dangling symbolic link, not an article file",
        "folder.txt": "a folder, not an article file",
        "loop.txt": "a symbolic link loop, not an article file",
        "pipe.txt": "a named pipe (FIFO), not an article file",
    }


def test_sources_name_links_folders_and_fifos_without_opening_them(corpus):
    expected = odd_entries(corpus)
    write(corpus / "bai.txt", ARTICLE)
    found = list(Corpus(corpus).sources())
    assert [s.id for s in found if isinstance(s, Source)] == ["bai"]
    assert {s.path.name: str(s) for s in found if isinstance(s, SourceError)} == {
        name: f"{corpus / name}: {what}" for name, what in expected.items()
    }
    assert [p.name for p in Corpus(corpus).files()] == ["bai.txt"]


def test_add_names_and_skips_links_folders_and_fifos(corpus, tmp_path):
    incoming = tmp_path / "incoming"
    expected = odd_entries(incoming)
    write(incoming / "bai.txt", ARTICLE)
    report = Corpus(corpus).add([incoming])
    assert report.added == ("bai",)
    assert sorted(report.problems) == sorted(f"{incoming / name}: {what}" for name, what in expected.items())
    named = Corpus(corpus).add([incoming / "pipe.txt", incoming / "dangling.txt"])
    assert named.problems == (
        f"{incoming / 'pipe.txt'}: a named pipe (FIFO), not an article file",
        f"{incoming / 'dangling.txt'}: a dangling symbolic link, not an article file",
    )


def test_cli_index_exits_2_naming_each_odd_entry_and_does_not_hang(corpus, tmp_path):
    expected = odd_entries(corpus)
    write(corpus / "bai.txt", ARTICLE)
    result = searcher("--index", str(tmp_path / "index"), "--corpus", str(corpus), "index", timeout=120)
    assert result.returncode == 2
    for name, what in expected.items():
        assert f"Error: {corpus / name}: {what} (skipped)" in result.stderr.splitlines()
    assert "1 added" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------
# File names that are not UTF-8
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="file names of arbitrary bytes are a Linux thing")
def test_names_that_are_not_utf8_are_named_printably_and_skipped(corpus, tmp_path):
    os.makedirs(tmp_path / "in", exist_ok=True)
    bad = os.path.join(os.fsencode(tmp_path / "in"), b"b\xe0i.txt")  # "bài" in cp1258 bytes
    with open(bad, "wb") as f:
        f.write(ARTICLE.encode("utf-8"))
    write(tmp_path / "in" / "bài.txt", ARTICLE)
    report = Corpus(corpus).add([tmp_path / "in"])
    assert report.added == ("bài",)
    (problem,) = report.problems
    assert problem == f"{tmp_path / 'in'}/b\\xe0i.txt: bad article id 'b\\xe0i' (the name is not UTF-8)"
    problem.encode("utf-8")  # prints on a UTF-8 terminal

    with open(os.path.join(os.fsencode(corpus), b"b\xe0i.txt"), "wb") as f:
        f.write(ARTICLE.encode("utf-8"))
    result = searcher("--index", str(tmp_path / "index"), "--corpus", str(corpus), "index", timeout=120)
    assert result.returncode == 2
    assert f"Error: {corpus}/b\\xe0i.txt: bad article id 'b\\xe0i' (the name is not UTF-8) (skipped)" in result.stderr
    assert "Traceback" not in result.stderr
    assert searcher("--index", str(tmp_path / "index"), "--corpus", str(corpus), "query", "trách nhiệm").returncode == 0


# ---------------------------------------------------------------------------------------
# JSON that Python's parser cannot take
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply to read"),
        ('{"id": "a", "title": "Tin", "text": "x", "n": ' + "7" * 5000 + "}", "JSON value out of range"),
    ],
)
def test_json_too_deep_or_too_long_a_number_is_an_error_naming_the_file(corpus, tmp_path, content, message):
    path = write(corpus / "sau.json", content)
    with pytest.raises(SearcherError, match=rf"^{path}: {message}"):
        read_article(path)
    lines = write(corpus / "sau.jsonl", json.dumps({"id": "tot", "title": "Tin", "text": BODY}) + "\n" + content + "\n")
    found = list(Corpus(corpus).sources())
    assert [type(s) for s in found] == [SourceError, Source, SourceError]
    assert str(found[0]).startswith(f"{path}: {message}")
    assert str(found[2]).startswith(f"{lines}:2: {message}")
    result = searcher("--index", str(tmp_path / "index"), "--corpus", str(corpus), "index", timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"Error: {path}: {message}" in result.stderr
