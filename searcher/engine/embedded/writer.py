"""Writing segments: worker processes parse and analyze articles and each writes its own.

Parsing, pyvi segmentation and Whoosh's pure-Python posting writer all cost CPU per
paragraph, so all run in the workers (``searcher.engine.workers``: one per core by
default). The parent only feeds articles (or unparsed corpus sources), counts progress
and, at the end, lists the workers' finished segments in one commit made by its own
(locked) writer: until that commit nothing of the new work is visible, so a crash at any
moment leaves the previous index intact. A writer whose pooled postings reach its share of
the memory limit finishes its segment and starts another (``codec.SegmentsWriter.full``).
With one job, ``write_here`` does the same work in the calling process.
"""

from __future__ import annotations

import os
import random
from typing import Callable, Sequence

from searcher.engine.embedded.codec import SegmentsWriter
from searcher.engine.embedded.fields import whoosh_fields
from searcher.engine.schema import documents
from searcher.engine.workers import Done, paragraphs_in, run_here, run_workers

__all__ = ["Done", "paragraphs_in", "write_here", "write_segments"]


class _Segments:
    """Writes articles into new segments of ``ix`` (uncommitted: the caller holds the
    lock and commits), starting another whenever the posting pool is full: a ``Sink``
    whose outputs are finished segments."""

    def __init__(self, ix, limitmb: int):
        self._new = lambda: SegmentsWriter(ix, _lk=False, limitmb=limitmb)
        self._limit = limitmb * 1024 * 1024
        self.writer = self._new()
        self._finished: list = []

    def add(self, article) -> tuple[str, int]:
        """Index one article: its id and paragraphs written. The article's text is held
        while it is written, so it counts against the process's memory: the pool gets
        what is left of the limit (at least a quarter of it). The pool is checked after
        every paragraph, so one huge article (a 50 MB file cut into thousands of
        paragraphs) spans several segments rather than growing one without bound."""
        held = 2 * sum(map(len, article.paragraphs))  # str of Vietnamese text: 2 bytes a character
        budget = max(self._limit // 4, self._limit - held)
        self.writer.pool.limit = budget
        count = 0
        for doc in documents(article):
            self.writer.add_document(**whoosh_fields(doc))
            count += 1
            if self.writer.full():
                self._finished.append(self.writer.finish_segment())
                self.writer = self._new()
                self.writer.pool.limit = budget
        self.writer.pool.limit = self._limit
        return article.id, count

    def ready(self) -> list:
        """The segments finished since the last call (each started another)."""
        finished, self._finished = self._finished, []
        return finished

    def finish(self):
        """The last segment, finished, or ``None`` if it holds nothing."""
        return self.writer.finish_segment()

    def cancel(self) -> None:
        self.writer.cancel()


def write_here(
    ix, items: Sequence, limitmb: int, progress: Callable[[int], None] | None = None
) -> Done:
    """Index ``items`` in this process (sources parsed on the way)."""
    return run_here(_Segments(ix, limitmb), items, progress)


def write_segments(
    index_dir: str,
    indexname: str,
    items: Sequence,
    jobs: int,
    limitmb: int,
    progress: Callable[[int], None] | None = None,
    lock_fd: int | None = None,
) -> Done:
    """Index ``items`` in ``jobs`` processes (sources are parsed there too).

    ``progress`` is called with the number of items finished so far; ``lock_fd`` is
    the parent's write-lock descriptor, which the workers close.
    """
    share = max(32, limitmb // jobs)

    def open_segments() -> _Segments:
        # The forked child shares the parent's write-lock file description: let go of it,
        # or a parent killed mid-way would leave the index locked until this worker ends.
        if lock_fd is not None:
            try:
                os.close(lock_fd)
            except OSError:
                pass
        from whoosh import index as whoosh_index

        # Forked children share the parent's random state, and Whoosh names segments randomly.
        random.seed(os.urandom(16))
        return _Segments(whoosh_index.open_dir(index_dir, indexname=indexname), share)

    return run_workers(open_segments, items, jobs, progress)
