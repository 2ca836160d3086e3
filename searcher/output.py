"""Rendering results: rich for a terminal, tab-separated lines or JSON Lines for a pipe.

The choice is made once, by ``choose_mode``; renderers only write what they are given.
"""

from __future__ import annotations

import json
import os
from typing import IO

from searcher.search import Hit, Results

SNIPPET_CHARS = 320  # longest paragraph shown whole on a terminal
HIGHLIGHT_ANSI = ("\x1b[1;31m", "\x1b[0m")


def choose_mode(json_output: bool, is_tty: bool) -> str:
    """``json``, ``rich`` (a person at a terminal) or ``tsv`` (a pipe)."""
    if json_output:
        return "json"
    return "rich" if is_tty else "tsv"


def use_color(color: str, is_tty: bool, environ=os.environ) -> bool:
    """``--color auto|always|never``; ``auto`` means a terminal without ``NO_COLOR``."""
    if color == "always":
        return True
    if color == "never":
        return False
    return is_tty and not environ.get("NO_COLOR")


def hit_record(hit: Hit, query: str, query_id=None) -> dict:
    record = {"type": "hit"}
    if query_id is not None:
        record["query_id"] = query_id
    record.update(
        query=query,
        rank=hit.rank,
        score=hit.score,
        article=hit.article,
        paragraph=hit.paragraph,
        title=hit.title,
        date=hit.date,
        author=hit.author,
        url=hit.url,
        text=hit.text,
        highlights=[list(span) for span in hit.highlights],
    )
    if hit.duplicates:
        record["duplicates"] = hit.duplicates
    if hit.group is not None:
        record["group"] = hit.group
    if hit.before or hit.after:
        record["before"] = [{"paragraph": c.paragraph, "text": c.text} for c in hit.before]
        record["after"] = [{"paragraph": c.paragraph, "text": c.text} for c in hit.after]
    return record


def summary_record(results: Results, query_id=None) -> dict:
    record = {"type": "summary"}
    if query_id is not None:
        record["query_id"] = query_id
    record.update(
        query=results.query,
        total=results.total,
        returned=len(results.hits),
        elapsed_ms=results.elapsed_ms,
    )
    if results.suggestion:
        record["suggestion"] = results.suggestion
    return record


