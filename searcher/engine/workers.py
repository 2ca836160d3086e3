"""Indexing in worker processes, for any engine: parse, analyze and write in parallel.

Parsing, pyvi segmentation and building an engine's documents all cost CPU per paragraph,
so they run in forked worker processes (one per core by default). The parent only feeds
articles (or unparsed corpus ``Source``s) in chunks, counts progress and collects what the
workers produced. Each worker opens a *sink* of the engine's own (``Sink``): the embedded
engine's writes segments, the cluster engine's sends bulk requests. ``run_here`` does the
same work in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import traceback
from typing import Callable, Protocol, Sequence

from searcher.errors import SearcherError
from searcher.records import Record, factory

CHUNK_PARAGRAPHS = 200  # articles are handed out in chunks of about this many paragraphs
SOURCE_BYTES_PER_PARAGRAPH = 500  # how many paragraphs an unparsed source holds, about


class Sink(Protocol):
    """Where one process writes the articles it indexes."""

    def add(self, article) -> tuple[str, int]:
        """Index one ``Article``: its id and the paragraphs written."""

    def ready(self) -> list:
        """What is finished to hand to the parent now (full segments), maybe nothing."""

    def finish(self) -> object | None:
        """Write what is left; the last thing to hand over, or ``None``."""

    def cancel(self) -> None: ...


def default_jobs() -> int:
    """Worker processes for indexing: one per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def paragraphs_in(item) -> int:
    """The paragraphs of an ``Article``; of a corpus ``Source`` not parsed yet, an
    estimate from its size."""
    paragraphs = getattr(item, "paragraphs", None)
    if paragraphs is not None:
        return len(paragraphs)
    return max(1, len(item.data) // SOURCE_BYTES_PER_PARAGRAPH)


def chunks(items: Sequence):
    chunk, size = [], 0
    for item in items:
        chunk.append(item)
        size += paragraphs_in(item)
        if size >= CHUNK_PARAGRAPHS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def parsed(item):
    """The ``Article`` itself, or the ``Source`` parsed (``SearcherError`` if it cannot be)."""
    return item.load() if hasattr(item, "load") else item


class Done(Record, mutable=True):
    """What a write produced: what the sinks handed over (segments, or nothing), the
    article ids and paragraphs indexed, and one message per source that could not be parsed."""

    outputs: list = factory(list)
    articles: list[str] = factory(list)
    paragraphs: int = 0
    skipped: list[str] = factory(list)


def die_with_parent() -> None:
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
    SIGHUP end a worker at once. (A fork inherits the parent's handlers: until this runs,
    ``cli._on_signal`` does the same in a worker.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


_HELD = frozenset(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _hold_signals():
    """Block SIGINT, SIGTERM and SIGHUP in this thread (a fork inherits the mask): what
    ``_release_signals`` takes to unblock them, None where that cannot be done."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    return _HELD


def _release_signals(held) -> None:
    """Unblock what ``_hold_signals`` blocked: a signal that came meanwhile is taken now,
    by the handlers in place."""
    if held:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _worker(open_sink: Callable[[], Sink], jobs, results, parent: int) -> None:
    worker_signals()
    # Forked with these blocked (``run_workers``): one sent in between was held by the
    # kernel and now meets this worker's own dispositions, not the command's handlers.
    _release_signals(_HELD if hasattr(signal, "pthread_sigmask") else None)
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        return
    sink = None
    try:
        sink = open_sink()
        while True:
            try:
                chunk = jobs.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:  # the parent died: leave no orphan behind
                    sink.cancel()
                    return
                continue
            if chunk is None:
                break
            for i, item in enumerate(chunk):
                if os.getppid() != parent:
                    sink.cancel()
                    return
                chunk[i] = None  # the source's bytes go once parsed (a 50 MB file is held once)
                try:
                    article = parsed(item)
                    del item
                except SearcherError as exc:
                    results.put(("skipped", str(exc)))
                    continue
                results.put(("indexed", sink.add(article)))
                for output in sink.ready():
                    results.put(("output", output))
        results.put(("done", sink.finish()))
    except OSError as exc:  # a full disk, a folder made read-only: the parent says which
        if sink is not None:
            try:
                sink.cancel()
            except Exception:
                pass
        results.put(("oserror", (exc.errno, exc.strerror)))
    except BaseException as exc:
        if sink is not None:
            try:
                sink.cancel()
            except Exception:
                pass
        if isinstance(exc, SearcherError):
            results.put(("failed", str(exc)))
        else:
            results.put(("error", traceback.format_exc(limit=3)))


def run_here(sink: Sink, items: Sequence, progress: Callable[[int], None] | None = None) -> Done:
    """Index ``items`` into ``sink`` in this process (sources parsed on the way)."""
    done = Done()
    try:
        for count, item in enumerate(items, start=1):
            try:
                article = parsed(item)
            except SearcherError as exc:
                done.skipped.append(str(exc))
            else:
                article_id, paragraphs = sink.add(article)
                done.articles.append(article_id)
                done.paragraphs += paragraphs
            if progress:
                progress(count)
            done.outputs.extend(sink.ready())
        last = sink.finish()
        if last is not None:
            done.outputs.append(last)
    except BaseException:
        sink.cancel()
        raise
    return done


def run_workers(
    open_sink: Callable[[], Sink],
    items: Sequence,
    jobs: int,
    progress: Callable[[int], None] | None = None,
) -> Done:
    """Index ``items`` in ``jobs`` forked processes, each into the sink ``open_sink()``
    returns there (sources are parsed there too). ``progress`` is called with the number
    of items finished so far. A worker that fails fails the whole run (``SearcherError``)."""
    ctx = multiprocessing.get_context("fork")
    job_queue = ctx.Queue(maxsize=jobs * 2)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(open_sink, job_queue, results, os.getpid()), daemon=True)
        for _ in range(jobs)
    ]
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
            elif kind in ("output", "done"):
                finished += kind == "done"
                if value is not None:
                    done.outputs.append(value)
            elif kind == "failed":
                raise SearcherError(value)
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

    started = []
    try:
        # Ctrl-C, SIGTERM, SIGHUP held back while forking: a worker takes them once it has
        # its own handlers (``_worker``), this process right after the last start, here.
        held = _hold_signals()
        try:
            for worker in workers:
                worker.start()
                started.append(worker)
        finally:
            _release_signals(held)
        for chunk in chunks(items):
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
        stop_workers(started, (job_queue, results))
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
