"""Embeddings of benchmark collections, cached on disk so that reruns are cheap.

    cache = EmbeddingCache(Path("benchmarks/data/embeddings"), embedder.model_id, embedder.dim)
    embedder = CachedEmbedder(embedder, cache)    # an Embedder: known texts come from the cache

The cache is keyed by model id (one pair of files per model) and by a digest of the exact
text embedded (``searcher.semantic.store.text_digest``): a changed paragraph is embedded
again, an unchanged one never. Two append-only files, ``<model>.keys`` (uint64 digests)
and ``<model>.f32`` (rows); a run killed mid-way loses at most the batch being written.
It lives in the git-ignored ``benchmarks/data/``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from searcher.semantic.embedder import Embedder
from searcher.semantic.store import text_digest

DEFAULT_DIR = Path(__file__).resolve().parent / "data" / "embeddings"


class EmbeddingCache:
    def __init__(self, folder: Path, model_id: str, dim: int):
        folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)
        self.keys_path, self.vec_path = folder / f"{slug}.keys", folder / f"{slug}.f32"
        self.dim = dim
        self.rows: dict[int, np.ndarray] = {}
        if self.keys_path.exists() and self.vec_path.exists():
            keys = np.fromfile(self.keys_path, dtype="<u8")
            vecs = np.fromfile(self.vec_path, dtype="<f4")
            n = min(len(keys), len(vecs) // dim)  # a torn tail is dropped
            vecs = vecs[: n * dim].reshape(n, dim)
            for k, v in zip(keys[:n].tolist(), vecs):
                self.rows[k] = v

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, digests: list[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        # Rows first, then keys: a key is never written without its row.
        with open(self.vec_path, "ab") as f:
            f.write(vectors.tobytes())
            f.flush()
            os.fsync(f.fileno())
        with open(self.keys_path, "ab") as f:
            f.write(np.asarray(digests, dtype="<u8").tobytes())
            f.flush()
            os.fsync(f.fileno())
        for d, v in zip(digests, vectors):
            self.rows[d] = v


class CachedEmbedder(Embedder):
    """An embedder whose passages come from ``cache`` when known (queries are not cached)."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache, batch: int = 16):
        self.inner, self.cache, self.batch = inner, cache, batch
        self.model_id, self.dim = inner.model_id, inner.dim
        self.embedded = 0

    def embed_passages(self, texts):
        from searcher.semantic.embedder import clean

        digests = [text_digest(clean(t)) for t in texts]
        missing = list(dict.fromkeys(d for d in digests if d not in self.cache.rows))
        by_digest = {text_digest(clean(t)): t for t in texts}
        for start in range(0, len(missing), self.batch):
            part = missing[start : start + self.batch]
            vectors = self.inner.embed_passages([by_digest[d] for d in part])
            self.cache.add(part, vectors)
            self.embedded += len(part)
        if not digests:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self.cache.rows[d] for d in digests]).astype(np.float32)

    def embed_query(self, text):
        return self.inner.embed_query(text)
