"""The paragraph index: schema (versioned), building, incremental update, locking.

One Whoosh document per paragraph, tagged with its article. The index is a cache of the
corpus: ``Index.sync`` brings it up to date by comparing each article's content hash with
the one indexed, and every change lands in a single Whoosh commit, so a reader (or a
process killed mid-way) sees either the old state or the new one.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from whoosh import index as whoosh_index
from whoosh.fields import ID, STORED, Schema
from whoosh.writing import CLEAR

from searcher._startup import import_whoosh
from searcher.analysis import VietnameseText, VietnameseTokenizer, analyze
from searcher.corpus import Corpus
from searcher.errors import SearcherError

if TYPE_CHECKING:
    from searcher.corpus import Article, Source

import_whoosh()  # before anything opens an index: see searcher/_startup.py

# Bump whenever the schema or the analysis changes what an index holds: an index built by
# another version is refused with a message to rebuild, never read wrongly.
SCHEMA_VERSION = 3
INDEX_NAME = f"searcher_v{SCHEMA_VERSION}"
_TOC_RE = re.compile(r"^_(searcher_v\d+|MAIN)_\d+\.toc$")
_FILE_RE = re.compile(r"^_?(searcher_v\d+|MAIN)_")  # TOCs, segment files, lock of any version
LOCK_TIMEOUT = 10.0  # seconds a second writer waits for the first
# Pooled postings in memory, shared among the workers: a writer that reaches its share
# finishes its segment and starts another. ~5 KB a paragraph: 320 MB per worker holds
# 100k paragraphs in one segment per worker (fewer segments: a smaller, faster index).
WRITER_LIMIT_MB = 640
PARALLEL_MIN_PARAGRAPHS = 400  # below this, starting processes costs more than it saves


def _exists_in(path: Path) -> bool:
    """Whether this version's index is at ``path`` (a damaged one counts: opening says so)."""
    try:
        return whoosh_index.exists_in(str(path), indexname=INDEX_NAME)
    except Exception:
        return any(name.startswith(f"_{INDEX_NAME}_") for name in os.listdir(path))


def _text(unit: str, folded: bool = False, phrase: bool = False, keyed: bool = False) -> VietnameseText:
    return VietnameseText(analyzer=VietnameseTokenizer(unit, folded, keyed), phrase=phrase)


def make_schema() -> Schema:
    return Schema(
        article=ID(stored=True),
        version=ID,  # "<article>:<content hash>": which version of each article is indexed
        para=STORED,  # the paragraph's number in its article, from 1
        date=ID(stored=True),
        title=STORED,
        author=STORED,
        url=STORED,
        text=STORED,
        syl=_text("syllables", phrase=True),
        fold=_text("syllables", folded=True, phrase=True),
        # Words and bigrams as "folded|canonical" terms (text.variant_term): one field
        # serves accented queries (one term) and accentless ones (a prefix of terms).
        word=_text("words", keyed=True),
        big=_text("bigrams", keyed=True),
        tsyl=_text("syllables", phrase=True),
        tfold=_text("syllables", folded=True, phrase=True),
    )


def article_documents(article: Article) -> list[dict]:
    """The Whoosh documents of one article: analysis done here, once per paragraph.

    The article's own fields (title, date, author, url) are stored with its first
    paragraph only (``article_fields`` finds them); every paragraph indexes the date and
    the title's syllables.
    """
    title = analyze(article.title, words=False)
    docs = []
    for number, paragraph in enumerate(article.paragraphs, start=1):
        analysis = analyze(paragraph)
        doc = dict(
            article=article.id,
            version=f"{article.id}:{article.hash}",
            para=number,
            date=article.date or "",
            text=paragraph,
            syl=analysis,
            fold=analysis,
            word=analysis,
            big=analysis,
            tsyl=title,
            tfold=title,
        )
        if number == 1:
            doc.update(title=article.title, author=article.author or "", url=article.url or "")
        else:
            doc["_stored_date"] = None
        docs.append(doc)
    return docs


