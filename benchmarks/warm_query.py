"""Warm queries: latency of 1,000 queries through `searcher query --batch -`, beside SQLite FTS5.

    python benchmarks/warm_query.py [--paragraphs 100000] [--queries 1000] [--single 20] [--piped]

Queries are made from the corpus with a fixed seed: spans of 1–4 adjacent syllables taken
from random paragraphs (mostly lower-cased; 30 % with accents stripped, đ → d), so most
have hits. The scale corpus and its index (``benchmarks/data/index-N``, left by
``indexing.py``, else built first: long at 100k) are prepared outside the timing.

- searcher: one ``searcher query --batch - -n 10`` process, fed one JSON query line at a
  time; the next query is sent when the previous one's ``summary`` line has arrived
  (PYTHONUNBUFFERED=1), so each latency is measured from the outside: query written →
  hits and summary read back (parse, search, highlight, JSON, two pipe trips). The
  summary's own ``elapsed_ms`` (search inside the process) is reported too.
- SQLite FTS5 (standard library), ``tokenize = 'unicode61 remove_diacritics 2'``, over the
  same paragraphs, in this process: ``MATCH`` the query's syllables (all required), top 10
  by ``bm25``, text fetched. Each searcher query is followed by the same query on FTS5, so
  both see the same moments of a noisy machine.
- throughput: the batch process's wall over all queries (start-up included; with
  ``--piped`` also the whole batch piped in at once) against one process per query for a
  sample of ``--single`` queries.

Targets (issue 5): p50 ≤ 30 ms and p95 ≤ 120 ms at 100k paragraphs.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DATA,
    ensure_index,
    header,
    median,
    percentile,
    ratio,
    read_paragraphs,
    run_measured,
    searcher,
    verdict,
)
from make_corpus import ensure_corpus  # noqa: E402

SEED = 5
SYLLABLE = re.compile(r"[^\W_]+")
SPAN_LENGTHS = (1, 2, 2, 3, 3, 4)
OPERATORS = {"OR", "AND", "NOT"}


def strip_accents(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D").replace("Ð", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def make_queries(paragraphs: list[str], count: int, seed: int = SEED) -> list[str]:
    """``count`` queries: adjacent syllables (space-separated only) from random paragraphs."""
    rng = random.Random(seed)
    queries: list[str] = []
    while len(queries) < count:
        paragraph = rng.choice(paragraphs)
        matches = list(SYLLABLE.finditer(paragraph))
        length = rng.choice(SPAN_LENGTHS)
        if len(matches) < length:
            continue
        start = rng.randrange(len(matches) - length + 1)
        span = matches[start : start + length]
        if any(not paragraph[a.end() : b.start()].isspace() for a, b in zip(span, span[1:])):
            continue
        text = " ".join(m.group(0) for m in span)
        if rng.random() < 0.8:
            text = text.lower()
        if rng.random() < 0.3:
            text = strip_accents(text)
        if any(word in OPERATORS for word in text.split()):
            text = text.lower()
        queries.append(text)
    return queries


# -- SQLite FTS5 -------------------------------------------------------------------------


def build_fts5(paragraphs: list[str], path: Path) -> float:
    if path.exists():
        path.unlink()
    started = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE p USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO p(rowid, text) VALUES (?, ?)", enumerate(paragraphs, start=1))
    db.commit()
    db.execute("INSERT INTO p(p) VALUES ('optimize')")
    db.commit()
    db.close()
    return time.perf_counter() - started


def fts5_match(query: str) -> str:
    return " ".join('"' + word.replace('"', '""') + '"' for word in SYLLABLE.findall(query))


# -- searcher through --batch ------------------------------------------------------------


class BatchClient:
    """A ``searcher query --batch -`` process answering one query at a time."""

    def __init__(self, cmd: list[str]):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines: queue.Queue = queue.Queue()
        for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr)):
            threading.Thread(target=self._pump, args=(name, stream), daemon=True).start()
        self.line_number = 0

    def _pump(self, name, stream):
        for line in stream:
            self.lines.put((name, line))
        self.lines.put((name, None))

    def ask(self, query_id: int, text: str, timeout: float = 120.0):
        """(latency s, summary dict or None on a reported error, hit lines)."""
        self.line_number += 1
        sent = time.perf_counter()
        self.proc.stdin.write((json.dumps({"id": query_id, "query": text}, ensure_ascii=False) + "\n").encode())
        self.proc.stdin.flush()
        hits = 0
        while True:
            try:
                name, line = self.lines.get(timeout=timeout)
            except queue.Empty:
                sys.exit(f"no answer to batch line {self.line_number} within {timeout:.0f} s: "
                         "does `searcher query --batch` flush after each query?")
            if line is None:
                sys.exit(f"searcher --batch ended early (exit {self.proc.wait()})")
            if name == "err":
                if f"batch line {self.line_number}:" in line.decode(errors="replace"):
                    return time.perf_counter() - sent, None, 0
                continue
            record = json.loads(line)
            if record.get("type") == "summary":
                return time.perf_counter() - sent, record, hits
            hits += 1

    def close(self) -> float:
        self.proc.stdin.close()
        self.proc.wait()
        return time.perf_counter() - self.started


def stats_line(label: str, ms: list[float]) -> str:
    return (f"{label:<40} {percentile(ms, 50):>8.1f} {percentile(ms, 95):>8.1f} {percentile(ms, 99):>8.1f} "
            f"{max(ms):>8.1f} {sum(ms) / len(ms):>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Warm query latency beside SQLite FTS5.")
    parser.add_argument("--paragraphs", type=int, default=100000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single", type=int, default=20, help="queries run one process each")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--piped", action="store_true", help="also time the whole batch piped in at once")
    args = parser.parse_args()

    n = args.paragraphs
    corpus = ensure_corpus(n)
    index = DATA / f"index-{n}"
    header(f"warm queries, {n} paragraphs")
    print(f"(bringing {index} up to date with the corpus: untimed)", file=sys.stderr)
    ensure_index(index, corpus)
    paragraphs = read_paragraphs(corpus)
    queries = make_queries(paragraphs, args.queries)
    fts_path = DATA / f"fts5-{n}.sqlite"
    fts_build = build_fts5(paragraphs, fts_path)
    db = sqlite3.connect(fts_path)
    sql = "SELECT rowid, text, bm25(p) AS score FROM p WHERE p MATCH ? ORDER BY score LIMIT ?"

    # -- closed loop, interleaved with FTS5 --
    client = BatchClient(searcher(index, corpus, "query", "--batch", "-", "-n", str(args.limit)))
    s_ext, s_int, f_ms = [], [], []
    s_hit = f_hit = s_err = 0
    for number, text in enumerate(queries, start=1):
        latency, summary, hits = client.ask(number, text)
        if summary is None:
            s_err += 1
        else:
            s_ext.append(latency * 1000)
            s_int.append(float(summary["elapsed_ms"]))
            s_hit += hits > 0
        t0 = time.perf_counter()
        rows = db.execute(sql, (fts5_match(text), args.limit)).fetchall() if fts5_match(text) else []
        f_ms.append((time.perf_counter() - t0) * 1000)
        f_hit += bool(rows)
    loop_wall = client.close()

    # -- throughput: the closed loop's process wall without FTS5's share (start-up included);
    # optionally the whole batch piped at once; one process per query for a sample --
    batch_wall = loop_wall - sum(f_ms) / 1000
    piped = None
    if args.piped:
        with tempfile.TemporaryFile() as batch_in:
            batch_in.write("".join(q + "\n" for q in queries).encode())
            batch_in.seek(0)
            piped = run_measured(searcher(index, corpus, "query", "--batch", "-", "-n", str(args.limit)),
                                 stdin=batch_in, capture=False).wall
    sample = random.Random(SEED + 1).sample(queries, min(args.single, len(queries)))
    singles = [run_measured(searcher(index, corpus, "query", q, "--json", "-n", str(args.limit)),
                            capture=False).wall for q in sample]

    print(f"corpus {corpus}: {len(paragraphs)} paragraphs; {len(queries)} queries (seed {SEED}), "
          f"e.g. {', '.join(repr(q) for q in queries[:4])}")
    print(f"SQLite {sqlite3.sqlite_version} FTS5 built in {fts_build:.1f} s ({fts_path.stat().st_size / 1e6:.1f} MB)")
    print()
    print(f"{'latency, ms':<40} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'mean':>8}")
    print(stats_line("searcher --batch, from outside", s_ext))
    print(stats_line("searcher --batch, summary elapsed_ms", s_int))
    print(stats_line("SQLite FTS5 (in process)", f_ms))
    print(f"{'ratio searcher (outside) / FTS5':<40} {ratio(percentile(s_ext, 50), percentile(f_ms, 50)):>8} "
          f"{ratio(percentile(s_ext, 95), percentile(f_ms, 95)):>8}")
    print(f"first query (index opening, lazy imports): {s_ext[0]:.0f} ms outside, {s_int[0]:.0f} ms elapsed_ms")
    print(f"queries with hits: searcher {s_hit}/{len(queries)}, FTS5 {f_hit}/{len(queries)}"
          f"{f'; searcher errors: {s_err}' if s_err else ''}")
    print()
    batch_qps = len(queries) / batch_wall
    single_wall = median(singles)
    print(f"throughput: one --batch process, {len(queries)} queries: {batch_wall:.1f} s wall "
          f"({batch_wall / len(queries) * 1000:.1f} ms/query, {batch_qps:.2f} queries/s, start-up included)")
    if piped is not None:
        print(f"            the same batch piped in at once: {piped:.1f} s wall ({len(queries) / piped:.2f} queries/s)")
    print(f"            one process per query ({len(sample)} sampled): median {single_wall * 1000:.0f} ms, "
          f"{len(sample) / sum(singles):.2f} queries/s; batch is {ratio(batch_qps, len(sample) / sum(singles))} faster")
    print(f"            FTS5: {len(f_ms) / (sum(f_ms) / 1000):.0f} queries/s")
    print()
    p50, p95 = percentile(s_ext, 50), percentile(s_ext, 95)
    print(f"target: p50 ≤ 30 ms: {p50:.1f} ms (outside; {percentile(s_int, 50):.1f} ms elapsed_ms) → {verdict(p50 <= 30)}")
    print(f"target: p95 ≤ 120 ms: {p95:.1f} ms (outside; {percentile(s_int, 95):.1f} ms elapsed_ms) → {verdict(p95 <= 120)}")
    if n != 100000:
        print(f"(the targets are stated at 100k paragraphs; this run has {n})")


if __name__ == "__main__":
    main()
