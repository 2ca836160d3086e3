"""BM25, written once: the IDF and the term weight every engine of searcher scores with.

    idf(n, N)   = log(1 + (N - n + 0.5) / (n + 0.5))          (Lucene's, never negative)
    weight      = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg_length))

``bm25`` works on numbers and, unchanged, on numpy arrays (the dense evaluator passes
arrays of frequencies and length norms).
"""

from __future__ import annotations

import math

# K1 0.9 (Whoosh's default 1.2) measured +0.001-0.004 MRR@10 on questions with and without
# distractor paragraphs; B stays at 0.75 (benchmarks/QUALITY.md).
K1 = 0.9
B = 0.75


def idf(n: int, total: int) -> float:
    """The IDF of a term in ``n`` of ``total`` documents."""
    return math.log(1 + (total - n + 0.5) / (n + 0.5))


def length_norm(length, avg_length: float, k1: float = K1, b: float = B):
    """``k1 * (1 - b + b * length / avg_length)``: the part of BM25 a document's length sets."""
    return k1 * ((1 - b) + b * length / avg_length)


def bm25(tf, norm, term_idf: float, k1: float = K1):
    """A term's BM25 weight in a document, given its frequency and ``length_norm``."""
    return term_idf * ((tf * (k1 + 1)) / (tf + norm))


def bm25_bound(max_tf: float, min_length: float, avg_length: float, term_idf: float, k1: float = K1, b: float = B) -> float:
    """The largest weight a term can have: BM25 grows with the frequency and shrinks
    with the length, so the largest frequency and the shortest length bound it."""
    return bm25(max_tf, length_norm(min_length, avg_length, k1, b), term_idf, k1)
