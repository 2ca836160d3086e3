"""The embedded engine: an index folder of Whoosh segments.

One Whoosh document per paragraph (``searcher.engine.schema``). Every change lands in one
Whoosh commit (a new TOC file naming the segments), so a reader, or a process killed
mid-way, sees either the old state or the new one. The schema version is part of the
Whoosh index name (``searcher_v3``): an index of another version is recognised and
refused with a message to rebuild.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Sequence

from searcher.engine.embedded.startup import import_whoosh

import_whoosh()  # before anything below imports whoosh's reading and query modules

from whoosh import index as whoosh_index  # noqa: E402
from whoosh.writing import CLEAR, MERGE_SMALL  # noqa: E402

from searcher.engine import schema as s  # noqa: E402
from searcher.engine.base import Engine, EngineStats, Progress, Written  # noqa: E402
from searcher.engine.embedded.codec import SegmentsWriter  # noqa: E402
from searcher.engine.embedded.fields import make_schema  # noqa: E402
from searcher.engine.embedded.reader import WhooshSnapshot  # noqa: E402
from searcher.engine.embedded import integrity  # noqa: E402
from searcher.errors import IndexDamaged, SearcherError  # noqa: E402

INDEX_NAME = f"searcher_v{s.SCHEMA_VERSION}"
_TOC_RE = re.compile(r"^_(searcher_v\d+|MAIN)_\d+\.toc$")
_FILE_RE = re.compile(r"^_?(searcher_v\d+|MAIN)_")  # TOCs, segment files, lock of any version
LOCK_TIMEOUT = 10.0  # seconds a second writer waits for the first
# Pooled postings in memory, shared among the workers: a writer that reaches its share
# finishes its segment and starts another. ~5 KB a paragraph: 320 MB per worker holds
# 100k paragraphs in one segment per worker (fewer segments: a smaller, faster index).
WRITER_LIMIT_MB = 640
# And no one process pools more than this (a worker's share, or the whole limit when one
# process writes): indexing stays under 0.5 GB per process (README, "Corpus").
PROCESS_LIMIT_MB = 192
PARALLEL_MIN_PARAGRAPHS = 400  # below this, starting processes costs more than it saves
STATE_FILE = "corpus-state.json"


def _exists_in(path: Path) -> bool:
    """Whether this version's index is at ``path`` (a damaged one counts: opening says so)."""
    try:
        return whoosh_index.exists_in(str(path), indexname=INDEX_NAME)
    except Exception:
        return any(name.startswith(f"_{INDEX_NAME}_") for name in os.listdir(path))


def _live_terms(reader, field: str) -> int:
    """The terms of ``field`` that some live paragraph holds: deleted paragraphs keep their
    terms in the dictionary until their segment is merged, and a count after updates must
    be a rebuild's. Only a term whose every posting could be deleted is looked at."""
    if not reader.has_deletions():
        return sum(1 for _ in reader.lexicon(field))
    live: set[bytes] = set()
    for sub, _ in reader.leaf_readers():
        if field not in sub.schema:
            continue
        deleted = sub.doc_count_all() - sub.doc_count()
        for btext, info in sub.iter_field(field):
            if btext in live:
                continue
            if not deleted or info.doc_frequency() > deleted or sub.postings(field, btext).is_active():
                live.add(btext)
    return len(live)



_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)


def _quiet_failed_flushes() -> None:
    """A write that fails (a full disk) leaves Whoosh's segment files open with data still
    buffered: when they are collected, their last flush fails again and Python prints
    "Exception ignored in: <_io.BufferedWriter …>" with a traceback, after our one-line
    error (seen on 3.13). Those files are removed with the failed write; this hook drops
    exactly those reports (an OSError of a failed write while a file object is finalized)
    and hands every other unraisable exception to the hook that was there."""
    previous = sys.unraisablehook
    if getattr(previous, "_searcher", False):
        return

    def hook(unraisable):
        value = unraisable.exc_value
        if isinstance(value, OSError) and value.errno in _WRITE_ERRNOS and isinstance(unraisable.object, io.IOBase):
            return
        previous(unraisable)

    hook._searcher = True
    sys.unraisablehook = hook


_quiet_failed_flushes()  # for every process that may write an index (workers fork with it)

