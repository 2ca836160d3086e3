"""The OpenSearch engine beside the embedded one: ranking quality, build time, query latency.

    URL=$(tests/cluster/start)
    python benchmarks/cluster.py --url "$URL" [--quality] [--scale 100000] [--queries 300]

1. ``--quality`` (default on): xquad_vi (240 passages, 1,190 questions, ``../shared/data``
   or $SEARCHER_SHARED) indexed by both engines (one article per passage, written through
   ``Engine.write``); every question asked of both through ``Index.search`` (as written,
   and with its accents stripped). Prints MRR@10, Hit@1, Hit@10 of each engine side by
   side, and the share of questions whose top 5 (passage ids, in order) is the same.
   Targets: MRR@10 within 0.01, the same top 5 for at least 90 % of the questions.
2. ``--scale N``: the N-paragraph corpus of ``make_corpus.py`` built into an empty index
   of each engine with ``searcher index --rebuild --jobs <cores>`` (wall and CPU time of
   the searcher process; the cluster's own CPU is not in it), beside pyvi alone
   (``indexing.py``'s worker: one process, one core). Then ``--queries`` warm queries
   (``warm_query.make_queries``: 1-4 adjacent syllables, 30 % without accents), asked of
   each engine in this process through ``Index.search`` (one pass to warm up, then the
   timed pass, the two engines alternating query by query): p50 and p95.

Prints everything; ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, header, median, percentile, ratio, read_paragraphs, run_measured, searcher_cmd, shared_dir  # noqa: E402

K = 10
TOP = 5


# -- xquad_vi ----------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _qrels(path: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and (len(parts) < 3 or int(parts[-1]) > 0):
            found.setdefault(parts[0], set()).add(parts[1])
    return found


def strip_accents(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _articles(passages: list[dict]):
    from searcher.corpus import Article, content_hash
    from searcher.text import nfc

    return [
        Article(
            id=p["id"],
            title=nfc(p.get("title") or ""),
            paragraphs=(nfc(p["text"]),),
            hash=content_hash(((p.get("title") or "") + "\n" + p["text"]).encode("utf-8")),
        )
        for p in passages
    ]


def _ranked(index, questions: list[str]) -> list[list[str]]:
    from searcher.errors import SearcherError

    runs = []
    for text in questions:
        try:
            runs.append([h.article for h in index.search(text, limit=K).hits])
        except SearcherError:
            runs.append([])
    return runs


def _scores(runs, relevant) -> dict:
    rr = hit1 = hitk = 0.0
    for ranked, rel in zip(runs, relevant):
        for rank, pid in enumerate(ranked[:K], start=1):
            if pid in rel:
                rr += 1 / rank
                hit1 += rank == 1
                hitk += 1
                break
    n = max(len(runs), 1)
    return {"mrr": rr / n, "hit1": hit1 / n, "hitk": hitk / n}


# -- the embedded engine with the cluster's Variants frequency (a measurement, not a change)


def patch_union():
    """Make the embedded evaluator count a ``Variants`` document frequency as the cluster
    does, in this process: the union of its variants' paragraphs (the folded field's)
    instead of their capped sum. Everything else (per-field BM25, Lucene's norms, phrases)
    is already the same on both engines. Returns undo."""
    from searcher.engine import evaluate, scoring

    capped = evaluate.Evaluator.term_idf

    def term_idf(self, field, terms):
        if len(terms) < 2:
            return capped(self, field, terms)
        docs = set()
        for term in terms:
            for ids, _ in self.source.blocks(field, term):
                docs.update(ids)
        n = len(docs - self.source.deleted)
        return n, scoring.idf(n, self.source.field_count(field))

    evaluate.Evaluator.term_idf = term_idf

    def undo():
        evaluate.Evaluator.term_idf = capped

    return undo


CONVENTIONS = [  # (name, union Variants df)
    ("embedded", False),
    ("emb+union df", True),
]


def quality(url: str, work: Path) -> dict:
    from searcher.engine import ClusterIndex
    from searcher.index import Index

    data = shared_dir() / "data" / "xquad_vi"
    passages = _jsonl(data / "passages.jsonl")
    qrels = _qrels(data / "qrels.tsv")
    questions = [q for q in _jsonl(data / "queries.jsonl") if q["id"] in qrels and q["text"].strip()]
    articles = _articles(passages)
    embedded = Index.open_or_create(work / "xquad-embedded", rebuild=True)
    embedded.engine.write(articles, [], rebuild=True, jobs=1)
    remote = Index.open_or_create(ClusterIndex(url, "bench-xquad"), rebuild=True)
    remote.engine.write(articles, [], rebuild=True, jobs=1)
    embedded.close()
    print(f"## xquad_vi: {len(passages)} passages, {len(questions)} questions, both engines")
    print("(embedded: as it is; emb+union df: a Variants document frequency counted as the union")
    print(" of the variants' paragraphs, as the cluster's folded field counts it, not their capped sum)")
    print(f"{'variant':18} {'engine':16} {'MRR@10':>7} {'Hit@1':>7} {'Hit@10':>7}   same top {TOP} as the cluster")
    out = {}
    relevant = [qrels[q["id"]] for q in questions]
    for variant, change in (("as written", lambda t: t), ("accents stripped", strip_accents)):
        texts = [change(q["text"]) for q in questions]
        b = _ranked(remote, texts)
        sb = _scores(b, relevant)
        out[variant] = {"opensearch": sb}
        print(f"{variant:18} {'opensearch':16} {sb['mrr']:7.4f} {sb['hit1']:7.4f} {sb['hitk']:7.4f}")
        for name, union in CONVENTIONS:
            undo = patch_union() if union else (lambda: None)
            try:
                embedded = Index.open(work / "xquad-embedded")
                a = _ranked(embedded, texts)
                embedded.close()
            finally:
                undo()
            sa = _scores(a, relevant)
            same = sum(x[:TOP] == y[:TOP] for x, y in zip(a, b)) / len(texts)
            same_set = sum(set(x[:TOP]) == set(y[:TOP]) for x, y in zip(a, b)) / len(texts)
            diff = abs(sa["mrr"] - sb["mrr"])
            print(f"{'':18} {name:16} {sa['mrr']:7.4f} {sa['hit1']:7.4f} {sa['hitk']:7.4f}   {same:.1%} in order, "
                  f"{same_set:.1%} as sets; |MRR diff| {diff:.4f}")
            out[variant][name] = {**sa, "same_top5": same, "same_top5_sets": same_set, "mrr_diff": diff}
        first = out[variant]["embedded"]
        print(f"{'':18} targets (engine as it is): MRR within 0.01: {'MET' if first['mrr_diff'] <= 0.01 else 'NOT MET'}; "
              f"same top {TOP} >= 90 %: {'MET' if first['same_top5'] >= 0.9 else 'NOT MET'}")
    remote.close()
    return out


# -- scale -------------------------------------------------------------------------------


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cluster_cpu_s(url: str) -> float:
    """CPU seconds the cluster's node processes have used so far (``_nodes/stats``)."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=url.split(","), timeout=30)
    try:
        nodes = client.nodes.stats(metric="process")["nodes"].values()
        return sum(node["process"]["cpu"]["total_in_millis"] for node in nodes) / 1000
    finally:
        client.close()


def scale(url: str, n: int, queries: int, build: bool = True) -> dict:
    from indexing import run_worker  # noqa: E402 (benchmarks/indexing.py)
    from make_corpus import ensure_corpus  # noqa: E402
    from warm_query import make_queries  # noqa: E402

    from searcher.engine import ClusterIndex
    from searcher.index import Index

    corpus = ensure_corpus(n)
    paragraphs = read_paragraphs(corpus)
    chars = sum(map(len, paragraphs))
    print(f"\n## {n:,}-paragraph corpus: {len(paragraphs):,} paragraphs indexed, {chars / 1e6:.1f} M characters")
    jobs = ["--jobs", str(_cores())]
    folder = DATA / f"index-cluster-bench-{n}"
    name = f"bench-{n}"
    builds = {}
    cluster_cpu = 0.0
    for engine, where in (("embedded", ["--index", str(folder)]), ("opensearch", ["--engine", "opensearch", "--url", url, "--name", name])):
        if not build:
            break
        before = cluster_cpu_s(url)
        run = run_measured([*searcher_cmd(), *where, "--corpus", str(corpus), "index", "--rebuild", *jobs], sample_memory=True)
        if run.returncode != 0:
            sys.exit(f"{engine} build failed:\n{run.stderr.decode(errors='replace')}")
        builds[engine] = run
        used = cluster_cpu_s(url) - before
        if engine == "opensearch":
            cluster_cpu = used
        print(f"{engine:10} build: {run.wall:7.1f} s wall, {run.user + run.sys:7.1f} s CPU (searcher's processes), "
              f"peak PSS {run.tree_pss_kib / 1e6:.2f} GB; the cluster's nodes meanwhile: {used:.1f} CPU-s", flush=True)
    _, pyvi = run_worker("pyvi", corpus, DATA / f"cluster-bench-pyvi-{n}.jsonl")
    print(f"{'pyvi':10} alone: {pyvi['seconds']:7.1f} s (one core)")
    for engine in builds:
        print(f"{engine:10} / pyvi: {ratio(builds[engine].wall, pyvi['seconds'])} wall")
    if builds:
        print(f"opensearch / embedded: {ratio(builds['opensearch'].wall, builds['embedded'].wall)} wall")
    remote = Index.open(ClusterIndex(url, name))
    stats = remote.stats()
    print(f"cluster index: {stats.paragraphs:,} paragraphs, {stats.size_bytes / 1e6:.1f} MB with its replicas, "
          f"{stats.segments} segments; embedded {Index.open(folder).stats().size_bytes / 1e6:.1f} MB")

    classed = make_queries(paragraphs, queries)  # (class, query): keyword, accentless, phrase, OR of phrases
    asked = [text for _, text in classed]
    embedded = Index.open(folder)
    times: dict[str, list[float]] = {"embedded": [], "opensearch": []}
    by_class: dict[tuple[str, str], list[float]] = {}
    totals_differ = 0
    for timed in (False, True):
        for kind, text in classed:
            found = {}
            for engine, index in (("embedded", embedded), ("opensearch", remote)):
                started = time.perf_counter()
                found[engine] = index.search(text, limit=10).total
                if timed:
                    ms = (time.perf_counter() - started) * 1000
                    times[engine].append(ms)
                    by_class.setdefault((engine, kind), []).append(ms)
            if timed:
                totals_differ += found["embedded"] != found["opensearch"]
    p = {e: (median(t), percentile(t, 95)) for e, t in times.items()}
    # "Did you mean" for an accentless query: the whole syllable lexicon (a composite
    # aggregation, page by page), or only the accent variants of its syllables (one request).
    from searcher.engine import schema as s
    from searcher.text import fold_accents

    snapshot = remote.engine.snapshot()
    started = time.perf_counter()
    lexicon = sum(1 for _ in snapshot.lexicon(s.SYL))
    lexicon_s = time.perf_counter() - started
    sample = sorted({fold_accents(w) for text in asked[:20] for w in text.split()})[:40]
    started = time.perf_counter()
    snapshot.variants_of(s.SYL, sample)
    variants_ms = (time.perf_counter() - started) * 1000
    typo = {}
    for engine, index in (("embedded", embedded), ("opensearch", remote)):
        runs = []
        for text in ("so trach nhiemm", "cán bộô đảng viên", "nguoi dan tinh"):
            started = time.perf_counter()
            index.search(text, limit=10)
            runs.append((time.perf_counter() - started) * 1000)
        typo[engine] = median(runs)
    print(f"\nthe cluster's syllable lexicon: {lexicon:,} terms in {lexicon_s:.2f} s (composite aggregation); "
          f"the accent variants of {len(sample)} folded syllables: {variants_ms:.0f} ms (one request)")
    print(f"queries with a typo (Did you mean), median ms: embedded {typo['embedded']:.0f}, opensearch {typo['opensearch']:.0f}")
    print(f"\n{len(asked)} warm queries through Index.search (ms):   p50     p95")
    for engine, (p50, p95) in p.items():
        print(f"  {engine:10} {p50:31.1f} {p95:7.1f}")
    print(f"  opensearch / embedded p50: {ratio(p['opensearch'][0], p['embedded'][0])}; "
          f"queries whose totals differ: {totals_differ}")
    kinds = list(dict.fromkeys(kind for kind, _ in classed))
    print("  p50 by class (ms):      " + "  ".join(f"{kind:>10}" for kind in kinds))
    for engine in times:
        print(f"  {engine:22}" + "  ".join(f"{median(by_class[(engine, kind)]):10.1f}" for kind in kinds))
    return {
        "paragraphs": len(paragraphs),
        "characters": chars,
        "build_s": {e: r.wall for e, r in builds.items()},
        "build_cpu_s": {e: r.user + r.sys for e, r in builds.items()},
        "cluster_build_cpu_s": cluster_cpu,
        "pyvi_s": pyvi["seconds"],
        "query_ms": {e: {"p50": v[0], "p95": v[1]} for e, v in p.items()},
        "cluster_bytes": stats.size_bytes,
        "totals_differ": totals_differ,
        "lexicon_s": lexicon_s,
        "variants_ms": variants_ms,
        "typo_ms": typo,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("SEARCHER_OPENSEARCH_URL"), help="the cluster (default $SEARCHER_OPENSEARCH_URL)")
    parser.add_argument("--no-quality", action="store_true", help="skip xquad_vi")
    parser.add_argument("--scale", type=int, default=0, help="also build an N-paragraph corpus into both (e.g. 100000)")
    parser.add_argument("--queries", type=int, default=300, help="warm queries at scale (default 300)")
    parser.add_argument("--no-build", action="store_true", help="at scale, reuse the indexes a previous run built")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if not args.url:
        sys.exit("give --url (tests/cluster/start prints one)")
    header("OpenSearch engine beside the embedded engine")
    work = DATA / "cluster-bench"
    work.mkdir(parents=True, exist_ok=True)
    record = {}
    if not args.no_quality:
        record["quality"] = quality(args.url, work)
    if args.scale:
        record["scale"] = scale(args.url, args.scale, args.queries, build=not args.no_build)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
