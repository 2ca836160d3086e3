"""Retrieval quality: the engine beside the floor, per task, variant and split.

    python benchmarks/quality.py                      # every task, dev and test (~10 min on 2 cores)
    python benchmarks/quality.py --limit-queries 50   # a quick look: 50 queries per task and split
    python benchmarks/quality.py --tasks question title --jobs 2

The tasks, the collection and the splits are ``benchmarks/tasks.py``'s (built at run time
from the shared data beside the repository: Vietnamese XQuAD, Artetxe, Ruder, Yogatama
2020, github.com/google-deepmind/xquad, and UD_Vietnamese-VTB, both CC BY-SA 4.0, plus the
bundled news articles). The collection is written as a ``.jsonl`` corpus (one article a
line, ``{"id", "title", "text"}``) into a temporary folder, indexed by the engine and
queried through its public library API only (``engine_search``, the one function that
touches it). The floor is ``benchmarks/floor.py``: textbook BM25 over syllables + bigrams
and pyvi words, pure OR, written independently of the engine.

For every task × variant × split it prints the engine's MRR@10 (and nDCG@10 and
R-precision where a query has several relevant paragraphs), the floor's, and the ratio
engine/floor. The split is fixed (``tasks.py``): tune on dev, report test.

The engine's reader makes each article's title its paragraph 1; such a headline is not a
document of the collection, so headline hits are skipped and the next hits move up (the
floor has no headline documents to skip).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tasks as T  # noqa: E402
from _common import git_state, machine  # noqa: E402
from floor import floor_runs  # noqa: E402

LIMIT = 10
ASK = 20  # hits asked of the engine: headlines skipped, LIMIT kept

Search = Callable[[str], list[tuple[str, str]]]


def engine_search(corpus_dir: Path, index_dir: Path) -> Search:
    """The engine, through its public library API and nothing else: index ``corpus_dir``
    into ``index_dir`` (once; later calls find it up to date) and return a function
    query → [(article id, paragraph text)] of its top hits, best first. A query the engine
    refuses (``SearcherError``: nothing searchable in it) has no hits."""
    from searcher.errors import SearcherError

    try:  # the facade of the redesign (PLAN.md)
        from searcher.index import Index

        index = Index.open_or_create(index_dir, corpus=corpus_dir)
        index.sync()
    except ImportError:  # the library of today
        from searcher.store import Index

        index = Index.open_or_create(index_dir)
        index.sync(corpus_dir)

    def search(text: str) -> list[tuple[str, str]]:
        try:
            results = index.search(text, limit=ASK)
        except SearcherError:
            return []
        return [(hit.article, hit.text) for hit in results.hits]

    return search


# -- running the engine over the tasks ------------------------------------------------------

_WORKER: dict = {}


def _worker_init(corpus_dir: str, index_dir: str) -> None:
    _WORKER["search"] = engine_search(Path(corpus_dir), Path(index_dir))


def _worker_run(text: str) -> list[tuple[str, str]]:
    return _WORKER["search"](text)


def run_engine(corpus_dir: Path, index_dir: Path, texts: list[str], jobs: int) -> tuple[list, float]:
    """The engine's hits for every text, in ``jobs`` processes; (hits, seconds)."""
    started = time.perf_counter()
    if jobs <= 1:
        search = engine_search(corpus_dir, index_dir)
        out = [search(t) for t in texts]
    else:
        ctx = multiprocessing.get_context("spawn")  # a fresh engine per process
        with ctx.Pool(jobs, _worker_init, (str(corpus_dir), str(index_dir))) as pool:
            out = pool.map(_worker_run, texts, chunksize=16)
    return out, time.perf_counter() - started


def match_key(article: str, text: str) -> tuple[str, str]:
    """What a hit and a paragraph are matched on: the reader drops invisible characters
    (format characters: zero-width spaces, a BOM) and unifies white space."""
    import unicodedata

    return article, T.clean("".join(ch for ch in text if unicodedata.category(ch) != "Cf"))


