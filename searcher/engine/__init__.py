"""The index engine, behind one interface of ours (``searcher.engine.base``).

- ``schema``: what an index holds (field names, the documents of an article);
- ``nodes``: compiled queries, the tree every engine evaluates or translates;
- ``scoring``: BM25, written once;
- ``evaluate``: the embedded engine's evaluator of that tree over posting lists;
- ``embedded``: the embedded engine, an index folder of Whoosh segments (the only code of
  searcher that imports Whoosh);
- ``opensearch``: the cluster engine, an index on an OpenSearch cluster (the only code
  that imports opensearch-py);
- ``workers``: indexing in worker processes, for either engine.

Importing this package imports none of the engines: ``open_engine`` does, on demand.
"""

from __future__ import annotations

from pathlib import Path

from searcher.engine.base import Engine
from searcher.records import Record

DEFAULT_CLUSTER_INDEX = "searcher"


class ClusterIndex(Record):
    """Where an index on an OpenSearch cluster lives: the nodes' URLs (comma-separated)
    and the index name."""

    url: str
    name: str = DEFAULT_CLUSTER_INDEX

    def __str__(self) -> str:
        from searcher.engine.opensearch.client import public_location

        return f"{public_location(self.url)} (index {self.name})"


Location = Path | str | ClusterIndex


def engine_exists(location: Location) -> bool:
    """Whether an index is at ``location`` (a folder, or an index on a cluster)."""
    if isinstance(location, ClusterIndex):
        from searcher.engine.opensearch import OpenSearchEngine

        return OpenSearchEngine(location.url, location.name).exists()
    from searcher.engine.embedded import WhooshEngine

    return WhooshEngine.exists(location)


def open_engine(location: Location, create: bool = False, rebuild: bool = False) -> Engine:
    """The index at ``location``: opened (``SearcherError`` if there is none or it cannot
    be used), or created if ``create`` and there is none (with ``rebuild``, also if the one
    there cannot be used)."""
    if isinstance(location, ClusterIndex):
        from searcher.engine.opensearch import OpenSearchEngine

        if create:
            return OpenSearchEngine.open_or_create(location.url, location.name, rebuild=rebuild)
        return OpenSearchEngine.open(location.url, location.name)
    from searcher.engine.embedded import WhooshEngine

    if create:
        return WhooshEngine.open_or_create(location, rebuild=rebuild)
    return WhooshEngine.open(location)
