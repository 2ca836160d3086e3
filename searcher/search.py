"""Running queries: ranked paragraph hits with highlight offsets."""

from __future__ import annotations

import time
from dataclasses import dataclass

from whoosh import query as wq

from searcher.analysis import analyze
from searcher.query import Compiled, compile_query


@dataclass(frozen=True)
class Hit:
    """One matching paragraph. ``highlights`` are half-open code-point offsets into ``text``."""

    rank: int
    score: float
    article: str
    paragraph: int
    title: str
    date: str | None
    author: str | None
    url: str | None
    text: str
    highlights: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Results:
    query: str
    hits: tuple[Hit, ...]
    total: int
    elapsed_ms: float


def highlight_spans(text: str, compiled: Compiled) -> tuple[tuple[int, int], ...]:
    """Where the query's words stand in ``text``: matched syllables, joined within a word."""
    spans: list[list[int]] = []
    prev_key = None
    for unit in analyze(text, words=False).syllables:
        if unit.canon in compiled.exact:
            key = unit.canon
        elif unit.folded in compiled.folded:
            key = unit.folded
        else:
            prev_key = None
            continue
        joined = (
            spans
            and prev_key is not None
            and (prev_key, key) in compiled.joins
            and text[spans[-1][1] : unit.start].isspace()
        )
        if joined:
            spans[-1][1] = unit.end
        else:
            spans.append([unit.start, unit.end])
        prev_key = key
    return tuple((s, e) for s, e in spans)


def _none_if_empty(value):
    return value or None


def search(
    index,
    text: str,
    limit: int = 10,
    offset: int = 0,
    article: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Results:
    """Run the query ``text`` on ``index``; hits ``offset+1 … offset+limit`` by score."""
    started = time.perf_counter()
    with index.searcher() as searcher:
        compiled = compile_query(text, searcher.reader())
        filters = []
        if article:
            filters.append(wq.Term("article", article))
        if since or until:
            filters.append(wq.TermRange("date", since or "0000", (until or "9999") + "\uffff"))
        filter_query = wq.And(filters) if filters else None
        results = searcher.search(compiled.query, limit=offset + limit, filter=filter_query)
        hits = []
        for rank, hit in enumerate(results[offset : offset + limit], start=offset + 1):
            stored = hit.fields()
            hits.append(
                Hit(
                    rank=rank,
                    score=round(hit.score, 4),
                    article=stored["article"],
                    paragraph=stored["para"],
                    title=stored.get("title", ""),
                    date=_none_if_empty(stored.get("date")),
                    author=_none_if_empty(stored.get("author")),
                    url=_none_if_empty(stored.get("url")),
                    text=stored["text"],
                    highlights=highlight_spans(stored["text"], compiled),
                )
            )
        total = len(results)
    return Results(
        query=text,
        hits=tuple(hits),
        total=total,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
    )
