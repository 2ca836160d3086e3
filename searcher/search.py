"""Running queries on an engine's snapshot: ranked paragraph hits with highlight offsets,
identical paragraphs collapsed, grouping by article, context paragraphs."""

from __future__ import annotations

import time

from searcher.analysis import analyze
from searcher.engine.nodes import Filters
from searcher.query import Compiled, check_date, compile_query
from searcher.records import Record
from searcher.text import canonical_tones, fold_accents

SUGGEST_BELOW = 3  # a query with fewer matches than this gets a "Did you mean"


class Context(Record):
    """A neighbouring paragraph shown around a hit (``-C N``)."""

    paragraph: int
    text: str


class Hit(Record):
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
    complete: bool | None = None  # it holds every word of the query (None: a question)
    before: tuple[Context, ...] = ()
    after: tuple[Context, ...] = ()
    # Hybrid ranking only (an index with embeddings): ``score`` is then the fused score,
    # and these its two sides: BM25 (None: not among the lexical candidates) and the
    # cosine similarity with the query (None: no vector for this paragraph).
    score_lexical: float | None = None
    score_semantic: float | None = None


class Results(Record):
    query: str
    hits: tuple[Hit, ...]
    total: int
    elapsed_ms: float
    suggestion: str | None = None  # a corrected query, when this one finds little
    # Of the matches, those holding every word of the query (in the text or the title):
    # they rank first. None for a question, which ranks all its matches alike.
    complete: int | None = None
    # "hybrid" when lexical and semantic ranking were fused, else "lexical".
    ranking: str = "lexical"
    warning: str | None = None  # why a hybrid index answered lexically, for stderr

    @property
    def found(self) -> bool:
        """Whether the query matched fully: a hit, and for a keyword query a paragraph
        with every word (the exit status of ``searcher query`` says this)."""
        return bool(self.hits) and self.complete != 0


def highlight_spans(text: str, compiled: Compiled) -> tuple[tuple[int, int], ...]:
    """Where the query's words stand in ``text`` (``query.Mark``): half-open offsets,
    one span per word (syllables of one word joined across the spaces between them)."""
    units = analyze(text, words=False, bigrams=False).syllables
    marked = [False] * len(units)
    joined = [False] * len(units)  # unit i continues the word of unit i - 1
    for mark in compiled.marks:
        _mark(units, mark, marked, joined)
    spans: list[list[int]] = []
    for i, unit in enumerate(units):
        if not marked[i]:
            continue
        if joined[i] and marked[i - 1] and spans and text[units[i - 1].end : unit.start].isspace():
            spans[-1][1] = unit.end
        else:
            spans.append([unit.start, unit.end])
    return tuple((a, b) for a, b in spans)


def _mark(units, mark, marked: list[bool], joined: list[bool]) -> None:
    """Mark in ``units`` what ``mark`` looks for (see ``query.Mark``)."""
    size, n = len(mark.canon), len(units)
    present = {u.canon for u in units}
    by_canon: dict[str, list[int]] = {}
    by_folded: dict[str, list[int]] = {}
    for j, (canon, folded, exact) in enumerate(zip(mark.canon, mark.folded, mark.exact)):
        if exact and canon in present:
            by_canon.setdefault(canon, []).append(j)
        else:
            by_folded.setdefault(folded, []).append(j)
    # hits[i]: the query syllables that unit i matches (one dictionary look-up per unit)
    hits = [by_canon.get(u.canon, []) + by_folded.get(u.folded, []) for u in units]

    def run_at(i: int, j: int) -> int:
        """How many units from ``i`` match the query syllables from ``j``, in order."""
        k = 0
        while i + k < n and j + k < size and (j + k) in hits[i + k]:
            k += 1
        return k

    def put(i: int, j: int, length: int) -> None:
        for k in range(length):
            marked[i + k] = True
            if k and (j + k - 1) in mark.joins:
                joined[i + k] = True

    if mark.kind == "phrase":
        for i in range(n - size + 1):
            if 0 in hits[i] and run_at(i, 0) == size:
                put(i, 0, size)
        return
    covered: set[int] = set()
    i = 0
    while i < n:
        length, start = max(((run_at(i, j), j) for j in hits[i]), default=(0, 0))
        if length >= 2:
            put(i, start, length)
            covered.update(range(start, start + length))
            i += length
        else:
            i += 1
    for i, matched in enumerate(hits):
        if any(j not in covered for j in matched):
            marked[i] = True


def _duplicate_key(text: str) -> str:
    return " ".join(canonical_tones(text).lower().split())


def _rough_key(text: str) -> str:
    """Equal for any two paragraphs with equal ``_duplicate_key`` (and for some others):
    cheap enough for every hit, while ``_duplicate_key`` only settles collisions."""
    return " ".join(fold_accents(text).split())


def unique_hits(snapshot, query, filters: Filters, wanted: int):
    """Top hits with repeated identical paragraphs collapsed into the first (best) one.

    Returns ``(hits, duplicate counts, total matches, full matches)``, each hit a
    ``(Paragraph, score, complete)`` triple (``complete``: in the first tier, ``None`` if
    the query has no tiers); ranks further down until ``wanted`` distinct paragraphs are
    found or the matches run out.
    """
    window = wanted * 2 + 10
    while True:
        ranked, total, full = snapshot.top(query, window, filters)
        seen: dict[str, list] = {}  # rough key -> [[exact key or None, index in unique]]
        unique, counts = [], []
        for position, (ref, score) in enumerate(ranked):
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
            unique.append((paragraph, score, None if full is None else position < full))
            counts.append(0)
        if len(unique) >= wanted or len(ranked) < window:
            return unique[:wanted], counts[:wanted], total, full
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
    ranker=None,
) -> Results:
    """Run the query ``text`` on an engine ``snapshot``: hits ``offset+1 … offset+limit``.

    ``context`` adds that many neighbouring paragraphs before and after each hit;
    ``group`` > 0 orders hits by article (best article first) with at most ``group``
    paragraphs per article, and ``limit``/``offset`` then count articles. ``ranker``
    replaces the lexical ranking (``unique_hits``): ``ranker(snapshot, text, compiled,
    filters, wanted)`` returns what ``unique_hits`` does, its hits ``(Paragraph, score,
    complete, score_lexical, score_semantic)``, and the ranking it used ("hybrid", or
    "lexical" when it fell back) (``searcher.hybrid``).
    """
    started = time.perf_counter()
    compiled = compile_query(text, snapshot)
    filters = Filters(article=article, since=check_date(since, "since"), until=check_date(until, "until"))
    wanted = (offset + limit) * (group * 4 if group else 1)
    ranking = "lexical"
    if ranker is None:
        found, counts, total, full = unique_hits(snapshot, compiled.query, filters, wanted)
    else:
        found, counts, total, full, ranking = ranker(snapshot, text, compiled, filters, wanted)
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
    for rank, (found_hit, duplicates) in enumerate(picked, start=first_rank):
        paragraph, score, complete = found_hit[:3]
        sides = found_hit[3:5] if len(found_hit) > 3 else (None, None)
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
                complete=complete,
                before=before,
                after=after,
                score_lexical=None if sides[0] is None else round(sides[0], 4),
                score_semantic=None if sides[1] is None else round(sides[1], 4),
            )
        )
    suggestion = None
    if (total if full is None else full) < SUGGEST_BELOW:
        from searcher.suggest import suggest

        suggestion = suggest(text, snapshot, filters, total if full is None else full)
    return Results(
        query=text,
        hits=tuple(hits),
        total=total,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        suggestion=suggestion,
        complete=full,
        ranking=ranking,
    )
