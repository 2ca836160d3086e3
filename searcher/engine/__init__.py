"""The index engine, behind one interface of ours (``searcher.engine.base``).

- ``schema``: what an index holds (field names, the documents of an article);
- ``nodes``: compiled queries, the tree every engine evaluates or translates;
- ``scoring``: BM25, written once;
- ``evaluate``: the embedded engine's evaluator of that tree over posting lists;
- ``embedded``: the embedded engine, an index folder of Whoosh segments (the only code of
  searcher that imports Whoosh).

Importing this package imports none of the engines: ``open_engine`` does, on demand.
"""

from __future__ import annotations

from pathlib import Path

from searcher.engine.base import Engine


def engine_exists(location: Path | str) -> bool:
    """Whether an embedded index is at ``location``."""
    from searcher.engine.embedded import WhooshEngine

    return WhooshEngine.exists(location)


def open_engine(location: Path | str, create: bool = False, rebuild: bool = False) -> Engine:
    """The embedded index at ``location``: opened (``SearcherError`` if there is none or it
    cannot be used), or created if ``create`` and there is none (with ``rebuild``, also if
    the one there cannot be used)."""
    from searcher.engine.embedded import WhooshEngine

    if create:
        return WhooshEngine.open_or_create(location, rebuild=rebuild)
    return WhooshEngine.open(location)
