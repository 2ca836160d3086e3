"""The cluster engine: one index on an OpenSearch cluster (the only code of searcher that
imports opensearch-py, and only when it is used).

One paragraph is one document, its id ``<article>#<paragraph>`` (the ``ref``). Searcher
analyzes (``mapping``), compiles queries to the DSL (``compile``), and reads through
``snapshot.OpenSearchSnapshot``; the cluster stores, matches and scores (BM25 with each
field's k1 and b, statistics of the whole index: ``dfs_query_then_fetch``).

Writing (``write``): deletions, then every article's paragraphs in bulk batches (from
worker processes when there is much to do), then one refresh: the "commit". OpenSearch
has no transaction over many documents, so the refresh only makes the whole sync visible
at once to readers that come after it; a crash before it leaves writes that the next sync
makes visible and finishes: an article whose paragraphs do not all carry one version
(``mapping.version_term``) counts as not indexed and is written again, or removed.

The index's ``_meta`` holds searcher's fingerprint (schema version, mapping version and a
digest of the mapping and similarity: an index made by another version is refused with a
message to rebuild), the corpus state of the last sync, a commit counter and its time.
"""

from __future__ import annotations

import time
from typing import Iterable, Sequence

from searcher.engine import schema as s
from searcher.engine.base import Engine, EngineStats, Progress, Written
from searcher.engine.opensearch import client as c
from searcher.engine.opensearch import mapping
from searcher.engine.opensearch.bulk import BulkSink, _Retry
from searcher.engine.workers import default_jobs, paragraphs_in, run_here, run_workers
from searcher.errors import SearcherError

DEFAULT_NAME = "searcher"
DEFAULT_SHARDS = 2
DEFAULT_REPLICAS = 1
PARALLEL_MIN_PARAGRAPHS = 400  # below this, starting processes costs more than it saves
PAGE = 10_000  # composite aggregation page
META_KEY = "searcher"
UP_TO_DATE_CHECK_S = 1.0  # a snapshot asks the cluster whether a commit landed at most this often


def _int_env(name: str, default: int, low: int) -> int:
    import os

    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SearcherError(f"{name} is not a whole number: {raw!r}") from None
    if value < low:
        raise SearcherError(f"{name} must be at least {low}: {raw!r}")
    return value


