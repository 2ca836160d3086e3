"""Reading an index on a cluster: a ``Snapshot``.

OpenSearch has no read view that spans requests (short of a point in time), so a snapshot
here is the index as of its last refresh (searcher refreshes once per sync), plus caches:
document frequencies and prefixes asked before (``prefetch`` answers a query's lookups in
one request), and the stored paragraphs of the hits last returned (a hit's text, title and
neighbours need no request of their own). ``up_to_date`` asks the index's commit counter
(in its ``_meta``) at most once a second.

Every search sends the statistics of the whole index (``dfs_query_then_fetch``), asks for
the exact total (``track_total_hits``) and refuses partial answers (a shard without any
live copy is an error, not fewer hits).
"""

from __future__ import annotations

import time
from typing import Iterable, Sequence

from searcher.engine import schema as s
from searcher.engine.base import ArticleMeta, Paragraph, Snapshot, StoredArticle
from searcher.engine.nodes import Tiered
from searcher.engine.opensearch import mapping
from searcher.engine.opensearch.compile import search_query
from searcher.text import VARIANT_SEP

UP_TO_DATE_CHECK_S = 1.0
STORED_CACHE = 20_000  # stored paragraphs kept from the last hits
SUGGESTIONS = 200  # the term suggester's candidates per request (terms_within)
PREFIX_TERMS = 10_000  # at most this many terms under one prefix (expand_prefix)
SORT = [{"_score": "desc"}, {s.ARTICLE: "asc"}, {s.PARAGRAPH: "asc"}]  # ties: article, paragraph


def _regex_literal(text: str) -> str:
    return "".join("\\" + ch if ch in '.?+*|{}[]()"\\#@&<>~^$' else ch for ch in text)


def _folded_sibling(field: str) -> str | None:
    """The analyzed field holding ``field``'s terms accent-folded (``syl`` → ``fold``)."""
    spec = s.ANALYZED.get(field)
    if spec is None or spec.folded or spec.keyed:
        return None
    for name, other in s.ANALYZED.items():
        if other.folded and not other.keyed and (other.unit, other.title, other.positions) == (spec.unit, spec.title, spec.positions):
            return name
    return None


_ACCENTED: dict[str, str] | None = None


def _accent_pattern(folded: str) -> str:
    """A Lucene regular expression matching every lowercase term that folds to ``folded``."""
    global _ACCENTED
    if _ACCENTED is None:
        from searcher.text import fold_accents

        classes: dict[str, set[str]] = {}
        for code in range(0x20, 0x2000):
            ch = chr(code)
            if ch.islower() or not ch.isalpha():
                base = fold_accents(ch)
                if len(base) == 1 and base != ch:
                    classes.setdefault(base, set()).add(ch)
        _ACCENTED = {base: "".join(sorted(chars)) for base, chars in classes.items()}
    parts = []
    for ch in folded:
        others = _ACCENTED.get(ch)
        parts.append(f"[{_regex_literal(ch)}{others}]" if others else _regex_literal(ch))
    return "".join(parts)


