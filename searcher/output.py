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
    """rank, score, article, paragraph, date, title, text: one line per hit, never wrapped."""
    for hit in results.hits:
        text = marked(hit.text, hit.highlights, *HIGHLIGHT_ANSI) if color else hit.text
        fields = [str(hit.rank), f"{hit.score:.3f}", hit.article, str(hit.paragraph), hit.date or "", hit.title, text]
        out.write("\t".join(_one_line(f) for f in fields) + "\n")


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


def write_rich(results: Results, console, color: bool = True) -> None:
    """Title, article id, paragraph and score per hit, then the highlighted snippet."""
    from rich.text import Text

    for hit in results.hits:
        header = Text()
        header.append(f"{hit.rank}. ", style="bold")
        header.append(hit.title or hit.article, style="bold cyan")
        meta = [hit.article, f"¶{hit.paragraph}"]
        if hit.date:
            meta.append(hit.date)
        if hit.author:
            meta.append(hit.author)
        meta.append(f"score {hit.score:.2f}")
        header.append("  " + " · ".join(meta), style="dim")
        console.print(header)
        window, spans, start = snippet(hit.text, hit.highlights)
        body = Text(("…" if start > 0 else "") + window + ("…" if start + len(window) < len(hit.text) else ""))
        shift = 1 if start > 0 else 0
        for s, e in spans:
            body.stylize("bold yellow reverse" if color else "bold underline", s + shift, e + shift)
        console.print(body)
        console.print()
    shown = len(results.hits)
    console.print(
        Text(f"{shown} of {results.total} paragraphs · {results.elapsed_ms:.0f} ms", style="dim")
    )
