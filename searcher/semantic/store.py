"""Paragraph vectors in the index folder, engine-neutral: ``VectorStore``.

Layout of ``<index>/semantic/``::

    manifest.json      what is committed: model, dim, dtype, shards and their row counts,
                       and per article (hash, shard, first row, paragraph count)
    vec-000001.f32     rows of ``dim`` little-endian floats (float32, or float16: .f16), appended
    vec-000001.key     one uint64 per row: a digest of the text that row embeds
    lock               held (flock) by the one process writing

A row is keyed by (article id, content hash, paragraph number): an article's paragraphs
are consecutive rows of one shard. Writing only appends to the shard files; a commit
fsyncs them, then replaces ``manifest.json`` atomically (``os.replace``). Readers see
exactly the committed rows, so an interrupt at any point (SIGINT, SIGKILL, power) leaves
the last committed store, and the next run truncates the uncommitted tail and resumes.
Removing an article drops it from the manifest; its rows stay as dead weight until the
store is compacted (automatically, when dead rows outnumber live ones).

The text digest lets a changed article (an edit, a new parser version) reuse the vectors
of its unchanged paragraphs instead of embedding them again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Collection, Iterable, Iterator, Mapping, Sequence

import numpy as np

from searcher.errors import SearcherError
from searcher.records import Record

SEMANTIC_DIR = "semantic"
FORMAT = 1
MANIFEST = "manifest.json"
LOCK = "lock"
SHARD_ROWS = 1 << 16  # rows per shard file before the next one is started
DTYPES = {"float16": ".f16", "float32": ".f32"}
# float16 halves the disk and ranks the same (XQuAD-vi: max |Δcos| 5e-5, same MRR), but
# numpy converts it to float32 for every search at a few ns per value, which made an exact
# search about 4 times slower than on float32 rows: float32 by default.
DEFAULT_DTYPE = "float32"
# Rows scored per step of a search: bounds the float32 copy of float16 rows (~24 MB at 384).
CHUNK_ROWS = 1 << 14
COMPACT_MIN_DEAD = 4096


def text_digest(text: str) -> int:
    """64-bit digest of the exact text a row embeds."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class VectorHit(Record):
    article: str
    paragraph: int
    score: float  # cosine similarity


class VectorStats(Record):
    model: str
    dim: int
    dtype: str
    articles: int
    vectors: int  # live rows: one per paragraph
    rows: int  # rows on disk, dead ones included
    bytes: int  # every file of the store


class Plan(Record):
    """What bringing the store up to date with a corpus takes."""

    embed: tuple[str, ...]  # new or changed articles
    remove: tuple[str, ...]  # articles no longer in the corpus
    unchanged: int


class _Shard:
    """One shard's committed rows, opened lazily (memory-mapped)."""

    def __init__(self, folder: Path, name: str, rows: int, dim: int, dtype: str):
        self.name, self.rows, self.dim, self.dtype = name, rows, dim, dtype
        self.vec_path = folder / (name + DTYPES[dtype])
        self.key_path = folder / (name + ".key")
        self._vectors = None
        self._keys = None

    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            if self.rows == 0:
                self._vectors = np.zeros((0, self.dim), dtype=self.dtype)
            else:
                self._vectors = np.memmap(self.vec_path, dtype=np.dtype(self.dtype).newbyteorder("<"), mode="r",
                                          shape=(self.rows, self.dim))
        return self._vectors

    def keys(self) -> np.ndarray:
        if self._keys is None:
            self._keys = np.fromfile(self.key_path, dtype="<u8", count=self.rows) if self.rows else np.zeros(0, "<u8")
        return self._keys


