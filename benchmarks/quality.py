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
    parser.add_argument(
        "--semantic",
        action="store_true",
        help="lexical, semantic-only and hybrid side by side, the fusion fitted by CV on dev (hybrid_lab.py); "
        "embeddings cached in benchmarks/data/embeddings",
    )
    parser.add_argument("--variants", nargs="+", choices=list(T.VARIANTS), help="only these variants (--semantic)")
    parser.add_argument("--verify", type=int, default=200, help="--semantic: engine runs checked against the replay")
    parser.add_argument("--replay", action="store_true",
                        help="--semantic: refit from the candidates the last run saved (benchmarks/data/quality-semantic)")
    args = parser.parse_args()
    if args.semantic:
        return semantic_main(args)

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

# -- --semantic: lexical, e5 alone and hybrid ---------------------------------------------


def semantic_index(corpus_dir: Path, index_dir: Path, log=print):
    """The collection indexed with embeddings (cached by model and text: reruns embed nothing new)."""
    from embedding_cache import DEFAULT_DIR, CachedEmbedder, EmbeddingCache
    from searcher.index import Index
    from searcher.semantic.embedder import load_embedder

    inner = load_embedder(threads=1)
    embedder = CachedEmbedder(inner, EmbeddingCache(DEFAULT_DIR, inner.model_id, inner.dim))
    index = Index.open_or_create(index_dir, corpus=corpus_dir)
    report = index.sync(semantic=True, embedder=embedder)
    log(f"  {index_dir.name}: {report.summary()}; {report.embeddings.summary() if report.embeddings else 'embeddings up to date'}"
        f"; {embedder.embedded} passages embedded now, the rest from the cache")
    return index


def semantic_main(args) -> None:
    import hybrid_lab as H

    print("# Retrieval quality: lexical, semantic (e5 alone) and hybrid, beside the floor")
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}; {machine()}; searcher at {git_state()}")
    collection = T.load()
    print(T.describe(collection))
    floor = floor_runs(collection)
    FLOOR.update(floor)
    picked = []
    for task in args.tasks:
        for split in args.splits:
            qs = collection.select(task, split)
            picked += qs[: args.limit_queries] if args.limit_queries else qs
    base = Path(__file__).resolve().parent / "data" / "quality-semantic"
    records = []
    indexes = {}
    import pickle

    saved = base / "records.pickle"
    for untitled, c in ((False, collection), (True, collection.untitled())):
        name = "untitled" if untitled else "titled"
        work = [
            (q, v, T.VARIANTS[v](q.text))
            for q in picked
            if (q.task in T.UNTITLED_TASKS) == untitled
            for v in T.TASK_VARIANTS[q.task]
            if not args.variants or v in args.variants
        ]
        if not work:
            continue
        c.write_jsonl(base / f"corpus-{name}" / "collection.jsonl")
        index = semantic_index(base / f"corpus-{name}", base / f"index-{name}")
        paragraphs = {match_key(d.article, d.text): d.id for d in c.docs}
        headlines = {match_key(a.id, a.title or "—") for a in c.articles}
        indexes[name] = (index, paragraphs, headlines)
        if args.replay:
            continue
        started = time.perf_counter()
        got = H.collect(index, work, paragraphs, headlines, progress=print)
        print(f"  {name}: {len(work)} queries collected in {time.perf_counter() - started:.0f} s")
        for r in got:
            r.collection = name
        records += got
    if args.replay:
        records = pickle.loads(saved.read_bytes())
        print(f"  {len(records)} queries' candidates read from {saved}")
    else:
        saved.write_bytes(pickle.dumps(records))

    dev = [r for r in records if r.query.split == "dev"]
    started = time.perf_counter()
    cv, per_fold, value, final, structures, scores = H.cross_validate(dev)
    print(f"\n## The fit (5-fold CV over every dev query of every task and variant; {time.perf_counter() - started:.0f} s)\n")
    print(f"grid: lexical pool {H.POOLS}, nearest {H.NEARESTS}, tiers kept or not, accentless {H.ACCENTLESS}, "
          f"keyword weight and question weight each in {H.WEIGHTS[0]}..{H.WEIGHTS[-1]} step 0.05")
    for f, s in enumerate(per_fold):
        print(f"  fold {f}: {s}")
    print(f"CV macro MRR@10 of the procedure: {cv:.4f}; fitted on all dev: {value:.4f} with {final}")
    lex_only = H.Setting(nearest=0, accentless="lexical", weight=1.0, question_weight=1.0)
    cells = sorted({(r.query.task, r.variant) for r in dev})
    print(f"(dev macro MRR@10 of lexical alone: {H._macro(dev, list(range(len(dev))), cells, lambda i: H.rr(H.lexical_docs(dev[i]), dev[i].query.relevant)):.4f})")
    st = (final.pool, final.nearest, final.tiers, final.accentless)
    print("\nBM25 weight by kind of query, at the fitted structure:")
    fitted = (final.weight, final.question_weight, final.partial_weight)
    names = ("keyword queries with full matches", "questions", "keyword queries without a full match")
    counts = [sum(1 for r in dev if H.kind(r) == k) for k in range(3)]
    for k in range(3):
        print(f"  {names[k]} ({counts[k]} dev queries), the other weights as fitted:")
        line = []
        for w in H.WEIGHTS:
            v = H._macro(dev, list(range(len(dev))), cells,
                         lambda i: scores[st][i][w if H.kind(dev[i]) == k else fitted[H.kind(dev[i])]])
            line.append(f"{w:.2f} {v:.4f}")
        print("    " + "; ".join(line))
    print("one choice at a time, the others as fitted (weights as fitted):")
    for other in structures:
        if sum(a != b for a, b in zip(other, st)) == 1:
            v = H._macro(dev, list(range(len(dev))), cells,
                         lambda i: scores[other][i][fitted[H.kind(dev[i])]])
            print(f"  pool {other[0]}, nearest {other[1]}, tiers {other[2]}, accentless {other[3]}: {v:.4f}")
    print_semantic_table(records, final, args)
    verify(records, final, indexes, args.verify)


