"""Bulk writing: documents in NDJSON batches of bounded size, retried with backoff.

A batch is sent when it reaches ``MAX_ACTIONS`` actions or ``MAX_BYTES`` bytes, so a
writer holds at most one batch in memory. A batch the cluster cannot take now (429, 5xx,
a timeout, a node gone) is sent again after 0.5, 1, 2 … s (``RETRY_S`` in all at most);
items refused one by one with 429 are sent again the same way; any other refused item
fails the write with the cluster's reason (a mapping conflict, a term too long …).
"""

from __future__ import annotations

import json
import time

from searcher.engine.opensearch import mapping
from searcher.errors import SearcherError

MAX_ACTIONS = 1000
MAX_BYTES = 4 << 20
RETRY_S = 120.0  # give up on a batch after retrying this long
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0
RETRIED_STATUS = {429, 500, 502, 503, 504}


def _line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class Bulk:
    """Buffered bulk actions on one index; ``flush`` sends what is buffered."""

    def __init__(self, engine):
        self.engine = engine  # the OpenSearchEngine (client, index name, messages)
        self.lines: list[tuple[bytes, bytes | None]] = []  # (action, source or None)
        self.size = 0

    def index(self, doc_id: str, source: dict) -> None:
        self._add(_line({"index": {"_id": doc_id}}), _line(source))

    def delete(self, doc_id: str) -> None:
        self._add(_line({"delete": {"_id": doc_id}}), None)

    def _add(self, action: bytes, source: bytes | None) -> None:
        self.lines.append((action, source))
        self.size += len(action) + (len(source) if source else 0)
        if len(self.lines) >= MAX_ACTIONS or self.size >= MAX_BYTES:
            self.flush()

    def flush(self) -> None:
        pending, self.lines, self.size = self.lines, [], 0
        started = time.monotonic()
        backoff = FIRST_BACKOFF_S
        while pending:
            body = b"".join(a + (s or b"") for a, s in pending)
            try:
                answer = self.engine.bulk_request(body)
            except _Retry as exc:
                if time.monotonic() - started > RETRY_S:
                    raise SearcherError(
                        f"the OpenSearch cluster at {self.engine.location} kept refusing writes for "
                        f"{RETRY_S:.0f} s ({exc}); run `searcher index` again to finish"
                    ) from None
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            if not answer.get("errors"):
                return
            again = []
            for (action, source), item in zip(pending, answer.get("items", [])):
                (kind, result), = item.items()
                status = result.get("status", 500)
                if status < 300 or (kind == "delete" and status == 404):
                    continue
                if status in RETRIED_STATUS:
                    again.append((action, source))
                    continue
                error = result.get("error") or {}
                reason = " ".join(f"{error.get('type', '')}: {error.get('reason', '')}".split())
                raise SearcherError(
                    f"the index {self.engine.index!r} on the OpenSearch cluster at {self.engine.location} "
                    f"refused paragraph {result.get('_id')} ({status} {reason}): "
                    "rebuild it with `searcher --engine opensearch … index --rebuild`"
                )
            pending = again
            if pending:
                if time.monotonic() - started > RETRY_S:
                    raise SearcherError(
                        f"the OpenSearch cluster at {self.engine.location} kept refusing writes for {RETRY_S:.0f} s; "
                        "run `searcher index` again to finish"
                    )
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)


class _Retry(Exception):
    """A batch to send again later (the cluster is busy or a node is gone)."""


class BulkSink:
    """A worker's ``Sink`` (``searcher.engine.workers``): each article's paragraphs as
    index actions, then deletions of the paragraphs an older, longer version had."""

    def __init__(self, engine, old_counts: dict[str, int]):
        self.bulk = Bulk(engine)
        self.old_counts = old_counts

    def add(self, article) -> tuple[str, int]:
        count = 0
        for doc_id, source in mapping.sources(article):  # sent in batches as they come
            self.bulk.index(doc_id, source)
            count += 1
        for number in range(count + 1, self.old_counts.get(article.id, 0) + 1):
            self.bulk.delete(mapping.doc_id(article.id, number))
        return article.id, count

    def ready(self) -> list:
        return []

    def finish(self):
        self.bulk.flush()
        return None

    def cancel(self) -> None:
        self.bulk.lines = []
