"""Compiled queries (``searcher.engine.nodes``) → OpenSearch's query DSL: a plain visitor,
one function per node type, scoring as the embedded evaluator does (every node a sum of
BM25 scores, each field with its own k1 and b: ``mapping.similarities``).

| node | DSL |
|---|---|
| ``Term(f, t)`` | ``term`` on ``f`` |
| ``Variants(f, p)`` | ``term`` ``p`` on ``f.folded`` (the accent variants of a keyed term are one term there) |
| ``Phrase(f, ts)`` | ``match_phrase`` (slop 0): Lucene's PhraseQuery, scored as the embedded evaluator scores a phrase (frequency = occurrences, IDF = the sum of its terms') |
| ``And`` | ``bool.must`` (positive children) + ``must_not`` (``Not`` children): an exclusion adds nothing |
| ``Not`` alone, ``And`` of exclusions only | ``bool``: 1.0 for every paragraph (``constant_score`` of ``match_all``), ``must_not`` the children |
| ``Tiered(first, q)`` | ``q`` (``OpenSearchSnapshot.top`` searches the tiers one after the other: ``q`` + ``filter`` ``first``, then ``q`` + ``must_not`` ``first``) |
| ``Or`` | ``bool.should``, ``minimum_should_match`` 1 |
| ``Quorum(cs, m)`` | ``bool.should``, ``minimum_should_match`` m |
| ``AndMaybe(r, o)`` | ``bool``: ``must`` r, ``should`` o (adds where it matches) |
| ``Nothing`` | ``match_none`` |
| ``Filters`` | ``bool.filter``: ``term`` on article, ``range`` on the date keyword |

A boost other than 1 goes on the node's own query (``boost``), which multiplies its score.
"""

from __future__ import annotations

from searcher.engine import schema as s
from searcher.engine.nodes import And, AndMaybe, Filters, Not, Nothing, Or, Phrase, Quorum, Term, Tiered, Variants
from searcher.engine.opensearch.mapping import folded_field

MATCH_NONE = {"match_none": {}}


def _boosted(query: dict, boost: float) -> dict:
    if boost != 1.0:
        (kind, body), = query.items()
        if kind == "bool":
            body["boost"] = boost
        else:
            query = {"bool": {"must": [query], "boost": boost}}
    return query


def _term(field: str, value: str, boost: float = 1.0) -> dict:
    body = {"value": value}
    if boost != 1.0:
        body["boost"] = boost
    return {"term": {field: body}}


def _constant(score: float) -> dict:
    return {"constant_score": {"filter": {"match_all": {}}, "boost": score}}


def term(node: Term) -> dict:
    return _term(node.field, node.text, node.boost)


def variants(node: Variants) -> dict:
    return _term(folded_field(node.field), node.prefix, node.boost)


def phrase(node: Phrase) -> dict:
    if not node.terms:
        return MATCH_NONE
    if len(node.terms) == 1:
        return _term(node.field, node.terms[0], node.boost)
    body = {"query": " ".join(node.terms), "slop": 0}
    if node.boost != 1.0:
        body["boost"] = node.boost
    return {"match_phrase": {node.field: body}}


def and_(node: And) -> dict:
    positive = [compile_node(c) for c in node.children if not isinstance(c, Not)]
    negative = [compile_node(c.child) for c in node.children if isinstance(c, Not)]
    if not positive and not negative:
        return MATCH_NONE
    # Only exclusions: every other paragraph, with score 1.0 (as a lone Not).
    body: dict = {"must": positive or [_constant(1.0)]}
    if negative:
        body["must_not"] = negative
    return _boosted({"bool": body}, node.boost)


def not_(node: Not) -> dict:
    return {"bool": {"must": [_constant(1.0)], "must_not": [compile_node(node.child)]}}


def tiered(node: Tiered) -> dict:
    """Its matches and scores (the tiers are the order ``top`` asks them in)."""
    return compile_node(node.query)


def or_(node: Or) -> dict:
    if not node.children:
        return MATCH_NONE
    body = {"should": [compile_node(c) for c in node.children], "minimum_should_match": 1}
    return _boosted({"bool": body}, node.boost)


def quorum(node: Quorum) -> dict:
    if not node.children:
        return MATCH_NONE
    minimum = max(1, min(node.minimum, len(node.children)))
    body = {"should": [compile_node(c) for c in node.children], "minimum_should_match": minimum}
    return _boosted({"bool": body}, node.boost)


def and_maybe(node: AndMaybe) -> dict:
    body = {"must": [compile_node(node.required)], "should": [compile_node(node.optional)]}
    return _boosted({"bool": body}, node.boost)


def nothing(node: Nothing) -> dict:
    return MATCH_NONE


VISITORS = {
    Term: term,
    Variants: variants,
    Phrase: phrase,
    And: and_,
    Not: not_,
    Or: or_,
    Quorum: quorum,
    AndMaybe: and_maybe,
    Tiered: tiered,
    Nothing: nothing,
}


def compile_node(node) -> dict:
    visit = VISITORS.get(type(node))
    if visit is None:
        raise TypeError(f"not a query node the OpenSearch engine knows: {node!r}")
    return visit(node)


def filter_clauses(filters: Filters | None) -> list[dict]:
    """``Filters`` as non-scoring clauses. Dates are keywords compared as text, so a
    prefix (``2024``, ``2024-05``) covers its whole period, as in the embedded engine."""
    if not filters:
        return []
    clauses = []
    if filters.article:
        clauses.append({"term": {s.ARTICLE: filters.article}})
    if filters.since or filters.until:
        bounds = {"gte": filters.since or "0000"}
        bounds["lte"] = (filters.until or "9999") + "\uffff"
        clauses.append({"range": {s.DATE: bounds}})
    return clauses


def search_query(node, filters: Filters | None = None, tier: bool | None = None) -> dict:
    """The whole ``query`` of a search: the node, restricted by ``filters``; of a
    ``Tiered`` node with ``tier`` True its first tier, with False the rest."""
    query = compile_node(node)
    clauses = filter_clauses(filters)
    exclude = []
    if tier is not None and isinstance(node, Tiered):
        (clauses if tier else exclude).append(compile_node(node.first))
    if not clauses and not exclude:
        return query
    body: dict = {"must": [query]}
    if clauses:
        body["filter"] = clauses
    if exclude:
        body["must_not"] = exclude
    return {"bool": body}
