"""Writing segments: worker processes parse and analyze articles and each writes its own.

Parsing, pyvi segmentation and Whoosh's pure-Python posting writer all cost CPU per
paragraph, so all run in the workers (one per core by default). The parent only feeds
articles (or unparsed corpus sources), counts progress and, at the end, lists the workers'
finished segments in one commit made by its own (locked) writer: until that commit
nothing of the new work is visible, so a crash at any moment leaves the previous index
intact. A writer whose pooled postings reach its share of the memory limit finishes its
segment and starts another (``codec.SegmentsWriter.full``). With one job, ``write_here``
does the same work in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import traceback
from dataclasses import dataclass, field
from typing import Callable, Sequence

from searcher.engine.embedded.codec import SegmentsWriter
from searcher.engine.embedded.fields import whoosh_fields
from searcher.engine.schema import documents
from searcher.errors import SearcherError

CHUNK_PARAGRAPHS = 200  # articles are handed out in chunks of about this many paragraphs
SOURCE_BYTES_PER_PARAGRAPH = 500  # how many paragraphs an unparsed source holds, about


def paragraphs_in(item) -> int:
    """The paragraphs of an ``Article``; of a corpus ``Source`` not parsed yet, an
    estimate from its size."""
    paragraphs = getattr(item, "paragraphs", None)
    if paragraphs is not None:
        return len(paragraphs)
    return max(1, len(item.data) // SOURCE_BYTES_PER_PARAGRAPH)


def _chunks(items: Sequence):
    chunk, size = [], 0
    for item in items:
        chunk.append(item)
        size += paragraphs_in(item)
        if size >= CHUNK_PARAGRAPHS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _parsed(item):
    """The ``Article`` itself, or the ``Source`` parsed (``SearcherError`` if it cannot be)."""
    return item.load() if hasattr(item, "load") else item


@dataclass
class Done:
    """What a write produced: new (uncommitted) segments, the article ids and paragraphs
    indexed, and one message per source that could not be parsed."""

    segments: list = field(default_factory=list)
    articles: list[str] = field(default_factory=list)
    paragraphs: int = 0
    skipped: list[str] = field(default_factory=list)


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this process when its parent dies (a parent killed
    with SIGKILL cannot tell its workers); elsewhere the ``getppid`` checks remain."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def worker_signals() -> None:
    """In a worker process: Ctrl-C (which the terminal sends to every process of the
    command) is the parent's to handle, and it ends the workers itself; SIGTERM and
    SIGHUP end a worker at once (the parent's own handlers are not inherited)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def _worker(
    index_dir: str, indexname: str, jobs, results, limitmb: int, parent: int, lock_fd: int | None
) -> None:
    worker_signals()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        return
    # The forked child shares the parent's write-lock file description: let go of it, or a
    # parent killed mid-way would leave the index locked until this worker ends.
    if lock_fd is not None:
        try:
            os.close(lock_fd)
        except OSError:
            pass
    from whoosh import index as whoosh_index

    # Forked children share the parent's random state, and Whoosh names segments randomly.
    random.seed(os.urandom(16))
    segments = None
    try:
        segments = _Segments(whoosh_index.open_dir(index_dir, indexname=indexname), limitmb)
        while True:
            try:
                chunk = jobs.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:  # the parent died: leave no orphan behind
                    segments.cancel()
                    return
                continue
            if chunk is None:
                break
            for i, item in enumerate(chunk):
                if os.getppid() != parent:
                    segments.cancel()
                    return
                chunk[i] = None  # the source's bytes go once parsed (a 50 MB file is held once)
                try:
                    article = _parsed(item)
                    del item
                except SearcherError as exc:
                    results.put(("skipped", str(exc)))
                    continue
                results.put(("indexed", segments.add(article)))
                segment = segments.full_segment()
                if segment is not None:
                    results.put(("segment", segment))
        results.put(("done", segments.finish()))
    except OSError as exc:  # a full disk, a folder made read-only: the parent says which
        if segments is not None:
            try:
                segments.cancel()
            except Exception:
                pass
        results.put(("oserror", (exc.errno, exc.strerror)))
    except BaseException:
        if segments is not None:
            try:
                segments.cancel()
            except Exception:
                pass
        results.put(("error", traceback.format_exc(limit=3)))