def print_semantic_table(records, final, args) -> None:
    from dataclasses import replace

    import hybrid_lab as H

    for split in args.splits:
        print(f"\n## {split} split: MRR@10\n")
        print("| task | variant | queries | floor | lexical | semantic | hybrid | hybrid − lexical | semantic, as typed | hybrid, restored or lexical | hybrid, as typed |")
        print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for task in args.tasks:
            for variant in T.TASK_VARIANTS[task]:
                rows = [r for r in records if r.query.task == task and r.variant == variant and r.query.split == split]
                if not rows:
                    continue
                n = len(rows)
                fl = sum(H.rr(FLOOR[(r.query.id, variant)], r.query.relevant) for r in rows) / n
                lx = sum(H.rr(H.lexical_docs(r), r.query.relevant) for r in rows) / n
                se = sum(H.rr(H.semantic_docs(r), r.query.relevant) for r in rows) / n
                hy = sum(H.rr(H.fused_docs(r, final), r.query.relevant) for r in rows) / n
                extra = ""
                if variant in T.ACCENTLESS_VARIANTS:
                    typed = sum(H.rr(H._docs([d for _, _, ok, _, d in r.near.get("as typed", []) if ok][:ASK]), r.query.relevant) for r in rows) / n
                    restored = sum(H.rr(H.fused_docs(r, replace(final, accentless="restore-or-lexical")), r.query.relevant) for r in rows) / n
                    as_typed = sum(H.rr(H.fused_docs(r, replace(final, accentless="as typed")), r.query.relevant) for r in rows) / n
                    extra = f" {typed:.3f} | {restored:.3f} | {as_typed:.3f} |"
                else:
                    extra = " | | |"
                print(f"| {task} | {variant} | {n} | {fl:.3f} | {lx:.3f} | {se:.3f} | {hy:.3f} | {hy - lx:+.3f} |{extra}")


def verify(records, final, indexes, count: int) -> None:
    """The engine itself (Index.search, hybrid with the fitted setting) against the replay."""
    import random

    import hybrid_lab as H

    if count <= 0:
        return
    sample = random.Random(7).sample(records, min(count, len(records)))
    same = 0
    for r in sample:
        index, paragraphs, headlines = indexes[r.collection]
        index.hybrid_params = final.params()
        index._vectors = None
        text = T.VARIANTS[r.variant](r.query.text)
        from searcher.errors import SearcherError

        try:
            hits = index.search(text, limit=ASK).hits
        except SearcherError:
            hits = ()
        docs, _ = to_docs([(h.article, h.text) for h in hits], paragraphs, headlines)
        same += docs == H.fused_docs(r, final)
    print(f"\nengine check: {same} of {len(sample)} sampled queries get the replay's top {LIMIT} from Index.search itself")


FLOOR: dict = {}


if __name__ == "__main__":
    main()
