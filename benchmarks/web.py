"""The web server: /api/search beside the same queries in process, and a 30-second load.

    python benchmarks/web.py [--paragraphs 100000] [--queries 300] [--clients 32] [--seconds 30] [--pools 1 2]

The scale corpus and its index (``benchmarks/data/index-N``, as the other benchmarks
leave it; built first if missing: long at 100k) are prepared outside the timing. Queries
are those of ``warm_query.py`` (seeded spans of 1–4 syllables, 30 % without accents).

- latency: for each query, the search in this process (``searcher.web.library.Library``,
  what the server calls) and then ``GET /api/search?q=…&limit=10`` on a
  ``searcher serve`` started for the run, over one keep-alive connection (request written →
  body read). Both warmed first by one untimed pass over all queries, then interleaved
  query by query so both see the same moments of a noisy machine. Target: HTTP p50 ≤ 1.5 ×
  in-process p50.
- load: ``--clients`` threads, each with its own keep-alive connection, send queries for
  ``--seconds`` (a closed loop: the next request when the answer has arrived). Counts
  requests, errors (a status other than 200, a broken connection, a body that is not the
  JSON expected), throughput and latency, and the server's memory (PSS) after the run.
  Target: 0 errors. Run once per ``--pools`` size (``SEARCHER_WEB_POOL``: searchers the
  server keeps, each used by one request at a time; 1 is a plain lock).
- for information: ``/api/trend`` (every match of the query, bucketed) on a sample.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, _pss_kib, ensure_index, header, percentile, ratio, read_paragraphs, searcher, verdict  # noqa: E402
from make_corpus import ensure_corpus  # noqa: E402
from warm_query import make_queries  # noqa: E402

TARGET_RATIO = 1.5


class Server:
    """``searcher serve --port 0`` for the length of a ``with``; ``.host``, ``.port``."""

    def __init__(self, index: Path, corpus: Path, pool: int):
        env = dict(os.environ, SEARCHER_WEB_POOL=str(pool))
        self.proc = subprocess.Popen(
            searcher(index, corpus, "serve", "--port", "0"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env,
        )
        line = self.proc.stderr.readline()
        found = re.search(r"http://(127\.0\.0\.1):(\d+)/", line)
        if not found:
            self.proc.kill()
            sys.exit(f"searcher serve did not start: {line}{self.proc.stderr.read()}")
        self.host, self.port = found.group(1), int(found.group(2))
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # keep the pipe drained

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=60)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=120)


def get(conn: http.client.HTTPConnection, path: str, **params) -> tuple[int, bytes]:
    conn.request("GET", f"{path}?{urllib.parse.urlencode(params)}")
    response = conn.getresponse()
    return response.status, response.read()


def stats(label: str, ms: list[float]) -> str:
    return (f"{label:<44} {percentile(ms, 50):>8.1f} {percentile(ms, 95):>8.1f} {percentile(ms, 99):>8.1f} "
            f"{max(ms):>8.1f} {sum(ms) / len(ms):>8.1f}")


def latency(index: Path, corpus: Path, queries: list[str], limit: int) -> tuple[list[float], list[float]]:
    """In-process and HTTP latencies (ms) of each query, interleaved, after a warm pass."""
    from searcher.web.library import Library

    library = Library(index, corpus, size=1)
    inproc, api = [], []
    with Server(index, corpus, pool=1) as server:
        conn = server.connection()
        for q in queries:  # warm both: segment files, evaluator caches, the server's imports
            library.search(q, limit=limit)
            get(conn, "/api/search", q=q, limit=limit)
        for q in queries:
            t0 = time.perf_counter()
            library.search(q, limit=limit)
            inproc.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            status, body = get(conn, "/api/search", q=q, limit=limit)
            api.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                sys.exit(f"/api/search answered {status} for {q!r}: {body[:200]!r}")
        trend = []
        for q in queries[:50]:
            t0 = time.perf_counter()
            get(conn, "/api/trend", q=q, by="year")
            trend.append((time.perf_counter() - t0) * 1000)
        conn.close()
    library.close()
    print(stats("/api/trend?by=year (50 queries), from outside", trend))
    return inproc, api


def load(index: Path, corpus: Path, queries: list[str], limit: int, clients: int, seconds: float, pool: int) -> dict:
    """``clients`` closed-loop clients for ``seconds`` against a server with ``pool`` searchers."""
    with Server(index, corpus, pool=pool) as server:
        warm = server.connection()
        for q in queries[:50]:
            get(warm, "/api/search", q=q, limit=limit)
        warm.close()
        lock = threading.Lock()
        latencies: list[float] = []
        errors: list[str] = []
        start = threading.Event()
        deadline = [0.0]

        def client(number: int) -> None:
            rng = random.Random(number)
            conn = server.connection()
            start.wait()
            mine, bad = [], []
            while time.perf_counter() < deadline[0]:
                q = rng.choice(queries)
                t0 = time.perf_counter()
                try:
                    status, body = get(conn, "/api/search", q=q, limit=limit)
                    if status != 200:
                        bad.append(f"{status} for {q!r}")
                    elif json.loads(body)["query"] != q:
                        bad.append(f"wrong answer for {q!r}")
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    bad.append(f"{exc.__class__.__name__} for {q!r}")
                    conn.close()
                    conn = server.connection()
                mine.append((time.perf_counter() - t0) * 1000)
            conn.close()
            with lock:
                latencies.extend(mine)
                errors.extend(bad)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        deadline[0] = began + seconds
        start.set()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        memory = _pss_kib(server.proc.pid) / 1024
    return {"pool": pool, "requests": len(latencies), "errors": errors, "wall": wall, "latencies": latencies, "pss_mb": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description="/api/search latency beside in-process search, and a load test.")
    parser.add_argument("--paragraphs", type=int, default=100000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pools", type=int, nargs="+", default=[1, 2], help="searchers in the server, one run each")
    args = parser.parse_args()

    n = args.paragraphs
    corpus = ensure_corpus(n)
    index = DATA / f"index-{n}"
    header(f"web server, {n} paragraphs")
    print(f"(bringing {index} up to date with the corpus: untimed)", file=sys.stderr)
    ensure_index(index, corpus)
    queries = make_queries(read_paragraphs(corpus), args.queries)
    print(f"corpus {corpus}; {len(queries)} queries, e.g. {', '.join(repr(q) for q in queries[:4])}")
    print()
    print(f"{'latency, ms':<44} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'mean':>8}")
    inproc, api = latency(index, corpus, queries, args.limit)
    print(stats("search in process (Library.search)", inproc))
    print(stats("GET /api/search, from outside", api))
    p50 = percentile(api, 50) / percentile(inproc, 50)
    print()
    print(f"/api/search p50 / in-process p50: {ratio(percentile(api, 50), percentile(inproc, 50))} "
          f"(target ≤ {TARGET_RATIO}x): {verdict(p50 <= TARGET_RATIO)}")
    print(f"/api/search p95 / in-process p95: {ratio(percentile(api, 95), percentile(inproc, 95))}")
    print()
    print(f"load: {args.clients} clients, {args.seconds:.0f} s each run, keep-alive, closed loop")
    print(f"{'searchers':>9} {'requests':>9} {'errors':>7} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'PSS MB':>7}")
    runs = []
    for pool in args.pools:
        run = load(index, corpus, queries, args.limit, args.clients, args.seconds, pool)
        runs.append(run)
        ms = run["latencies"]
        print(f"{pool:>9} {run['requests']:>9} {len(run['errors']):>7} {run['requests'] / run['wall']:>7.1f} "
              f"{percentile(ms, 50):>8.1f} {percentile(ms, 95):>8.1f} {percentile(ms, 99):>8.1f} {max(ms):>8.1f} "
              f"{run['pss_mb']:>7.0f}")
        for problem in run["errors"][:5]:
            print(f"          error: {problem}")
    errors = sum(len(r["errors"]) for r in runs)
    print()
    print(f"errors under load: {errors} (target 0): {verdict(errors == 0)}")
    print("load average after the run: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