class _Segments:
    """Writes articles into new segments of ``ix`` (uncommitted: the caller holds the
    lock and commits), starting another whenever the posting pool is full."""

    def __init__(self, ix, limitmb: int):
        self._new = lambda: SegmentsWriter(ix, _lk=False, limitmb=limitmb)
        self.writer = self._new()

    def add(self, article) -> tuple[str, int]:
        """Index one article: its id and paragraphs written."""
        count = 0
        for doc in documents(article):
            self.writer.add_document(**whoosh_fields(doc))
            count += 1
        return article.id, count

    def full_segment(self):
        """The current segment, finished, if the pool has reached its limit (another is
        started); else ``None``."""
        if not self.writer.full():
            return None
        segment = self.writer.finish_segment()
        self.writer = self._new()
        return segment

    def finish(self):
        """The last segment, finished, or ``None`` if it holds nothing."""
        return self.writer.finish_segment()

    def cancel(self) -> None:
        self.writer.cancel()


def write_here(
    ix, items: Sequence, limitmb: int, progress: Callable[[int], None] | None = None
) -> Done:
    """Index ``items`` in this process (sources parsed on the way)."""
    done = Done()
    segments = _Segments(ix, limitmb)
    try:
        for count, item in enumerate(items, start=1):
            try:
                article = _parsed(item)
            except SearcherError as exc:
                done.skipped.append(str(exc))
            else:
                article_id, paragraphs = segments.add(article)
                done.articles.append(article_id)
                done.paragraphs += paragraphs
            if progress:
                progress(count)
            segment = segments.full_segment()
            if segment is not None:
                done.segments.append(segment)
        last = segments.finish()
        if last is not None:
            done.segments.append(last)
    except BaseException:
        segments.cancel()
        raise
    return done


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
    ctx = multiprocessing.get_context("fork")
    job_queue = ctx.Queue(maxsize=jobs * 2)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_worker,
            args=(index_dir, indexname, job_queue, results, max(32, limitmb // jobs), os.getpid(), lock_fd),
            daemon=True,
        )
        for _ in range(jobs)
    ]
    for worker in workers:
        worker.start()
    done = Done()
    finished = 0
    done_items = 0

    def drain(block: bool) -> None:
        nonlocal finished, done_items
        while True:
            try:
                kind, value = results.get(timeout=0.2) if block else results.get_nowait()
            except queue.Empty:
                if block and any(w.exitcode not in (None, 0) for w in workers):
                    raise SearcherError("an indexing worker process died; nothing was committed")
                return
            if kind in ("indexed", "skipped"):
                if kind == "indexed":
                    done.articles.append(value[0])
                    done.paragraphs += value[1]
                else:
                    done.skipped.append(value)
                done_items += 1
                if progress:
                    progress(done_items)
            elif kind in ("segment", "done"):
                finished += kind == "done"
                if value is not None:
                    done.segments.append(value)
            elif kind == "oserror":
                raise OSError(*value)
            else:
                raise SearcherError(f"indexing failed in a worker process:\n{value}")
            if block:
                return

    def put(job) -> None:
        # Never a blocking put: workers that stopped (a full disk) leave the queue full.
        while True:
            try:
                job_queue.put(job, timeout=0.2)
                return
            except queue.Full:
                drain(block=False)
                if any(not w.is_alive() for w in workers):
                    drain(block=False)
                    raise SearcherError("an indexing worker process stopped early; nothing was committed")

    try:
        for chunk in _chunks(items):
            put(chunk)
            drain(block=False)
        for _ in workers:
            put(None)
        while finished < len(workers):
            drain(block=True)
        for worker in workers:
            worker.join()
        return done
    except BaseException:
        stop_workers(workers, (job_queue, results))
        raise


def stop_workers(workers, queues) -> None:
    """End the workers now (an error, Ctrl-C, SIGTERM): terminated, waited for (they must
    be gone before their files are removed), killed if they linger; the queues are let
    go without flushing, which would otherwise block this process's exit."""
    for q in queues:
        q.cancel_join_thread()
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(timeout=1.0)
        if worker.is_alive():
            worker.kill()
            worker.join(timeout=1.0)