class WhooshEngine(Engine):
    """An index folder."""

    name = "whoosh"

    def __init__(self, path: Path, ix):
        self.path = path
        self.location = str(path)
        self._ix = ix
        self._snapshot: WhooshSnapshot | None = None

    # -- opening -----------------------------------------------------------------------

    @staticmethod
    def exists(path: Path | str) -> bool:
        path = Path(path)
        return path.is_dir() and any(_TOC_RE.match(name) for name in os.listdir(path))

    @classmethod
    def open(cls, path: Path | str, check: bool = True) -> "WhooshEngine":
        """An existing index; a clear ``SearcherError`` if missing, incompatible or (with
        ``check``) damaged."""
        path = Path(path)
        if not cls.exists(path):
            raise SearcherError(f"no index at {path}: run `searcher index` to build it")
        if not _exists_in(path):
            raise SearcherError(
                f"the index at {path} was built by an incompatible version of searcher: run `searcher index --rebuild`"
            )
        try:
            ix = whoosh_index.open_dir(str(path), indexname=INDEX_NAME)
        except Exception as exc:  # a damaged TOC: Whoosh raises many kinds
            raise IndexDamaged(str(path), f"its table of contents cannot be read: {exc.__class__.__name__}") from None
        engine = cls(path, ix)
        if check:
            engine.check()
        return engine

    # -- integrity (integrity.py) ------------------------------------------------------

    def check(self, whole: bool = False) -> bool:
        """``IndexDamaged`` if a file of the latest commit is missing or changed (``whole``:
        every byte read; else what is cheap, as at every opening); ``False`` if the commit
        has no checksums (written by an earlier searcher) and is not empty."""
        try:
            generation = self._ix.latest_generation()
            if integrity.check(self.path, INDEX_NAME, generation, whole=whole):
                return True
            return not self._ix._segments()
        except OSError as exc:
            raise IndexDamaged(self.location, f"cannot be read: {exc.strerror or exc}") from None

    @contextmanager
    def reading(self):
        """Reads inside this turn an unexpected failure into ``IndexDamaged`` when the
        files are to blame (``diagnose``)."""
        try:
            yield
        except SearcherError:
            raise
        except Exception as exc:
            self.diagnose(exc)
            raise

    def verify(self) -> bool:
        return self.check(whole=True)

    def diagnose(self, exc: Exception) -> None:
        """After an unexpected failure while reading: ``IndexDamaged`` if a file is damaged,
        or if this commit has no sums to tell (an index written before them); else return
        (the failure is not the files')."""
        if isinstance(exc, SearcherError):
            return
        try:
            recorded = integrity.check(self.path, INDEX_NAME, self._ix.latest_generation(), whole=True)
        except OSError as err:
            raise IndexDamaged(self.location, f"cannot be read: {err.strerror or err}") from None
        if not recorded:
            raise IndexDamaged(self.location, f"cannot be read: {exc.__class__.__name__}") from None

    @classmethod
    def create(cls, path: Path | str) -> "WhooshEngine":
        """A new empty index at ``path``; files of other searcher versions are removed."""
        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
            for name in os.listdir(path):
                other = _FILE_RE.match(name)
                if other and other.group(1) != INDEX_NAME:
                    (path / name).unlink()
            ix = whoosh_index.create_in(str(path), make_schema(), indexname=INDEX_NAME)
        except OSError as exc:
            raise SearcherError(f"cannot create an index at {path}: {exc.strerror}") from None
        return cls(path, ix)

    @classmethod
    def open_or_create(cls, path: Path | str, rebuild: bool = False) -> "WhooshEngine":
        """The index at ``path``, created if there is none (or, with ``rebuild``, if the one
        there cannot be used); without ``rebuild`` an unusable index is an error."""
        path = Path(path)
        if not cls.exists(path):
            return cls.create(path)
        try:
            return cls.open(path)
        except IndexDamaged as exc:
            # The corpus is the truth: the next sync rebuilds the index in one commit,
            # which replaces the damaged files (the old commit stays until then).
            try:
                engine = cls.open(path, check=False)
            except SearcherError:
                engine = cls.create(path)
            engine.damage = exc
            return engine
        except SearcherError:
            if rebuild:
                return cls.create(path)
            raise

    # -- reading -----------------------------------------------------------------------

    def snapshot(self) -> WhooshSnapshot:
        current = self._snapshot
        if current is not None and not current.up_to_date():
            # A new searcher rather than Whoosh's refresh(), which fails on an empty index.
            current.close()
            current = None
        if current is None:
            if self._snapshot is not None:
                self.check()  # a new commit: check it as at opening
            with self.reading():
                current = WhooshSnapshot(self._ix.searcher(), self.location, self)
        self._snapshot = current
        return current

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None

    def versions(self) -> dict[str, str]:
        versions = {}
        with self.reading(), self._ix.reader() as reader:
            for term in reader.lexicon(s.VERSION):
                text = term.decode("utf-8")
                # Deleted documents keep their terms until a merge: ask for live postings.
                if reader.postings(s.VERSION, text).is_active():
                    article, _, digest = text.rpartition(":")
                    versions[article] = digest
        return versions

    def stats(self) -> EngineStats:
        self.check(whole=True)  # every byte: `searcher stats` is how a user checks an index
        with self.reading(), self._ix.reader() as reader:
            terms = _live_terms(reader, s.SYL)
            words = _live_terms(reader, s.WORD)
            paragraphs = reader.doc_count()
        files = [p for p in self.path.iterdir() if p.is_file()]
        tocs = [p for p in files if p.name.startswith(f"_{INDEX_NAME}_") and p.suffix == ".toc"]
        return EngineStats(
            engine=self.name,
            location=self.location,
            articles=len(self.versions()),
            paragraphs=paragraphs,
            terms=terms,
            words=words,
            size_bytes=sum(p.stat().st_size for p in files),
            segments=len(self._ix._segments()),
            last_update=max((p.stat().st_mtime for p in tocs), default=None),
            schema_version=s.SCHEMA_VERSION,
        )

    def load_state(self) -> dict:
        try:
            state = json.loads((self.path / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def save_state(self, state: dict) -> None:
        tmp = self.path / f".{STATE_FILE}.tmp"
        try:
            tmp.write_text(json.dumps(state), encoding="utf-8")
            os.replace(tmp, self.path / STATE_FILE)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass
            # only costs a needless "corpus has changed" warning

    # -- writing -----------------------------------------------------------------------

    def write_error(self, exc: OSError) -> SearcherError:
        """The message for a write to the index folder that failed."""
        if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
            return SearcherError(
                f"the index folder {self.path} is full ({exc.strerror}): the index was not changed; "
                "free some space and run `searcher index`"
            )
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return SearcherError(f"the index folder {self.path} is not writable ({exc.strerror})")
        return SearcherError(f"cannot write the index folder {self.path}: {exc.strerror or exc}")

    def check_writable(self) -> None:
        """``SearcherError`` unless a file can be created in the index folder."""
        probe = self.path / f".write-test-{os.getpid()}.tmp"
        try:
            fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise self.write_error(exc) from None

    def _remove_uncommitted(self) -> None:
        """After a failed write (the lock still held): remove the files no commit names
        (the new segments, a half-written TOC), so a full disk gets its space back."""
        try:
            toc = whoosh_index.TOC.read(self._ix.storage, INDEX_NAME)
            committed = {segment.segment_id() for segment in toc.segments}
        except Exception:
            return  # cannot tell which files are committed: leave them (the next commit cleans up)
        segment_re = re.compile(rf"^({re.escape(INDEX_NAME)}_[0-9a-z]+)\.")
        temp_re = re.compile(rf"^_{re.escape(INDEX_NAME)}_\d+\.toc\.|^\._{re.escape(INDEX_NAME)}_\d+\.sums\.tmp$")
        for name in os.listdir(self.path):
            match = segment_re.match(name)
            if (match and match.group(1) not in committed) or temp_re.match(name):
                try:
                    os.unlink(self.path / name)
                except OSError:
                    pass

    def _writer(self) -> SegmentsWriter:
        try:
            return SegmentsWriter(self._ix, timeout=LOCK_TIMEOUT, limitmb=min(WRITER_LIMIT_MB, PROCESS_LIMIT_MB))
        except OSError as exc:  # the lock file cannot be created: a read-only folder
            raise self.write_error(exc) from None
        except whoosh_index.LockError:
            raise SearcherError(
                f"the index at {self.path} is being updated by another searcher process "
                f"(waited {LOCK_TIMEOUT:.0f} s); try again when it has finished"
            ) from None

    def write(
        self,
        items: Sequence,
        removed: Iterable[str],
        rebuild: bool = False,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> Written:
        from searcher.engine.embedded.writer import paragraphs_in, write_here, write_segments

        removed = list(removed)
        if not items and not removed and not rebuild:
            return Written((), 0, ())
        from searcher.engine.workers import default_jobs  # multiprocessing: only when writing

        jobs = default_jobs() if jobs is None else max(1, jobs)
        writer = self._writer()
        try:
            for article_id in removed:
                writer.delete_by_term(s.ARTICLE, article_id)
            # New documents go to segments of their own (written by workers, or here),
            # listed in this writer's commit.
            if jobs > 1 and sum(paragraphs_in(item) for item in items) >= PARALLEL_MIN_PARAGRAPHS:
                lock = getattr(writer, "writelock", None)
                done = write_segments(
                    str(self.path), INDEX_NAME, items, jobs, min(WRITER_LIMIT_MB, PROCESS_LIMIT_MB * jobs), progress,
                    getattr(lock, "fd", None),
                )
            else:
                done = write_here(self._ix, items, min(WRITER_LIMIT_MB, PROCESS_LIMIT_MB), progress)
            if not rebuild:
                # delete + add rather than update_document: an id seen twice in one
                # writer would otherwise leave both copies (a known Whoosh pitfall). The
                # new segments are not this writer's: only old versions are deleted.
                for article_id in done.articles:
                    writer.delete_by_term(s.ARTICLE, article_id)
            writer.extra_segments = list(done.outputs)
            with self.reading():  # merging reads old segments
                writer.commit(mergetype=CLEAR if rebuild else MERGE_SMALL)
        except BaseException as exc:
            if not writer.is_closed:
                # Whoosh's cancel() in three steps, to remove the new files before the
                # lock is released (closing the segment writes its last files).
                try:
                    writer._close_segment()
                except Exception:
                    pass
                self._remove_uncommitted()
                try:
                    writer._finish()
                except Exception:
                    pass
            if isinstance(exc, OSError):
                raise self.write_error(exc) from None
            raise
        return Written(tuple(done.articles), done.paragraphs, tuple(done.skipped))