def paragraph_fields(searcher, article_id: str, docnum: int, paragraph: int, numbers) -> dict[int, dict]:
    """The stored fields of paragraphs ``numbers`` of an article, by number, given one of
    its paragraphs (``docnum``, ``paragraph``). An article's paragraphs are written in
    order, side by side in one segment, so each is looked for at its offset from the one
    known (one read); only if that fails are all the article's paragraphs read."""
    found: dict[int, dict] = {}
    reader = searcher.reader()
    total = reader.doc_count_all()
    for number in numbers:
        guess = docnum + number - paragraph
        if 0 <= guess < total and not reader.is_deleted(guess):
            fields = searcher.stored_fields(guess)
            if fields.get("article") == article_id and fields.get("para") == number:
                found[number] = fields
    missing = set(numbers) - set(found)
    if missing:
        for other in searcher.document_numbers(article=article_id):
            fields = searcher.stored_fields(other)
            if fields.get("para") in missing:
                found[fields["para"]] = fields
    return found


def article_fields(searcher, article_id: str, docnum: int, paragraph: int) -> dict:
    """The stored fields of the article's first paragraph, which hold its title, date,
    author and url (``docnum``, ``paragraph``: one of its paragraphs)."""
    return paragraph_fields(searcher, article_id, docnum, paragraph, [1]).get(1, {})