def to_docs(hits: list[tuple[str, str]], paragraphs: dict[tuple[str, str], str], headlines: set[tuple[str, str]]):
    """Engine hits → document ids of the collection (headlines skipped); and how many
    hits were neither (a paragraph the engine changed: counted, never silently dropped)."""
    out, unknown = [], 0
    for article, text in hits:
        key = match_key(article, text)
        if key in paragraphs:
            out.append(paragraphs[key])
        elif key not in headlines:
            unknown += 1
            out.append(f"?{article}")  # holds its rank, relevant to nothing
    return out[:LIMIT], unknown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=T.TASKS, default=list(T.TASKS))
    parser.add_argument("--splits", nargs="+", choices=T.SPLITS, default=list(T.SPLITS))
    parser.add_argument("--limit-queries", type=int, default=0, help="at most this many queries per task and split")
    parser.add_argument("--jobs", type=int, default=2, help="engine processes (default 2)")
    args = parser.parse_args()

    print("# Retrieval quality: engine and floor")
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}; {machine()}; searcher at {git_state()}")
    collection = T.load()
    print(T.describe(collection))
    floor = floor_runs(collection)
    picked = []
    for task in args.tasks:
        for split in args.splits:
            qs = collection.select(task, split)
            picked += qs[: args.limit_queries] if args.limit_queries else qs

    with tempfile.TemporaryDirectory(prefix="searcher-quality-") as tmp:
        tmp = Path(tmp)
        corpora = {}
        for untitled, c in ((False, collection), (True, collection.untitled())):
            name = "untitled" if untitled else "titled"
            c.write_jsonl(tmp / f"corpus-{name}" / "collection.jsonl")
            corpora[untitled] = (tmp / f"corpus-{name}", tmp / f"index-{name}", c)
        results: dict = {}
        unknown_hits = 0
        for untitled, (corpus_dir, index_dir, c) in corpora.items():
            work = [(q, v) for q in picked if (q.task in T.UNTITLED_TASKS) == untitled for v in T.TASK_VARIANTS[q.task]]
            if not work:
                continue
            started = time.perf_counter()
            engine_search(corpus_dir, index_dir)  # build the index once, before the workers
            built = time.perf_counter() - started
            paragraphs = {match_key(d.article, d.text): d.id for d in c.docs}
            headlines = {match_key(a.id, a.title or "—") for a in c.articles}
            hits, seconds = run_engine(corpus_dir, index_dir, [T.VARIANTS[v](q.text) for q, v in work], args.jobs)
            print(
                f"\nengine on the {'untitled' if untitled else 'titled'} collection: index built in {built:.1f} s; "
                f"{len(work)} queries in {seconds:.0f} s ({len(work) / seconds:.1f}/s with {args.jobs} processes)"
            )
            for (q, v), h in zip(work, hits):
                docs, unknown = to_docs(h, paragraphs, headlines)
                unknown_hits += unknown
                results.setdefault((q.task, v, q.split), []).append((q, docs, floor[(q.id, v)]))
    if unknown_hits:
        print(f"\nwarning: {unknown_hits} engine hits matched no paragraph of the collection (counted as misses)")
    print_table(results, args)


def print_table(results: dict, args) -> None:
    for split in args.splits:
        print(f"\n## {split} split\n")
        print("| task | variant | queries | engine MRR@10 | floor MRR@10 | ratio | engine nDCG@10 | floor nDCG@10 | ratio | engine R-prec | floor R-prec | no hit (engine/floor) |")
        print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for task in args.tasks:
            for variant in T.TASK_VARIANTS[task]:
                rows = results.get((task, variant, split))
                if not rows:
                    continue
                qs = [r[0] for r in rows]
                e = T.mean_metrics([r[1] for r in rows], qs)
                f = T.mean_metrics([r[2] for r in rows], qs)
                empty = (sum(1 for r in rows if not r[1]), sum(1 for r in rows if not r[2]))
                cells = [task, variant, str(len(rows))]
                for m in ("MRR@10", "nDCG@10", "R-prec") if task in ("title", "topic") else ("MRR@10",):
                    cells += [f"{e[m]:.3f}", f"{f[m]:.3f}"] + ([f"{e[m] / f[m]:.3f}" if f[m] else "n/a"] if m != "R-prec" else [])
                cells += [""] * (11 - len(cells)) + [f"{empty[0]}/{empty[1]}"]
                print("| " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
