"""Every rendering: rich for a terminal, tab-separated lines or JSON Lines for a pipe
(query results, a batch, an article, the index's statistics, indexing progress).

The choice is made once, by ``choose_mode``; renderers only write what they are given.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
from typing import IO, Iterable

from searcher.records import asdict
from searcher.search import Hit, Results

SNIPPET_CHARS = 320  # longest paragraph shown whole on a terminal
HIGHLIGHT_ANSI = ("\x1b[1;31m", "\x1b[0m")


def quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the exit flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


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
    if hit.complete is not None:
        record["complete"] = hit.complete
    if hit.score_lexical is not None or hit.score_semantic is not None:
        # Hybrid ranking: the fused score's two sides (null: not a candidate of that side).
        record["score_lexical"] = hit.score_lexical
        record["score_semantic"] = hit.score_semantic
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
    if results.complete is not None:
        record["complete"] = results.complete
    if results.suggestion:
        record["suggestion"] = results.suggestion
    if results.ranking != "lexical":
        record["ranking"] = results.ranking
    return record


def error_record(query_id, query: str, message: str) -> dict:
    """A batch query that could not be answered."""
    return {"type": "error", "query_id": query_id, "query": query, "message": message}


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_json(results: Results, out: IO[str], query_id=None) -> None:
    for hit in results.hits:
        out.write(_line(hit_record(hit, results.query, query_id)))
    out.write(_line(summary_record(results, query_id)))


def write_batch(answers: Iterable, out: IO[str], err: IO[str]) -> tuple[bool, bool]:
    """Each batch answer as JSON Lines (an error as an ``error`` record, and on ``err``);
    returns (any hits, any errors)."""
    hits = errors = False
    for answer in answers:
        if answer.error is not None:
            errors = True
            out.write(_line(error_record(answer.query_id, answer.query, answer.error)))
            err.write(f"Error: {answer.error}\n")
        else:
            write_json(answer.results, out, query_id=answer.query_id)
            hits = hits or answer.results.found
    out.flush()
    return hits, errors


def write_results(results: Results, mode: str, color: bool, out: IO[str]) -> None:
    """Query results in the chosen ``mode`` (``choose_mode``)."""
    if mode == "json":
        write_json(results, out)
    elif mode == "tsv":
        write_tsv(results, out, color=color)
    else:
        write_rich(results, _console(out, color), color=color)
    out.flush()


def _console(out: IO[str], color: bool):
    from rich.console import Console

    return Console(file=out, force_terminal=color or None, no_color=not color, highlight=False)


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
    if hit.score_semantic is not None and not hit.highlights:
        meta.append("semantic match, none of the query's words")
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
    previous = None
    for hit in results.hits:
        if hit.complete is False and previous is not False and hit.group is None:
            console.print(Text("Paragraphs with some of the words:", style="dim italic"))
            console.print()
        previous = hit.complete
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
    every = f" ({results.complete} with every word)" if results.complete is not None else ""
    console.print(Text(f"{shown} of {results.total} paragraphs{every} · {results.elapsed_ms:.0f} ms", style="dim"))


# -- one article (searcher show) -------------------------------------------------------


def article_record(article, marks) -> dict:
    return {
        "article": article.id,
        "title": article.title,
        "date": article.date,
        "author": article.author,
        "url": article.url,
        "paragraphs": [
            {"paragraph": n, "text": text, "highlights": [list(m) for m in spans]}
            for n, (text, spans) in enumerate(zip(article.paragraphs, marks), start=1)
        ],
    }


def write_article(article, marks, json_output: bool, color: bool, out: IO[str]) -> None:
    """An article's metadata, then its paragraphs numbered as in query results, the
    spans of ``marks`` (one tuple per paragraph) highlighted."""
    if json_output:
        out.write(_line(article_record(article, marks)))
        return
    start, end = HIGHLIGHT_ANSI if color else ("", "")
    out.write(article.title + "\n")
    for label, value in (("id", article.id), ("date", article.date), ("author", article.author), ("url", article.url)):
        if value:
            out.write(f"{label}: {value}\n")
    out.write("\n")
    for number, (text, spans) in enumerate(zip(article.paragraphs, marks), start=1):
        out.write(f"[{number}] {marked(text, spans, start, end)}\n")


# -- the index (searcher stats) ----------------------------------------------------------


def write_stats(stats, json_output: bool, out: IO[str]) -> None:
    """The index's statistics: one JSON object, or ``name<TAB>value`` lines."""
    if json_output:
        out.write(json.dumps(asdict(stats)) + "\n")
        return
    when = (
        datetime.datetime.fromtimestamp(stats.last_update).strftime("%Y-%m-%d %H:%M:%S")
        if stats.last_update
        else "never"
    )
    rows = [
        ("index", stats.location),
        ("articles", f"{stats.articles:,}"),
        ("paragraphs", f"{stats.paragraphs:,}"),
        ("syllables", f"{stats.terms:,} distinct"),
        ("words", f"{stats.words:,} distinct"),
        ("size", f"{stats.size_bytes / 1e6:.1f} MB in {stats.segments} segment(s)"),
        ("last update", when),
        ("schema", f"v{stats.schema_version}"),
    ]
    if hasattr(stats, "semantic"):
        if stats.semantic:
            state = "" if stats.semantic_state == "complete" else f" ({stats.semantic_state}: run searcher index)"
            rows += [
                ("semantic", f"yes, {stats.semantic_model}{state}"),
                ("vectors", f"{stats.semantic_vectors:,}, {stats.semantic_bytes / 1e6:.1f} MB"),
            ]
        else:
            rows.append(("semantic", "no"))
    for name, value in rows:
        out.write(f"{name}\t{value}\n")


# -- indexing ----------------------------------------------------------------------------


@contextlib.contextmanager
def progress_bar(show: bool, label: str = "Indexing", eta: bool = False):
    """A progress callback ``(done, total)``: a bar on stderr when ``show``, else nothing;
    ``eta``: with the time left (for embedding, which takes long)."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("articles"), TimeElapsedColumn()]
    if eta:
        columns += [TextColumn("· left"), TimeRemainingColumn()]
    with Progress(
        *columns,
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def write_analysis(rows: list[tuple[str, str]], out: IO[str]) -> None:
    """``searcher analyze``: one labelled line per view of the text."""
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        out.write(f"{label + ':':<{width}}{value}\n")
# -- trend: matches per period (searcher trend) ------------------------------------------

TREND_BAR_WIDTH = 40  # the longest bar on a terminal, in character cells
_EIGHTHS = " ▏▎▍▌▋▊▉"


def trend_label(period) -> str:
    """A period's name as printed: ``2024-10``, ``2024``, or ``undated``."""
    return period.period if period.period is not None else "undated"


def write_trend(periods, mode: str, color: bool, out: IO[str], query: str, by: str) -> None:
    """A timeline in the chosen ``mode`` (``choose_mode``)."""
    if mode == "json":
        write_trend_json(periods, out, query, by)
    elif mode == "tsv":
        write_trend_tsv(periods, out)
    else:
        write_trend_rich(periods, _console(out, color), query, by, color=color)
    out.flush()


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