class OpenSearchEngine(Engine):
    """An index on a cluster."""

    name = "opensearch"

    def __init__(self, url: str, index: str = DEFAULT_NAME):
        from searcher.engine.opensearch.lock import INDEX as LOCKS

        if index == LOCKS:
            raise SearcherError(f"the index name {LOCKS!r} is searcher's own (its write locks): choose another --name")
        self.urls = c.parse_urls(url)
        self.index = index  # the name readers use: an alias of the concrete index
        self.target = index  # where writes go (during a rebuild, the new concrete index)
        self.where = c.public_location(url)
        self.location = f"{self.where} (index {index})"
        self.timeout = c.timeout_s()
        self.client = c.connect(self.urls, self.timeout)
        self._meta: dict | None = None
        self._snapshot = None
        self._versions: tuple[int, dict] | None = None  # (commit, detail) as last read
        self._lock = None  # the write lock of this name (``lock.WriteLock``), once asked for

    # -- calls -------------------------------------------------------------------------

    def call(self, method: str, *args, **kwargs):
        """``client.<method>(…)`` (dotted for namespaces), failures as ``SearcherError``."""
        target = self.client
        for part in method.split("."):
            target = getattr(target, part)
        with c.translated(self.where, self.index, self.timeout):
            return target(*args, **kwargs)

    def search(self, body: dict, dfs: bool = False, **params) -> dict:
        if dfs:
            params["search_type"] = "dfs_query_then_fetch"
        answer = self.call("search", index=self.index, body=body, allow_partial_search_results=False, **params)
        self._check_shards(answer)
        return answer

    def _check_shards(self, answer: dict) -> None:
        shards = answer.get("_shards") or {}
        if shards.get("failed"):
            failure = (shards.get("failures") or [{}])[0]
            raise SearcherError(
                f"the OpenSearch cluster at {self.where} answered from {shards.get('successful', 0)} of "
                f"{shards.get('total', '?')} shards of {self.index!r}: {c._reason(failure.get('reason'))}"
            )

    def bulk_request(self, body: bytes) -> dict:
        """One bulk request; ``_Retry`` when the cluster cannot take it now."""
        from opensearchpy import exceptions as ex

        with c.translated(self.where, self.index, self.timeout):
            try:
                return self.client.bulk(body=body, index=self.target)
            except (ex.ConnectionError, ex.ConnectionTimeout) as exc:
                raise _Retry(" ".join(str(exc.error or exc).split())[:200]) from None
            except ex.TransportError as exc:
                if exc.status_code in (429, 500, 502, 503, 504):
                    raise _Retry(f"{exc.status_code} {c._reason(exc.info)}") from None
                raise

    # -- opening -----------------------------------------------------------------------

    def _read_meta(self) -> dict | None:
        """The index's ``_meta`` (``None`` if there is no such index); notes the concrete
        index the name stands for."""
        from opensearchpy import exceptions as ex

        with c.translated(self.where, self.index, self.timeout):
            try:
                answer = self.client.indices.get_mapping(index=self.index)
            except ex.NotFoundError:
                return None
        if not answer:
            return None
        if len(answer) > 1:
            raise SearcherError(
                f"the name {self.index!r} on the OpenSearch cluster at {self.where} stands for "
                f"{len(answer)} indices: give --name of one searcher index"
            )
        (concrete, body), = answer.items()  # the name is an alias (or a plain index)
        self.concrete = concrete
        return (body.get("mappings") or {}).get("_meta") or {}

    def exists(self) -> bool:
        return self._read_meta() is not None

    def check(self, meta: dict | None = None) -> dict:
        """The index's searcher ``_meta``; ``SearcherError`` if missing, foreign or of
        another version."""
        meta = self._read_meta() if meta is None else meta
        if meta is None:
            raise SearcherError(
                f"no index {self.index!r} on the OpenSearch cluster at {self.where}: "
                f"run `searcher --engine opensearch --url {self.where} --name {self.index} index` to build it"
            )
        ours = meta.get(META_KEY)
        if not isinstance(ours, dict):
            raise SearcherError(
                f"the index {self.index!r} on the OpenSearch cluster at {self.where} was not made by searcher: "
                "choose another --name (searcher never deletes an index it did not make)"
            )
        wanted = mapping.fingerprint()
        found = {key: ours.get(key) for key in wanted}
        if found != wanted:
            raise SearcherError(
                f"the index {self.index!r} on the OpenSearch cluster at {self.where} was built by an incompatible "
                f"version of searcher (schema {found['schema']}, mapping {found['mapping']}; this one makes schema "
                f"{wanted['schema']}, mapping {wanted['mapping']}): run `searcher --engine opensearch --url "
                f"{self.where} --name {self.index} index --rebuild`"
            )
        self._meta = ours
        return ours

    @classmethod
    def open(cls, url: str, index: str = DEFAULT_NAME) -> "OpenSearchEngine":
        engine = cls(url, index)
        engine.check()
        return engine

    @classmethod
    def open_or_create(cls, url: str, index: str = DEFAULT_NAME, rebuild: bool = False) -> "OpenSearchEngine":
        engine = cls(url, index)
        meta = engine._read_meta()
        if meta is None:
            engine.create()
            return engine
        try:
            engine.check(meta)
        except SearcherError:
            if not rebuild or not isinstance(meta.get(META_KEY), dict):
                raise
            # Another version's index: the rebuild replaces it (write(rebuild=True)).
            engine._meta = {"state": meta[META_KEY].get("state") or {}}
            engine.stale = True
        return engine

    stale = False  # an index of another version, which only a rebuild may replace
    concrete: str | None = None  # the concrete index behind the name

    def _concrete_name(self) -> str:
        return f"{self.index}-v{s.SCHEMA_VERSION}-{time.time_ns():x}"

    def create(self, alias: bool = True) -> str:
        """A new empty concrete index; with ``alias``, the name points at it at once (a
        first build is written where readers look, and resumes if interrupted). Returns
        the concrete name."""
        shards = _int_env("SEARCHER_OPENSEARCH_SHARDS", DEFAULT_SHARDS, 1)
        replicas = _int_env("SEARCHER_OPENSEARCH_REPLICAS", DEFAULT_REPLICAS, 0)
        meta = {**mapping.fingerprint(), "alias": self.index, "commit": 0, "updated": None, "state": {}}
        body = {"settings": mapping.index_settings(shards, replicas), "mappings": mapping.mappings({META_KEY: meta})}
        if alias:
            body["aliases"] = {self.index: {}}
        concrete = self._concrete_name()
        # Every copy of every shard started before the first write: a node lost right after
        # creation must not take the only copy of a shard with it.
        self.call(
            "indices.create",
            index=concrete,
            body=body,
            wait_for_active_shards="all",
            timeout="30s",
            request_timeout=max(self.timeout, 35.0),
        )
        if alias:
            self.concrete, self._meta, self._versions = concrete, meta, (0, {})
        return concrete

    def _orphans(self) -> list[str]:
        """Concrete indices a rebuild of this name left behind (interrupted before it
        pointed the name at them): searcher's, made for this name, not pointed at."""
        from opensearchpy import exceptions as ex

        with c.translated(self.where, self.index, self.timeout):
            try:
                found = self.client.indices.get(index=f"{self.index}-v*", expand_wildcards="open")
            except ex.NotFoundError:
                return []
        orphans = []
        for name, body in found.items():
            meta = ((body.get("mappings") or {}).get("_meta") or {}).get(META_KEY)
            if isinstance(meta, dict) and meta.get("alias") == self.index and self.index not in (body.get("aliases") or {}):
                if name != self.concrete:
                    orphans.append(name)
        return orphans

    def _delete(self, concrete: str) -> None:
        from opensearchpy import exceptions as ex

        with c.translated(self.where, self.index, self.timeout):
            try:
                self.client.indices.delete(index=concrete)
            except ex.NotFoundError:
                pass

    # -- meta ----------------------------------------------------------------------------

    def meta(self) -> dict:
        if self._meta is None:
            self.check()
        return self._meta

    def _write_meta(self, **changes) -> None:
        meta = {**self.meta(), **changes}
        self.call("indices.put_mapping", index=self.target, body={"_meta": {META_KEY: meta}})
        self._meta = meta

    def commit_number(self, fresh: bool = False) -> int:
        if fresh:
            self._meta = None
        return int(self.meta().get("commit") or 0)

    def load_state(self) -> dict:
        state = self.meta().get("state")
        return state if isinstance(state, dict) else {}

    def save_state(self, state: dict) -> None:
        try:
            with self.writing():
                self._write_meta(state=state)
        except SearcherError:
            pass  # only costs a needless "corpus has changed" warning

    # -- reading -----------------------------------------------------------------------

    def snapshot(self):
        from searcher.engine.opensearch.snapshot import OpenSearchSnapshot

        current = self._snapshot
        if current is not None and not current.up_to_date():
            current = None
        if current is None:
            current = OpenSearchSnapshot(self, self.commit_number())
        self._snapshot = current
        return current

    def _forget_snapshot(self) -> None:
        self._snapshot = None

    def composite(self, sources: list[dict], query: dict | None = None):
        """Every bucket of a composite aggregation, page by page: ``(key dict, doc_count)``."""
        after = None
        while True:
            agg = {"size": PAGE, "sources": sources}
            if after is not None:
                agg["after"] = after
            body = {"size": 0, "track_total_hits": False, "aggs": {"all": {"composite": agg}}}
            if query is not None:
                body["query"] = query
            answer = self.search(body)["aggregations"]["all"]
            for bucket in answer["buckets"]:
                yield bucket["key"], bucket["doc_count"]
            after = answer.get("after_key")
            if not answer["buckets"] or after is None:
                return

    def refresh(self) -> None:
        self.call("indices.refresh", index=self.target)

    def version_detail(self) -> dict[str, tuple[str, int]]:
        """Article id → (content hash indexed, or "" if its paragraphs disagree; the largest
        paragraph count any of its versions claims). Pending writes (a sync that died
        before its refresh) are made visible first."""
        self.meta()
        self.refresh()
        seen: dict[str, list[tuple[str, int, int]]] = {}
        for key, count in self.composite([{"v": {"terms": {"field": s.VERSION}}}]):
            parsed = mapping.parse_version(key["v"])
            if parsed is None:
                continue
            article, digest, paragraphs = parsed
            seen.setdefault(article, []).append((digest, paragraphs, count))
        detail = {}
        for article, versions in seen.items():
            longest = max(p for _, p, _ in versions)
            if len(versions) == 1 and versions[0][1] == versions[0][2]:
                detail[article] = (versions[0][0], longest)
            else:
                detail[article] = ("", longest)  # half-written: never equal to a content hash
        self._versions = (self.commit_number(), detail)
        return detail

    def versions(self) -> dict[str, str]:
        return {article: digest for article, (digest, _) in self.version_detail().items()}

    def stats(self) -> EngineStats:
        meta = self.meta()
        count = lambda query: self.call("count", index=self.index, body={"query": query})["count"]  # noqa: E731
        cardinality = {
            "size": 0,
            "track_total_hits": False,
            "aggs": {
                "terms": {"cardinality": {"field": mapping.terms_field(s.SYL), "precision_threshold": 40000}},
                "words": {"cardinality": {"field": mapping.terms_field(s.WORD), "precision_threshold": 40000}},
            },
        }
        aggs = self.search(cardinality)["aggregations"]
        numbers = self.call("indices.stats", index=self.index, metric="store,segments")
        everything = numbers["_all"]["total"]  # every copy: the disk the index takes on the cluster
        return EngineStats(
            engine=self.name,
            location=self.location,
            articles=count({"term": {s.PARAGRAPH: 1}}),
            paragraphs=count({"match_all": {}}),
            terms=aggs["terms"]["value"],
            words=aggs["words"]["value"],
            size_bytes=everything["store"]["size_in_bytes"],
            segments=everything["segments"]["count"],
            last_update=meta.get("updated"),
            schema_version=s.SCHEMA_VERSION,
        )

    # -- writing -----------------------------------------------------------------------

    def writing(self):
        """The write lock of this index name (``lock.WriteLock``): held by ``write`` and,
        around a whole sync, by ``Index.sync``; reentrant."""
        if self._lock is None:
            from searcher.engine.opensearch.lock import WriteLock

            self._lock = WriteLock(self, on_acquire=self._forget_reads)
        return self._lock

    def _forget_reads(self) -> None:
        """Just after taking the lock: what was read of the index before may be stale
        (another writer may have committed, or rebuilt it, meanwhile): read it again."""
        self._versions = None
        self._forget_snapshot()
        if self.stale:
            return  # another version's index, which only this write's rebuild replaces
        meta = self._read_meta()  # notes the concrete index the name stands for now
        if meta is not None:
            try:
                self.check(meta)
            except SearcherError:
                pass  # refused where it matters (``write``)

    def write(
        self,
        items: Sequence,
        removed: Iterable[str],
        rebuild: bool = False,
        progress: Progress | None = None,
        jobs: int | None = None,
    ) -> Written:
        removed = list(removed)
        if not items and not removed and not rebuild:
            return Written((), 0, ())
        with self.writing() as lock:
            return self._write(items, removed, rebuild, progress, jobs, lock)

    def _write(self, items: Sequence, removed: list[str], rebuild: bool, progress, jobs, lock) -> Written:
        jobs = default_jobs() if jobs is None else max(1, jobs)
        for orphan in self._orphans():
            self._delete(orphan)
        if self.stale and not rebuild:
            self.check()  # refuses, with the message to rebuild
        if rebuild:
            # A new concrete index, written while readers keep the old one; the name moves
            # to it in one step at the end (or never, if this is interrupted).
            state = self.load_state()
            old = self.concrete
            self.target = self.create(alias=False)
            self._meta = {**mapping.fingerprint(), "alias": self.index, "commit": 0, "updated": None, "state": state}
            detail: dict[str, tuple[str, int]] = {}
        elif self._versions is not None and self._versions[0] == self.commit_number(fresh=True):
            detail = self._versions[1]
        else:
            detail = self.version_detail()
        self._forget_snapshot()
        self._versions = None
        # Deletions first: an article removed from the corpus goes even if the rest fails.
        if removed:
            sink = BulkSink(self, {})
            for article_id in removed:
                for number in range(1, detail.get(article_id, ("", 0))[1] + 1):
                    sink.bulk.delete(mapping.doc_id(article_id, number))
            sink.finish()
        old_counts = {article: longest for article, (_, longest) in detail.items()}
        if jobs > 1 and sum(paragraphs_in(item) for item in items) >= PARALLEL_MIN_PARAGRAPHS:
            url, index, target = ",".join(self.urls), self.index, self.target

            def open_sink() -> BulkSink:
                # A client of its own: the parent's connections must not be shared across fork.
                engine = OpenSearchEngine(url, index)
                engine.target = target
                return BulkSink(engine, old_counts)

            done = run_workers(open_sink, items, jobs, progress)
        else:
            done = run_here(BulkSink(self, old_counts), items, progress)
        lock.check()  # another writer took over (our lease lapsed): it finishes what we sent
        self.refresh()
        if rebuild:
            self._write_meta(commit=1, updated=time.time())
            self._point_name_at(self.target, old)
        else:
            self._write_meta(commit=self.commit_number(fresh=True) + 1, updated=time.time())
        return Written(tuple(done.articles), done.paragraphs, tuple(done.skipped))

    def _point_name_at(self, concrete: str, old: str | None) -> None:
        """Move the name to ``concrete`` in one step (readers see the old index or the new
        one), then delete the old index."""
        actions = [{"add": {"index": concrete, "alias": self.index}}]
        if old == self.index:  # a plain index of that name (not an alias): replaced in the same step
            actions.insert(0, {"remove_index": {"index": old}})
        elif old is not None:
            actions.insert(0, {"remove": {"index": old, "alias": self.index}})
        self.call("indices.update_aliases", body={"actions": actions})
        if old is not None and old != self.index:
            self._delete(old)
        self.concrete, self.target, self.stale = concrete, self.index, False
        self._forget_snapshot()

    def close(self) -> None:
        self._snapshot = None
        try:
            self.client.close()
        except Exception:
            pass