class VectorStore:
    """The paragraph vectors of one index. Open with ``open``, ``create`` or ``for_model``."""

    def __init__(self, folder: Path, manifest: dict):
        self.folder = folder
        self._manifest = manifest
        self._shards = {name: _Shard(folder, name, rows, manifest["dim"], manifest["dtype"])
                        for name, rows in manifest["shards"]}
        self._articles: dict[str, list] = manifest["articles"]  # id -> [hash, shard, row, count]
        self._pending: list[tuple[str, str, np.ndarray, np.ndarray]] = []
        self._lock_fd: int | None = None
        self._owners = None  # shard name -> (article index per row or -1, paragraph per row)
        self._ids: list[str] | None = None
        self._digests = None
        self._dirty = False

    # -- opening ------------------------------------------------------------------------

    @staticmethod
    def exists(folder: Path | str) -> bool:
        return (Path(folder) / MANIFEST).is_file()

    @classmethod
    def open(cls, folder: Path | str) -> "VectorStore":
        """The committed store in ``folder``; ``SearcherError`` if there is none or it is unreadable."""
        folder = Path(folder)
        path = folder / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SearcherError(f"{folder}: no embeddings here (run: searcher index --semantic)") from None
        except (OSError, ValueError) as exc:
            raise SearcherError(f"{path}: unreadable embeddings manifest ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SearcherError(f"{path}: embeddings in another format (rebuild: searcher index --semantic --rebuild)")
        return cls(folder, manifest)

    @classmethod
    def create(cls, folder: Path | str, model: str, dim: int, dtype: str = DEFAULT_DTYPE) -> "VectorStore":
        """A new, empty store in ``folder`` (whatever was there is removed when it commits)."""
        if dtype not in DTYPES:
            raise SearcherError(f"unknown vector type {dtype!r} (one of: {', '.join(DTYPES)})")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        old = None
        if cls.exists(folder):
            try:
                old = cls.open(folder)
            except SearcherError:
                old = None
        next_shard = old._manifest.get("next_shard", 1) if old else 1
        manifest = {"format": FORMAT, "model": model, "dim": int(dim), "dtype": dtype,
                    "next_shard": next_shard, "shards": [], "articles": {}, "dead": 0}
        store = cls(folder, manifest)
        store._lock()
        store._dirty = True  # committing it replaces whatever was there
        return store

    @classmethod
    def for_model(cls, folder: Path | str, model: str, dim: int, dtype: str = DEFAULT_DTYPE,
                  rebuild: bool = False) -> tuple["VectorStore", str | None]:
        """The store to write ``model``'s vectors into, and why it starts empty (or None).

        An existing store of another model (or dimension) is replaced: its vectors cannot
        be compared with the new model's.
        """
        folder = Path(folder)
        if rebuild or not cls.exists(folder):
            return cls.create(folder, model, dim, dtype), ("rebuild" if rebuild else None)
        try:
            store = cls.open(folder)
        except SearcherError as exc:
            return cls.create(folder, model, dim, dtype), str(exc)
        if store.model != model or store.dim != dim:
            reason = f"model changed: {store.model} -> {model}"
            return cls.create(folder, model, dim, dtype), reason
        store._lock()
        return store, None

    def check_model(self, model: str) -> None:
        """``SearcherError`` unless the vectors were made by ``model`` (before a search)."""
        if self.model != model:
            raise SearcherError(
                f"{self.folder}: embeddings made with {self.model}, this searcher runs {model} "
                "(run: searcher index --semantic)"
            )

    # -- what is there -----------------------------------------------------------------

    @property
    def model(self) -> str:
        return self._manifest["model"]

    @property
    def dim(self) -> int:
        return self._manifest["dim"]

    @property
    def dtype(self) -> str:
        return self._manifest["dtype"]

    def articles(self) -> dict[str, str]:
        """Committed articles: id → content hash."""
        return {aid: entry[0] for aid, entry in self._articles.items()}

    def has(self, article_id: str, content_hash: str) -> bool:
        entry = self._articles.get(article_id)
        return entry is not None and entry[0] == content_hash

    def __len__(self) -> int:
        """Live vectors (paragraphs)."""
        return sum(entry[3] for entry in self._articles.values())

    def plan(self, current: Mapping[str, str]) -> Plan:
        """Against ``current`` (the corpus: article id → content hash): what to embed and remove."""
        embed = tuple(aid for aid, h in current.items() if not self.has(aid, h))
        remove = tuple(sorted(set(self._articles) - set(current)))
        return Plan(embed, remove, len(current) - len(embed))

    def vectors(self, article_id: str) -> np.ndarray:
        """The committed vectors of one article's paragraphs, ``(count, dim)`` float32."""
        entry = self._articles.get(article_id)
        if entry is None:
            raise SearcherError(f"no embeddings for article {article_id!r}")
        _, shard, row, count = entry
        return np.asarray(self._shards[shard].vectors()[row : row + count], dtype=np.float32)

    def stats(self) -> VectorStats:
        size = 0
        for path in self.folder.iterdir():
            if path.is_file():
                size += path.stat().st_size
        rows = sum(shard.rows for shard in self._shards.values())
        return VectorStats(self.model, self.dim, self.dtype, len(self._articles), len(self), rows, size)

    # -- writing -----------------------------------------------------------------------

    def _lock(self) -> None:
        if self._lock_fd is not None:
            return
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SearcherError(f"{self.folder}: embeddings are being written by another process") from None
        self._lock_fd = fd

    def put(self, article_id: str, content_hash: str, vectors: np.ndarray, digests: Sequence[int]) -> None:
        """Stage one article's vectors (all its paragraphs, in order); written by ``commit``."""
        self._lock()
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(digests) != len(vectors):
            raise SearcherError(f"article {article_id}: expected {len(digests)}×{self.dim} vectors, got {vectors.shape}")
        self._pending = [p for p in self._pending if p[0] != article_id]
        self._pending.append((article_id, content_hash, vectors.astype(self.dtype),
                              np.asarray(digests, dtype="<u8")))

    def remove(self, article_ids: Iterable[str]) -> int:
        """Drop articles (committed and staged); returns how many were there."""
        self._lock()
        ids = set(article_ids)
        self._pending = [p for p in self._pending if p[0] not in ids]
        gone = 0
        for aid in ids:
            entry = self._articles.pop(aid, None)
            if entry is not None:
                self._manifest["dead"] += entry[3]
                gone += 1
        if gone:
            self._dirty = True
            self._owners = None
        return gone

    @property
    def pending(self) -> int:
        """Staged rows not yet committed."""
        return sum(len(p[2]) for p in self._pending)

    def commit(self) -> None:
        """Write the staged rows, then make them (and removals) visible atomically."""
        if not self._pending and not self._dirty:
            return
        self._lock()
        shards = [list(s) for s in self._manifest["shards"]]
        while self._pending:
            if not shards or shards[-1][1] >= SHARD_ROWS:
                name = f"vec-{self._manifest['next_shard']:06d}"
                self._manifest["next_shard"] += 1
                shards.append([name, 0])
            name, rows = shards[-1]
            take = []
            room = SHARD_ROWS - rows
            # Whole articles only; an article larger than a shard gets a shard of its own.
            while self._pending and (len(self._pending[0][2]) <= room or (not take and rows == 0)):
                item = self._pending.pop(0)
                take.append(item)
                room -= len(item[2])
            if not take:
                shards.append([f"vec-{self._manifest['next_shard']:06d}", 0])
                self._manifest["next_shard"] += 1
                continue
            added = self._append(name, rows, take)
            row = rows
            for aid, h, vectors, _ in take:
                old = self._articles.get(aid)
                if old is not None:
                    self._manifest["dead"] += old[3]
                self._articles[aid] = [h, name, row, len(vectors)]
                row += len(vectors)
            shards[-1][1] = rows + added
        self._manifest["shards"] = shards
        self._write_manifest()
        self._reload_shards()
        self._dirty = False
        self._sweep()
        if self._manifest["dead"] >= COMPACT_MIN_DEAD and self._manifest["dead"] > len(self):
            self.compact()

    def _append(self, name: str, rows: int, items) -> int:
        """Append rows to a shard's two files after its committed ``rows``; fsynced."""
        vec_path = self.folder / (name + DTYPES[self.dtype])
        key_path = self.folder / (name + ".key")
        row_bytes = self.dim * np.dtype(self.dtype).itemsize
        added = 0
        for path, width, part in ((vec_path, row_bytes, 2), (key_path, 8, 3)):
            with open(path, "ab+") as f:
                f.truncate(rows * width)  # an interrupted run's uncommitted tail
                f.seek(rows * width)
                count = 0
                for item in items:
                    data = np.ascontiguousarray(item[part])
                    if part == 2:
                        data = data.astype(np.dtype(self.dtype).newbyteorder("<"), copy=False)
                    f.write(data.tobytes())
                    count += len(item[part])
                f.flush()
                os.fsync(f.fileno())
            added = count
        return added

    def _write_manifest(self) -> None:
        self._manifest["articles"] = self._articles
        self._manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        tmp = self.folder / (MANIFEST + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._manifest, f, ensure_ascii=False, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / MANIFEST)
        try:
            dir_fd = os.open(self.folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _reload_shards(self) -> None:
        self._shards = {name: _Shard(self.folder, name, rows, self.dim, self.dtype)
                        for name, rows in self._manifest["shards"]}
        self._owners = None
        self._digests = None

    def _sweep(self) -> None:
        """Delete shard files no manifest names (an interrupted run's, a compacted store's)."""
        keep = set()
        for name in self._shards:
            keep.add(name + DTYPES[self.dtype])
            keep.add(name + ".key")
        for path in self.folder.glob("vec-*"):
            if path.name not in keep:
                try:
                    path.unlink()
                except OSError:
                    pass

    def compact(self) -> None:
        """Rewrite the live rows into fresh shards and drop the dead ones."""
        self._lock()
        self.commit()
        staged = []
        for aid, (h, shard, row, count) in self._articles.items():
            s = self._shards[shard]
            staged.append((aid, h, np.array(s.vectors()[row : row + count]), np.array(s.keys()[row : row + count])))
        self._articles = {}
        self._manifest["shards"] = []
        self._manifest["dead"] = 0
        self._pending = staged
        self._dirty = True
        self.commit()

    def close(self) -> None:
        """Release the write lock (staged rows that were not committed are dropped)."""
        self._pending = []
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "VectorStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reuse by text ------------------------------------------------------------------

    def reusable(self, digests: Sequence[int]) -> dict[int, np.ndarray]:
        """Committed vectors of live rows whose text digest is in ``digests`` (digest → float32 row)."""
        if not digests or not self._articles:
            return {}
        if self._digests is None:
            keys, where = [], []
            for h, shard, row, count in self._articles.values():
                if count:
                    keys.append(self._shards[shard].keys()[row : row + count])
                    where.extend((shard, r) for r in range(row, row + count))
            if not keys:
                return {}
            flat = np.concatenate(keys)
            order = np.argsort(flat, kind="stable")
            self._digests = (flat[order], [where[i] for i in order])
        flat, where = self._digests
        wanted = np.asarray(list(digests), dtype="<u8")
        pos = np.searchsorted(flat, wanted)
        found = {}
        for d, p in zip(wanted.tolist(), pos.tolist()):
            if p < len(flat) and int(flat[p]) == d:
                shard, row = where[p]
                found[d] = np.asarray(self._shards[shard].vectors()[row], dtype=np.float32)
        return found

    # -- search ------------------------------------------------------------------------

    def _owner_arrays(self):
        if self._owners is None:
            ids = list(self._articles)
            owners = {name: (np.full(s.rows, -1, np.int32), np.zeros(s.rows, np.int32))
                      for name, s in self._shards.items()}
            for i, aid in enumerate(ids):
                _, shard, row, count = self._articles[aid]
                art, para = owners[shard]
                art[row : row + count] = i
                para[row : row + count] = np.arange(count, dtype=np.int32)
            self._ids, self._owners = ids, owners
        return self._ids, self._owners

    def search(self, query: np.ndarray, k: int = 10, articles: Collection[str] | None = None) -> list[VectorHit]:
        """The ``k`` paragraphs nearest ``query`` by cosine (exact), best first.

        ``articles``: only paragraphs of these article ids (a filter's survivors). Equal
        scores come in (article, paragraph) order.
        """
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise SearcherError(f"query vector of dimension {query.shape[0]}, the store holds {self.dim}")
        if k <= 0 or not self._articles:
            return []
        try:
            found = self._search(query, k, articles)
        except FileNotFoundError:  # a writer compacted the store under us: read it again
            fresh = VectorStore.open(self.folder)
            self._manifest, self._articles = fresh._manifest, fresh._articles
            self._reload_shards()
            found = self._search(query, k, articles)
        found.sort(key=lambda hit: (-hit[0], hit[1], hit[2]))
        return [VectorHit(aid, para, score) for score, aid, para in found[:k]]

    def _search(self, query: np.ndarray, k: int, articles: Collection[str] | None) -> list[tuple[float, str, int]]:
        ids, owners = self._owner_arrays()
        allowed = None
        if articles is not None:
            index = {aid: i for i, aid in enumerate(ids)}
            allowed = np.array(sorted(index[a] for a in set(articles) if a in index), dtype=np.int32)
            if not len(allowed):
                return []
        found: list[tuple[float, str, int]] = []
        for name, shard in self._shards.items():
            art, para = owners[name]
            vectors = shard.vectors()
            for start in range(0, shard.rows, CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, shard.rows)
                owner = art[start:stop]
                live = owner >= 0 if allowed is None else np.isin(owner, allowed)
                n_live = int(live.sum())
                if not n_live:
                    continue
                scores = np.asarray(vectors[start:stop], dtype=np.float32) @ query
                scores[~live] = -np.inf
                take = min(k, n_live)
                top = np.argpartition(-scores, take - 1)[:take]
                found.extend((float(scores[i]), ids[owner[i]], int(para[start + i])) for i in top)
        return found

    def scores(self, query: np.ndarray, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], float]:
        """Exact cosine of ``query`` with the given (article, paragraph) rows (lexical candidates)."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        out = {}
        for aid, paragraph in keys:
            entry = self._articles.get(aid)
            if entry is None or not 0 <= paragraph < entry[3]:
                continue
            row = self._shards[entry[1]].vectors()[entry[2] + paragraph]
            out[(aid, paragraph)] = float(np.asarray(row, dtype=np.float32) @ query)
        return out


# -- embedding a corpus ---------------------------------------------------------------


class EmbedReport(Record):
    articles: int  # articles written
    paragraphs: int  # their paragraphs
    embedded: int  # paragraphs the model embedded
    reused: int  # paragraphs whose unchanged text kept its vector
    removed: int
    seconds: float
    reason: str | None = None  # why the store started empty, if it did

    def summary(self) -> str:
        text = (f"embeddings: {self.articles} articles, {self.paragraphs} paragraphs "
                f"({self.embedded} embedded, {self.reused} reused), {self.removed} removed, {self.seconds:.1f} s")
        return text + (f" ({self.reason})" if self.reason else "")


def embed_articles(
    store: VectorStore,
    embedder,
    articles: Iterable,
    *,
    batch: int = 32,
    commit_seconds: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
    removed: int = 0,
    reason: str | None = None,
) -> EmbedReport:
    """Embed ``articles`` (objects with ``id``, ``hash``, ``title``, ``paragraphs``) into ``store``.

    Paragraph texts already in the store are reused, the others embedded ``batch`` at a
    time; a commit every ``commit_seconds`` and at the end. On an interrupt
    (KeyboardInterrupt) the finished articles are committed before it propagates, so the
    next run starts where this one stopped. ``progress(articles_done, paragraphs_done)``.
    """
    from searcher.semantic.embedder import passage_text

    if embedder.model_id != store.model or embedder.dim != store.dim:
        raise SearcherError(f"{store.folder}: embeddings of {store.model}, not {embedder.model_id}")
    started = time.monotonic()
    last_commit = started
    counts = {"articles": 0, "paragraphs": 0, "embedded": 0, "reused": 0}
    waiting: list[tuple[object, list[int], dict[int, np.ndarray]]] = []
    texts: dict[int, str] = {}

    def flush() -> None:
        if texts:
            digests = list(texts)
            vectors = embedder.embed_passages([texts[d] for d in digests])
            counts["embedded"] += len(digests)
            made = dict(zip(digests, vectors))
        else:
            made = {}
        for article, digests, known in waiting:
            rows = [known[d] if d in known else made[d] for d in digests]
            vectors = np.stack(rows) if rows else np.zeros((0, store.dim), np.float32)
            store.put(article.id, article.hash, vectors, digests)
            counts["articles"] += 1
            counts["paragraphs"] += len(digests)
        waiting.clear()
        texts.clear()
        if progress:
            progress(counts["articles"], counts["paragraphs"])

    try:
        for article in _iterate(articles):
            passages = [passage_text(article.title, p) for p in article.paragraphs]
            digests = [text_digest(t) for t in passages]
            known = store.reusable([d for d in digests if d not in texts])
            counts["reused"] += sum(1 for d in digests if d in known)
            for d, t in zip(digests, passages):
                if d not in known:
                    texts[d] = t
            waiting.append((article, digests, known))
            if len(texts) >= batch:
                flush()
                if time.monotonic() - last_commit >= commit_seconds:
                    store.commit()
                    last_commit = time.monotonic()
        flush()
    except KeyboardInterrupt:
        waiting.clear()  # the article being embedded is lost; the finished ones are kept
        store.commit()
        raise
    store.commit()
    return EmbedReport(counts["articles"], counts["paragraphs"], counts["embedded"], counts["reused"],
                       removed, time.monotonic() - started, reason)


def _iterate(articles: Iterable) -> Iterator:
    yield from articles