@dataclass(frozen=True)
class SyncReport:
    """What ``Index.sync`` did."""

    added: int
    updated: int
    removed: int
    unchanged: int
    paragraphs: int
    skipped: tuple[str, ...]  # one message per corpus file that could not be indexed
    seconds: float

    def summary(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged ({self.paragraphs} paragraphs written, {self.seconds:.1f} s)"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text


Progress = Callable[[int, int], None]  # (articles done, articles to do)
STATE_FILE = "corpus-state.json"  # what the corpus looked like at the last sync


def corpus_signature(corpus: Path) -> str:
    """``Corpus(corpus).signature()``: changes whenever an article is added, edited or removed."""
    return Corpus(corpus).signature()


@dataclass(frozen=True)
class Stats:
    articles: int
    paragraphs: int
    terms: int  # distinct canonical syllables
    words: int  # distinct pyvi words
    size_bytes: int
    segments: int
    last_update: float | None  # POSIX time of the last commit
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class StoredArticle:
    """An article as the index holds it: metadata and its paragraphs, numbered from 1."""

    id: str
    title: str
    date: str | None
    author: str | None
    url: str | None
    paragraphs: tuple[str, ...]


class Index:
    """A searcher index folder."""

    def __init__(self, path: Path, ix):
        self.path = path
        self._ix = ix
        self._searcher = None

    # -- opening -----------------------------------------------------------------------

    @staticmethod
    def exists(path: Path) -> bool:
        return path.is_dir() and any(_TOC_RE.match(name) for name in os.listdir(path))

    @classmethod
    def open(cls, path: Path | str) -> "Index":
        """Open an existing index; a clear ``SearcherError`` if missing or incompatible."""
        path = Path(path)
        if not cls.exists(path):
            raise SearcherError(f"no index at {path}: run `searcher index` to build it")
        if not _exists_in(path):
            raise SearcherError(
                f"the index at {path} was built by an incompatible version of searcher: "
                "run `searcher index --rebuild`"
            )
        try:
            ix = whoosh_index.open_dir(str(path), indexname=INDEX_NAME)
        except Exception as exc:  # a damaged TOC: Whoosh raises many kinds
            raise SearcherError(
                f"cannot open the index at {path} ({exc.__class__.__name__}): "
                "run `searcher index --rebuild`"
            ) from None
        return cls(path, ix)

    @classmethod
    def create(cls, path: Path | str) -> "Index":
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
    def open_or_create(cls, path: Path | str, rebuild: bool = False) -> "Index":
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

    def searcher(self):
        """A searcher on the latest commit, as a context manager. It stays open for the next
        call (a batch of queries opens the segment files once) and is refreshed when
        another commit has landed since."""
        from contextlib import nullcontext

        from searcher.ranking import VietnameseBM25F

        current = self._searcher
        if current is not None and not current.up_to_date():
            # A new searcher rather than Whoosh's refresh(), which fails on an empty index.
            current.close()
            current = None
        if current is None:
            current = self._ix.searcher(weighting=VietnameseBM25F())
        self._searcher = current
        return nullcontext(current)

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def search(self, text: str, **kwargs):
        """Run a query; see ``searcher.search.search`` for the arguments."""
        from searcher.search import search

        return search(self, text, **kwargs)

    def indexed_versions(self) -> dict[str, str]:
        """Article id → content hash of the version in the index."""
        versions = {}
        with self._ix.reader() as reader:
            for term in reader.lexicon("version"):
                text = term.decode("utf-8")
                # Deleted documents keep their terms until a merge: ask for live postings.
                if reader.postings("version", text).is_active():
                    article, _, digest = text.rpartition(":")
                    versions[article] = digest
        return versions

    def doc_count(self) -> int:
        return self._ix.doc_count()

    def article(self, article_id: str) -> StoredArticle:
        """One indexed article, paragraphs in order; ``SearcherError`` if not indexed."""
        from whoosh.query import Term

        with self._ix.searcher() as searcher:
            docs = [hit.fields() for hit in searcher.search(Term("article", article_id), limit=None)]
        if not docs:
            raise SearcherError(f"no article {article_id!r} in the index at {self.path}")
        docs.sort(key=lambda d: d["para"])
        first = docs[0]
        return StoredArticle(
            id=article_id,
            title=first.get("title", ""),
            date=first.get("date") or None,
            author=first.get("author") or None,
            url=first.get("url") or None,
            paragraphs=tuple(d["text"] for d in docs),
        )

    def stats(self) -> Stats:
        with self._ix.reader() as reader:
            articles = sum(1 for _ in reader.lexicon("article"))
            terms = sum(1 for _ in reader.lexicon("syl"))
            words = sum(1 for _ in reader.lexicon("word"))
            paragraphs = reader.doc_count()
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        tocs = [p for p in self.path.iterdir() if p.name.startswith(f"_{INDEX_NAME}_") and p.suffix == ".toc"]
        return Stats(
            articles=articles,
            paragraphs=paragraphs,
            terms=terms,
            words=words,
            size_bytes=size,
            segments=len(self._ix._segments()),
            last_update=max((p.stat().st_mtime for p in tocs), default=None),
        )

    def corpus_changed(self, corpus: Path) -> bool:
        """Whether ``corpus`` looks different from what the last sync indexed."""
        try:
            state = json.loads((self.path / STATE_FILE).read_text(encoding="utf-8"))
            return state.get("signature") != corpus_signature(corpus)
        except (OSError, ValueError, SearcherError):
            return True

    def _save_corpus_state(self, corpus: Path, signature: str) -> None:
        tmp = self.path / f".{STATE_FILE}.tmp"
        try:
            tmp.write_text(json.dumps({"corpus": str(corpus), "signature": signature}), encoding="utf-8")
            os.replace(tmp, self.path / STATE_FILE)
        except OSError:
            pass  # only costs a needless "corpus has changed" warning

    # -- writing -----------------------------------------------------------------------

    def sync(
        self,
        corpus: Path,
        rebuild: bool = False,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> SyncReport:
        """Bring the index up to date with ``corpus`` in one commit.

        New articles are added, changed ones re-indexed, deleted ones removed. With
        ``rebuild`` every article is indexed afresh. A file that cannot be read is
        reported in ``skipped`` and leaves its indexed version (if any) in place, except
        with ``rebuild``, which starts from nothing.
        """
        from searcher.corpus import SourceError

        started = time.perf_counter()
        signature = corpus_signature(corpus)
        indexed = {} if rebuild else self.indexed_versions()
        skipped: list[str] = []
        to_index: list[Source] = []
        present: dict[str, Path] = {}
        unchanged = 0
        for source in Corpus(corpus).sources():
            if isinstance(source, SourceError):
                # Keep whatever the index has of an article whose file cannot be read now.
                present.setdefault(source.path.stem, source.path)
                skipped.append(str(source))
                continue
            if source.id in present:
                skipped.append(f"{source.path}: the id {source.id!r} is already used by {present[source.id]}")
                continue
            present[source.id] = source.path
            if indexed.get(source.id) == source.hash:
                unchanged += 1
                continue
            to_index.append(source)  # parsed by whoever indexes it (a worker, in parallel)
        removed = [a for a in indexed if a not in present]
        written = self._write(to_index, removed, rebuild, progress, jobs)
        skipped.extend(written.skipped)  # parsing failed: the indexed version (if any) stays
        updated = sum(1 for a in written.articles if a in indexed)
        if not skipped:
            self._save_corpus_state(corpus, signature)
        return SyncReport(
            added=len(written.articles) - updated,
            updated=updated,
            removed=len(removed),
            unchanged=unchanged,
            paragraphs=written.paragraphs,
            skipped=tuple(skipped),
            seconds=time.perf_counter() - started,
        )

    def add_articles(
        self, articles: Iterable[Article], progress: Progress | None = None, jobs: int | None = None
    ) -> int:
        """Index these articles (replacing any indexed version of each); paragraphs written."""
        return self._write(list(articles), [], rebuild=False, progress=progress, jobs=jobs).paragraphs

    def _writer(self):
        try:
            from searcher.segments import writer

            return writer(self._ix, timeout=LOCK_TIMEOUT, limitmb=WRITER_LIMIT_MB)
        except whoosh_index.LockError:
            raise SearcherError(
                f"the index at {self.path} is being updated by another searcher process "
                f"(waited {LOCK_TIMEOUT:.0f} s); try again when it has finished"
            ) from None

    def _write(
        self,
        items: list[Article | Source],
        removed: Iterable[str],
        rebuild: bool,
        progress: Progress | None,
        jobs: int | None = None,
    ) -> Written:
        """Delete ``removed`` and (re)index ``items`` (articles, or sources parsed on the
        way) in a single commit. A source that cannot be parsed is reported in
        ``skipped`` and its indexed version, if any, stays."""
        removed = list(removed)
        if not items and not removed and not rebuild:
            return Written((), 0, ())
        jobs = default_jobs() if jobs is None else max(1, jobs)
        report = (lambda done: progress(done, len(items))) if progress else None
        writer = self._writer()
        try:
            for article_id in removed:
                writer.delete_by_term("article", article_id)
            # New documents go to segments of their own (written by workers, or here),
            # listed in this writer's commit.
            from searcher.writer import paragraphs_in, write_here, write_segments

            if jobs > 1 and sum(paragraphs_in(item) for item in items) >= PARALLEL_MIN_PARAGRAPHS:
                lock = getattr(writer, "writelock", None)
                done = write_segments(
                    str(self.path), INDEX_NAME, items, jobs, WRITER_LIMIT_MB, report, getattr(lock, "fd", None)
                )
            else:
                done = write_here(self._ix, items, WRITER_LIMIT_MB, report)
            if not rebuild:
                # delete + add rather than update_document: an id seen twice in one
                # writer would otherwise leave both copies (a known Whoosh pitfall). The
                # new segments are not this writer's: only old versions are deleted.
                for article_id in done.articles:
                    writer.delete_by_term("article", article_id)
            # What SegmentWriter.commit does, plus the new segments in the same TOC.
            segments = writer._merge_segments(CLEAR if rebuild else None, None, True)
            if writer._added:
                segments.append(writer._finalize_segment())
            else:
                writer._close_segment()
            writer._commit_toc(segments + list(done.segments))
            writer._finish()
        except BaseException:
            writer.cancel()
            raise
        return Written(tuple(done.articles), done.paragraphs, tuple(done.skipped))


@dataclass(frozen=True)
class Written:
    """What ``Index._write`` indexed: article ids, paragraphs, and one message per
    source that could not be parsed."""

    articles: tuple[str, ...]
    paragraphs: int
    skipped: tuple[str, ...]


def default_jobs() -> int:
    """Worker processes for indexing: one per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
