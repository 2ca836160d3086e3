"""Same answers from two commits: top-10 hits, scores and totals, query by query.

    python benchmarks/compare_commits.py OLD NEW [--paragraphs 20000] [--queries 1000]

For a change that must not alter behaviour (a refactoring), this builds the scale corpus
of N paragraphs (``make_corpus.py``), then for each commit: exports that commit's
``searcher/`` package into a scratch folder (``git archive``), builds an index of the
corpus with it (``python -m searcher index``, the installed dependencies of this
interpreter) and answers the same queries with ``query --batch - --json -n 10``. Only
the command line is used, whose contract both commits share.

The queries: the warm-query benchmark's (``warm_query.make_queries``: runs of 1-4
adjacent syllables of random paragraphs, 30 % accents stripped), the XQuAD questions
(../shared/data/xquad_vi), and the query language's other forms built from them
(phrases, exclusions, OR, title:). Prints how many queries differ in their hits (article,
paragraph, rank), their scores (to 4 decimals, as the JSON gives them) or their totals,
with the first differences; exit status 1 if any differ.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, REPO, header, read_paragraphs, shared_dir  # noqa: E402
from make_corpus import ensure_corpus  # noqa: E402
from warm_query import make_queries  # noqa: E402


def query_set(paragraphs: list[str], count: int) -> list[str]:
    """Keyword queries, questions, and phrase / exclusion / OR / title forms of them."""
    rng = random.Random(7)
    # The plain spans, as typed and accents stripped (the other classes are built below).
    keywords = [text for kind, text in make_queries(paragraphs, count) if kind in ("keyword", "accentless")]
    questions = []
    path = shared_dir() / "data" / "xquad_vi" / "queries.jsonl"
    with open(path, encoding="utf-8") as f:
        questions = [json.loads(line)["text"] for line in f if line.strip()]
    rng.shuffle(questions)
    questions = questions[: count // 2]
    forms = []
    for a, b in zip(keywords[::2], keywords[1::2]):
        choice = rng.randrange(5)
        if choice == 0:
            forms.append(f'"{a}"')
        elif choice == 1:
            forms.append(f'{a} -"{b}"')
        elif choice == 2:
            forms.append(f'"{a}" OR "{b}"')
        elif choice == 3:
            forms.append(f"({a}) OR ({b}) {a.split()[0]}")
        else:
            forms.append(f"title:{a.split()[0]} {b}")
    return keywords + questions + forms


def export(commit: str, into: Path) -> Path:
    """The commit's tree (``searcher/`` and all) unpacked into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def answers(tree: Path, corpus: Path, index: Path, queries: list[str]) -> dict[int, dict]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    cli = [sys.executable, "-m", "searcher", "--index", str(index), "--corpus", str(corpus)]
    # One process: documents numbered in corpus order, so equal scores tie the same way
    # (with workers, which worker writes which article varies from run to run).
    build = subprocess.run([*cli, "index", "--rebuild", "--jobs", "1"], env=env, capture_output=True, text=True, cwd=tree)
    if build.returncode != 0:
        sys.exit(f"indexing with {tree} failed:\n{build.stderr}")
    lines = "".join(json.dumps({"id": n, "query": q}, ensure_ascii=False) + "\n" for n, q in enumerate(queries))
    run = subprocess.run(
        [*cli, "query", "--batch", "-", "--json", "-n", "10"], env=env, input=lines, capture_output=True, text=True, cwd=tree
    )
    if run.returncode not in (0, 1):
        sys.exit(f"querying with {tree} failed:\n{run.stderr}")
    found: dict[int, dict] = {}
    for line in run.stdout.splitlines():
        record = json.loads(line)
        entry = found.setdefault(record["query_id"], {"hits": [], "total": None})
        if record["type"] == "hit":
            entry["hits"].append((record["rank"], record["article"], record["paragraph"], record["score"]))
        elif record["type"] == "summary":
            entry["total"] = record["total"]
    return found


def _same_but_ties(a: list, b: list) -> bool:
    """The same scores rank by rank, and at each score the same set of hits."""
    if [h[3] for h in a] != [h[3] for h in b]:
        return False
    groups = lambda hits: {score: {h[1:3] for h in hits if h[3] == score} for score in {h[3] for h in hits}}  # noqa: E731
    last = a[-1][3] if a else None
    return all(group == groups(b)[score] or score == last for score, group in groups(a).items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--paragraphs", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    header(f"Same answers from {args.old} and {args.new}: {args.paragraphs} paragraphs")
    corpus = ensure_corpus(args.paragraphs)
    queries = query_set(read_paragraphs(corpus), args.queries)
    print(f"{len(queries)} queries")
    results = []
    with tempfile.TemporaryDirectory(dir=DATA) as scratch:
        for name, commit in (("old", args.old), ("new", args.new)):
            tree = export(commit, Path(scratch) / name)
            results.append(answers(tree, corpus, Path(scratch) / f"index-{name}", queries))
    old, new = results
    with_hits = sum(1 for entry in old.values() if entry["hits"])
    print(f"queries with hits: {with_hits} of {len(queries)} (old), {sum(1 for e in new.values() if e['hits'])} (new)")
    differ = {"hits": [], "scores": [], "totals": []}
    ties = 0
    for n in range(len(queries)):
        a, b = old.get(n), new.get(n)
        if a is None or b is None:
            differ["hits"].append(n) if (a is None) != (b is None) else None
            continue
        if [h[:3] for h in a["hits"]] != [h[:3] for h in b["hits"]]:  # rank, article, paragraph
            if _same_but_ties(a["hits"], b["hits"]):
                ties += 1
            else:
                differ["hits"].append(n)
        elif [h[3] for h in a["hits"]] != [h[3] for h in b["hits"]]:
            differ["scores"].append(n)
        if a["total"] != b["total"]:
            differ["totals"].append(n)
    print(f"queries whose hits differ only in the order of equal scores: {ties}")
    for kind, numbers in differ.items():
        print(f"queries whose {kind} differ: {len(numbers)} of {len(queries)}")
        for n in numbers[:5]:
            print(f"  {queries[n]!r}: {old.get(n)} != {new.get(n)}")
    sys.exit(1 if any(differ.values()) else 0)


if __name__ == "__main__":
    main()
