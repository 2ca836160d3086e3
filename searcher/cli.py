"""The ``searcher`` command line: click commands only; the work is in the library.

Start-up matters (a query must answer fast from a cold start), so heavy modules are
imported inside the commands that need them, never at the top of this file.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from searcher.errors import SearcherError

EXIT_HITS, EXIT_NO_HITS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def stdout_is_tty() -> bool:
    """The one place the terminal-or-pipe decision reads the world (tests replace it)."""
    return sys.stdout.isatty()


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the exit flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class SearcherGroup(click.Group):
    """Turns expected failures into one line on stderr and an exit status."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SearcherError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except BrokenPipeError:
            _quiet_stdout()
            ctx.exit(EXIT_HITS)
        except KeyboardInterrupt:
            click.echo("Interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


class _Count(click.IntRange):
    """``-n`` and ``-C``, which also catch an unquoted exclusion: the shell turns
    ``-"nêu gương"`` into ``-nêu gương``, which click reads as ``-n êu gương``."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            self.fail(
                f"{value!r} is not a number. To exclude words, quote the whole query: "
                "searcher query 'trách nhiệm -\"nêu gương\"'",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


@dataclass
class Settings:
    index: Path
    corpus: Path


@click.group(cls=SearcherGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="searcher", prog_name="searcher")
@click.option(
    "--index",
    "index_dir",
    envvar="SEARCHER_INDEX",
    default="index",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Index folder (env SEARCHER_INDEX).",
)
@click.option(
    "--corpus",
    "corpus_dir",
    envvar="SEARCHER_CORPUS",
    default="corpus",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Corpus folder of articles (env SEARCHER_CORPUS).",
)
@click.pass_context
def cli(ctx, index_dir: Path, corpus_dir: Path):
    """Full-text search for Vietnamese news articles.

    \b
    searcher query "sợ trách nhiệm"      ranked paragraphs, matches highlighted
    searcher query "so trach nhiem"      accents optional
    searcher index                       bring the index up to date with the corpus
    """
    ctx.obj = Settings(index=index_dir, corpus=corpus_dir)


# -- indexing -------------------------------------------------------------------------


def _sync(settings: Settings, rebuild: bool = False, jobs: int | None = None):
    """Build or update the index from the corpus, progress and summary on stderr."""
    from searcher.store import Index

    if not settings.corpus.is_dir():
        raise SearcherError(f"corpus folder not found: {settings.corpus}")
    index = Index.open_or_create(settings.index, rebuild=rebuild)
    stderr_tty = sys.stderr.isatty()
    if stderr_tty:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("Indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("articles"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("index", total=None)
            report = index.sync(
                settings.corpus,
                rebuild=rebuild,
                jobs=jobs,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    else:
        report = index.sync(settings.corpus, rebuild=rebuild, jobs=jobs)
    for problem in report.skipped:
        click.echo(f"Error: {problem} (skipped)", err=True)
    click.echo(f"Indexed {settings.corpus}: {report.summary()}", err=True)
    return index, report


@cli.command("index")
@click.option("--rebuild", is_flag=True, help="Index every article afresh.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for segmentation and writing (default: one per core).",
)
@click.pass_obj
def index_command(settings: Settings, rebuild: bool, jobs: int | None):
    """Build the index, or bring it up to date with the corpus.

    Only new, changed and deleted articles are touched, unless --rebuild.
    Exit status 2 if any corpus file had to be skipped.
    """
    _, report = _sync(settings, rebuild=rebuild, jobs=jobs)
    if report.skipped:
        sys.exit(EXIT_ERROR)


# -- querying -------------------------------------------------------------------------


def _date_option(ctx, param, value):
    if value is None:
        return None
    value = value.strip()
    if not _DATE_RE.match(value):
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY")
    return value


QUERY_HELP = """Search the paragraphs of the corpus.

\b
Query language:
  sợ trách nhiệm          every word must match (accents optional), best first
  "trách nhiệm"           a phrase: these words, in this order
  trách nhiệm -"nêu gương" exclude paragraphs with a word or phrase
  "kỷ luật" OR "kỷ cương" either alternative; parentheses group
  title:"bình thuận"      words in the article title
  article:ID              only this article

\b
Output: a terminal gets highlighted results; a pipe gets one tab-separated line
per hit (rank, score, article, paragraph, date, title, text); --json gives JSON
Lines with highlight offsets and a final summary line.
Exit status: 0 hits, 1 no hits, 2 error. A query that starts with "-" goes
after "--": searcher query -- '-"nêu gương" trách nhiệm'.
"""


@cli.command("query", help=QUERY_HELP, context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1)
@click.option("-n", "--limit", default=10, show_default=True, type=_Count(min=1), help="Hits to show.")
@click.option("--offset", default=0, type=click.IntRange(min=0), help="Skip this many hits first.")
@click.option("--json", "json_output", is_flag=True, help="JSON Lines output.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour highlights (NO_COLOR is honoured by auto).",
)
@click.option("--article", help="Only paragraphs of this article id.")
@click.option("-C", "--context", default=0, type=_Count(min=0), help="Show N paragraphs around each hit.")
@click.option(
    "--group",
    "group",
    is_flag=False,
    flag_value=3,
    default=0,
    type=click.IntRange(min=0),
    metavar="[N]",
    help="Group by article: best articles first, up to N (default 3) paragraphs each; -n counts articles.",
)
@click.option("--explain", is_flag=True, help="Print how the query was parsed (to stderr), then search.")
@click.option("--since", callback=_date_option, metavar="DATE", help="Articles dated on or after DATE.")
@click.option("--until", callback=_date_option, metavar="DATE", help="Articles dated on or before DATE.")
@click.option(
    "--batch",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE|-",
    help="One query per line (text, or JSON {\"id\", \"query\"}); JSON Lines out.",
)
@click.pass_obj
def query_command(
    settings: Settings, words, limit, offset, json_output, color, article, context, group, explain, since, until, batch
):
    # Unknown options pass through as words (so that `trách nhiệm -"nêu gương"` works);
    # a misspelt long option must not silently become part of the query.
    misspelt = next((w for w in words if w[:2] == "--" and w[2:3].isalpha()), None)
    if misspelt:
        raise click.UsageError(f"no such option: {misspelt.split('=')[0]}")
    query = " ".join(words) if words else None
    if (query is None) == (batch is None):
        raise click.UsageError("give a QUERY or --batch FILE (one of the two)")
    from searcher.store import Index

    if not Index.exists(settings.index):
        click.echo(f"No index at {settings.index} yet: building it from {settings.corpus}", err=True)
        index, _ = _sync(settings)
    else:
        index = Index.open(settings.index)
        if settings.corpus.is_dir() and index.corpus_changed(settings.corpus):
            click.echo(
                f"Warning: {settings.corpus} has changed since the last index; run `searcher index` to update it",
                err=True,
            )
    options = dict(limit=limit, offset=offset, article=article, since=since, until=until, context=context, group=group)
    if explain and query is not None:
        from searcher.query import explain as explain_query

        with index.searcher() as searcher:
            click.echo(explain_query(query, searcher.reader()), err=True)
    out = sys.stdout
    if batch is not None:
        sys.exit(_run_batch(index, batch, out, options))
    results = index.search(query, **options)
    is_tty = stdout_is_tty()
    from searcher import output

    mode = output.choose_mode(json_output, is_tty)
    colored = output.use_color(color, is_tty)
    if mode == "json":
        output.write_json(results, out)
    elif mode == "tsv":
        output.write_tsv(results, out, color=colored)
    else:
        from rich.console import Console

        console = Console(file=out, force_terminal=colored or None, no_color=not colored, highlight=False)
        output.write_rich(results, console, color=colored)
    out.flush()
    if results.suggestion and mode != "json":
        click.echo(f"Did you mean: {results.suggestion}?", err=True)
    sys.exit(EXIT_HITS if results.hits else EXIT_NO_HITS)


def _run_batch(index, lines, out, options) -> int:
    """Answer one query per input line as JSON Lines; exit status over all queries."""
    import json

    from searcher import output

    any_hits = False
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        query_id = number
        text = line
        if line.startswith("{"):
            try:
                record = json.loads(line)
                text = str(record["query"])
                query_id = record.get("id", number)
            except (ValueError, KeyError, TypeError):
                click.echo(f'Error: batch line {number}: not a JSON object with a "query"', err=True)
                continue
        try:
            results = index.search(text, **options)
        except SearcherError as exc:
            click.echo(f"Error: batch line {number}: {exc}", err=True)
            continue
        output.write_json(results, out, query_id=query_id)
        any_hits = any_hits or bool(results.hits)
    out.flush()
    return EXIT_HITS if any_hits else EXIT_NO_HITS


# -- adding and removing articles -----------------------------------------------------


def _collect(paths: tuple[str, ...]) -> list[Path | bytes]:
    """Files named, the article files of folders named, and stdin's bytes for ``-``."""
    from searcher.corpus import ARTICLE_SUFFIXES

    found: list[Path | bytes] = []
    for name in paths:
        if name == "-":
            found.append(click.get_binary_stream("stdin").read())
            continue
        path = Path(name)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise SearcherError(f"no such file or folder: {path}")
    return found


def _stdin_file(data: bytes, folder: Path) -> Path:
    """Give stdin's bytes a name: JSON stays JSON, anything else is a scraped text page."""
    from searcher.corpus import content_hash

    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        suffix = ".jsonl" if b"\n{" in stripped.strip() else ".json"
    else:
        suffix = ".txt"
    path = folder / f"stdin_{content_hash(data)[:12]}{suffix}"
    path.write_bytes(data)
    return path


@cli.command("add")
@click.argument("paths", nargs=-1, required=True)
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes for indexing.")
@click.pass_obj
def add_command(settings: Settings, paths: tuple[str, ...], jobs: int | None):
    """Put articles into the corpus, then index them.

    PATHS are files (.txt, .json, .jsonl with one article per line, .html), folders of
    them, or - for standard input. An article whose id is already in the corpus replaces
    it. A file that cannot be read is reported and skipped (exit status 2).
    """
    import tempfile

    from searcher.corpus import corpus_files, scan_file

    if not settings.corpus.is_dir():
        raise SearcherError(f"corpus folder not found: {settings.corpus}")
    existing: dict[str, list[Path]] = {}
    for path in corpus_files(settings.corpus):
        existing.setdefault(path.stem, []).append(path)
    problems = 0
    added = []
    with tempfile.TemporaryDirectory() as scratch:
        for item in _collect(paths):
            path = _stdin_file(item, Path(scratch)) if isinstance(item, bytes) else item
            try:
                sources = list(scan_file(path))
                for source in sources:
                    source.load()  # refuse what cannot be indexed before it enters the corpus
            except SearcherError as exc:
                click.echo(f"Error: {exc} (skipped)", err=True)
                problems += 1
                continue
            for source in sources:
                # One file per article in the corpus: records of a .jsonl become .json files.
                suffix = ".json" if path.suffix.lower() == ".jsonl" else path.suffix.lower()
                target = settings.corpus / f"{source.id}{suffix}"
                for old in existing.get(source.id, []):
                    if old != target and old.suffix.lower() != ".jsonl":
                        old.unlink()
                tmp = target.with_name(f".{target.name}.tmp")
                tmp.write_bytes(source.data)
                os.replace(tmp, target)
                existing[source.id] = [target]
                added.append(source.id)
    click.echo(f"Copied {len(added)} article(s) into {settings.corpus}", err=True)
    _, report = _sync(settings, jobs=jobs)
    if problems or report.skipped:
        sys.exit(EXIT_ERROR)


@cli.command("remove")
@click.argument("ids", nargs=-1, required=True)
@click.pass_obj
def remove_command(settings: Settings, ids: tuple[str, ...]):
    """Take articles out of the corpus and the index, by article id."""
    from searcher.corpus import Source, scan_corpus

    if not settings.corpus.is_dir():
        raise SearcherError(f"corpus folder not found: {settings.corpus}")
    wanted = set(ids)
    found: dict[str, list[Source]] = {}
    for source in scan_corpus(settings.corpus):
        if isinstance(source, Source) and source.id in wanted:
            found.setdefault(source.id, []).append(source)
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise SearcherError(f"no article with id {', '.join(map(repr, unknown))} in {settings.corpus}")
    lines_to_drop: dict[Path, set[int]] = {}
    for sources in found.values():
        for source in sources:
            if source.kind == "jsonl" and source.line is not None:
                lines_to_drop.setdefault(source.path, set()).add(source.line)
            else:
                source.path.unlink()
    for path, numbers in lines_to_drop.items():
        # A record of a .jsonl file: write the file again without it.
        kept = [line for n, line in enumerate(path.read_bytes().split(b"\n"), start=1) if n not in numbers]
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(b"\n".join(kept))
        os.replace(tmp, path)
    click.echo(f"Removed {len(found)} article(s) from {settings.corpus}", err=True)
    _sync(settings)


# -- inspecting -----------------------------------------------------------------------


def _open_index(settings: Settings):
    from searcher.store import Index

    return Index.open(settings.index)


@cli.command("show")
@click.argument("article_id")
@click.option("-q", "--query", "query", help="Mark the words of this query.")
@click.option("--json", "json_output", is_flag=True, help="One JSON object: metadata and paragraphs.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
@click.pass_obj
def show_command(settings: Settings, article_id: str, query: str | None, json_output: bool, color: str):
    """Print one article: metadata, then its paragraphs numbered as in query results."""
    import json

    from searcher import output

    index = _open_index(settings)
    article = index.article(article_id)
    marks = [()] * len(article.paragraphs)
    if query:
        from searcher.query import compile_query
        from searcher.search import highlight_spans

        with index.searcher() as searcher:
            compiled = compile_query(query, searcher.reader())
        marks = [highlight_spans(text, compiled) for text in article.paragraphs]
    if json_output:
        record = {
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
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    colored = output.use_color(color, stdout_is_tty())
    start, end = output.HIGHLIGHT_ANSI if colored else ("", "")
    click.echo(article.title)
    for label, value in (("id", article.id), ("date", article.date), ("author", article.author), ("url", article.url)):
        if value:
            click.echo(f"{label}: {value}")
    click.echo("")
    for number, (text, spans) in enumerate(zip(article.paragraphs, marks), start=1):
        click.echo(f"[{number}] {output.marked(text, spans, start, end)}", color=colored)


@cli.command("stats")
@click.option("--json", "json_output", is_flag=True, help="One JSON object.")
@click.pass_obj
def stats_command(settings: Settings, json_output: bool):
    """Summarize the index: articles, paragraphs, terms, size on disk, last update."""
    import dataclasses
    import datetime
    import json

    stats = _open_index(settings).stats()
    if json_output:
        click.echo(json.dumps(dataclasses.asdict(stats)))
        return
    when = (
        datetime.datetime.fromtimestamp(stats.last_update).strftime("%Y-%m-%d %H:%M:%S")
        if stats.last_update
        else "never"
    )
    rows = [
        ("index", str(settings.index)),
        ("articles", f"{stats.articles:,}"),
        ("paragraphs", f"{stats.paragraphs:,}"),
        ("syllables", f"{stats.terms:,} distinct"),
        ("words", f"{stats.words:,} distinct"),
        ("size", f"{stats.size_bytes / 1e6:.1f} MB in {stats.segments} segment(s)"),
        ("last update", when),
        ("schema", f"v{stats.schema_version}"),
    ]
    for name, value in rows:
        click.echo(f"{name}\t{value}")



@cli.command("analyze")
@click.argument("text")
def analyze_command(text: str):
    """Show how TEXT is normalized and tokenized: syllables, words, folded forms."""
    from searcher.analysis import analyze
    from searcher.text import analysis_form, nfc

    stored = nfc(text)
    form, _ = analysis_form(stored)
    analysis = analyze(stored)
    click.echo(f"normalized: {form}")
    click.echo("syllables:  " + " ".join(u.canon for u in analysis.syllables))
    click.echo("words:      " + " ".join(u.canon for u in analysis.words))
    click.echo("folded:     " + " ".join(u.folded for u in analysis.syllables))
    click.echo("offsets:    " + " ".join(f"{stored[u.start:u.end]}[{u.start}:{u.end}]" for u in analysis.words))


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="searcher")
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(EXIT_HITS)


# -- timelines and the web server (searcher trend, searcher serve) ----------------------


@cli.command("trend")
@click.argument("words", nargs=-1, required=True)
@click.option("--by", type=click.Choice(["month", "year"]), default="month", show_default=True, help="Period length.")
@click.option("--json", "json_output", is_flag=True, help="JSON Lines output.")
@click.option("--article", help="Only paragraphs of this article id.")
@click.option("--since", callback=_date_option, metavar="DATE", help="Articles dated on or after DATE.")
@click.option("--until", callback=_date_option, metavar="DATE", help="Articles dated on or before DATE.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
@click.pass_obj
def trend_command(settings: Settings, words, by, json_output, article, since, until, color):
    """Matching paragraphs and articles per month or year: a bar chart on a terminal,
    period<TAB>paragraphs<TAB>articles in a pipe, JSON Lines with --json.

    Counts are those of `searcher query` with the same filters; matches of articles
    without a date are counted as "undated". Exit status 1 if nothing matches.
    """
    from searcher import output
    from searcher.store import Index
    from searcher.trend import trend

    query = " ".join(words)
    index = _sync(settings)[0] if not Index.exists(settings.index) else Index.open(settings.index)
    periods = trend(index, query, by=by, since=since, until=until, article=article)
    is_tty = stdout_is_tty()
    mode = output.choose_mode(json_output, is_tty)
    if mode == "json":
        output.write_trend_json(periods, sys.stdout, query, by)
    elif mode == "tsv":
        output.write_trend_tsv(periods, sys.stdout)
    else:
        from rich.console import Console

        colored = output.use_color(color, is_tty)
        console = Console(file=sys.stdout, force_terminal=colored or None, no_color=not colored, highlight=False)
        output.write_trend_rich(periods, console, query, by, color=colored)
    sys.stdout.flush()
    sys.exit(EXIT_HITS if periods else EXIT_NO_HITS)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback only by default).")
@click.option("--port", default=8750, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the search page in a browser.")
@click.pass_obj
def serve_command(settings: Settings, host: str, port: int, open_browser: bool):
    """Search the index in a browser, with a JSON API (/api/search, /openapi.json).

    Read-only; answers from each new commit of `searcher index` or `searcher add`
    without a restart. Ctrl+C stops it.
    """
    from searcher.store import Index
    from searcher.web.server import serve

    if not Index.exists(settings.index):
        click.echo(f"No index at {settings.index} yet: building it from {settings.corpus}", err=True)
        _sync(settings)
    serve(settings.index, settings.corpus, host=host, port=port, open_browser=open_browser)