def write_json(results: Results, out: IO[str], query_id=None) -> None:
    for hit in results.hits:
        out.write(json.dumps(hit_record(hit, results.query, query_id), ensure_ascii=False) + "\n")
    out.write(json.dumps(summary_record(results, query_id), ensure_ascii=False) + "\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def marked(text: str, spans, start: str, end: str) -> str:
    """``text`` with ``start``/``end`` around every highlight span."""
    out, last = [], 0
    for s, e in spans:
        out.append(text[last:s])
        out.append(start + text[s:e] + end)
        last = e
    out.append(text[last:])
    return "".join(out)


def write_tsv(results: Results, out: IO[str], color: bool = False) -> None:
    """rank, score, article, paragraph, date, title, text: one line per hit, never wrapped.

    Context paragraphs (``-C``) are lines of their own whose rank and score are ``-``.
    """

    def line(rank: str, score: str, hit: Hit, paragraph: int, text: str) -> str:
        fields = [rank, score, hit.article, str(paragraph), hit.date or "", hit.title, text]
        return "\t".join(_one_line(f) for f in fields) + "\n"

    for hit in results.hits:
        for c in hit.before:
            out.write(line("-", "-", hit, c.paragraph, c.text))
        text = marked(hit.text, hit.highlights, *HIGHLIGHT_ANSI) if color else hit.text
        out.write(line(str(hit.rank), f"{hit.score:.3f}", hit, hit.paragraph, text))
        for c in hit.after:
            out.write(line("-", "-", hit, c.paragraph, c.text))


def snippet(text: str, spans, width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]], int]:
    """A window of about ``width`` characters around the first highlights.

    Returns the window text, the spans shifted into it, and its start offset.
    """
    if len(text) <= width:
        return text, list(spans), 0
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 4)
    if start > 0:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 30 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    inside = [(max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start]
    return text[start:end], inside, start


def _rich_header(hit: Hit, with_title: bool):
    from rich.text import Text

    header = Text()
    header.append(f"{hit.rank}. ", style="bold")
    if with_title:
        header.append(hit.title or hit.article, style="bold cyan")
        header.append("  ")
    meta = [hit.article, f"¶{hit.paragraph}"]
    if with_title and hit.date:
        meta.append(hit.date)
    if with_title and hit.author:
        meta.append(hit.author)
    meta.append(f"score {hit.score:.2f}")
    if hit.duplicates:
        meta.append(f"+{hit.duplicates} identical")
    header.append(" · ".join(meta), style="dim")
    return header


def write_rich(results: Results, console, color: bool = True) -> None:
    """Title, article id, paragraph and score per hit, then the highlighted snippet.

    Grouped hits get their article's title once, above its paragraphs.
    """
    from rich.text import Text

    current_group = None
    for hit in results.hits:
        if hit.group is not None and hit.group != current_group:
            current_group = hit.group
            title = Text(f"{hit.group}. ", style="bold")
            title.append(hit.title or hit.article, style="bold cyan")
            title.append("  " + " · ".join(x for x in (hit.article, hit.date, hit.author) if x), style="dim")
            console.print(title)
        indent = "   " if hit.group is not None else ""
        if hit.group is not None:
            console.print(Text(indent) + _rich_header(hit, with_title=False))
        else:
            console.print(_rich_header(hit, with_title=True))
        for c in hit.before:
            console.print(Text(f"{indent}¶{c.paragraph} {c.text}", style="dim"))
        window, spans, start = snippet(hit.text, hit.highlights) if not (hit.before or hit.after) else (hit.text, list(hit.highlights), 0)
        prefix = indent + ("…" if start > 0 else "")
        body = Text(prefix + window + ("…" if start + len(window) < len(hit.text) else ""))
        for s, e in spans:
            body.stylize("bold yellow reverse" if color else "bold underline", s + len(prefix), e + len(prefix))
        console.print(body)
        for c in hit.after:
            console.print(Text(f"{indent}¶{c.paragraph} {c.text}", style="dim"))
        console.print()
    shown = len(results.hits)
    console.print(Text(f"{shown} of {results.total} paragraphs · {results.elapsed_ms:.0f} ms", style="dim"))


# -- trend: matches per period (searcher trend) ------------------------------------------

TREND_BAR_WIDTH = 40  # the longest bar on a terminal, in character cells
_EIGHTHS = " ▏▎▍▌▋▊▉"


def trend_label(period) -> str:
    """A period's name as printed: ``2024-10``, ``2024``, or ``undated``."""
    return period.period if period.period is not None else "undated"


def write_trend_tsv(periods, out: IO[str]) -> None:
    """period, paragraphs, articles: one line per period, no header."""
    for p in periods:
        out.write(f"{trend_label(p)}\t{p.paragraphs}\t{p.articles}\n")


def write_trend_json(periods, out: IO[str], query: str, by: str) -> None:
    """One ``{"type": "period", …}`` line per period (``period`` null for undated
    matches), then a summary with the totals."""
    for p in periods:
        record = {"type": "period", "query": query, "period": p.period, "paragraphs": p.paragraphs, "articles": p.articles}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    summary = {
        "type": "summary",
        "query": query,
        "by": by,
        "periods": sum(1 for p in periods if p.period is not None),
        "paragraphs": sum(p.paragraphs for p in periods),
        "articles": sum(p.articles for p in periods),
    }
    out.write(json.dumps(summary, ensure_ascii=False) + "\n")


def trend_bar(value: int, largest: int, width: int = TREND_BAR_WIDTH) -> str:
    """A horizontal bar of ``value`` out of ``largest`` in eighths of a cell; any
    non-zero value shows at least a sliver."""
    if value <= 0 or largest <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def write_trend_rich(periods, console, query: str, by: str, color: bool = True) -> None:
    """A bar chart: one line per period, its bar (paragraphs), then the counts."""
    from rich.text import Text

    largest = max((p.paragraphs for p in periods), default=0)
    label_width = max((len(trend_label(p)) for p in periods), default=0)
    count_width = len(str(largest))
    title = Text(f"“{query}”", style="bold")
    title.append(f"  matching paragraphs per {by}", style="dim")
    console.print(title)
    for p in periods:
        line = Text(trend_label(p).ljust(label_width) + "  ", style="dim" if p.period is None else "")
        line.append(trend_bar(p.paragraphs, largest).ljust(TREND_BAR_WIDTH), style="cyan" if color else "")
        line.append(f"  {p.paragraphs:>{count_width}} ¶", style="bold" if p.paragraphs else "dim")
        line.append(f"  {p.articles} article{'s' if p.articles != 1 else ''}", style="dim")
        console.print(line)
    total = sum(p.paragraphs for p in periods)
    articles = sum(p.articles for p in periods)
    console.print(Text(f"{total} paragraphs in {articles} articles", style="dim"))
