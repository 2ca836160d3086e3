"""Parallel indexing: worker processes analyze articles and each writes its own segments.

pyvi segmentation and Whoosh's pure-Python posting writer both cost CPU per paragraph, so
both run in the workers (one per core by default). The parent only feeds articles, counts
progress and, at the end, lists the workers' finished segments in one Whoosh commit made
by its own (locked) writer: until that commit nothing of the new work is visible, so a
crash at any moment leaves the previous index intact. A writer whose pooled postings
reach its share of the memory limit finishes its segment and starts another
(``segments.FastSegmentWriter.full``). With one job, ``write_here`` does the same work in
the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import traceback
from typing import Callable, Sequence

from searcher.corpus import Article
from searcher.errors import SearcherError

CHUNK_PARAGRAPHS = 200  # articles are handed out in chunks of about this many paragraphs


def _chunks(articles: Sequence[Article]):
    chunk, size = [], 0
    for article in articles:
        chunk.append(article)
        size += len(article.paragraphs)
        if size >= CHUNK_PARAGRAPHS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


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


def _worker(
    index_dir: str, indexname: str, jobs, results, limitmb: int, parent: int, lock_fd: int | None
) -> None:
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
    from searcher.segments import writer as segment_writer
    from searcher.store import article_documents

    # Forked children share the parent's random state, and Whoosh names segments randomly.
    random.seed(os.urandom(16))
    writer = None
    try:
        ix = whoosh_index.open_dir(index_dir, indexname=indexname)
        writer = segment_writer(ix, _lk=False, limitmb=limitmb)  # the parent holds the lock
        while True:
            try:
                chunk = jobs.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:  # the parent died: leave no orphan behind
                    writer.cancel()
                    return
                continue
            if chunk is None:
                break
            for article in chunk:
                if os.getppid() != parent:
                    writer.cancel()
                    return
                docs = article_documents(article)
                for doc in docs:
                    writer.add_document(**doc)
                results.put(("progress", len(docs)))
                if writer.full():  # memory bound reached: this segment is done, start another
                    results.put(("segment", writer._finalize_segment()))
                    writer = segment_writer(ix, _lk=False, limitmb=limitmb)
        if writer._added:
            results.put(("done", writer._finalize_segment()))
        else:
            writer._close_segment()
            results.put(("done", None))
    except BaseException:
        if writer is not None:
            try:
                writer.cancel()
            except Exception:
                pass
        results.put(("error", traceback.format_exc(limit=3)))


def write_here(ix, articles: Sequence[Article], limitmb: int, progress: Callable[[int], None] | None = None) -> list:
    """Index ``articles`` in this process; returns the new (uncommitted) segments."""
    from searcher.segments import writer as segment_writer
    from searcher.store import article_documents

    segments: list = []
    writer = segment_writer(ix, _lk=False, limitmb=limitmb)  # the caller holds the lock
    try:
        for done, article in enumerate(articles, start=1):
            for doc in article_documents(article):
                writer.add_document(**doc)
            if progress:
                progress(done)
            if writer.full():
                segments.append(writer._finalize_segment())
                writer = segment_writer(ix, _lk=False, limitmb=limitmb)
        if writer._added:
            segments.append(writer._finalize_segment())
        else:
            writer._close_segment()
    except BaseException:
        writer.cancel()
        raise
    return segments


def write_segments(
    index_dir: str,
    indexname: str,
    articles: Sequence[Article],
    jobs: int,
    limitmb: int,
    progress: Callable[[int], None] | None = None,
    lock_fd: int | None = None,
) -> list:
    """Index ``articles`` in ``jobs`` processes; returns the new (uncommitted) segments.

    ``progress`` is called with the number of articles finished so far; ``lock_fd`` is
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
    segments: list = []
    finished = 0
    done_articles = 0

    def drain(block: bool) -> None:
        nonlocal finished, done_articles
        while True:
            try:
                kind, value = results.get(timeout=0.2) if block else results.get_nowait()
            except queue.Empty:
                if block and any(w.exitcode not in (None, 0) for w in workers):
                    raise SearcherError("an indexing worker process died; nothing was committed")
                return
            if kind == "progress":
                done_articles += 1
                if progress:
                    progress(done_articles)
            elif kind in ("segment", "done"):
                finished += kind == "done"
                if value is not None:
                    segments.append(value)
            else:
                raise SearcherError(f"indexing failed in a worker process:\n{value}")
            if block:
                return

    try:
        for chunk in _chunks(articles):
            while True:
                try:
                    job_queue.put(chunk, timeout=0.2)
                    break
                except queue.Full:
                    drain(block=False)
                    if any(not w.is_alive() for w in workers):
                        drain(block=False)
                        raise SearcherError("an indexing worker process stopped early; nothing was committed")
            drain(block=False)
        for _ in workers:
            job_queue.put(None)
        while finished < len(workers):
            drain(block=True)
        for worker in workers:
            worker.join()
        return segments
    except BaseException:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        raise
