"""Warm queries: latency of 1,000 queries through `searcher query --batch -`, beside SQLite FTS5.

    python benchmarks/warm_query.py [--paragraphs 100000] [--queries 1000] [--single 20] [--piped]

Queries are made from the corpus with a fixed seed: spans of 1–4 adjacent syllables taken
from random paragraphs (mostly lower-cased), so most have hits, asked in four classes
(issue 10, item 5), a quarter of the queries each, in one interleaved stream:

- ``keyword``: the span as typed, accents kept;
- ``accentless``: the same spans with accents stripped (đ → d);
- ``phrase``: the spans of two or more syllables, quoted;
- ``or-phrases``: two such quoted spans joined by ``OR``. The scale corpus and its index (``benchmarks/data/index-N``, left by
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

Targets at 100k paragraphs: p50 ≤ 30 ms and p95 ≤ 120 ms over keyword and accentless
queries (issue 5); phrase p50 ≤ 2× keyword p50, OR-of-phrases ≤ 3×, accentless ≤ 1.3×
accented (issue 10), measured on the summary's ``elapsed_ms`` (the search itself, without
the fixed cost of the pipe), FTS5's ratios for the same classes beside them.
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


CLASSES = ("keyword", "accentless", "phrase", "or-phrases")


def make_spans(paragraphs: list[str], count: int, rng: random.Random, lengths=SPAN_LENGTHS) -> list[str]:
    """``count`` spans of adjacent syllables (space-separated only) from random paragraphs."""
    spans: list[str] = []
    while len(spans) < count:
        paragraph = rng.choice(paragraphs)
        matches = list(SYLLABLE.finditer(paragraph))
        length = rng.choice(lengths)
        if len(matches) < length:
            continue
        start = rng.randrange(len(matches) - length + 1)
        span = matches[start : start + length]
        if any(not paragraph[a.end() : b.start()].isspace() for a, b in zip(span, span[1:])):
            continue
        text = " ".join(m.group(0) for m in span)
        if rng.random() < 0.8 or any(word in OPERATORS for word in text.split()):
            text = text.lower()
        spans.append(text)
    return spans


def make_queries(paragraphs: list[str], count: int, seed: int = SEED) -> list[tuple[str, str]]:
    """``count`` (class, query) pairs, the four classes interleaved, a quarter each."""
    rng = random.Random(seed)
    per_class = max(1, count // len(CLASSES))
    words = make_spans(paragraphs, per_class, rng)
    phrases = make_spans(paragraphs, 3 * per_class, rng, lengths=(2, 2, 3, 3, 4))
    queries = []
    for i in range(per_class):
        queries.append(("keyword", words[i]))
        queries.append(("accentless", strip_accents(words[i])))
        queries.append(("phrase", f'"{phrases[i]}"'))
        queries.append(("or-phrases", f'"{phrases[per_class + 2 * i]}" OR "{phrases[per_class + 2 * i + 1]}"'))
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
    """The query in FTS5's syntax: quoted spans as phrases, ``OR`` kept, other words required."""
    parts = []
    for quoted, word in re.findall(r'"([^"]*)"|(\S+)', query):
        if word == "OR":
            parts.append("OR")
        elif quoted:
            parts.append('"' + " ".join(SYLLABLE.findall(quoted)) + '"')
        else:
            parts.extend('"' + w + '"' for w in SYLLABLE.findall(word))
    return " ".join(parts)


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
    s_ext, s_int, f_ms = ({c: [] for c in CLASSES} for _ in range(3))
    s_hit = f_hit = s_err = 0
    for number, (kind, text) in enumerate(queries, start=1):
        latency, summary, hits = client.ask(number, text)
        if summary is None:
            s_err += 1
        else:
            s_ext[kind].append(latency * 1000)
            s_int[kind].append(float(summary["elapsed_ms"]))
            s_hit += hits > 0
        t0 = time.perf_counter()
        rows = db.execute(sql, (fts5_match(text), args.limit)).fetchall()
        f_ms[kind].append((time.perf_counter() - t0) * 1000)
        f_hit += bool(rows)
    loop_wall = client.close()

    # -- throughput: the closed loop's process wall without FTS5's share (start-up included);
    # optionally the whole batch piped at once; one process per query for a sample --
    every = lambda table, kinds=CLASSES: [ms for kind in kinds for ms in table[kind]]  # noqa: E731
    batch_wall = loop_wall - sum(every(f_ms)) / 1000
    piped = None
    if args.piped:
        with tempfile.TemporaryFile() as batch_in:
            batch_in.write("".join(q + "\n" for _, q in queries).encode())
            batch_in.seek(0)
            piped = run_measured(searcher(index, corpus, "query", "--batch", "-", "-n", str(args.limit)),
                                 stdin=batch_in, capture=False).wall
    sample = [q for _, q in random.Random(SEED + 1).sample(queries, min(args.single, len(queries)))]
    singles = [run_measured(searcher(index, corpus, "query", q, "--json", "-n", str(args.limit)),
                            capture=False).wall for q in sample]

    print(f"corpus {corpus}: {len(paragraphs)} paragraphs; {len(queries)} queries (seed {SEED}), "
          f"e.g. {', '.join(repr(q) for _, q in queries[:4])}")
    print(f"SQLite {sqlite3.sqlite_version} FTS5 built in {fts_build:.1f} s ({fts_path.stat().st_size / 1e6:.1f} MB)")
    print()
    print(f"{'latency, ms':<40} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'mean':>8}")
    typed = ("keyword", "accentless")
    print(stats_line("searcher --batch, from outside", every(s_ext, typed)))
    print(stats_line("searcher --batch, summary elapsed_ms", every(s_int, typed)))
    print(stats_line("SQLite FTS5 (in process)", every(f_ms, typed)))
    print(f"{'ratio searcher (outside) / FTS5':<40} {ratio(percentile(every(s_ext, typed), 50), percentile(every(f_ms, typed), 50)):>8} "
          f"{ratio(percentile(every(s_ext, typed), 95), percentile(every(f_ms, typed), 95)):>8}")
    print("(keyword and accentless queries; the classes one by one below)")
    first = next(kind for kind in CLASSES if s_ext[kind])
    print(f"first query (index opening, lazy imports): {s_ext[first][0]:.0f} ms outside, {s_int[first][0]:.0f} ms elapsed_ms")
    print(f"queries with hits: searcher {s_hit}/{len(queries)}, FTS5 {f_hit}/{len(queries)}"
          f"{f'; searcher errors: {s_err}' if s_err else ''}")
    print()
    print(f"{'by class, p50 ms (p95)':<14} {'outside':>16} {'elapsed_ms':>16} {'FTS5':>16}   {'÷ keyword: searcher':>19} {'FTS5':>7}")
    p50 = {name: {kind: percentile(table[kind], 50) for kind in CLASSES if table[kind]}
           for name, table in (("ext", s_ext), ("int", s_int), ("fts", f_ms))}
    for kind in CLASSES:
        if not s_ext[kind]:
            continue
        cells = [f"{percentile(t[kind], 50):7.1f} ({percentile(t[kind], 95):6.1f})" for t in (s_ext, s_int, f_ms)]
        print(f"{kind:<14} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16}   "
              f"{ratio(p50['int'][kind], p50['int']['keyword']):>19} {ratio(p50['fts'][kind], p50['fts']['keyword']):>7}")
    print()
    batch_qps = len(queries) / batch_wall
    single_wall = median(singles)
    print(f"throughput: one --batch process, {len(queries)} queries: {batch_wall:.1f} s wall "
          f"({batch_wall / len(queries) * 1000:.1f} ms/query, {batch_qps:.2f} queries/s, start-up included)")
    if piped is not None:
        print(f"            the same batch piped in at once: {piped:.1f} s wall ({len(queries) / piped:.2f} queries/s)")
    print(f"            one process per query ({len(sample)} sampled): median {single_wall * 1000:.0f} ms, "
          f"{len(sample) / sum(singles):.2f} queries/s; batch is {ratio(batch_qps, len(sample) / sum(singles))} faster")
    print(f"            FTS5: {len(every(f_ms)) / (sum(every(f_ms)) / 1000):.0f} queries/s")
    print()
    p50_all, p95_all = percentile(every(s_ext, typed), 50), percentile(every(s_ext, typed), 95)
    print(f"target: p50 ≤ 30 ms: {p50_all:.1f} ms (outside; {percentile(every(s_int, typed), 50):.1f} ms elapsed_ms) → {verdict(p50_all <= 30)}")
    print(f"target: p95 ≤ 120 ms: {p95_all:.1f} ms (outside; {percentile(every(s_int, typed), 95):.1f} ms elapsed_ms) → {verdict(p95_all <= 120)}")
    inner = p50["int"]
    for kind, limit in (("phrase", 2.0), ("or-phrases", 3.0), ("accentless", 1.3)):
        if kind in inner:
            times = inner[kind] / inner["keyword"]
            print(f"target: {kind} p50 ≤ {limit}× keyword p50 (elapsed_ms): {times:.2f}× → {verdict(times <= limit)}")
    if n != 100000:
        print(f"(the targets are stated at 100k paragraphs; this run has {n})")


if __name__ == "__main__":
    main()
