"""The library: an index and the corpus it is built from, as one object.

    from searcher.index import Index

    index = Index.open_or_create("index", corpus="corpus")
    index.sync()                                   # corpus → index, in one commit
    for hit in index.search("sợ trách nhiệm", limit=5).hits:
        print(hit.article, hit.paragraph, hit.score)

The corpus is the truth and the index a cache of it: ``add`` and ``remove`` change the
corpus first (``searcher.corpus.Corpus``), then bring the index up to date; ``sync``
compares each article's content hash with the one indexed and rewrites only what
changed. The CLI and the web server are thin layers over this class.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from searcher.corpus import Corpus
from searcher.engine import ClusterIndex, Location, engine_exists, open_engine
from searcher.engine.base import Engine, EngineStats, StoredArticle
from searcher.errors import ArticleNotFound, IndexDamaged, SearcherError
from searcher.records import Record, replace
from searcher.records import fields as record_fields
from searcher.search import Results, highlight_spans, search

Progress = Callable[[int, int], None]  # (articles done, articles to do)

SEMANTIC_FOLDER = "semantic"  # the paragraph vectors, inside the index folder (semantic.store)


class SyncReport(Record):
    """What ``Index.sync`` did."""

    added: int
    updated: int
    removed: int
    unchanged: int
    paragraphs: int
    skipped: tuple[str, ...]  # one message per corpus file that could not be indexed
    seconds: float
    repaired: str | None = None  # why the index was rebuilt although not asked to (damage found)
    embeddings: object | None = None  # semantic.store.EmbedReport, when the vectors were brought up to date
    warnings: tuple[str, ...] = ()  # one line each, for stderr

    def summary(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged ({self.paragraphs} paragraphs written, {self.seconds:.1f} s)"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text


class BatchAnswer(Record):
    """One line of a batch: its id, its query, and the results or the error."""

    query_id: object
    query: str
    results: Results | None = None
    error: str | None = None


def batch_queries(lines: Iterable[str]) -> Iterator[tuple[object, str | None, str | None]]:
    """``(query id, query, error)`` per non-blank line: plain text (the id is the line
    number) or JSON ``{"id": …, "query": …}``."""
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        if not line.startswith("{"):
            yield number, line, None
            continue
        try:
            record = json.loads(line)
            text = record["query"]
            if not isinstance(text, str):
                raise TypeError
            yield record.get("id", number), text, None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            yield number, line, f'batch line {number}: not a JSON object with a "query" string'


class IndexStats(EngineStats):
    """The engine's statistics, and the paragraph vectors' (``semantic`` False: none)."""

    semantic: bool = False
    semantic_model: str | None = None
    semantic_vectors: int = 0
    semantic_bytes: int = 0
    semantic_state: str | None = None  # "complete", "incomplete" (an interrupted run), "stale"


class Index:
    """An index (an ``Engine``) and its corpus folder."""

    def __init__(self, engine: Engine, corpus: Corpus | None = None):
        self.engine = engine
        self.corpus = corpus
        self._vectors = None  # (manifest stat, hybrid.Vectors or None, warning)
        self.hybrid_params = None  # hybrid.Params to rank with (None: its defaults)

    # -- opening -----------------------------------------------------------------------

    @staticmethod
    def exists(index: Location) -> bool:
        return engine_exists(index)

    @classmethod
    def open(cls, index: Location, corpus: Path | str | None = None) -> "Index":
        """The index at ``index`` (a folder, or a ``ClusterIndex``); ``SearcherError`` if
        there is none or it cannot be used."""
        _check_apart(index, corpus)
        return cls(open_engine(index), Corpus(Path(corpus)) if corpus is not None else None)

    @classmethod
    def open_or_create(cls, index: Location, corpus: Path | str | None = None, rebuild: bool = False) -> "Index":
        """The index at ``index``, created if there is none (with ``rebuild``, also if the
        one there cannot be used)."""
        _check_apart(index, corpus)
        return cls(open_engine(index, create=True, rebuild=rebuild), Corpus(Path(corpus)) if corpus is not None else None)

    def close(self) -> None:
        self.engine.close()

    def _corpus(self) -> Corpus:
        if self.corpus is None:
            raise SearcherError("no corpus folder given for this index")
        return self.corpus

    # -- the corpus and the index ------------------------------------------------------

    def sync(
        self,
        rebuild: bool = False,
        jobs: int | None = None,
        progress: Progress | None = None,
        semantic: bool = False,
        embedder=None,
        embed_progress: Progress | None = None,
    ) -> SyncReport:
        """Bring the index up to date with the corpus in one commit.

        New articles are added, changed ones re-indexed, deleted ones removed. With
        ``rebuild`` every article is indexed afresh. A file that cannot be read is
        reported in ``skipped`` and leaves its indexed version (if any) in place, except
        with ``rebuild``, which starts from nothing.

        With ``semantic`` (or when the index has embeddings already), the paragraphs of
        new and changed articles are then embedded (``embedder``, default: the
        ``searcher[semantic]`` model on ``jobs`` threads; ``embed_progress(articles done,
        articles to embed)``); ``semantic`` with ``rebuild`` embeds every paragraph afresh.
        """
        with self.engine.writing():  # one writer from reading the index's versions to the saved state
            return self._sync(rebuild, jobs, progress, semantic, embedder, embed_progress)

    def _sync(self, rebuild, jobs, progress, semantic, embedder, embed_progress) -> SyncReport:
        from searcher.corpus import SourceError
        from searcher.corpus.model import display

        corpus = self._corpus()
        started = time.perf_counter()
        if semantic:
            self._semantic_folder(required=True)
            if embedder is None:
                from searcher.semantic.embedder import load_embedder

                embedder = load_embedder(threads=jobs)  # the install hint, before any work
            self._check_model(embedder.model_id, rebuild)
        self.engine.check_writable()
        repaired = None
        indexed = {}
        if not rebuild:
            try:
                if self.engine.damage is not None:
                    raise self.engine.damage
                if self.engine.verify():
                    indexed = self.engine.versions()
                else:
                    repaired, rebuild = "its files carry no checksums: written by an earlier version", True
            except IndexDamaged as exc:
                repaired, rebuild = f"it was damaged: {exc.problem}", True  # rebuilt from the corpus, in one commit
        signature = corpus.signature()
        skipped: list[str] = []
        to_index = []
        present: dict[str, Path] = {}
        unchanged = 0
        for source in corpus.sources():
            if isinstance(source, SourceError):
                # Keep whatever the index has of an article whose file cannot be read now.
                present.setdefault(source.path.stem, source.path)
                skipped.append(str(source))
                continue
            if source.id in present:
                skipped.append(f"{display(source.origin)}: the id {source.id!r} is already used by {display(present[source.id])}")
                continue
            present[source.id] = source.path
            if indexed.get(source.id) == source.hash:
                unchanged += 1
                continue
            to_index.append(source)  # parsed by whoever indexes it (a worker, in parallel)
        removed = [a for a in indexed if a not in present]
        report = (lambda done: progress(done, len(to_index))) if progress else None
        if (to_index or removed or rebuild) and (semantic or self.has_embeddings()):
            # Until the vectors catch up with this commit, they are not this index's: a
            # reader (a running `searcher serve` too) ranks lexically rather than pair new
            # paragraphs with old vectors. `_sync_vectors` says "complete" again.
            self.engine.save_state({**self.engine.load_state(), "embeddings": "incomplete"})
        try:
            written = self.engine.write(to_index, removed, rebuild=rebuild, progress=report, jobs=jobs)
        except IndexDamaged as exc:
            if rebuild:
                raise
            self.engine.damage = exc  # found while writing (merging old segments): start again, rebuilding
            return self._sync(False, jobs, progress, semantic, embedder, embed_progress)
        self.engine.damage = None
        skipped.extend(written.skipped)  # parsing failed: the indexed version (if any) stays
        updated = sum(1 for a in written.articles if a in indexed)
        # Saved even when some file was skipped: that file was reported now, and the
        # warning of `searcher query` is for changes made since (the signature covers it).
        state = {"corpus": str(corpus.path), "signature": signature}
        seconds = time.perf_counter() - started
        embeddings, warnings = None, ()
        if semantic or self.has_embeddings():
            embeddings, warnings = self._sync_vectors(state, semantic and rebuild, embedder, jobs, embed_progress)
        else:
            self.engine.save_state(state)
        return SyncReport(
            added=len(written.articles) - updated,
            updated=updated,
            removed=len(removed),
            unchanged=unchanged,
            paragraphs=written.paragraphs,
            skipped=tuple(skipped),
            seconds=seconds,
            repaired=repaired,
            embeddings=embeddings,
            warnings=warnings,
        )

    # -- paragraph vectors (searcher index --semantic) ---------------------------------

    def _semantic_folder(self, required: bool = False) -> Path | None:
        """Where this index keeps its paragraph vectors (None: an engine without a folder)."""
        path = getattr(self.engine, "path", None)
        if path is None:
            if required:
                raise SearcherError(
                    "semantic search (--semantic) needs an index folder: the OpenSearch engine keeps no embeddings"
                )
            return None
        return Path(path) / SEMANTIC_FOLDER

    def has_embeddings(self) -> bool:
        """Whether the index has paragraph vectors (a file test: imports nothing)."""
        folder = self._semantic_folder()
        return folder is not None and (folder / "manifest.json").is_file()

    def _check_model(self, model: str, rebuild: bool) -> None:
        """``SearcherError`` if the index's vectors are another model's (and no ``rebuild``)."""
        if rebuild or not self.has_embeddings():
            return
        from searcher.semantic.store import VectorStore

        store = VectorStore.open(self._semantic_folder())
        if store.model != model:
            raise SearcherError(
                f"the embeddings in {store.folder} were made with {store.model}, and this searcher runs {model}: "
                "run searcher index --semantic --rebuild"
            )

    def _sync_vectors(self, state: dict, rebuild: bool, embedder, jobs, progress):
        """Embed the paragraphs of the articles indexed whose vectors are missing or stale
        and drop those of articles gone; commits as it goes (an interrupt keeps the
        articles finished). The state says whether the vectors are complete."""
        from searcher.semantic.store import VectorStore, embed_articles

        folder = self._semantic_folder(required=True)
        versions = self.engine.versions()
        if embedder is None:
            try:
                from searcher.semantic.embedder import load_embedder

                embedder = load_embedder(threads=jobs)
            except SearcherError as exc:
                embedder, missing = None, str(exc)
        if embedder is None:
            # Removals need no model; new paragraphs do: the vectors stay behind until then.
            store = VectorStore.open(folder)
            store._lock()
            try:
                plan = store.plan(versions)
                store.remove(plan.remove)
                store.commit()
            finally:
                store.close()
            if not plan.embed:
                self.engine.save_state({**state, "embeddings": "complete"})
                return None, ()
            self.engine.save_state({**state, "embeddings": "stale"})
            return None, (
                f"the embeddings in {folder} were not updated ({missing}); queries rank lexically until "
                "`searcher index` runs with it",
            )
        self._check_model(embedder.model_id, rebuild)
        store, reason = VectorStore.for_model(folder, embedder.model_id, embedder.dim, rebuild=rebuild)
        try:
            plan = store.plan(versions)
            store.remove(plan.remove)
            self.engine.save_state({**state, "embeddings": "incomplete"})
            snapshot = self.engine.snapshot()
            todo = list(plan.embed)
            report = embed_articles(
                store,
                embedder,
                (_ToEmbed(snapshot.article(a), versions[a]) for a in todo),
                batch=8,  # a Ctrl-C waits for the batch in the model to finish: a few seconds
                progress=(lambda done, _paragraphs: progress(done, len(todo))) if progress else None,
                removed=len(plan.remove),
                reason=None if reason == "rebuild" else reason,
            )
        finally:
            store.close()
        self.engine.save_state({**state, "embeddings": "complete"})
        self._vectors = None
        return report, ()

    def vectors(self):
        """``(hybrid.Vectors or None, warning or None)``: what hybrid ranking of this
        index needs, or why it ranks lexically. Re-read when the vectors were committed
        anew or the state changed; nothing is imported when the index has none."""
        folder = self._semantic_folder()
        manifest = folder / "manifest.json" if folder is not None else None
        try:
            mark = manifest.stat() if manifest is not None else None
            mark = (mark.st_mtime_ns, mark.st_size, mark.st_ino) if mark else None
        except OSError:
            mark = None
        if mark is None:
            return None, None
        # The state too (a small file): a sync marks the vectors incomplete before its
        # lexical commit, without touching the manifest.
        state = self.engine.load_state().get("embeddings", "complete")
        mark = (mark, state)
        if self._vectors is not None and self._vectors[0] == mark:
            return self._vectors[1], self._vectors[2]
        vectors, warning = None, None
        if state != "complete":
            warning = (
                f"the embeddings in {folder} are {state} (an interrupted or lexical-only run): "
                "ranking lexically; run `searcher index` to complete them"
            )
        else:
            try:
                from searcher.hybrid import Params, Vectors
                from searcher.semantic.embedder import load_embedder
                from searcher.semantic.store import VectorStore

                store = VectorStore.open(folder)
                embedder = load_embedder()
                if store.model != embedder.model_id:
                    raise SearcherError(
                        f"the embeddings in {folder} were made with {store.model}, and this searcher runs "
                        f"{embedder.model_id}: run searcher index --semantic --rebuild"
                    )
                vectors = Vectors(store, embedder, self.hybrid_params or Params())
            except SearcherError as exc:
                warning = f"{exc}; ranking lexically"
        self._vectors = (mark, vectors, warning)
        return vectors, warning

    def add(self, items: Iterable[Path | bytes], jobs: int | None = None, progress: Progress | None = None, **semantic):
        """Put articles (files, folders of them, or raw bytes) into the corpus, then index
        them: ``(AddReport, SyncReport)``; ``semantic``, ``embedder``, ``embed_progress`` as
        for ``sync``."""
        self.check_writable()
        if semantic.get("semantic"):
            self._semantic_folder(required=True)  # before the corpus changes
            if semantic.get("embedder") is None:
                from searcher.semantic.embedder import load_embedder

                semantic["embedder"] = load_embedder(threads=jobs)  # the install hint
        with self.engine.writing():  # a writer busy elsewhere: the corpus is left as it was
            added = self._corpus().add(list(items))
            return added, self.sync(jobs=jobs, progress=progress, **semantic)

    def remove(self, ids: Iterable[str]):
        """Take articles out of the corpus, then out of the index: ``(RemoveReport, SyncReport)``."""
        self.check_writable()
        with self.engine.writing():
            removed = self._corpus().remove(list(ids))
            return removed, self.sync()

    def check_writable(self) -> None:
        """``SearcherError`` if the index cannot be written (before changing the corpus)."""
        self.engine.check_writable()

    def corpus_changed(self) -> bool:
        """Whether the corpus looks different from what the last sync indexed."""
        try:
            return self.engine.load_state().get("signature") != self._corpus().signature()
        except SearcherError:
            return True

    # -- reading -----------------------------------------------------------------------

    def search(self, text: str, lexical: bool = False, **options) -> Results:
        """Run a query; the options are ``searcher.search.search``'s. On an index with
        embeddings the ranking is hybrid (``searcher.hybrid``) unless ``lexical``."""
        snapshot = self.engine.snapshot()
        if lexical:
            return search(snapshot, text, **options)
        vectors, warning = self.vectors()
        if vectors is None:
            results = search(snapshot, text, **options)
            return replace(results, warning=warning) if warning else results
        return search(snapshot, text, ranker=vectors.ranker(), **options)

    def batch(self, lines: Iterable[str], **options) -> Iterator[BatchAnswer]:
        """One answer per query line (``batch_queries``); a bad line or query is an
        answer with an ``error``, and the others go on."""
        for query_id, text, error in batch_queries(lines):
            if error is not None:
                yield BatchAnswer(query_id, text, error=error)
                continue
            try:
                yield BatchAnswer(query_id, text, results=self.search(text, **options))
            except SearcherError as exc:
                yield BatchAnswer(query_id, text, error=str(exc))

    def explain(self, text: str) -> str:
        from searcher.query import explain

        return explain(text, self.engine.snapshot())

    def article(self, article_id: str) -> StoredArticle:
        """One indexed article, paragraphs in order; ``SearcherError`` if not indexed."""
        found = self.engine.snapshot().article(article_id)
        if found is None:
            raise ArticleNotFound(article_id, self.engine.location)
        return found

    def highlights(self, query: str, texts: Iterable[str]) -> list[tuple[tuple[int, int], ...]]:
        """Where the words of ``query`` stand in each of ``texts``."""
        from searcher.query import compile_query

        compiled = compile_query(query, self.engine.snapshot())
        return [highlight_spans(text, compiled) for text in texts]

    def trend(self, text: str, by: str = "month", since=None, until=None, article=None):
        """Paragraphs and articles matching ``text`` per month or year: ``[Period]``
        (``searcher.trend``)."""
        from searcher.trend import trend

        return trend(self.engine.snapshot(), text, by=by, since=since, until=until, article=article)

    def stats(self) -> IndexStats:
        stats = self.engine.stats()
        fields = {name: getattr(stats, name) for name in record_fields(EngineStats)}
        if not self.has_embeddings():
            return IndexStats(**fields)
        from searcher.semantic.store import VectorStore

        vectors = VectorStore.open(self._semantic_folder()).stats()
        return IndexStats(
            **fields,
            semantic=True,
            semantic_model=vectors.model,
            semantic_vectors=vectors.vectors,
            semantic_bytes=vectors.bytes,
            semantic_state=self.engine.load_state().get("embeddings", "complete"),
        )


class _ToEmbed(Record):
    """An indexed article as ``semantic.store.embed_articles`` reads it."""

    article: StoredArticle
    hash: str

    @property
    def id(self) -> str:
        return self.article.id

    @property
    def title(self) -> str:
        return self.article.title

    @property
    def paragraphs(self) -> tuple[str, ...]:
        return self.article.paragraphs


def _check_apart(index: Location, corpus: Path | str | None) -> None:
    """The corpus folder exists, and the index does not live inside it (its files would be
    read as articles)."""
    if corpus is None:
        return
    if not Path(corpus).is_dir():
        raise SearcherError(f"corpus folder not found: {corpus}")
    if isinstance(index, ClusterIndex):
        return
    index_path, corpus_path = Path(index).resolve(), Path(corpus).resolve()
    if index_path == corpus_path or corpus_path in index_path.parents:
        raise SearcherError(f"the index folder {index} is inside the corpus folder {corpus}: put it elsewhere")
