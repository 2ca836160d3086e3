"""Issue 12, the fault matrix: every fault listed in the issue, caused as a user would
cause it and run through the command line (a real process, as typed), then checked the
same way: no traceback, the documented exit status, one ``Error: …`` line naming the
culprit, the index still answering, no stray file in the corpus, nothing changed outside
the test's folder. Plus fuzzing of queries and of corpus files (hypothesis).

Cases already reproduced by ``tests/corpus/test_faults.py`` are named there:
a planted link at a temporary name (``test_a_planted_link_at_a_temporary_name_is_never_followed``),
ENOSPC in the corpus (``test_a_full_disk_leaves_no_temporary_file_and_names_the_folder``,
``test_cli_add_that_cannot_write_exits_2_without_a_traceback_or_a_temporary_file``),
ids of 300 bytes or with NUL (``test_bad_json_ids_are_refused_naming_the_file``),
hidden folders (``test_add_folder_skips_hidden_files_and_folders``), a folder 1,500 deep
(``test_add_a_folder_1500_levels_deep``), dangling links, loops, folders and FIFOs
(``test_cli_index_exits_2_naming_each_odd_entry_and_does_not_hang``), names that are not
UTF-8 (``test_names_that_are_not_utf8_are_named_printably_and_skipped``), JSON 100,000 deep
and 5,000-digit numbers (``test_json_too_deep_or_too_long_a_number_is_an_error_naming_the_file``).
Each also has a command-line case here.

Full-disk and read-only cases mount a small tmpfs or a read-only bind mount (root only);
where the machine cannot, they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import CORPUS, REPO, SEED_IDS, default_signals

ARTICLE = SEED_IDS[0]
TRACEBACK = re.compile(r"Traceback|^\s+File \"", re.MULTILINE)


# -- running the command as a user does --------------------------------------------------


class Run:
    def __init__(self, process: subprocess.CompletedProcess):
        self.status = process.returncode
        self.stdout = process.stdout
        self.stderr = process.stderr

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]


def searcher(*args: str, index: Path, corpus: Path, input: str | None = None, timeout: float = 120, env=None) -> Run:
    command = [sys.executable, "-m", "searcher", "--index", str(index), "--corpus", str(corpus), *args]
    environment = {**os.environ, "NO_COLOR": "1", **(env or {})}
    process = subprocess.run(
        command, input=input, capture_output=True, text=True, timeout=timeout, env=environment, cwd=index.parent
    )
    return Run(process)


def clean(result: Run, *statuses: int) -> Run:
    """No traceback; an expected exit status; an error is one line naming something."""
    assert not TRACEBACK.search(result.stderr), result.stderr
    assert result.status in statuses, (result.status, result.stderr[-2000:])
    if result.status == 2:
        assert result.errors, result.stderr
    return result


def records(stdout: str) -> list[dict]:
    """JSON Lines: split at newlines only (a record may hold U+2028, which splitlines cuts at)."""
    return [json.loads(line) for line in stdout.split("\n") if line]


def stray(corpus: Path) -> list[str]:
    """Files in the corpus that no user put there: temporary or hidden ones."""
    return [p.name for p in corpus.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


def answers(index: Path, corpus: Path) -> None:
    """The index opens and answers a query."""
    result = clean(searcher("query", "--json", "trách nhiệm", index=index, corpus=corpus), 0)
    assert records(result.stdout)[-1]["type"] == "summary"


def tree_state(folder: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module", autouse=True)
def nothing_outside_changes():
    """The repository's own corpus and index are the same after the module as before."""
    before = {name: tree_state(REPO / name) for name in ("corpus", "index") if (REPO / name).is_dir()}
    yield
    after = {name: tree_state(REPO / name) for name in before}
    assert after == before


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """An index of the bundled corpus, built once through the command line."""
    folder = tmp_path_factory.mktemp("built")
    shutil.copytree(CORPUS, folder / "corpus")
    clean(searcher("index", index=folder / "index", corpus=folder / "corpus"), 0)
    return folder


