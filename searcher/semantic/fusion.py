"""Hybrid ranking: one list from a lexical (BM25) list and a semantic (cosine) one.

Pure functions on (key, score) pairs; a key is whatever names a paragraph (here
``(article, paragraph)``). The figures behind the defaults are in the semantic report
(benchmarks/semantic_quality.py measures them).

``linear``: each side min-max normalized over its own candidates, then
``weight * bm25 + (1 - weight) * cosine``. The lexical side covers its top-k only: a
paragraph outside it scores 0 there. The semantic side should hold the exact cosine of
every candidate (the store has all vectors: ``VectorStore.scores`` for the lexical
candidates, ``VectorStore.search`` for the nearest ones).

``rrf``: reciprocal rank fusion, ``sum 1 / (k + rank)`` over the lists a key is in.
"""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping, Sequence, TypeVar

K = TypeVar("K", bound=Hashable)

DEFAULT_WEIGHT = 0.7  # of BM25, in ``linear``
RRF_K = 60


def minmax(scores: Mapping[K, float]) -> dict[K, float]:
    """Scores mapped onto [0, 1]; all equal → all 1.0."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high <= low:
        return {key: 1.0 for key in scores}
    span = high - low
    return {key: (value - low) / span for key, value in scores.items()}


def linear(lexical: Sequence[tuple[K, float]] | Mapping[K, float], semantic: Mapping[K, float],
           weight: float = DEFAULT_WEIGHT) -> list[tuple[K, float]]:
    """Fused (key, score) pairs, best first; ties in the lexical list's order, then the semantic one's."""
    lex = dict(lexical)
    lex_n, sem_n = minmax(lex), minmax(dict(semantic))
    keys = list(lex) + [key for key in semantic if key not in lex]
    fused = [(key, weight * lex_n.get(key, 0.0) + (1.0 - weight) * sem_n.get(key, 0.0)) for key in keys]
    order = {key: i for i, key in enumerate(keys)}
    fused.sort(key=lambda item: (-item[1], order[item[0]]))
    return fused


def rrf(lists: Iterable[Sequence[K]], k: int = RRF_K) -> list[tuple[K, float]]:
    """Reciprocal rank fusion of ranked key lists (best first each)."""
    scores: dict[K, float] = {}
    first: dict[K, int] = {}
    n = 0
    for ranked in lists:
        for rank, key in enumerate(ranked, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            if key not in first:
                first[key] = n
                n += 1
    return sorted(scores.items(), key=lambda item: (-item[1], first[item[0]]))
