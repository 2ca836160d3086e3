"""The embedded engine: an index folder of Whoosh segments.

One Whoosh document per paragraph (``searcher.engine.schema``). Every change lands in one
Whoosh commit (a new TOC file naming the segments), so a reader, or a process killed
mid-way, sees either the old state or the new one. The schema version is part of the
Whoosh index name (``searcher_v3``): an index of another version is recognised and
refused with a message to rebuild.
"""

from __future__ import annotations

import json
import os
import re
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
from searcher.engine.workers import default_jobs  # noqa: E402,F401 (also imported from here)
from searcher.errors import SearcherError  # noqa: E402

INDEX_NAME = f"searcher_v{s.SCHEMA_VERSION}"
_TOC_RE = re.compile(r"^_(searcher_v\d+|MAIN)_\d+\.toc$")
_FILE_RE = re.compile(r"^_?(searcher_v\d+|MAIN)_")  # TOCs, segment files, lock of any version
LOCK_TIMEOUT = 10.0  # seconds a second writer waits for the first
# Pooled postings in memory, shared among the workers: a writer that reaches its share
# finishes its segment and starts another. ~5 KB a paragraph: 320 MB per worker holds
# 100k paragraphs in one segment per worker (fewer segments: a smaller, faster index).
WRITER_LIMIT_MB = 640
PARALLEL_MIN_PARAGRAPHS = 400  # below this, starting processes costs more than it saves
STATE_FILE = "corpus-state.json"


def _exists_in(path: Path) -> bool:
    """Whether this version's index is at ``path`` (a damaged one counts: opening says so)."""
    try:
        return whoosh_index.exists_in(str(path), indexname=INDEX_NAME)
    except Exception:
        return any(name.startswith(f"_{INDEX_NAME}_") for name in os.listdir(path))


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
    def open(cls, path: Path | str) -> "WhooshEngine":
        """An existing index; a clear ``SearcherError`` if missing or incompatible."""
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
            raise SearcherError(
                f"cannot open the index at {path} ({exc.__class__.__name__}): run `searcher index --rebuild`"
            ) from None
        return cls(path, ix)

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
        if rebuild:
            try:
                return cls.open(path)
            except SearcherError:
                return cls.create(path)
        return cls.open(path)

    # -- reading -----------------------------------------------------------------------

    def snapshot(self) -> WhooshSnapshot:
        current = self._snapshot
        if current is not None and not current.up_to_date():
            # A new searcher rather than Whoosh's refresh(), which fails on an empty index.
            current.close()
            current = None
        if current is None:
            current = WhooshSnapshot(self._ix.searcher(), self.location)
        self._snapshot = current
        return current

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None

    def versions(self) -> dict[str, str]:
        versions = {}
        with self._ix.reader() as reader:
            for term in reader.lexicon(s.VERSION):
                text = term.decode("utf-8")
                # Deleted documents keep their terms until a merge: ask for live postings.
                if reader.postings(s.VERSION, text).is_active():
                    article, _, digest = text.rpartition(":")
                    versions[article] = digest
        return versions

    def stats(self) -> EngineStats:
        with self._ix.reader() as reader:
            terms = sum(1 for _ in reader.lexicon(s.SYL))
            words = sum(1 for _ in reader.lexicon(s.WORD))
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
            pass  # only costs a needless "corpus has changed" warning

    # -- writing -----------------------------------------------------------------------

    def _writer(self) -> SegmentsWriter:
        try:
            return SegmentsWriter(self._ix, timeout=LOCK_TIMEOUT, limitmb=WRITER_LIMIT_MB)
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
                    str(self.path), INDEX_NAME, items, jobs, WRITER_LIMIT_MB, progress, getattr(lock, "fd", None)
                )
            else:
                done = write_here(self._ix, items, WRITER_LIMIT_MB, progress)
            if not rebuild:
                # delete + add rather than update_document: an id seen twice in one
                # writer would otherwise leave both copies (a known Whoosh pitfall). The
                # new segments are not this writer's: only old versions are deleted.
                for article_id in done.articles:
                    writer.delete_by_term(s.ARTICLE, article_id)
            writer.extra_segments = list(done.outputs)
            writer.commit(mergetype=CLEAR if rebuild else MERGE_SMALL)
        except BaseException:
            if not writer.is_closed:
                writer.cancel()
            raise
        return Written(tuple(done.articles), done.paragraphs, tuple(done.skipped))
