"""Timelines: how many paragraphs (and articles) match a query, per month or year.

Two parts. Periods (``Period``, ``bucket``, ``count_periods``, date checks) are pure
functions on ISO date strings and know nothing of the engine. ``matching_dates`` finds
every match of a query (not just the top n) with its article's date and id; it works on
the embedded engine's searcher today and is the part to move into the engine.

A period is ``YYYY`` (``by="year"``) or ``YYYY-MM`` (``by="month"``): the same strings
``--since``/``--until`` accept, so a period can narrow a search to itself as it is
(``since=2024-10&until=2024-10`` is October 2024). Periods run from the first to the last
one with a match, the empty ones between them included (a timeline has no holes). Matches
whose article has no date, or a date coarser than the period (``2024`` by month), are
counted in one last ``Period(None, …)``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from searcher.errors import SearcherError

BY = ("month", "year")
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


@dataclass(frozen=True)
class Period:
    """Matches in one period: ``period`` is ``YYYY`` or ``YYYY-MM``, or None for undated."""

    period: str | None
    paragraphs: int
    articles: int


def check_by(by: str) -> str:
    """``by`` itself if it is ``month`` or ``year``; ``SearcherError`` otherwise."""
    if by not in BY:
        raise SearcherError(f"cannot count by {by!r}: use month or year")
    return by


def check_date(value: str | None, name: str = "date") -> str | None:
    """A date as the index compares them: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, a real
    month and day; ``SearcherError`` naming ``name`` otherwise. None stays None."""
    if value is None:
        return None
    match = _DATE_RE.match(value)
    if match:
        year, month, day = (int(g) if g else None for g in match.groups())
        if month is None or (1 <= month <= 12 and (day is None or 1 <= day <= calendar.monthrange(year, month)[1])):
            return value
    raise SearcherError(f"{name} {value!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY")


def bucket(date: str | None, by: str) -> str | None:
    """The period a date falls in (``2024-10-30`` → ``2024-10`` or ``2024``); None when
    the date is missing or coarser than the period."""
    if not date:
        return None
    match = _DATE_RE.match(date)
    if not match:
        return None
    year, month, _ = match.groups()
    if by == "year":
        return year
    return f"{year}-{month}" if month else None


def following(period: str) -> str:
    """The period after ``period`` (``2024-12`` → ``2025-01``, ``2024`` → ``2025``)."""
    if len(period) == 4:
        return f"{int(period) + 1:04d}"
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def periods_between(first: str, last: str) -> Iterator[str]:
    """Every period from ``first`` to ``last``, both included."""
    current = first
    while current <= last:
        yield current
        current = following(current)


def count_periods(matches: Iterable[tuple[str | None, str, int]], by: str) -> list[Period]:
    """Periods of ``(date, article id, matching paragraphs)`` triples (an article may come
    more than once): paragraphs and distinct articles per period, gaps filled with zeros,
    the undated ones last."""
    check_by(by)
    paragraphs: dict[str | None, int] = {}
    articles: dict[str | None, set[str]] = {}
    for date, article, count in matches:
        period = bucket(date, by)
        paragraphs[period] = paragraphs.get(period, 0) + count
        articles.setdefault(period, set()).add(article)
    dated = sorted(p for p in paragraphs if p is not None)
    found = [
        Period(p, paragraphs.get(p, 0), len(articles.get(p, ())))
        for p in (periods_between(dated[0], dated[-1]) if dated else ())
    ]
    if None in paragraphs:
        found.append(Period(None, paragraphs[None], len(articles[None])))
    return found


# -- the engine part: every match of a query, with its article's date and id --------------


def trend(
    index,
    text: str,
    by: str = "month",
    since: str | None = None,
    until: str | None = None,
    article: str | None = None,
) -> list[Period]:
    """Paragraphs and articles matching ``text`` per period (``by`` month or year), with
    the same filters and the same matches as ``index.search``: the paragraphs of a period
    add up to the ``total`` of that search narrowed to the period. Empty if nothing matches."""
    check_by(by)
    check_date(since, "since")
    check_date(until, "until")
    return count_periods(matching_dates(index, text, since=since, until=until, article=article), by)


def matching_dates(index, text: str, since=None, until=None, article=None) -> list[tuple[str | None, str, int]]:
    """``(date, article id, paragraphs)``: how many paragraphs of each article match
    ``text`` (duplicates included, as in ``Results.total``)."""
    import numpy as np
    from whoosh import query as wq

    from searcher.query import compile_query

    with index.searcher() as searcher:
        compiled = compile_query(text, searcher.reader())
        # The same filters as searcher.search.search.
        filters = []
        if article:
            filters.append(wq.Term("article", article))
        if since or until:
            filters.append(wq.TermRange("date", since or "0000", (until or "9999") + "\uffff"))
        allowed = set(searcher.docs_for_query(wq.And(filters))) if filters else None
        docnums = _matching_docnums(searcher, compiled.query, allowed)
        if not len(docnums):
            return []
        columns = _columns(searcher)
        articles, dates = columns.article_of[docnums], columns.date_of[docnums]
        # One (article, date) pair per article: dates are an article's, so ~articles pairs.
        pairs, counts = np.unique(np.stack([articles, dates]), axis=1, return_counts=True)
        return [
            (columns.dates[d] if d >= 0 else None, columns.articles[a] if a >= 0 else "", int(n))
            for (a, d), n in zip(pairs.T.tolist(), counts.tolist())
        ]


def _matching_docnums(searcher, query, allowed: set | None):
    """Every document the query matches (a numpy array), through the evaluator ``search``
    uses: its matches are the required part of a top-level AndMaybe; the rest only scores."""
    import numpy as np
    from whoosh import query as wq

    from searcher.search import _evaluator

    evaluator = _evaluator(searcher)
    node = query.a if isinstance(query, wq.AndMaybe) else query
    if hasattr(evaluator, "dense"):  # searcher.dense.DenseEvaluator: 0.0 is no match
        docnums = np.flatnonzero(evaluator.dense(node))
    else:
        table = evaluator.table(node, allowed)
        docnums = np.fromiter(table, dtype=np.int64, count=len(table))
    if allowed is not None:
        docnums = docnums[np.isin(docnums, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))]
    return docnums


@dataclass(frozen=True)
class _Columns:
    """Per document number, the index of its article id in ``articles`` and of its date in
    ``dates`` (-1: none)."""

    articles: list
    article_of: object  # numpy int32 array
    dates: list
    date_of: object


def _columns(searcher) -> _Columns:
    """Document number → article and date, read once per searcher from the ``article``
    and ``date`` terms (no stored field is read). A term whose postings fill its id range
    (an article's paragraphs are written side by side) is assigned that range from its
    term info alone; any other has its postings read."""
    import numpy as np

    cached = getattr(searcher, "_searcher_trend_columns", None)
    if cached is not None:
        return cached
    n = searcher.doc_count_all()
    subs = [(searcher, 0)] if searcher.is_atomic() else list(searcher.subsearchers)
    built = {}
    for field in ("article", "date"):
        names: list[str] = []
        numbers: dict[str, int] = {}
        column = np.full(n, -1, dtype=np.int32)
        for sub, offset in subs:
            reader = sub.reader()
            for btext, info in reader.iter_field(field):
                name = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                number = numbers.setdefault(name, len(names))
                if number == len(names):
                    names.append(name)
                low, high, df = info.min_id(), info.max_id(), info.doc_frequency()
                if low is not None and high is not None and high - low + 1 == df:
                    column[offset + low : offset + high + 1] = number
                else:
                    ids = np.fromiter(reader.postings(field, name).all_ids(), dtype=np.int64)
                    column[offset + ids] = number
        built[field] = (names, column)
    cached = _Columns(built["article"][0], built["article"][1], built["date"][0], built["date"][1])
    searcher._searcher_trend_columns = cached
    return cached