@pytest.fixture
def world(built, tmp_path) -> tuple[Path, Path]:
    """A corpus and its index of this test's own (copies), and a folder beside them
    whose contents must not change."""
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    shutil.copytree(built / "index", tmp_path / "index")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("must not change", encoding="utf-8")
    yield tmp_path / "index", tmp_path / "corpus"
    assert (outside / "secret.txt").read_text(encoding="utf-8") == "must not change"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert stray(tmp_path / "corpus") == []


# -- queries that are too deep or too long ----------------------------------------------

DEEP_QUERIES = {
    "300 nested (": "(" * 300 + "trách",
    "250 nested (a OR (b OR …": "(trách OR " * 250 + "nhiệm" + ")" * 250,
    "deep exclusions -(-(…": "-(trách " * 300 + "nhiệm",
    "5,000 words": " ".join(["trách nhiệm"] * 2500),
    "10,000 ORs": " OR ".join(["trách"] * 10_000),
    "one phrase of 3,000 syllables": '"' + " ".join(["trách"] * 3000) + '"',
    "100,000 characters": "a" * 100_000,
}


@pytest.mark.parametrize("name", DEEP_QUERIES)
def test_a_query_too_deep_or_too_long_is_one_error_naming_it(world, name):
    index, corpus = world
    query = DEEP_QUERIES[name]
    result = clean(searcher("query", "--", query, index=index, corpus=corpus), 2)
    assert len(result.errors) == 1 and result.errors[0].startswith("Error: the query '")
    assert "too" in result.errors[0]  # too deeply / too long


def test_deep_queries_in_every_command_that_takes_one(world):
    index, corpus = world
    query = DEEP_QUERIES["250 nested (a OR (b OR …"]
    for args in (("show", ARTICLE, "--query", query), ("trend", "--", query), ("query", "--explain", "--", query)):
        result = clean(searcher(*args, index=index, corpus=corpus), 2)
        assert "nests parentheses too deeply" in result.errors[-1], args


def test_a_batch_of_bad_queries_goes_on_and_reports_each(world):
    index, corpus = world
    lines = [
        DEEP_QUERIES["300 nested ("],
        json.dumps({"id": "deep", "query": DEEP_QUERIES["250 nested (a OR (b OR …"]}),
        "[" * 100_000,  # a JSON-looking line nested too deep for Python
        '{"id": 7}',
        "-trách",  # nothing to search for
        DEEP_QUERIES["10,000 ORs"],
        "trách nhiệm",
    ]
    for extra in ((), ("--json",)):
        result = clean(searcher("query", "--batch", "-", *extra, input="\n".join(lines) + "\n", index=index, corpus=corpus), 2)
        answers_ = records(result.stdout)
        errors = [r for r in answers_ if r["type"] == "error"]
        assert [e["query_id"] for e in errors] == [1, "deep", 3, 4, 5, 6]
        assert all(set(e) >= {"query_id", "query", "message"} for e in errors)
        assert answers_[-1]["type"] == "summary" and answers_[-1]["query"] == "trách nhiệm"


def test_the_web_api_answers_400_to_a_deep_query_and_a_bad_date(world):
    from fastapi.testclient import TestClient

    from searcher.web.app import create_app

    index, corpus = world
    with TestClient(create_app(index, corpus), raise_server_exceptions=False) as client:
        for query in ("(" * 300 + "a", "(a OR " * 40 + "b" + ")" * 40 + " " + "(" * 60 + "c"):
            for path in ("/api/search", "/api/trend"):
                response = client.get(path, params={"q": query})
                assert response.status_code == 400, (path, response.text)
                assert "too" in response.json()["error"]
        for date in ("2024-13-45", "2024-02-30"):
            response = client.get("/api/search", params={"q": "trách", "since": date})
            assert response.status_code == 400
            assert "YYYY" in response.json()["error"]
        assert client.get("/", params={"q": "(" * 300 + "a"}).status_code == 400


# -- a damaged index --------------------------------------------------------------------


def segment_file(index: Path, suffix: str) -> Path:
    (found,) = [p for p in index.iterdir() if p.name.startswith("searcher_v") and p.name.endswith(suffix)]
    return found


