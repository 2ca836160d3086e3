"""The index searcher creates on a cluster: settings, mapping and documents, all made from
``searcher.engine.schema`` (a field added to ``ANALYZED`` needs nothing here).

Analysis stays searcher's: each analyzed field arrives as its terms, space-joined, and the
cluster only splits on spaces (``whitespace``: case, tones, ``|`` and ``_`` survive).

| ``schema.ANALYZED`` field | mapped as |
|---|---|
| every one | ``text``, norms, positions if ``positions`` else freqs; its own BM25 similarity, ``schema.BM25_PARAMS`` (k1, b) or ``scoring.K1``/``B`` (one named similarity per distinct pair) |
| positional | the terms in position order (a position is a unit's index: punctuation leaves no hole, so a phrase matches across it, as ``match_phrase`` does) |
| ``keyed`` (``folded|canonical``) | also ``<field>.folded`` (the field's similarity): the same tokens cut at ``|``, so every accent variant of a word is one term there (``Variants``: frequencies summed, one document frequency) |
| every one | ``<field>_terms``: a keyword copy of the paragraph's distinct terms, for the vocabulary (prefixes, the lexicon, accent variants) |

Stored (``_source``) per paragraph: article, paragraph number, version, date (a keyword,
so ``2024`` and ``2024-05`` cover their period as in the embedded engine), text, and the
article's title, author and url (on every paragraph: a hit needs no second request). The
analyzed fields and their copies are indexed but left out of ``_source``.

``version`` is ``<article>:<content hash>:<paragraphs>``: an article counts as indexed at
a version only when exactly that many paragraphs carry it (``OpenSearchEngine.versions``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterator

from searcher.engine import schema as s
from searcher.engine import scoring
from searcher.text import VARIANT_SEP

# Bump when what this module creates changes (besides SCHEMA_VERSION and the analyzed fields,
# which the mapping digest covers anyway).
# 2: schema 5 (positions across punctuation: no gap token), a BM25 similarity per field.
MAPPING_VERSION = 2
FOLDED = "folded"  # the sub-field of a keyed field with its variants as one term
TERMS_SUFFIX = "_terms"  # the keyword copy of a field's distinct terms
KEYWORD_MAX = 8000  # longer terms are left out of the keyword copies (Lucene refuses > 32766 bytes)
STORED = [s.ARTICLE, s.PARAGRAPH, s.DATE, s.TEXT, s.TITLE, s.AUTHOR, s.URL]


def folded_field(field: str) -> str:
    return f"{field}.{FOLDED}"


def terms_field(field: str) -> str:
    return field + TERMS_SUFFIX


def analysis_settings() -> dict:
    return {
        "tokenizer": {"searcher_terms": {"type": "whitespace", "max_token_length": 1024}},
        "filter": {
            # "trach_nhiem|trách_nhiệm" -> "trach_nhiem"
            "searcher_fold": {"type": "pattern_replace", "pattern": _regex_escape(VARIANT_SEP) + ".*", "replacement": ""},
        },
        "analyzer": {
            "searcher_terms": {"type": "custom", "tokenizer": "searcher_terms"},
            "searcher_folded": {"type": "custom", "tokenizer": "searcher_terms", "filter": ["searcher_fold"]},
        },
    }


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if c in r".?+*|{}[]()\"\\#@&<>~^$" else c for c in text)


def bm25_params(field: str) -> tuple[float, float]:
    """The (k1, b) the embedded evaluator scores ``field`` with."""
    return s.BM25_PARAMS.get(field, (scoring.K1, scoring.B))


def similarity_name(field: str) -> str:
    k1, b = bm25_params(field)
    # No dots: a settings key with one is read as nested settings.
    return f"bm25_k1_{k1:g}_b_{b:g}".replace(".", "p")


def similarities() -> dict:
    """``default`` (``scoring.K1``/``B``: the keyword fields) and one BM25 per distinct
    (k1, b) of the analyzed fields."""
    found = {"default": {"type": "BM25", "k1": scoring.K1, "b": scoring.B}}
    for name in s.ANALYZED:
        k1, b = bm25_params(name)
        found[similarity_name(name)] = {"type": "BM25", "k1": k1, "b": b}
    return found


def index_settings(shards: int, replicas: int) -> dict:
    return {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        # One sync = one refresh: nothing of a sync is searchable before its end (much of
        # it may be after a crash: the next sync finishes the job).
        "refresh_interval": "-1",
        "max_result_window": 1_000_000,
        "similarity": similarities(),
        "analysis": analysis_settings(),
    }


def _analyzed(name: str, spec: s.FieldSpec) -> dict:
    field = {
        "type": "text",
        "analyzer": "searcher_terms",
        "index_options": "positions" if spec.positions else "freqs",
        "norms": True,
        "similarity": similarity_name(name),
    }
    if spec.keyed:
        field["fields"] = {
            FOLDED: {
                "type": "text",
                "analyzer": "searcher_folded",
                "index_options": "positions" if spec.positions else "freqs",
                "norms": True,
                "similarity": similarity_name(name),
            }
        }
    return field


def properties() -> dict:
    props = {
        s.ARTICLE: {"type": "keyword"},
        s.PARAGRAPH: {"type": "integer"},
        s.VERSION: {"type": "keyword"},
        s.DATE: {"type": "keyword"},
        s.TEXT: {"type": "text", "index": False},
        s.TITLE: {"type": "text", "index": False},
        s.AUTHOR: {"type": "keyword", "index": False, "doc_values": False},
        s.URL: {"type": "keyword", "index": False, "doc_values": False},
    }
    for name, spec in s.ANALYZED.items():
        props[name] = _analyzed(name, spec)
        props[terms_field(name)] = {"type": "keyword", "ignore_above": KEYWORD_MAX}
    return props


def mappings(meta: dict) -> dict:
    return {
        "dynamic": "strict",
        "_source": {"excludes": [n for name in s.ANALYZED for n in (name, terms_field(name))]},
        "_meta": meta,
        "properties": properties(),
    }


def digest(shards: int, replicas: int) -> str:
    """A fingerprint of what this searcher creates (shard counts left out): an index with
    another one was made by another version and is refused."""
    made = {"settings": index_settings(1, 0), "mappings": mappings({})}
    made["settings"].pop("number_of_shards")
    made["settings"].pop("number_of_replicas")
    text = json.dumps(made, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def fingerprint() -> dict:
    return {"schema": s.SCHEMA_VERSION, "mapping": MAPPING_VERSION, "digest": digest(1, 0)}


# -- documents ------------------------------------------------------------------------


def field_tokens(spec: s.FieldSpec, analysis) -> list[str]:
    """One field of one paragraph as the tokens to send: in position order (positional
    fields: positions are 0, 1, 2 … with no hole, which the cluster counts the same way),
    else each term as often as it occurs."""
    postings = s.field_postings(spec, analysis)
    if not spec.positions:
        return [term for term, n in postings.items() for _ in range(n)]
    placed: dict[int, str] = {}
    for term, positions in postings.items():
        for pos in positions:
            placed[pos] = term
    return [placed[pos] for pos in range(len(placed))]  # a hole would be a KeyError


def version_term(article, paragraphs: int) -> str:
    return f"{article.id}:{article.hash}:{paragraphs}"


def parse_version(term: str) -> tuple[str, str, int] | None:
    try:
        article, digest_, count = term.rsplit(":", 2)
        return article, digest_, int(count)
    except ValueError:
        return None


def doc_id(article_id: str, number: int) -> str:
    return f"{article_id}#{number}"


def sources(article) -> Iterator[tuple[str, dict]]:
    """``(document id, source)`` of each paragraph of ``article`` (analysis done here), one
    at a time: a huge article's analysed paragraphs are never all held at once."""
    docs = s.documents(article)  # analysed one paragraph at a time
    version = version_term(article, len(article.paragraphs))
    for doc in docs:
        source = {
            s.ARTICLE: doc.article,
            s.PARAGRAPH: doc.number,
            s.VERSION: version,
            s.TEXT: doc.text,
            s.TITLE: article.title or "",
        }
        if doc.date:
            source[s.DATE] = doc.date
        if article.author:
            source[s.AUTHOR] = article.author
        if article.url:
            source[s.URL] = article.url
        for name, spec in s.ANALYZED.items():
            tokens = field_tokens(spec, doc.analysis_for(spec))
            source[name] = " ".join(tokens)
            source[terms_field(name)] = sorted(set(tokens))
        yield doc_id(doc.article, doc.number), source
