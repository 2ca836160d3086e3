"""BM25, written once: Lucene's, which every engine of searcher scores with (OpenSearch's
"BM25" similarity is exactly this).

    idf(n, N)   = log(1 + (N - n + 0.5) / (n + 0.5))          never negative
    weight      = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))

N is the number of documents that have the field, avgdl their mean length (deleted
documents count until they are merged away, in Lucene too), and dl a document's length
as its one-byte norm keeps it (``norm_byte``, ``LENGTH_TABLE``: exact below 24, then four
significant bits, rounded down). A phrase scores as one term whose frequency is the
number of times the phrase occurs and whose IDF is the sum of its terms' (Lucene's
PhraseQuery). ``bm25`` works on numbers and, unchanged, on numpy arrays.
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



# -- field lengths in one byte (Lucene's SmallFloat.intToByte4 / byte4ToInt) --------------


def _long_to_int4(i: int) -> int:
    bits = i.bit_length()
    if bits < 4:
        return i
    shift = bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)


def _int4_to_long(i: int) -> int:
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_EXACT = 255 - _long_to_int4(2**31 - 1)  # 24: lengths below this are kept exactly


def norm_byte(length: int) -> int:
    """The one byte a field length is kept in."""
    return length if length < _EXACT else _EXACT + _long_to_int4(length - _EXACT)


# The length each norm byte stands for (the smallest length it encodes).
LENGTH_TABLE = tuple(b if b < _EXACT else _EXACT + _int4_to_long(b - _EXACT) for b in range(256))