def truncate(path: Path) -> None:
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def zero_fill(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def zero_middle(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 3)
        f.write(bytes(max(1, size // 3)))


def empty(path: Path) -> None:
    path.write_bytes(b"")


DAMAGE = {
    ".pst truncated": (".pst", truncate),
    ".pst zero-filled": (".pst", zero_fill),
    ".pst zeroed in the middle": (".pst", zero_middle),
    ".trm emptied": (".trm", empty),
    ".trm zero-filled": (".trm", zero_fill),
    "_stored.col zeroed": ("_stored.col", zero_fill),
    "_stored.col deleted": ("_stored.col", Path.unlink),
    "_syl_len.col zeroed": ("_syl_len.col", zero_fill),
    "_word_len.col zeroed": ("_word_len.col", zero_fill),
    "_tsyl_len.col truncated": ("_tsyl_len.col", truncate),
}


@pytest.mark.parametrize("name", DAMAGE)
def test_a_damaged_index_is_named_by_every_command_and_index_repairs_it(world, name):
    index, corpus = world
    suffix, damage = DAMAGE[name]
    expected = searcher("query", "--json", "trách nhiệm", index=index, corpus=corpus).stdout
    damage(segment_file(index, suffix))
    for args in (("query", "trách nhiệm"), ("stats",), ("show", ARTICLE), ("query", "--batch", "-")):
        result = clean(searcher(*args, index=index, corpus=corpus, input="trách nhiệm\n"), 2)
        assert "is damaged" in result.errors[-1] and "searcher index --rebuild" in result.errors[-1], (args, result.stderr)
    result = clean(searcher("index", index=index, corpus=corpus), 0)
    assert f"Warning: rebuilt the index at {index} from the corpus (it was damaged: " in result.stderr
    answers(index, corpus)
    after = searcher("query", "--json", "trách nhiệm", index=index, corpus=corpus).stdout
    drop_elapsed = lambda text: re.sub(r'"elapsed_ms": [0-9.]+', "", text)  # noqa: E731
    assert drop_elapsed(after) == drop_elapsed(expected)


@pytest.mark.slow
def test_each_segment_file_missing_is_named_and_index_rebuild_repairs_it(world, tmp_path):
    index, corpus = world
    names = sorted(p.name for p in index.iterdir() if p.name.startswith("searcher_v") and "." in p.name)
    assert len(names) >= 5
    pristine = tmp_path / "pristine"
    shutil.copytree(index, pristine)
    for name in names:
        (index / name).unlink()
        result = clean(searcher("query", "trách", index=index, corpus=corpus), 2)
        assert f"{name} is missing" in result.errors[-1]
        clean(searcher("index", "--rebuild", index=index, corpus=corpus), 0)
        answers(index, corpus)
        shutil.rmtree(index)
        shutil.copytree(pristine, index)


def test_an_index_written_without_checksums_still_reports_damage(world):
    index, corpus = world
    for sums in index.glob("_*.sums"):
        sums.unlink()
    zero_middle(segment_file(index, ".pst"))
    result = clean(searcher("query", "trách nhiệm", index=index, corpus=corpus), 2)
    assert "is damaged" in result.errors[-1]
    result = clean(searcher("index", index=index, corpus=corpus), 0)
    assert "(its files carry no checksums: written by an earlier version)" in result.stderr
    answers(index, corpus)


# -- disk full and read-only --------------------------------------------------------------


def _mount(*args: str) -> str | None:
    """Run mount; the reason it cannot be done, or None."""
    if os.geteuid() != 0:
        return "mounting a tmpfs or a bind mount needs root"
    try:
        done = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"mount failed: {exc}"
    return None if done.returncode == 0 else f"mount failed: {done.stderr.strip()}"


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB tmpfs."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    problem = _mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mountpoint))
    if problem:
        pytest.skip(f"no small disk for the full-disk cases: {problem}")
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` up to the last block: a file to remove to free the space again."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def many_articles(target: Path, copies: int) -> None:
    """``copies`` variants of each bundled article (enough paragraphs for the workers)."""
    target.mkdir(exist_ok=True)
    for i in range(copies):
        for source in sorted(CORPUS.glob("*.txt")):
            text = source.read_text(encoding="utf-8")
            (target / f"{source.stem}_{i}.txt").write_text(f"{text}\n\nBản sao số {i}.\n", encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_full_disk_under_the_index_keeps_the_last_commit_and_the_next_index_completes(small_disk, tmp_path, jobs):
    index, corpus = small_disk / "index", tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    clean(searcher("index", index=index, corpus=corpus), 0)
    many_articles(corpus, 8)  # 760 paragraphs more: with two jobs, written by the workers
    filler = fill(small_disk)
    for args in (("index", "--jobs", jobs), ("index", "--rebuild", "--jobs", jobs)):
        result = clean(searcher(*args, index=index, corpus=corpus, timeout=120), 2)
        assert result.errors[-1].startswith(f"Error: the index folder {index} is full"), result.stderr
        answers(index, corpus)  # the last commit
        assert not [p for p in index.iterdir() if ".tmp" in p.name or ".toc." in p.name]
        assert not [p for p in index.iterdir() if p.name.startswith("searcher_v") and "." in p.name and p.stat().st_size == 0]
    filler.unlink()  # space freed: the next index completes
    clean(searcher("index", "--jobs", jobs, index=index, corpus=corpus, timeout=300), 0)
    answers(index, corpus)
    assert stats(index, corpus)["articles"] == len(SEED_IDS) * 9


@pytest.mark.slow
def test_add_to_a_full_corpus_disk_changes_nothing(small_disk, tmp_path):
    corpus, index = small_disk / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    clean(searcher("index", index=index, corpus=corpus), 0)
    before = sorted(p.name for p in corpus.iterdir())
    big = tmp_path / "big.txt"
    big.write_text("Tiêu đề\n\n" + "Một câu dài về trách nhiệm cán bộ. " * 60_000, encoding="utf-8")
    fill(small_disk)
    result = clean(searcher("add", str(big), index=index, corpus=corpus), 2)
    assert str(corpus) in result.errors[-1] and "No space left" in result.errors[-1]
    assert sorted(p.name for p in corpus.iterdir()) == before
    assert stray(corpus) == []
    answers(index, corpus)


@pytest.fixture
def read_only_index(world, tmp_path):
    index, corpus = world
    view = tmp_path / "ro-index"
    view.mkdir()
    problem = _mount("--bind", str(index), str(view)) or _mount("-o", "remount,bind,ro", str(view))
    if problem:
        subprocess.run(["umount", "-l", str(view)], check=False)
        pytest.skip(f"no read-only bind mount: {problem}")
    yield view, corpus
    subprocess.run(["umount", "-l", str(view)], check=False)


def test_a_read_only_index_answers_queries_and_refuses_writes(read_only_index):
    index, corpus = read_only_index
    clean(searcher("query", "trách nhiệm", index=index, corpus=corpus), 0)
    clean(searcher("show", ARTICLE, index=index, corpus=corpus), 0)
    clean(searcher("stats", index=index, corpus=corpus), 0)
    clean(searcher("trend", "trách", index=index, corpus=corpus), 0)
    (corpus / "new.txt").write_text("Tiêu đề mới\n\nMột đoạn mới về trách nhiệm.\n", encoding="utf-8")
    result = clean(searcher("query", "trách nhiệm", index=index, corpus=corpus), 0)
    assert "has changed since the last index" in result.stderr  # answered, and warned
    (corpus / "new.txt").unlink()
    for args in (("index",), ("index", "--rebuild"), ("remove", ARTICLE)):
        result = clean(searcher(*args, index=index, corpus=corpus), 2)
        assert result.errors == [f"Error: the index folder {index} is not writable (Read-only file system)"]
    before = sorted(p.name for p in corpus.iterdir())
    outside_file = index.parent / "new-article.txt"
    outside_file.write_text("Tiêu đề\n\nĐoạn.\n", encoding="utf-8")
    clean(searcher("add", str(outside_file), index=index, corpus=corpus), 2)
    assert sorted(p.name for p in corpus.iterdir()) == before  # refused before the corpus changed


# -- signals ------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children] + [d for c in children for d in _descendants(int(c))]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("signame, ends", [("SIGINT", False), ("SIGTERM", True), ("SIGHUP", True)])
def test_a_worker_signalled_before_it_sets_its_handlers_acts_as_a_worker(signame, ends):
    """A forked worker inherits the command's handlers until it sets its own: a signal in
    that moment (a terminal signals every process of the command) must not raise the
    command's exception in the worker (a traceback from multiprocessing's bootstrap), but
    do what the worker will: ignore Ctrl-C, end at once on SIGTERM or SIGHUP."""
    script = f"""
import os, signal, sys, time
from searcher.cli import handle_signals
handle_signals()
pid = os.fork()
if pid == 0:
    os.kill(os.getpid(), signal.{signame})  # before any handler of its own
    time.sleep(0.2)
    os._exit(7)
_, status = os.waitpid(pid, 0)
print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          preexec_fn=default_signals)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    signum = getattr(signal, signame)
    assert int(done.stdout) == (signum if ends else -7)



@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to see the worker processes")
@pytest.mark.parametrize(
    "signame, twice, command",
    [
        ("SIGINT", False, ("index", "--rebuild", "--jobs", "2")),
        ("SIGINT", True, ("index", "--rebuild", "--jobs", "2")),
        ("SIGTERM", False, ("index", "--rebuild", "--jobs", "2")),
        ("SIGHUP", False, ("index", "--rebuild", "--jobs", "2")),
        ("SIGINT", False, ("add", "{extra}", "--jobs", "2")),
        ("SIGTERM", True, ("add", "{extra}", "--jobs", "2")),
        ("SIGHUP", False, ("query", "trách nhiệm")),
    ],
)
def test_signals_end_every_command_and_its_workers_with_the_last_commit_left(world, tmp_path, signame, twice, command):
    index, corpus = world
    extra = tmp_path / "extra"
    many_articles(extra, 6)
    if command[0] == "index":
        many_articles(corpus, 8)  # enough paragraphs for the workers
    if command[0] == "query":
        shutil.rmtree(index)  # a first query builds the index: long enough to be signalled
        many_articles(corpus, 4)
    signum = getattr(signal, signame)
    argv = [sys.executable, "-m", "searcher", "--index", str(index), "--corpus", str(corpus)]
    argv += [part.format(extra=extra) for part in command]
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=default_signals
    )
    deadline = time.monotonic() + 60
    wants_workers = "--jobs" in command
    while time.monotonic() < deadline and process.poll() is None:
        if not wants_workers or len(_descendants(process.pid)) >= 2:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    assert process.poll() is None, "ended before the signal"
    family = [process.pid, *_descendants(process.pid)]
    os.killpg(process.pid, signum)  # as a terminal does: to every process of the command
    if twice:
        time.sleep(0.2)
        os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=30)
    gone = time.monotonic() + 2.0
    while time.monotonic() < gone and any(_alive(pid) for pid in family):
        time.sleep(0.05)
    assert not [pid for pid in family if _alive(pid)], "a worker outlived the command"
    assert process.returncode == 128 + signum, stderr
    assert not TRACEBACK.search(stderr), stderr
    assert stderr.strip().splitlines()[-1] in ("Interrupted", f"Stopped by {signame}")
    if command[0] != "query":
        answers(index, corpus)  # the last commit
    clean(searcher("index", index=index, corpus=corpus, timeout=300), 0)  # and the next index completes
    answers(index, corpus)


# -- memory ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_huge_paragraph_is_split_and_indexed_in_bounded_memory(tmp_path):
    """A 2 MB file without a line break (it took 3.1 GB at 5 MB; the README states the
    limit); peak memory of the command is read from the kernel (ru_maxrss of children)."""
    import resource

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    sentence = "Cán bộ sợ trách nhiệm nên né tránh việc khó, đùn đẩy cho người khác. "
    (corpus / "long.txt").write_text("Một bài không xuống dòng\n\n" + sentence * (2_000_000 // len(sentence.encode())), encoding="utf-8")
    result = clean(searcher("index", "--jobs", "1", index=index, corpus=corpus, timeout=600), 0)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert peak_mb < 500, peak_mb
    paragraphs = int(re.search(r"\((\d+) paragraphs written", result.stderr).group(1))
    assert paragraphs > 150  # 2 MB in pieces of at most 10,000 characters
    hit = records(searcher("query", "--json", "-n", "1", "né tránh", index=index, corpus=corpus).stdout)[0]
    assert len(hit["text"]) <= 10_000


# -- bookkeeping --------------------------------------------------------------------------


def stats(index: Path, corpus: Path) -> dict:
    return json.loads(clean(searcher("stats", "--json", index=index, corpus=corpus), 0).stdout)


@pytest.mark.slow
def test_stats_after_adds_and_removes_match_a_rebuild(world, tmp_path):
    index, corpus = world
    new = tmp_path / "new.txt"
    steps = [
        ("add", "new"),
        ("remove", SEED_IDS[1]),
        ("add", "new-changed"),
        ("add", "jsonl"),
        ("remove", "rec-1"),
        ("index",),
        ("remove", "new"),
        ("add", "json-replacing-txt"),
    ]
    for step in steps:
        if step[0] == "add":
            what = step[1]
            if what.startswith("new"):
                new.write_text(f"Tiêu đề {what}\n\nĐoạn về trách nhiệm {what}.\n", encoding="utf-8")
                path = new
            elif what == "jsonl":
                path = tmp_path / "batch.jsonl"
                path.write_text(
                    "\n".join(json.dumps({"id": f"rec-{i}", "title": f"Bài {i}", "text": f"Đoạn {i} về cán bộ."}) for i in range(3)),
                    encoding="utf-8",
                )
            else:
                path = tmp_path / f"{SEED_IDS[2]}.json"
                path.write_text(json.dumps({"id": SEED_IDS[2], "title": "Thay", "text": "Một đoạn thay thế."}), encoding="utf-8")
            clean(searcher("add", str(path), index=index, corpus=corpus), 0)
        elif step[0] == "remove":
            clean(searcher("remove", step[1], index=index, corpus=corpus), 0)
        else:
            clean(searcher("index", index=index, corpus=corpus), 0)
    rebuilt = tmp_path / "rebuilt"
    clean(searcher("index", index=rebuilt, corpus=corpus), 0)
    incremental, fresh = stats(index, corpus), stats(rebuilt, corpus)
    for key in ("articles", "paragraphs", "terms", "words"):
        assert incremental[key] == fresh[key], key
    assert incremental["articles"] == len(SEED_IDS) - 1 + 2  # two seeds left the corpus, rec-0 and rec-2 came


def test_a_skipped_file_does_not_make_every_query_warn(world):
    index, corpus = world
    (corpus / "broken.json").write_text("{not json", encoding="utf-8")
    clean(searcher("index", index=index, corpus=corpus), 2)
    result = clean(searcher("query", "trách nhiệm", index=index, corpus=corpus), 0)
    assert "has changed" not in result.stderr
    (corpus / "broken.json").unlink()


def test_an_index_inside_the_corpus_folder_is_refused(world):
    _, corpus = world
    for inside in (corpus / "index", corpus):
        for args in (("index",), ("query", "trách")):
            result = clean(searcher(*args, index=inside, corpus=corpus), 2)
            assert "is inside the corpus folder" in result.errors[-1]
    assert not (corpus / "index").exists()


# -- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize("date", ["2024-13-45", "2024-02-30", "2023-02-29", "0000", "2024-1", "24", "2024-00", "２０２４"])
def test_impossible_dates_are_refused_showing_the_forms(world, date):
    index, corpus = world
    for command in ("query", "trend"):
        for option in ("--since", "--until"):
            result = clean(searcher(command, "trách", option, date, index=index, corpus=corpus), 2)
            assert "YYYY, YYYY-MM or YYYY-MM-DD" in result.stderr


def test_the_three_date_forms_are_accepted_and_in_the_help(world):
    index, corpus = world
    for date in ("2024", "2024-02", "2024-02-29"):
        clean(searcher("query", "trách", "--since", date, index=index, corpus=corpus), 0, 1)
    for command in ("query", "trend"):
        assert "YYYY, YYYY-MM" in searcher(command, "--help", index=index, corpus=corpus).stdout


# -- the corpus side, through the command line (the library cases: tests/corpus/test_faults.py)


def test_bad_ids_are_refused_and_nothing_is_written_outside(world, tmp_path):
    index, corpus = world
    ids = [".hidden", ".", "..", "..%2f..%2foutside%2fsecret", "a/b", "a\u0000b", "x" * 300]
    records = tmp_path / "bad.jsonl"
    records.write_text("\n".join(json.dumps({"id": i, "title": "T", "text": "Đoạn."}) for i in ids), encoding="utf-8")
    result = clean(searcher("add", str(records), index=index, corpus=corpus), 2)
    assert len(result.errors) == len(ids)
    for article_id in (".hidden", "..%2f..%2foutside%2fsecret"):
        clean(searcher("show", article_id, index=index, corpus=corpus), 2)
        clean(searcher("remove", article_id, index=index, corpus=corpus), 2)
    assert sorted(p.stem for p in corpus.iterdir()) == SEED_IDS


def test_a_planted_link_at_the_temporary_name_is_not_followed(world, tmp_path):
    index, corpus = world
    target = tmp_path / "outside" / "secret.txt"
    (corpus / ".new-article.txt.tmp").symlink_to(target)
    new = tmp_path / "new-article.txt"
    new.write_text("Tiêu đề\n\nĐoạn mới.\n", encoding="utf-8")
    clean(searcher("add", str(new), index=index, corpus=corpus), 0)
    assert not (corpus / "new-article.txt").is_symlink()
    (corpus / ".new-article.txt.tmp").unlink()


def test_add_a_folder_skips_hidden_folders_and_names_odd_entries(world, tmp_path):
    index, corpus = world
    folder = tmp_path / "incoming"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "config.json").write_text(json.dumps({"title": "git", "text": "không phải bài"}), encoding="utf-8")
    (folder / "ok.txt").write_text("Tiêu đề\n\nMột bài được thêm.\n", encoding="utf-8")
    (folder / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "dir.txt").mkdir()
    os.mkfifo(folder / "pipe.txt")
    chain = [folder]
    for _ in range(1500):
        chain.append(chain[-1] / "d")
        chain[-1].mkdir()
    (chain[-1] / "deepest.txt").write_text("Tiêu đề\n\nBài ở tầng 1.500.\n", encoding="utf-8")
    try:
        result = clean(searcher("add", str(folder), index=index, corpus=corpus, timeout=120), 2)
    finally:  # bottom up: a recursive clean-up (pytest's) would hit the recursion limit
        for level in reversed(chain[1:]):
            for path in level.iterdir():
                path.unlink()
            level.rmdir()
    for name in ("dangling.txt", "loop.txt", "dir.txt", "pipe.txt"):
        assert any(name in line for line in result.errors), (name, result.errors)
    assert not (corpus / "config.json").exists()
    assert (corpus / "ok.txt").exists() and (corpus / "deepest.txt").exists()
    answers(index, corpus)


@pytest.mark.slow
def test_a_name_that_is_not_utf8_beside_hundreds_of_paragraphs_does_not_hang(world):
    index, corpus = world
    many_articles(corpus, 6)
    bad = os.path.join(os.fsencode(corpus), b"bad-\xff\xfe.txt")
    with open(bad, "wb") as f:
        f.write("Tiêu đề\n\nĐoạn.\n".encode())
    result = clean(searcher("index", "--jobs", "2", index=index, corpus=corpus, timeout=300), 2)
    assert any("bad-" in line for line in result.errors)
    os.unlink(bad)
    answers(index, corpus)


@pytest.mark.parametrize(
    "name, content",
    [
        ("deep.json", "[" * 100_000),
        ("number.json", '{"title": "t", "text": "a", "x": ' + "9" * 5000 + "}"),
        ("empty.txt", ""),
        ("nul.txt", "\x00" * 1000),
        ("binary.html", "\x89PNG\r\n\x1a\n" + "\x00\xff" * 500),
        ("bom-only.txt", "\ufeff"),
    ],
)
def test_bad_corpus_files_are_named_and_the_others_indexed(world, name, content):
    index, corpus = world
    (corpus / name).write_text(content, encoding="utf-8")
    result = clean(searcher("index", index=index, corpus=corpus), 0, 2)
    if result.status == 2:
        assert any(name in line for line in result.errors)
    answers(index, corpus)
    (corpus / name).unlink()


# -- fuzzing ------------------------------------------------------------------------------

SYNTAX = st.sampled_from(["(", ")", '"', "-", " ", "OR", "title:", "article:", "trách", "nhiệm", "so", "cán bộ", "\u200b", "\x00", ":"])


@st.composite
def queries(draw):
    parts = draw(st.lists(st.one_of(SYNTAX, st.text(max_size=8)), max_size=40))
    query = "".join(p if p in ("(", ")", '"', "-") else f" {p} " for p in parts)
    if draw(st.booleans()):
        depth = draw(st.integers(0, 400))
        query = "(" * depth + query + ")" * draw(st.integers(0, depth))
    return query


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=queries())
def test_fuzzed_queries_answer_or_say_why(built, query):
    from searcher.errors import SearcherError
    from searcher.index import Index

    index = _library(built)
    for call in (lambda: index.search(query, limit=3), lambda: index.trend(query), lambda: index.highlights(query, ["trách nhiệm cán bộ"])):
        try:
            call()
        except SearcherError as exc:
            assert "\n" not in str(exc)


_LIBRARIES: dict = {}


def _library(folder: Path):
    from searcher.index import Index

    if folder not in _LIBRARIES:
        _LIBRARIES[folder] = Index.open(folder / "index", corpus=folder / "corpus")
    return _LIBRARIES[folder]


def test_a_batch_of_fuzzed_queries_through_the_command_line(world):
    """One process, 300 queries drawn by hypothesis: a record for each, no traceback."""
    index, corpus = world
    drawn = []

    @settings(max_examples=300, deadline=None, database=None)
    @given(query=queries())
    def collect(query):
        drawn.append(query)

    collect()
    lines = [json.dumps({"id": i, "query": q}) for i, q in enumerate(drawn)]
    result = clean(searcher("query", "--batch", "-", "-n", "2", input="\n".join(lines) + "\n", index=index, corpus=corpus), 0, 1, 2)
    answered = {r["query_id"] for r in records(result.stdout) if r["type"] in ("summary", "error")}
    assert answered == set(range(len(drawn)))


NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=NAMES, suffix=st.sampled_from([".txt", ".json", ".jsonl", ".html"]), content=st.binary(max_size=3000))
def test_fuzzed_corpus_files_parse_or_are_named(tmp_path_factory, name, suffix, content):
    from searcher.corpus import Corpus, SourceError
    from searcher.errors import SearcherError

    corpus = tmp_path_factory.mktemp("fuzz")
    try:
        (corpus / (name + suffix)).write_bytes(content)
    except OSError:  # a name the file system refuses (too long in bytes)
        return
    for source in Corpus(corpus).sources():
        if isinstance(source, SourceError):
            assert "\n" not in str(source)
            continue
        try:
            article = source.load()
        except SearcherError as exc:
            assert "\n" not in str(exc)
            continue
        assert all(len(p) <= 10_000 for p in article.paragraphs)


@pytest.mark.slow
def test_a_corpus_of_fuzzed_files_through_the_command_line(world):
    """Hypothesis draws 80 files (names and bytes); one `searcher index` over all of them."""
    index, corpus = world
    drawn = []

    @settings(max_examples=80, deadline=None, database=None)
    @given(name=NAMES, suffix=st.sampled_from([".txt", ".json", ".jsonl", ".html"]), content=st.binary(max_size=3000))
    def collect(name, suffix, content):
        drawn.append((name, suffix, content))

    collect()
    for i, (name, suffix, content) in enumerate(drawn):
        try:
            (corpus / f"{i}-{name}{suffix}").write_bytes(content)
        except OSError:
            pass
    clean(searcher("index", "--jobs", "2", index=index, corpus=corpus, timeout=300), 0, 2)
    answers(index, corpus)
    for path in list(corpus.iterdir()):
        if path.stem not in SEED_IDS:
            path.unlink()