class OpenSearchSnapshot(Snapshot):
    """The index of an ``OpenSearchEngine`` as of commit ``commit``."""

    batches_lookups = True

    def __init__(self, engine, commit: int):
        self.engine = engine
        self.commit = commit
        self.location = engine.location
        self._checked = time.monotonic()
        self._paragraphs: int | None = None
        self._df: dict[tuple[str, str], int] = {}
        self._prefixed: dict[tuple[str, str], bool] = {}
        self._expanded: dict[tuple[str, str], list[str]] = {}
        self._stored: dict[str, dict] = {}

    @property
    def paragraphs(self) -> int:
        if self._paragraphs is None:
            self._paragraphs = self.engine.call("count", index=self.engine.index)["count"]
        return self._paragraphs

    # -- vocabulary --------------------------------------------------------------------

    def _lookup_clause(self, kind: str, field: str, term: str) -> dict:
        if kind == "df":
            return {"term": {field: term}}
        # has_prefix: a keyed field's variants are one term of its folded copy
        spec = s.ANALYZED.get(field)
        if spec is not None and spec.keyed and term.endswith(VARIANT_SEP) and VARIANT_SEP not in term[:-1]:
            return {"term": {mapping.folded_field(field): term[: -len(VARIANT_SEP)]}}
        return {"prefix": {mapping.terms_field(field) if spec is not None else field: term}}

    def _count_all(self, lookups: list[tuple[str, str, str]]) -> list[int]:
        """Paragraphs matching each ``(kind, field, term)`` lookup, in one request: a
        filters aggregation over the paragraphs that match any of them."""
        if not lookups:
            return []
        clauses = [self._lookup_clause(*lookup) for lookup in lookups]
        body = {
            "size": 0,
            "track_total_hits": False,
            "query": {"bool": {"should": clauses}},
            "aggs": {"n": {"filters": {"filters": {str(i): q for i, q in enumerate(clauses)}}}},
        }
        buckets = self.engine.search(body)["aggregations"]["n"]["buckets"]
        return [buckets[str(i)]["doc_count"] for i in range(len(clauses))]

    def prefetch(self, lookups: Iterable[tuple]) -> None:
        """Answer the lookups a query will make (``("df", field, term)``,
        ``("has_prefix", field, prefix)``) in one request, for the calls that follow."""
        wanted = []
        for kind, field, term in dict.fromkeys(lookups):
            cache = self._df if kind == "df" else self._prefixed
            if (field, term) not in cache:
                wanted.append((kind, field, term))
        for (kind, field, term), n in zip(wanted, self._count_all(wanted)):
            if kind == "df":
                self._df[(field, term)] = n
            else:
                self._prefixed[(field, term)] = n > 0

    def doc_frequency(self, field: str, term: str) -> int:
        found = self._df.get((field, term))
        if found is None:
            found = self._df[(field, term)] = self._count_all([("df", field, term)])[0]
        return found

    def doc_frequencies(self, field: str, terms: Iterable[str]) -> dict[str, int]:
        terms = list(dict.fromkeys(terms))
        self.prefetch(("df", field, t) for t in terms)
        return {t: self._df[(field, t)] for t in terms}

    def has_prefix(self, field: str, prefix: str) -> bool:
        found = self._prefixed.get((field, prefix))
        if found is None:
            found = self._prefixed[(field, prefix)] = self._count_all([("has_prefix", field, prefix)])[0] > 0
        return found

    def expand_prefix(self, field: str, prefix: str) -> list[str]:
        found = self._expanded.get((field, prefix))
        if found is not None:
            return found
        keyword = mapping.terms_field(field)
        body = {
            "size": 0,
            "track_total_hits": False,
            "query": {"prefix": {keyword: prefix}},
            "aggs": {
                "t": {
                    "terms": {
                        "field": keyword,
                        "include": _regex_literal(prefix) + ".*",
                        "size": PREFIX_TERMS,
                        "order": {"_key": "asc"},
                    }
                }
            },
        }
        buckets = self.engine.search(body)["aggregations"]["t"]["buckets"]
        found = self._expanded[(field, prefix)] = [b["key"] for b in buckets]
        self._prefixed[(field, prefix)] = bool(found)
        return found

    def terms_within(self, field: str, term: str, distance: int) -> list[str]:
        """The term suggester (Lucene's DirectSpellChecker) on ``field``: its terms at most
        ``distance`` edits away (``term`` itself excluded), most frequent first."""
        body = {
            "size": 0,
            "track_total_hits": False,
            "suggest": {
                "near": {
                    "text": term,
                    "term": {
                        "field": field,
                        "suggest_mode": "always",
                        "max_edits": max(1, min(2, distance)),
                        "prefix_length": 0,
                        "min_word_length": 1,
                        "accuracy": 0.0,
                        "max_term_freq": 2_000_000_000,
                        "size": SUGGESTIONS,
                        "sort": "frequency",
                        "string_distance": "levenshtein",
                    },
                }
            },
        }
        entries = self.engine.search(body)["suggest"]["near"]
        return [option["text"] for entry in entries for option in entry["options"]]

    def variants_of(self, field: str, folded: Iterable[str]) -> dict[str, list[str]]:
        """One request: for each folded form, the keyword copy's terms of the paragraphs
        holding it in the folded sibling field (``syl`` → ``fold``), those whose letters
        fold to it (a regular expression of accent classes). Without a folded sibling,
        the lexicon (``Snapshot.variants_of``)."""
        wanted = [f for f in dict.fromkeys(folded) if f]
        sibling = _folded_sibling(field)
        if sibling is None or not wanted:
            return super().variants_of(field, wanted) if wanted else {}
        keyword = mapping.terms_field(field)
        aggs = {
            str(i): {
                "filter": {"term": {sibling: f}},
                "aggs": {"v": {"terms": {"field": keyword, "include": _accent_pattern(f), "size": 1000}}},
            }
            for i, f in enumerate(wanted)
        }
        body = {"size": 0, "track_total_hits": False, "query": {"terms": {sibling: wanted}}, "aggs": aggs}
        answer = self.engine.search(body)["aggregations"]
        found = {}
        for i, f in enumerate(wanted):
            terms = sorted(b["key"] for b in answer[str(i)]["v"]["buckets"])
            if terms:
                found[f] = terms
        return found

    def lexicon(self, field: str) -> Iterable[str]:
        keyword = mapping.terms_field(field)
        return (key["t"] for key, _ in self.engine.composite([{"t": {"terms": {"field": keyword}}}]))

    # -- searching ---------------------------------------------------------------------

    def _ranked(self, query: dict, limit: int) -> tuple[list[tuple[str, float]], int]:
        body = {
            "query": query,
            "size": limit,
            "track_total_hits": True,
            "track_scores": True,
            "sort": SORT,
            "_source": mapping.STORED,
        }
        answer = self.engine.search(body, dfs=True)
        hits = answer["hits"]["hits"]
        if len(self._stored) > STORED_CACHE:
            self._stored.clear()
        ranked = []
        for hit in hits:
            self._stored[hit["_id"]] = hit["_source"]
            ranked.append((hit["_id"], float(hit["_score"] or 0.0)))
        return ranked, answer["hits"]["total"]["value"]

    def top(self, query, limit: int, filters=None):
        if not isinstance(query, Tiered):
            ranked, total = self._ranked(search_query(query, filters), limit)
            return ranked, total, None
        # Two searches, the first tier's then the rest's: each tier ranked by score, the
        # totals added (the tiers do not overlap). The statistics are the whole index's
        # in both (dfs), so the scores are those of one search.
        head, full = self._ranked(search_query(query, filters, tier=True), limit)
        rest, others = self._ranked(search_query(query, filters, tier=False), limit - len(head))
        return head + rest, full + others, full

    def count(self, query, filters=None) -> int:
        body = {"query": search_query(query, filters), "size": 0, "track_total_hits": True}
        return self.engine.search(body)["hits"]["total"]["value"]

    def match_dates(self, query, filters=None) -> list[tuple[str, str, int]]:
        """A composite aggregation over (date, article) of the full matches: one bucket per
        article (an article's paragraphs share its date), its paragraphs counted."""
        sources = [
            {"d": {"terms": {"field": s.DATE, "missing_bucket": True}}},
            {"a": {"terms": {"field": s.ARTICLE}}},
        ]
        matches = search_query(query, filters, tier=True)  # of a Tiered query, its first tier
        return [(key["d"] or "", key["a"], n) for key, n in self.engine.composite(sources, matches)]

    # -- stored data -------------------------------------------------------------------

    def _sources(self, refs: Sequence[str]) -> dict[str, dict]:
        missing = [r for r in dict.fromkeys(refs) if r not in self._stored]
        if missing:
            answer = self.engine.call(
                "mget", index=self.engine.index, body={"ids": missing}, _source=mapping.STORED, realtime=False
            )
            for doc in answer.get("docs", []):
                if doc.get("found"):
                    self._stored[doc["_id"]] = doc["_source"]
        return {r: self._stored[r] for r in refs if r in self._stored}

    def _paragraph(self, ref: str, source: dict) -> Paragraph:
        return Paragraph(ref, source[s.ARTICLE], source[s.PARAGRAPH], source[s.TEXT])

    def paragraph(self, ref) -> Paragraph:
        found = self._sources([ref]).get(ref)
        if found is None:
            from searcher.errors import SearcherError

            raise SearcherError(f"no paragraph {ref!r} in {self.location}")
        return self._paragraph(ref, found)

    def paragraphs_near(self, ref, numbers: Sequence[int]) -> dict[int, Paragraph]:
        article = self.paragraph(ref).article
        refs = [mapping.doc_id(article, n) for n in numbers]
        found = self._sources(refs)
        return {src[s.PARAGRAPH]: self._paragraph(r, src) for r, src in found.items() if src[s.ARTICLE] == article}

    def article_meta(self, ref) -> ArticleMeta:
        source = self._sources([ref]).get(ref) or {}
        return ArticleMeta(
            title=source.get(s.TITLE, ""),
            date=source.get(s.DATE) or None,
            author=source.get(s.AUTHOR) or None,
            url=source.get(s.URL) or None,
        )

    def article(self, article_id: str) -> StoredArticle | None:
        body = {
            "query": {"term": {s.ARTICLE: article_id}},
            "size": PREFIX_TERMS,
            "sort": [{s.PARAGRAPH: "asc"}],
            "_source": mapping.STORED,
            "track_total_hits": False,
        }
        paragraphs: list[dict] = []
        while True:
            hits = self.engine.search(body)["hits"]["hits"]
            paragraphs.extend(h["_source"] for h in hits)
            if len(hits) < body["size"]:
                break
            body["search_after"] = hits[-1]["sort"]
        if not paragraphs:
            return None
        return s.stored_article(article_id, paragraphs)

    def up_to_date(self) -> bool:
        now = time.monotonic()
        if now - self._checked < UP_TO_DATE_CHECK_S:
            return True
        self._checked = now
        return self.engine.commit_number(fresh=True) == self.commit
