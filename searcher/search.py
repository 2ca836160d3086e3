"""Running queries on an engine's snapshot: ranked paragraph hits with highlight offsets,
identical paragraphs collapsed, grouping by article, context paragraphs."""

from __future__ import annotations

import time
from dataclasses import dataclass

from searcher.analysis import analyze
from searcher.engine.nodes import Filters
from searcher.query import Compiled, compile_query
from searcher.text import canonical_tones, fold_accents

SUGGEST_BELOW = 3  # a query with fewer matches than this gets a "Did you mean"


@dataclass(frozen=True)
class Context:
    """A neighbouring paragraph shown around a hit (``-C N``)."""

    paragraph: int
    text: str


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
    duplicates: int = 0  # identical paragraphs (in other articles) folded into this hit
    group: int | None = None  # with grouping: the rank of this hit's article
    before: tuple[Context, ...] = ()
    after: tuple[Context, ...] = ()


@dataclass(frozen=True)
class Results:
    query: str
    hits: tuple[Hit, ...]
    total: int
    elapsed_ms: float
    suggestion: str | None = None  # a corrected query, when this one finds little


def highlight_spans(text: str, compiled: Compiled) -> tuple[tuple[int, int], ...]:
    """Where the query's words stand in ``text``: matched syllables, joined within a word."""
    spans: list[list[int]] = []
    prev_key = None
    for unit in analyze(text, words=False, bigrams=False).syllables:
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


def _duplicate_key(text: str) -> str:
    return " ".join(canonical_tones(text).lower().split())


def _rough_key(text: str) -> str:
    """Equal for any two paragraphs with equal ``_duplicate_key`` (and for some others):
    cheap enough for every hit, while ``_duplicate_key`` only settles collisions."""
    return " ".join(fold_accents(text).split())


def _unique_hits(snapshot, query, filters: Filters, wanted: int):
    """Top hits with repeated identical paragraphs collapsed into the first (best) one.

    Returns ``(hits, duplicate counts, total matches)``, each hit a ``(Paragraph, score)``
    pair; ranks further down until ``wanted`` distinct paragraphs are found or the
    matches run out.
    """
    window = wanted * 2 + 10
    while True:
        ranked, total = snapshot.top(query, window, filters)
        seen: dict[str, list] = {}  # rough key -> [[exact key or None, index in unique]]
        unique, counts = [], []
        for ref, score in ranked:
            paragraph = snapshot.paragraph(ref)
            text = paragraph.text
            rough = _rough_key(text)
            exact, duplicate_of = None, None
            for entry in seen.get(rough, ()):
                exact = exact or _duplicate_key(text)
                if entry[0] is None:
                    entry[0] = _duplicate_key(unique[entry[1]][0].text)
                if entry[0] == exact:
                    duplicate_of = entry[1]
                    break
            if duplicate_of is not None:
                counts[duplicate_of] += 1
                continue
            seen.setdefault(rough, []).append([exact, len(unique)])
            unique.append((paragraph, score))
            counts.append(0)
        if len(unique) >= wanted or len(ranked) < window:
            return unique[:wanted], counts[:wanted], total
        window *= 4


def _context(snapshot, paragraph, size: int) -> tuple[tuple[Context, ...], tuple[Context, ...]]:
    if size <= 0:
        return (), ()
    number = paragraph.number
    numbers = [n for n in range(max(1, number - size), number + size + 1) if n != number]
    found = snapshot.paragraphs_near(paragraph.ref, numbers)
    around = [Context(n, found[n].text) for n in sorted(found)]
    return tuple(c for c in around if c.paragraph < number), tuple(c for c in around if c.paragraph > number)


def search(
    snapshot,
    text: str,
    limit: int = 10,
    offset: int = 0,
    article: str | None = None,
    since: str | None = None,
    until: str | None = None,
    context: int = 0,
    group: int = 0,
) -> Results:
    """Run the query ``text`` on an engine ``snapshot``: hits ``offset+1 … offset+limit``.

    ``context`` adds that many neighbouring paragraphs before and after each hit;
    ``group`` > 0 orders hits by article (best article first) with at most ``group``
    paragraphs per article, and ``limit``/``offset`` then count articles.
    """
    started = time.perf_counter()
    compiled = compile_query(text, snapshot)
    filters = Filters(article=article, since=since, until=until)
    wanted = (offset + limit) * (group * 4 if group else 1)
    found, counts, total = _unique_hits(snapshot, compiled.query, filters, wanted)
    picked = list(zip(found, counts))
    groups: dict[str, int] = {}
    if group:
        by_article: dict[str, list] = {}
        for hit, count in picked:
            article_id = hit[0].article
            by_article.setdefault(article_id, [])
            if len(by_article[article_id]) < group:
                by_article[article_id].append((hit, count))
        chosen = list(by_article)[offset : offset + limit]
        groups = {a: n for n, a in enumerate(chosen, start=offset + 1)}
        picked = [pair for a in chosen for pair in by_article[a]]
        first_rank = 1
    else:
        picked = picked[offset : offset + limit]
        first_rank = offset + 1
    hits = []
    articles: dict[str, object] = {}
    for rank, ((paragraph, score), duplicates) in enumerate(picked, start=first_rank):
        before, after = _context(snapshot, paragraph, context)
        if paragraph.article not in articles:
            articles[paragraph.article] = snapshot.article_meta(paragraph.ref)
        meta = articles[paragraph.article]
        hits.append(
            Hit(
                rank=rank,
                score=round(score, 4),
                article=paragraph.article,
                paragraph=paragraph.number,
                title=meta.title,
                date=meta.date,
                author=meta.author,
                url=meta.url,
                text=paragraph.text,
                highlights=highlight_spans(paragraph.text, compiled),
                duplicates=duplicates,
                group=groups.get(paragraph.article),
                before=before,
                after=after,
            )
        )
    suggestion = None
    if total < SUGGEST_BELOW:
        from searcher.suggest import suggest

        suggestion = suggest(text, snapshot, filters, total)
    return Results(
        query=text,
        hits=tuple(hits),
        total=total,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        suggestion=suggestion,
    )
