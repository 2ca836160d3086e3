"""Two versions of searcher side by side in one run: cold query, warm queries, a full build.

    python benchmarks/compare_speed.py --before /path/to/old-venv/bin/searcher \\
        [--after PATH] [--paragraphs 100000] [--queries 1000] [--cold 20] [--no-build]

``--before`` and ``--after`` are the ``searcher`` console scripts of two installs (two
commits, each in its own virtual environment; ``--after`` defaults to this environment's).
On a shared machine absolute times drift with the load, so every figure here is taken for
both versions at the same moments and read as a ratio, after ÷ before:

1. **build**: ``searcher index --rebuild`` of the N-paragraph scale corpus
   (``make_corpus.py``) into a fresh index per version, both builds **at once**, one job
   each (each gets one of the two cores and the same background load); wall, CPU and peak
   RSS per version. ``--apart`` runs them one after the other instead, all cores each.
2. **warm**: one ``searcher query --batch -`` process per version over the index just
   built, the ``warm_query.py`` queries (four classes), each query sent to both, in
   alternating order; p50/p95 of the summaries' ``elapsed_ms`` per class.
3. **cold**: ``searcher query "sợ trách nhiệm"`` as a new process on the bundled corpus,
   alternating versions, ``--cold`` rounds each: median wall time.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BUNDLED_CORPUS, DATA, header, median, percentile, read_paragraphs, run_measured, searcher_cmd  # noqa: E402
from make_corpus import ensure_corpus  # noqa: E402
from warm_query import CLASSES, BatchClient, make_queries  # noqa: E402

SIDES = ("before", "after")


def command(script: Path, index: Path, corpus: Path, *args: str) -> list[str]:
    return [str(script), "--index", str(index), "--corpus", str(corpus), *args]


def build(scripts: dict, corpus: Path, n: int, apart: bool) -> dict:
    indexes = {side: DATA / f"compare-{side}-{n}" for side in SIDES}
    for index in indexes.values():
        shutil.rmtree(index, ignore_errors=True)
    if apart:
        runs = {}
        for side in SIDES:
            runs[side] = run_measured(command(scripts[side], indexes[side], corpus, "index", "--rebuild"), capture=False)
    else:
        runs = {}

        def one(side):
            runs[side] = run_measured(
                command(scripts[side], indexes[side], corpus, "index", "--rebuild", "--jobs", "1"),
                capture=False,
            )

        threads = [threading.Thread(target=one, args=(side,)) for side in SIDES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for side in SIDES:
        if runs[side].returncode != 0:
            sys.exit(f"{side}: searcher index failed ({runs[side].returncode}): "
                     f"{runs[side].stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    print(f"build, {n} paragraphs, {'one after the other, all cores' if apart else 'both at once, one job each'}")
    print(f"{'':<10} {'wall s':>9} {'CPU s':>9} {'peak RSS':>10}")
    for side in SIDES:
        run = runs[side]
        print(f"{side:<10} {run.wall:>9.1f} {run.user + run.sys:>9.1f} {run.maxrss_kib / 1024:>7.0f} MB")
    print(f"{'after ÷ before':<10} {runs['after'].wall / runs['before'].wall:>8.2f}x "
          f"{(runs['after'].user + runs['after'].sys) / (runs['before'].user + runs['before'].sys):>8.2f}x "
          f"{runs['after'].maxrss_kib / runs['before'].maxrss_kib:>9.2f}x")
    return indexes


def warm(scripts: dict, indexes: dict, corpus: Path, count: int) -> None:
    paragraphs = read_paragraphs(corpus)
    queries = make_queries(paragraphs, count)
    clients = {side: BatchClient(command(scripts[side], indexes[side], corpus, "query", "--batch", "-", "-n", "10"))
               for side in SIDES}
    for side in SIDES:  # open each index (lazy imports, first reads) before the timing
        clients[side].ask(0, queries[0][1])
    ms = {side: {kind: [] for kind in CLASSES} for side in SIDES}
    totals_equal = 0
    for i, (kind, text) in enumerate(queries, start=1):
        order = SIDES if i % 2 else SIDES[::-1]
        totals = {}
        for side in order:
            _, summary, _ = clients[side].ask(i, text)
            if summary is not None:
                ms[side][kind].append(summary["elapsed_ms"])
                totals[side] = summary.get("total")
        totals_equal += len(totals) == 2 and totals["before"] == totals["after"]
    for client in clients.values():
        client.close()
    print(f"\nwarm queries, {len(queries)} ({count // len(CLASSES)} per class), each to both versions in turn; "
          "elapsed_ms of the summaries")
    print(f"{'class':<12} {'before p50':>11} {'after p50':>10} {'ratio':>7}   {'before p95':>11} {'after p95':>10} {'ratio':>7}")
    everything = {side: [v for kind in CLASSES for v in ms[side][kind]] for side in SIDES}
    for kind in (*CLASSES, "all"):
        b = ms["before"][kind] if kind != "all" else everything["before"]
        a = ms["after"][kind] if kind != "all" else everything["after"]
        if not a or not b:
            continue
        b50, a50, b95, a95 = percentile(b, 50), percentile(a, 50), percentile(b, 95), percentile(a, 95)
        print(f"{kind:<12} {b50:>9.1f}ms {a50:>8.1f}ms {a50 / b50:>6.2f}x   {b95:>9.1f}ms {a95:>8.1f}ms {a95 / b95:>6.2f}x")
    print(f"same total on both: {totals_equal}/{len(queries)} (the ranking of issue 10 counts differently where it changed)")


def cold(scripts: dict, rounds: int) -> None:
    indexes = {side: DATA / f"compare-cold-{side}" for side in SIDES}
    for side in SIDES:
        shutil.rmtree(indexes[side], ignore_errors=True)
        proc = subprocess.run(command(scripts[side], indexes[side], BUNDLED_CORPUS, "index"), capture_output=True)
        if proc.returncode != 0:
            sys.exit(f"{side}: searcher index failed: {proc.stderr.decode(errors='replace')[-300:]}")
    walls = {side: [] for side in SIDES}
    for i in range(rounds):
        for side in SIDES if i % 2 == 0 else SIDES[::-1]:
            run = run_measured(command(scripts[side], indexes[side], BUNDLED_CORPUS, "query", "sợ trách nhiệm"))
            if run.returncode != 0:
                sys.exit(f"{side}: searcher query failed ({run.returncode})")
            walls[side].append(run.wall)
    b, a = median(walls["before"]), median(walls["after"])
    print(f"\ncold query `searcher query \"sợ trách nhiệm\"` on the bundled corpus, {rounds} rounds each, alternating")
    print(f"median wall: before {b:.3f} s, after {a:.3f} s, after ÷ before {a / b:.2f}x "
          f"(min {min(walls['before']):.3f} / {min(walls['after']):.3f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the older version's searcher script")
    parser.add_argument("--after", type=Path, default=Path(searcher_cmd()[0]), help="the newer one's (this environment's)")
    parser.add_argument("--paragraphs", type=int, default=100000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--cold", type=int, default=20, help="cold-query rounds per version")
    parser.add_argument("--apart", action="store_true", help="build one after the other, all cores each")
    parser.add_argument("--no-build", action="store_true", help="reuse the indexes of an earlier run")
    parser.add_argument("--indexes", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                        help="with --no-build: the two indexes of the scale corpus to query")
    parser.add_argument("--only", choices=("build", "warm", "cold"), action="append", help="run only these parts")
    args = parser.parse_args()
    scripts = {"before": args.before, "after": args.after}
    header(f"two versions, {args.paragraphs} paragraphs")
    for side in SIDES:
        version = subprocess.run([str(scripts[side]), "--version"], capture_output=True, text=True).stdout.strip()
        print(f"{side}: {scripts[side]} ({version})")
    parts = set(args.only or ("build", "warm", "cold"))
    corpus = ensure_corpus(args.paragraphs)
    started = time.perf_counter()
    if "build" in parts and not args.no_build:
        indexes = build(scripts, corpus, args.paragraphs, args.apart)
    elif args.indexes:
        indexes = dict(zip(SIDES, args.indexes))
    else:
        indexes = {side: DATA / f"compare-{side}-{args.paragraphs}" for side in SIDES}
    if "warm" in parts:
        warm(scripts, indexes, corpus, args.queries)
    if "cold" in parts:
        cold(scripts, args.cold)
    print(f"\n({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
