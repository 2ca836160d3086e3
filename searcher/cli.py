"""The ``searcher`` command line: click wiring only. Each command parses its options,
calls the library (``searcher.index.Index``) and writes through ``searcher.output``.

Start-up matters (a query must answer fast from a cold start), so heavy modules are
imported inside the commands that need them, never at the top of this file.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from searcher.errors import SearcherError
from searcher.records import Record

EXIT_HITS, EXIT_NO_HITS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def _quiet_stdout() -> None:
    from searcher.output import quiet_stdout

    quiet_stdout()


def stdout_is_tty() -> bool:
    """The one place the terminal-or-pipe decision reads the world (tests replace it)."""
    return sys.stdout.isatty()


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
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (_Signalled)
            signum = getattr(exc, "signum", signal.SIGINT)
            click.echo("Interrupted" if signum == signal.SIGINT else f"Stopped by {signal.Signals(signum).name}", err=True)
            ctx.exit(128 + signum)


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


class Settings(Record, mutable=True):
    index: object  # a folder (Path), or an index on a cluster (engine.ClusterIndex)
    corpus: Path

    def existing_index(self):
        """The index of these folders (``SearcherError`` if there is none)."""
        from searcher.index import Index

        return Index.open(self.index, corpus=self.corpus)


def _stack(*decorators):
    """Several click decorators applied as one (shared options)."""

    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


json_option = click.option("--json", "json_output", is_flag=True, help="JSON output (JSON Lines for hits).")
color_option = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour highlights (NO_COLOR is honoured by auto).",
)
output_options = _stack(json_option, color_option)
jobs_option = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for parsing, segmentation and writing (default: one per core).",
)


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
@click.option(
    "--engine",
    envvar="SEARCHER_ENGINE",
    type=click.Choice(["embedded", "opensearch"]),
    default="embedded",
    show_default=True,
    help="Where the index lives: a folder (--index), or an OpenSearch cluster (--url) (env SEARCHER_ENGINE).",
)
@click.option(
    "--url",
    envvar="SEARCHER_OPENSEARCH_URL",
    metavar="URL[,URL…]",
    help="The OpenSearch cluster's nodes (env SEARCHER_OPENSEARCH_URL); credentials from "
    "SEARCHER_OPENSEARCH_USER/_PASSWORD or a netrc, never in the URL.",
)
@click.option(
    "--name",
    "index_name",
    envvar="SEARCHER_OPENSEARCH_INDEX",
    default="searcher",
    show_default=True,
    help="The index name on the cluster (env SEARCHER_OPENSEARCH_INDEX).",
)
@click.pass_context
def cli(ctx, index_dir: Path, corpus_dir: Path, engine: str, url: str | None, index_name: str):
    """Full-text search for Vietnamese news articles.

    \b
    searcher query "sợ trách nhiệm"      ranked paragraphs, matches highlighted
    searcher query "so trach nhiem"      accents optional
    searcher index                       bring the index up to date with the corpus
    searcher --engine opensearch --url http://localhost:9200 index    the same, on a cluster
    """
    index: object = index_dir
    if engine == "opensearch":
        from searcher.engine import ClusterIndex

        if not url:
            raise click.UsageError("--engine opensearch needs --url (or SEARCHER_OPENSEARCH_URL)")
        if not index_name.strip():
            raise click.UsageError("--name must not be empty")
        index = ClusterIndex(url, index_name.strip())
    ctx.obj = Settings(index=index, corpus=corpus_dir)


# -- indexing -------------------------------------------------------------------------


def _report(settings: Settings, report) -> None:
    if report.repaired:
        click.echo(f"Warning: rebuilt the index at {settings.index} from the corpus ({report.repaired})", err=True)
    for problem in report.skipped:
        click.echo(f"Error: {problem} (skipped)", err=True)
    click.echo(f"Indexed {settings.corpus}: {report.summary()}", err=True)
    if report.embeddings is not None:
        summary = report.embeddings.summary().removeprefix("embeddings: ")
        click.echo(f"Embedded {settings.corpus}: {summary}", err=True)
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)


def _check_semantic(settings: Settings, semantic: bool, jobs: int | None) -> None:
    """Before any work: ``--semantic`` needs an index folder and the extra (one line, exit 2)."""
    if not semantic:
        return
    from searcher.engine import ClusterIndex

    if isinstance(settings.index, ClusterIndex):
        raise SearcherError("--semantic needs an index folder: the OpenSearch engine keeps no embeddings (README, Semantic search)")
    from searcher.semantic.embedder import load_embedder

    load_embedder(threads=jobs)  # SearcherError with the install hint when the extra is missing


def _sync(settings: Settings, rebuild: bool = False, jobs: int | None = None, index=None, semantic: bool = False):
    """Build or update the index from the corpus, progress and summary on stderr."""
    from searcher import output
    from searcher.index import Index

    if index is None:
        index = Index.open_or_create(settings.index, corpus=settings.corpus, rebuild=rebuild)
    show = sys.stderr.isatty()
    with output.progress_bar(show) as progress, output.progress_bar(show, "Embedding", eta=True) as embedding:
        report = index.sync(rebuild=rebuild, jobs=jobs, progress=progress, semantic=semantic, embed_progress=embedding)
    _report(settings, report)
    return index, report


semantic_option = click.option(
    "--semantic",
    is_flag=True,
    help="Also embed every paragraph for semantic search (needs searcher[semantic]); "
    "once an index has embeddings, every later index/add/remove keeps them current.",
)


@cli.command("index")
@click.option("--rebuild", is_flag=True, help="Index every article afresh (with --semantic: embed every paragraph afresh).")
@semantic_option
@jobs_option
@click.pass_obj
def index_command(settings: Settings, rebuild: bool, semantic: bool, jobs: int | None):
    """Build the index, or bring it up to date with the corpus.

    Only new, changed and deleted articles are touched, unless --rebuild.
    Exit status 2 if any corpus file had to be skipped.
    """
    _check_semantic(settings, semantic, jobs)
    _, report = _sync(settings, rebuild=rebuild, jobs=jobs, semantic=semantic)
    if report.skipped:
        sys.exit(EXIT_ERROR)


# -- querying -------------------------------------------------------------------------


def _date_option(ctx, param, value):
    from searcher.query import check_date

    if value is None:
        return None
    try:
        return check_date(value.strip(), "")
    except SearcherError as exc:
        raise click.BadParameter(str(exc)) from None


DATE_HELP = "(YYYY, YYYY-MM or YYYY-MM-DD)"


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


def _query_index(settings: Settings):
    """The index to query: built on first use; a warning if the corpus changed since."""
    from searcher.index import Index

    if not Index.exists(settings.index):
        click.echo(f"No index at {settings.index} yet: building it from {settings.corpus}", err=True)
        index, _ = _sync(settings)
        return index
    index = settings.existing_index()
    if settings.corpus.is_dir() and index.corpus_changed():
        click.echo(
            f"Warning: {settings.corpus} has changed since the last index; run `searcher index` to update it", err=True
        )
    return index


@cli.command("query", help=QUERY_HELP, context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1)
@click.option("-n", "--limit", default=10, show_default=True, type=_Count(min=1), help="Hits to show.")
@click.option("--offset", default=0, type=click.IntRange(min=0), help="Skip this many hits first.")
@output_options
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
@click.option("--lexical", is_flag=True, help="Rank by the words alone, even on an index with embeddings.")
@click.option("--since", callback=_date_option, metavar="DATE", help=f"Articles dated on or after DATE {DATE_HELP}.")
@click.option("--until", callback=_date_option, metavar="DATE", help=f"Articles dated on or before DATE {DATE_HELP}.")
@click.option(
    "--batch",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE|-",
    help="One query per line (text, or JSON {\"id\", \"query\"}); JSON Lines out.",
)
@click.pass_obj
def query_command(
    settings: Settings, words, limit, offset, json_output, color, article, context, group, explain, lexical, since, until, batch
):
    # Unknown options pass through as words (so that `trách nhiệm -"nêu gương"` works);
    # a misspelt long option must not silently become part of the query.
    misspelt = next((w for w in words if w[:2] == "--" and w[2:3].isalpha()), None)
    if misspelt:
        raise click.UsageError(f"no such option: {misspelt.split('=')[0]}")
    query = " ".join(words) if words else None
    if (query is None) == (batch is None):
        raise click.UsageError("give a QUERY or --batch FILE (one of the two)")
    from searcher import output

    index = _query_index(settings)
    options = dict(
        limit=limit, offset=offset, article=article, since=since, until=until, context=context, group=group, lexical=lexical
    )
    if batch is not None:
        hits, errors = output.write_batch(index.batch(batch, **options), sys.stdout, sys.stderr)
        sys.exit(EXIT_ERROR if errors else EXIT_HITS if hits else EXIT_NO_HITS)
    if explain:
        click.echo(index.explain(query), err=True)
    results = index.search(query, **options)
    if results.warning:
        click.echo(f"Warning: {results.warning}", err=True)
    is_tty = stdout_is_tty()
    mode = output.choose_mode(json_output, is_tty)
    output.write_results(results, mode, output.use_color(color, is_tty), sys.stdout)
    if results.suggestion and mode != "json":
        click.echo(f"Did you mean: {results.suggestion}?", err=True)
    if results.hits and results.complete == 0:
        click.echo("No paragraph has every word of the query: these have some of them.", err=True)
    sys.exit(EXIT_HITS if results.found else EXIT_NO_HITS)


# -- adding and removing articles -----------------------------------------------------


@cli.command("add")
@click.argument("paths", nargs=-1, required=True)
@semantic_option
@jobs_option
@click.pass_obj
def add_command(settings: Settings, paths: tuple[str, ...], semantic: bool, jobs: int | None):
    """Put articles into the corpus, then index them.

    PATHS are files (.txt, .json, .jsonl with one article per line, .html), folders of
    them, or - for standard input. An article whose id is already in the corpus replaces
    it. A file that cannot be read is reported and skipped (exit status 2).
    """
    from searcher.index import Index

    _check_semantic(settings, semantic, jobs)
    items = [sys.stdin.buffer.read() if name == "-" else Path(name) for name in paths]
    index = Index.open_or_create(settings.index, corpus=settings.corpus)
    index.check_writable()  # before the corpus changes
    with index.engine.writing():  # another process writing the index: the corpus stays as it is
        added = index.corpus.add(items)
        for problem in added.problems:
            click.echo(f"Error: {problem} (skipped)", err=True)
        click.echo(f"Copied {len(added.added) + len(added.replaced)} article(s) into {settings.corpus}", err=True)
        _, report = _sync(settings, jobs=jobs, index=index, semantic=semantic)
    if added.problems or report.skipped:
        sys.exit(EXIT_ERROR)


@cli.command("remove")
@click.argument("ids", nargs=-1, required=True)
@click.pass_obj
def remove_command(settings: Settings, ids: tuple[str, ...]):
    """Take articles out of the corpus and the index, by article id."""
    from searcher.index import Index

    index = Index.open_or_create(settings.index, corpus=settings.corpus)
    index.check_writable()  # before the corpus changes
    with index.engine.writing():
        removed = index.corpus.remove(ids)
        click.echo(f"Removed {len(removed.removed)} article(s) from {settings.corpus}", err=True)
        _sync(settings, index=index)


# -- inspecting -----------------------------------------------------------------------


@cli.command("show")
@click.argument("article_id")
@click.option("-q", "--query", "query", help="Mark the words of this query.")
@output_options
@click.pass_obj
def show_command(settings: Settings, article_id: str, query: str | None, json_output: bool, color: str):
    """Print one article: metadata, then its paragraphs numbered as in query results."""
    from searcher import output

    index = settings.existing_index()
    article = index.article(article_id)
    marks = index.highlights(query, article.paragraphs) if query else [()] * len(article.paragraphs)
    output.write_article(article, marks, json_output, output.use_color(color, stdout_is_tty()), sys.stdout)


@cli.command("stats")
@json_option
@click.pass_obj
def stats_command(settings: Settings, json_output: bool):
    """Summarize the index: articles, paragraphs, terms, size on disk, last update."""
    from searcher import output

    output.write_stats(settings.existing_index().stats(), json_output, sys.stdout)


@cli.command("analyze")
@click.argument("text")
def analyze_command(text: str):
    """Show how TEXT is normalized and tokenized: syllables, words, folded forms."""
    from searcher import output
    from searcher.analysis import describe

    output.write_analysis(describe(text), sys.stdout)


# -- timelines and the web server (searcher trend, searcher serve) ----------------------


@cli.command("trend")
@click.argument("words", nargs=-1, required=True)
@click.option("--by", type=click.Choice(["month", "year"]), default="month", show_default=True, help="Period length.")
@output_options
@click.option("--article", help="Only paragraphs of this article id.")
@click.option("--since", callback=_date_option, metavar="DATE", help=f"Articles dated on or after DATE {DATE_HELP}.")
@click.option("--until", callback=_date_option, metavar="DATE", help=f"Articles dated on or before DATE {DATE_HELP}.")
@click.pass_obj
def trend_command(settings: Settings, words, by, json_output, color, article, since, until):
    """Matching paragraphs and articles per month or year: a bar chart on a terminal,
    period<TAB>paragraphs<TAB>articles in a pipe, JSON Lines with --json.

    Counts are those of `searcher query` with the same filters; matches of articles
    without a date are counted as "undated". Exit status 1 if nothing matches.
    """
    from searcher import output

    query = " ".join(words)
    periods = _query_index(settings).trend(query, by=by, since=since, until=until, article=article)
    is_tty = stdout_is_tty()
    output.write_trend(periods, output.choose_mode(json_output, is_tty), output.use_color(color, is_tty), sys.stdout, query, by)
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
    from searcher.web.server import serve

    _query_index(settings).close()  # built first if there is none, as for a query
    serve(settings.index, settings.corpus, host=host, port=port, open_browser=open_browser)


class _Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is (as Ctrl-C raises KeyboardInterrupt),
    so that every command cleans up on the way out: workers ended, no commit half-made."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    if os.getpid() != _handling[0]:
        # A forked worker that has not yet set its own handlers (workers.worker_signals)
        # inherited these: act as it will, ignoring Ctrl-C (the parent ends its workers)
        # and ending at once on SIGTERM or SIGHUP, never a traceback of the parent's.
        if signum != signal.SIGINT:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        return
    # Once: a second Ctrl-C (or a signal) while the first is being handled is ignored, so
    # the clean-up finishes and no traceback is printed.
    for other in _SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise _Signalled(signum)


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_handling = [0]  # the process that installed _on_signal (a fork inherits the handler, not the role)


def handle_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP end any command with status 128 + the signal's number
    (130, 143, 129), after its clean-up."""
    _handling[0] = os.getpid()
    for signum in _SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            signal.signal(signum, _on_signal)


def main() -> None:
    """Console-script entry point."""
    handle_signals()
    try:
        cli.main(prog_name="searcher")
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(EXIT_HITS)
