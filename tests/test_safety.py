"""Killing `searcher index` at any moment leaves an index that opens, answers, and is
brought level with the corpus by the next `searcher index` (on either engine: on the
cluster a killed incremental sync leaves writes that the next one finishes, and a killed
rebuild leaves the old index where readers look)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searcher.corpus import Corpus
from searcher.index import Index
from tests.conftest import CORPUS


def searcher(engine, index: Path, corpus: Path, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "searcher", *engine.args(index), "--corpus", str(corpus), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def assert_matches_corpus(location, corpus: Path) -> None:
    index = Index.open(location, corpus=corpus)
    sources = [s for s in Corpus(corpus).sources()]
    assert index.engine.versions() == {s.id: s.hash for s in sources}
    expected = {s.id: s.load().paragraphs for s in sources}
    assert index.stats().paragraphs == sum(len(p) for p in expected.values())  # no duplicate survives
    for article_id, paragraphs in expected.items():
        assert index.article(article_id).paragraphs == paragraphs


def mutate(corpus: Path, rng: random.Random, trial: int) -> None:
    """Add, edit and delete a few articles, so the next index has real work to do."""
    seeds = sorted(CORPUS.glob("*.txt"))
    for n in range(rng.randint(2, 6)):
        shutil.copy(rng.choice(seeds), corpus / f"t{trial}_{n}.txt")
    files = sorted(corpus.glob("*.txt"))
    for path in rng.sample(files, 3):
        path.write_text(path.read_text(encoding="utf-8").replace("cán bộ", f"cán bộ (lần {trial})", 1), encoding="utf-8")
    for path in rng.sample(sorted(corpus.glob("*.txt")), 2):
        path.unlink()


@pytest.mark.slow
def test_sigkill_during_indexing_never_corrupts_the_index(engine, tmp_path):
    rng = random.Random(20261125)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for copy in range(5):
        for seed in CORPUS.glob("*.txt"):
            shutil.copy(seed, corpus / f"{seed.stem}_{copy}.txt")
    index = tmp_path / "index"
    started = time.monotonic()
    code, _, err = finish(searcher(engine, index, corpus, "index", "--jobs", "2"))
    assert code == 0, err
    full = time.monotonic() - started

    for trial in range(10 if engine.name == "embedded" else 6):
        mutate(corpus, rng, trial)
        args = ["index", "--rebuild", "--jobs", "2"] if trial % 3 == 0 else ["index", "--jobs", "2"]
        proc = searcher(engine, index, corpus, *args)
        time.sleep(rng.uniform(0.05, full * 0.9))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

        # The index opens and answers (from the old state or the new one).
        opened = Index.open(engine.location(index))
        assert opened.stats().paragraphs > 0
        code, out, err = finish(searcher(engine, index, corpus, "query", "trách nhiệm", "-n", "3"))
        assert code == 0, err
        assert len(out.splitlines()) == 3
        assert "Traceback" not in err

        # One more `searcher index` finishes the job.
        code, _, err = finish(searcher(engine, index, corpus, "index", "--jobs", "2"))
        assert code == 0, err
        assert_matches_corpus(engine.location(index), corpus)

    # Workers of killed runs went with their parent.
    deadline = time.monotonic() + 10
    while True:
        found = subprocess.run(["pgrep", "-a", "-f", engine.marker(index)], capture_output=True, text=True).stdout
        leftovers = [line for line in found.splitlines() if int(line.split()[0]) != os.getpid()]
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert leftovers == []
