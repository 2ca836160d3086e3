"""Timelines: how many paragraphs (and articles) match a query, per month or year.

Periods (``Period``, ``bucket``, ``count_periods``, date checks) are pure functions on ISO
date strings; ``trend`` counts a query's matches (all of them, not just the top n), which
the engine gives per article with the article's date (``Snapshot.match_dates``).

A period is ``YYYY`` (``by="year"``) or ``YYYY-MM`` (``by="month"``): the same strings
``--since``/``--until`` accept, so a period can narrow a search to itself as it is
(``since=2024-10&until=2024-10`` is October 2024). Periods run from the first to the last
one with a match, the empty ones between them included (a timeline has no holes). Matches
whose article has no date, or a date coarser than the period (``2024`` by month), are
counted in one last ``Period(None, …)``.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from searcher.errors import SearcherError
from searcher.query import DATE_FORMS, check_date  # noqa: F401  (the date checks live with the query language)
from searcher.records import Record

BY = ("month", "year")
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class Period(Record):
    """Matches in one period: ``period`` is ``YYYY`` or ``YYYY-MM``, or None for undated."""

    period: str | None
    paragraphs: int
    articles: int


def check_by(by: str) -> str:
    """``by`` itself if it is ``month`` or ``year``; ``SearcherError`` otherwise."""
    if by not in BY:
        raise SearcherError(f"cannot count by {by!r}: use month or year")
    return by


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


# -- a query's matches, counted by period ------------------------------------------------


def trend(
    snapshot,
    text: str,
    by: str = "month",
    since: str | None = None,
    until: str | None = None,
    article: str | None = None,
) -> list[Period]:
    """Paragraphs and articles matching ``text`` per period (``by`` month or year) on an
    engine ``snapshot``, with the same filters and the same matches as ``search``: the
    paragraphs of a period add up to the ``total`` of that search narrowed to the period.
    Empty if nothing matches."""
    from searcher.engine.nodes import Filters
    from searcher.query import compile_query

    check_by(by)
    check_date(since, "since")
    check_date(until, "until")
    query = compile_query(text, snapshot).query
    matches = snapshot.match_dates(query, Filters(article=article, since=since, until=until))
    return count_periods(((date or None, article_id, count) for date, article_id, count in matches), by)
