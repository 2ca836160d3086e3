"""Every call the web layer makes to the library, in one place.

``Library`` calls the library facade (``searcher.index.Index``: ``search``, ``article``,
``trend``, ``stats``, ``highlights``), and nothing else of searcher is called by the web
layer.

Concurrency: a Whoosh searcher is not safe to share between threads, and an ``Index``
keeps one snapshot, replaced when a new commit has landed. So the library is a pool of ``size`` independent ``Index`` objects, each used by
one request at a time (``size=1`` is a plain lock); requests beyond the pool wait.
Each ``Index`` checks for a new commit at every search, so the server answers from the
latest ``searcher index`` / ``searcher add`` without a restart.
"""

from __future__ import annotations

import os
import queue
from contextlib import contextmanager
from pathlib import Path

from searcher.errors import ArticleNotFound  # noqa: F401  (what article raises, for app.py)

DEFAULT_POOL = 1  # searchers: a second bought nothing on 2 cores and cost ~85 MB (benchmarks/web.py)


def default_pool() -> int:
    """The pool's size: ``$SEARCHER_WEB_POOL`` if set (benchmarks compare sizes), else
    ``DEFAULT_POOL``."""
    try:
        return max(1, int(os.environ.get("SEARCHER_WEB_POOL", DEFAULT_POOL)))
    except ValueError:
        return DEFAULT_POOL


class Library:
    """The index at ``index_dir`` (its corpus at ``corpus_dir``), for concurrent readers."""

    def __init__(self, index_dir: Path | str, corpus_dir: Path | str | None = None, size: int | None = None):
        from searcher.index import Index

        # A folder, or an index on a cluster (searcher.engine.ClusterIndex), as Index.open takes.
        self.index_dir = Path(index_dir) if isinstance(index_dir, (str, os.PathLike)) else index_dir
        self.corpus_dir = Path(corpus_dir) if corpus_dir is not None else None
        self._pool: queue.Queue = queue.Queue()
        for _ in range(max(1, size or default_pool())):
            self._pool.put(Index.open(self.index_dir, corpus=self.corpus_dir))  # SearcherError if there is none

    @contextmanager
    def _index(self):
        index = self._pool.get()
        try:
            yield index
        finally:
            self._pool.put(index)

    def _retrying(self, call):
        """``call(index)``; once more on a fresh searcher if the files of the one in use
        vanished under it (a rebuild committed and cleaned up mid-query)."""
        with self._index() as index:
            try:
                return call(index)
            except OSError:
                index.close()
                return call(index)

    # -- the facade's methods --------------------------------------------------------------

    def search(self, text: str, limit=10, offset=0, article=None, since=None, until=None, context=0, group=0):
        """``Results`` of a query (``searcher.search.Results``)."""
        return self._retrying(
            lambda index: index.search(
                text, limit=limit, offset=offset, article=article, since=since, until=until, context=context, group=group
            )
        )

    def article(self, article_id: str):
        """``StoredArticle``; ``ArticleNotFound`` if the index has no such article."""

        return self._retrying(lambda index: index.article(article_id))

    def trend(self, text: str, by="month", since=None, until=None, article=None):
        """``[Period]`` of a query (``searcher.trend``)."""
        return self._retrying(lambda index: index.trend(text, by=by, since=since, until=until, article=article))

    def stats(self):
        return self._retrying(lambda index: index.stats())

    # -- for the article page --------------------------------------------------------------

    def marks(self, text: str, paragraphs) -> list[tuple[tuple[int, int], ...]]:
        """Highlight spans of the query ``text`` in each paragraph."""
        return self._retrying(lambda index: index.highlights(text, paragraphs))

    def close(self) -> None:
        while not self._pool.empty():
            self._pool.get().close()
