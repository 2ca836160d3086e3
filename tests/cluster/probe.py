"""Probe a running test cluster: what searcher's OpenSearch engine can rely on.

    python tests/cluster/probe.py [--url URL[,URL]] [--failover]

Indexes the repository's corpus/ (analyzed by searcher.analysis, as the engine will) into
a throwaway index ``probe``, sends every kind of request the engine needs, checks the
answers (scores against BM25 computed here from the same data) and prints what it saw:
each section's request body and the facts it established. ``--failover`` then stops
node-2 and node-1 with tests/cluster/stop (run it last; start the cluster again after).
An assertion that fails names the finding that no longer holds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from searcher.analysis import analyze  # noqa: E402
from searcher.corpus.sources import read_article  # noqa: E402
from searcher.text import variant_term  # noqa: E402

INDEX = "probe"
WRITES = "probe_writes"  # single writes and deletes go here: they would change INDEX's statistics
K1, B, B_TITLE = 0.9, 0.75, 0.4
GAP = "."  # a token the gap filter drops: it leaves a hole in the positions

SETTINGS = {
    "number_of_shards": 2,
    "number_of_replicas": 1,
    "refresh_interval": "-1",  # searcher refreshes once, at the end of a sync
    "similarity": {
        "body": {"type": "BM25", "k1": K1, "b": B},
        "title": {"type": "BM25", "k1": K1, "b": B_TITLE},
    },
    "analysis": {
        "filter": {"gaps": {"type": "stop", "stopwords": [GAP], "ignore_case": False}},
        "tokenizer": {
            "terms": {"type": "whitespace", "max_token_length": 1024},
        },
        "analyzer": {
            # Terms arrive analyzed: split on spaces, nothing else (no lowercasing).
            "terms": {"type": "custom", "tokenizer": "terms"},
            # The same, with "." tokens dropped: each leaves a position gap (phrase boundary).
            "terms_gapped": {"type": "custom", "tokenizer": "terms", "filter": ["gaps"]},
            # Query side only: "a b c" -> a, b, c stacked at one position (a SynonymQuery).
            "stacked": {
                "type": "custom",
                "tokenizer": "keyword",
                "filter": ["stack_terms"],
            },
        },
    },
}
SETTINGS["analysis"]["filter"]["stack_terms"] = {
    "type": "pattern_capture",
    "preserve_original": False,
    "patterns": ["([^ ]+)"],
}


def body_text(similarity="body", gapped=True, positions=True):
    return {
        "type": "text",
        "analyzer": "terms_gapped" if gapped else "terms",
        "similarity": similarity,
        "index_options": "positions" if positions else "freqs",
        "norms": True,
    }


MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "article": {"type": "keyword"},
        "version": {"type": "keyword"},
        "para": {"type": "integer"},
        "date": {"type": "date", "format": "strict_date"},
        "title": {"type": "text", "index": False},
        "author": {"type": "keyword", "index": False, "doc_values": False},
        "url": {"type": "keyword", "index": False, "doc_values": False},
        "text": {"type": "text", "index": False},
        "syl": body_text(),
        "fold": body_text(),
        "word": body_text(gapped=False, positions=False),
        "word_fold": body_text(gapped=False, positions=False),
        "word_kw": {"type": "keyword"},
        "big": body_text(gapped=False, positions=False),
        "tsyl": body_text(similarity="title"),
    },
}


def show(title, request=None, **facts):
    print(f"\n## {title}")
    if request is not None:
        print("request:", json.dumps(request, ensure_ascii=False))
    for key, value in facts.items():
        if not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        print(f"  {key}: {value}")


# ---------------------------------------------------------------- documents


def gapped(units, positions):
    """Space-joined terms, with a GAP token for every position skipped."""
    out, last = [], None
    for term, pos in zip(units, positions):
        if last is not None:
            out.extend([GAP] * (pos - last - 1))
        out.append(term)
        last = pos
    return " ".join(out)


def documents():
    docs = []
    for path in sorted((ROOT / "corpus").iterdir()):
        if path.name.startswith("."):
            continue
        article = read_article(path)
        title = analyze(article.title)
        tsyl = gapped([s.canon for s in title.syllables], title.positions)
        for number, paragraph in enumerate(article.paragraphs, start=1):
            a = analyze(paragraph)
            words = [variant_term(w.folded, w.canon) for w in a.words]
            doc = {
                "article": article.id,
                "version": f"{article.id}:{article.hash}",
                "para": number,
                "text": paragraph,
                "syl": gapped([s.canon for s in a.syllables], a.positions),
                "fold": gapped([s.folded for s in a.syllables], a.positions),
                "word": " ".join(words),
                "word_fold": " ".join(w.folded for w in a.words),
                "word_kw": sorted(set(words)),
                "big": " ".join(variant_term(b.folded, b.canon) for b in a.bigrams),
                "tsyl": tsyl,
            }
            if article.date:
                doc["date"] = article.date
            if number == 1:
                doc.update(title=article.title, author=article.author, url=article.url)
            docs.append(doc)
    return docs


# ---------------------------------------------------------------- BM25 as Lucene computes it


def _f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def _long_to_int4(i):
    bits = i.bit_length()
    if bits < 4:
        return i
    shift = bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)


def _int4_to_long(i):
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_FREE = 255 - _long_to_int4(2**31 - 1)  # 24: lengths below this are stored exactly


def norm_byte(length):
    """Lucene's SmallFloat.intToByte4: the one byte a field length is kept in."""
    return length if length < _FREE else _FREE + _long_to_int4(length - _FREE)


def decoded_length(length):
    """SmallFloat.byte4ToInt(intToByte4(length)): the length BM25 sees."""
    b = norm_byte(length)
    return b if b < _FREE else _FREE + _int4_to_long(b - _FREE)


def lucene_idf(df, doc_count):
    return _f32(math.log(1 + (doc_count - df + 0.5) / (df + 0.5)))


def lucene_bm25(tf, length, df, doc_count, sum_ttf, k1=K1, b=B, boost=1.0):
    """One term's score as OpenSearch 2.19's BM25 similarity computes it (float32 steps):
    (k1+1) * idf * tf / (tf + k1 * (1 - b + b * dl / avgdl)), dl from the norm byte."""
    avgdl = _f32(sum_ttf / doc_count)
    idf = lucene_idf(df, doc_count)
    norm_inverse = _f32(1 / _f32(k1 * ((1 - b) + b * decoded_length(length) / avgdl)))
    weight = _f32(boost * _f32(k1 + 1) * idf)
    return _f32(weight - weight / _f32(1 + _f32(tf * norm_inverse)))


class Stats:
    """Whole-index statistics of one field, computed here from the documents sent."""

    def __init__(self, docs, field):
        self.tokens = {}
        for d in docs:
            toks = [t for t in d.get(field, "").split(" ") if t and t != GAP]
            if toks:
                self.tokens[d["_id"]] = toks
        self.doc_count = len(self.tokens)
        self.sum_ttf = sum(len(t) for t in self.tokens.values())
        self.df = Counter(t for toks in self.tokens.values() for t in set(toks))

    def score(self, doc_id, term, k1=K1, b=B):
        toks = self.tokens.get(doc_id, [])
        tf = toks.count(term)
        if not tf:
            return 0.0
        return lucene_bm25(tf, len(toks), self.df[term], self.doc_count, self.sum_ttf, k1, b)

    def score_merged(self, doc_id, terms, df, k1=K1, b=B):
        """The score of several terms taken as one: frequencies added, one document frequency."""
        toks = self.tokens.get(doc_id, [])
        tf = sum(toks.count(t) for t in terms)
        if not tf:
            return 0.0
        return lucene_bm25(tf, len(toks), df, self.doc_count, self.sum_ttf, k1, b)


def close(a, b, rel=1e-5):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-9)


# ---------------------------------------------------------------- the probe


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("SEARCHER_TEST_OPENSEARCH_URL", "http://127.0.0.1:9250"))
    ap.add_argument("--failover", action="store_true", help="stop node-2, then node-1, and query each time")
    args = ap.parse_args()
    hosts = args.url.split(",")
    client = OpenSearch(hosts=hosts, timeout=30, max_retries=2, retry_on_timeout=True)
    info = client.info()
    health = client.cluster.health()
    show("cluster", None, version=info["version"]["number"], nodes=health["number_of_nodes"], status=health["status"])

    create = {"settings": SETTINGS, "mappings": MAPPINGS}
    for name in (INDEX, WRITES):
        if client.indices.exists(index=name):
            client.indices.delete(index=name)
        client.indices.create(index=name, body=create)
    got = client.indices.get_settings(index=INDEX)[INDEX]["settings"]["index"]
    show(
        "index with per-field BM25 similarities, whitespace fields, keyword, date",
        create,
        shards=got["number_of_shards"],
        replicas=got["number_of_replicas"],
        similarity=got["similarity"],
    )
    assert got["number_of_shards"] == "2" and got["number_of_replicas"] == "1"

    # --- analysis: pre-analyzed terms survive as sent
    sample = "so_trach|sợ_trách Trách|TRÁCH_x . nhiệm"
    toks = client.indices.analyze(index=INDEX, body={"analyzer": "terms_gapped", "text": sample})["tokens"]
    show(
        "whitespace analyzer keeps | _ and case; '.' leaves a position gap",
        {"analyzer": "terms_gapped", "text": sample},
        tokens=[(t["token"], t["position"]) for t in toks],
    )
    assert [t["token"] for t in toks] == ["so_trach|sợ_trách", "Trách|TRÁCH_x", "nhiệm"]
    assert [t["position"] for t in toks] == [0, 1, 3]

    # --- bulk indexing with refresh control
    docs = documents()
    for d in docs:
        d["_id"] = f"{d['article']}:{d['para']}"
    actions = [{"_index": INDEX, "_id": d["_id"], "_source": {k: v for k, v in d.items() if k != "_id"}} for d in docs]
    t0 = time.perf_counter()
    ok, errors = helpers.bulk(client, actions, chunk_size=500, refresh=False)
    bulk_s = time.perf_counter() - t0
    before = client.count(index=INDEX)["count"]
    client.indices.refresh(index=INDEX)
    after = client.count(index=INDEX)["count"]
    show(
        "bulk without refresh, then one _refresh (refresh_interval -1)",
        {"bulk": "helpers.bulk(client, actions, chunk_size=500, refresh=False)", "then": "POST /probe/_refresh"},
        indexed=ok,
        errors=errors,
        seconds=round(bulk_s, 2),
        visible_before_refresh=before,
        visible_after=after,
    )
    assert ok == len(docs) and before == 0 and after == len(docs)
    probe_writes(client, hosts, create)

    shards = client.search_shards(index=INDEX)["shards"]
    per_shard = {}
    for s in client.cat.shards(index=INDEX, format="json"):
        if s["prirep"] == "p":
            per_shard[s["shard"]] = int(s["docs"])
    show("documents per shard (primaries)", None, shards=per_shard, copies=sum(len(g) for g in shards))

    syl = Stats(docs, "syl")
    word = Stats(docs, "word")
    word_fold = Stats(docs, "word_fold")
    tsyl = Stats(docs, "tsyl")

    # --- one term, dfs_query_then_fetch, exact totals: scores against BM25 computed here
    term = "nhiệm"
    req = {"query": {"term": {"syl": term}}, "track_total_hits": True, "size": 200, "explain": False}
    dfs = client.search(index=INDEX, body=req, search_type="dfs_query_then_fetch")
    qtf = client.search(index=INDEX, body=req, search_type="query_then_fetch")
    want_total = syl.df[term]
    worst_dfs = max(abs(h["_score"] - syl.score(h["_id"], term)) / syl.score(h["_id"], term) for h in dfs["hits"]["hits"])
    worst_qtf = max(abs(h["_score"] - syl.score(h["_id"], term)) / syl.score(h["_id"], term) for h in qtf["hits"]["hits"])
    show(
        "term query, search_type=dfs_query_then_fetch, track_total_hits: true",
        req,
        total=dfs["hits"]["total"],
        expected_total=want_total,
        worst_relative_error_dfs=f"{worst_dfs:.2e}",
        worst_relative_error_query_then_fetch=f"{worst_qtf:.2e} (per-shard statistics)",
    )
    assert dfs["hits"]["total"] == {"value": want_total, "relation": "eq"}
    assert worst_dfs < 1e-5, "dfs scores are not global Lucene BM25"
    one = dfs["hits"]["hits"][0]
    exp = client.explain(index=INDEX, id=one["_id"], body={"query": req["query"]})
    show("the explanation of one score (no dfs in _explain: shard statistics)", None, explanation=flatten(exp["explanation"]))

    # A capped total: what track_total_hits: N answers past N.
    capped = client.search(index=INDEX, body={"query": {"term": {"syl": term}}, "track_total_hits": 5, "size": 0})
    show("track_total_hits: 5", None, total=capped["hits"]["total"])

    # --- title field with its own b
    tterm = "trách"
    r = client.search(
        index=INDEX,
        body={"query": {"term": {"tsyl": tterm}}, "size": 5, "track_total_hits": True},
        search_type="dfs_query_then_fetch",
    )
    diffs = [abs(h["_score"] - tsyl.score(h["_id"], tterm, b=B_TITLE)) for h in r["hits"]["hits"]]
    show("the title field's similarity (b=0.4)", None, max_abs_error=max(diffs), total=r["hits"]["total"]["value"])
    assert max(diffs) < 1e-4

    # --- a sum of terms (bool should): each term its own BM25, added
    terms = ["sợ", "trách", "nhiệm"]
    req = {
        "query": {"bool": {"should": [{"term": {"syl": t}} for t in terms]}},
        "track_total_hits": True,
        "size": 500,
    }
    r = client.search(index=INDEX, body=req, search_type="dfs_query_then_fetch")
    worst = 0.0
    for h in r["hits"]["hits"]:
        want = sum(syl.score(h["_id"], t) for t in terms)
        worst = max(worst, abs(h["_score"] - want) / want)
    show("bool should of terms: scores add", req, total=r["hits"]["total"]["value"], worst_relative_error=f"{worst:.2e}")
    assert worst < 1e-5

    # --- phrases over positions, gaps at punctuation
    for phrase in ("sợ trách nhiệm", "trách nhiệm nêu gương"):
        req = {"query": {"match_phrase": {"syl": phrase}}, "track_total_hits": True, "size": 0}
        r = client.search(index=INDEX, body=req, search_type="dfs_query_then_fetch")
        want = sum(1 for d in docs if contains_phrase(d["syl"], phrase.split()))
        show(f"match_phrase {phrase!r}", req, total=r["hits"]["total"]["value"], expected=want)
        assert r["hits"]["total"]["value"] == want
    # Across a punctuation gap: "chức trách, nhiệm vụ" holds no phrase "trách nhiệm".
    gap_doc = {"article": "gap", "para": 1, "syl": gapped(["chức", "trách", "nhiệm", "vụ"], [0, 1, 3, 4])}
    client.index(index=WRITES, id="gap:1", body=gap_doc, refresh=True)
    def phrase_hits(text, slop=0):
        q = {"bool": {"filter": [{"term": {"article": "gap"}}], "must": [{"match_phrase": {"syl": {"query": text, "slop": slop}}}]}}
        return client.count(index=WRITES, body={"query": q})["count"]
    show(
        "a gap token between two syllables breaks the phrase (the query text carries the same gap)",
        {"syl": gap_doc["syl"]},
        **{
            "'trách nhiệm'": phrase_hits("trách nhiệm"),
            "'trách nhiệm' slop 1": phrase_hits("trách nhiệm", 1),
            "'trách . nhiệm vụ' (copied with its comma)": phrase_hits("trách . nhiệm vụ"),
            "'chức trách'": phrase_hits("chức trách"),
        },
    )
    assert phrase_hits("trách nhiệm") == 0 and phrase_hits("trách . nhiệm vụ") == 1

    # --- bool must / should / must_not with minimum_should_match
    req = {
        "query": {
            "bool": {
                "must": [{"term": {"syl": "trách"}}],
                "should": [{"term": {"syl": t}} for t in ("sợ", "né", "tránh", "đảng")],
                "minimum_should_match": 2,
                "must_not": [{"term": {"syl": "bình"}}],
            }
        },
        "track_total_hits": True,
        "size": 500,
    }
    r = client.search(index=INDEX, body=req, search_type="dfs_query_then_fetch")
    want = set()
    for d in docs:
        toks = set(d["syl"].split())
        if "trách" in toks and "bình" not in toks and len(toks & {"sợ", "né", "tránh", "đảng"}) >= 2:
            want.add(d["_id"])
    got_ids = {h["_id"] for h in r["hits"]["hits"]}
    worst = 0.0
    for h in r["hits"]["hits"]:
        exp_score = sum(syl.score(h["_id"], t) for t in ("trách", "sợ", "né", "tránh", "đảng"))
        worst = max(worst, abs(h["_score"] - exp_score) / exp_score)
    show("bool must + should (minimum_should_match 2) + must_not", req, total=r["hits"]["total"]["value"],
         expected=len(want), same_ids=got_ids == want, worst_relative_error=f"{worst:.2e}")
    assert got_ids == want and worst < 1e-5
    pct = dict(req)
    pct["query"] = {"bool": {"should": [{"term": {"syl": t}} for t in ("sợ", "trách", "nhiệm", "cán")], "minimum_should_match": "75%"}}
    r = client.search(index=INDEX, body=pct, search_type="dfs_query_then_fetch")
    want = sum(1 for d in docs if len(set(d["syl"].split()) & {"sợ", "trách", "nhiệm", "cán"}) >= 3)
    show("minimum_should_match '75%' of 4 (= 3)", pct["query"], total=r["hits"]["total"]["value"], expected=want)
    assert r["hits"]["total"]["value"] == want

    # --- all the variants of a word as one term
    probe_variants(client, docs, word, word_fold)

    # --- document frequencies of many terms at once
    probe_doc_freqs(client, docs, word)

    # --- terms under a prefix, terms within an edit distance
    probe_suggest(client, docs, syl)

    # --- date histogram with distinct articles
    probe_dates(client, docs)

    # --- updates and deletes: how long they weigh on the statistics
    probe_deletes(client, actions, docs)

    if args.failover:
        probe_failover(client, hosts, docs)


def probe_writes(client, hosts, create):
    # refresh=true on one write: visible when the call returns.
    client.index(index=WRITES, id="extra:1", body={"article": "extra", "para": 1, "syl": "x"}, refresh=True)
    seen = client.count(index=WRITES, body={"query": {"term": {"article": "extra"}}})["count"]
    # refresh=wait_for waits for the next scheduled refresh: with refresh_interval -1 there is
    # none, and the call blocks until someone refreshes (here: the client's timeout first).
    quick = OpenSearch(hosts=hosts, timeout=3, max_retries=0)
    t0 = time.perf_counter()
    try:
        quick.index(index=WRITES, id="extra:2", body={"article": "extra", "para": 2}, refresh="wait_for")
        waited = "returned"
    except ConnectionTimeout:
        waited = f"ConnectionTimeout after {time.perf_counter() - t0:.1f} s"
    show("one write with refresh=true, one with refresh=wait_for (refresh_interval -1)", None,
         visible_at_return=seen, wait_for=waited)
    assert seen == 1
    client.indices.refresh(index=WRITES)  # the wait_for write is indexed, only not yet visible
    req = {"query": {"term": {"article": "extra"}}}
    gone = client.delete_by_query(index=WRITES, body=req, refresh=True, conflicts="proceed")
    show("_delete_by_query?refresh=true&conflicts=proceed (the reindex module)", req, deleted=gone["deleted"],
         left=client.count(index=WRITES)["count"])
    assert gone["deleted"] == 2


def probe_deletes(client, actions, docs):
    """Replaced documents stay in Lucene's statistics (N, df, avgdl) until a merge drops them."""

    def stats_docs():
        got = client.indices.stats(index=INDEX, metric="docs")["_all"]["primaries"]["docs"]
        return got["count"], got["deleted"]

    t0 = time.perf_counter()
    helpers.bulk(client, actions, chunk_size=500, refresh=True)
    seconds = round(time.perf_counter() - t0, 2)
    after_bulk = stats_docs()
    client.indices.forcemerge(index=INDEX, max_num_segments=1)
    client.indices.refresh(index=INDEX)
    one_segment = stats_docs()
    t0 = time.perf_counter()
    expunged = None
    while time.perf_counter() - t0 < 120:
        client.indices.forcemerge(index=INDEX, only_expunge_deletes=True)
        client.indices.refresh(index=INDEX)
        if stats_docs()[1] == 0:
            expunged = round(time.perf_counter() - t0, 1)
            break
        time.sleep(5)
    show(
        "every paragraph indexed again (updates): (live, deleted) documents on the primaries",
        {"1": "POST /probe/_forcemerge?max_num_segments=1", "2": "POST /probe/_forcemerge?only_expunge_deletes=true (every 5 s)"},
        bulk_seconds=seconds, after_bulk=after_bulk, after_max_num_segments_1=one_segment,
        seconds_until_only_expunge_deletes_dropped_them=expunged, final=stats_docs(),
    )


def flatten(e, depth=0):
    """An explanation tree as indented lines."""
    lines = [f"{'  ' * depth}{e['value']:.6g} {e['description']}"]
    for d in e.get("details", []):
        lines.extend(flatten(d, depth + 1))
    return lines if depth else "\n    " + "\n    ".join(lines)


def contains_phrase(field_text, words):
    toks = field_text.split(" ")
    return any(toks[i : i + len(words)] == words for i in range(len(toks) - len(words) + 1))


def probe_variants(client, docs, word, word_fold):
    folded = "so"  # sợ, số, sổ, sở … in the corpus: several variants, all under "so|"
    variants = sorted(t for t in word.df if t.startswith(folded + "|"))
    union_df = word_fold.df[folded]
    summed_df = min(sum(word.df[t] for t in variants), word.doc_count)
    max_df = max(word.df[t] for t in variants)
    show("the variants of 'so' in the corpus", None, variants={t: word.df[t] for t in variants},
         union_df=union_df, summed_df=summed_df, max_df=max_df)

    def run(query, **extra):
        return client.search(
            index=INDEX,
            body={"query": query, "size": 500, "track_total_hits": True, **extra},
            search_type="dfs_query_then_fetch",
        )

    def compare(r, df, stats=word, terms=variants):
        worst = 0.0
        for h in r["hits"]["hits"]:
            want = stats.score_merged(h["_id"], terms, df)
            worst = max(worst, abs(h["_score"] - want) / want)
        return worst

    # 1. An accent-folded copy of the field: one term, tf summed by construction, df = union.
    q1 = {"term": {"word_fold": folded}}
    r1 = run(q1)
    e1 = compare(r1, union_df, word_fold, [folded])
    show("1. term on an accent-folded copy of the field (word_fold)", q1,
         total=r1["hits"]["total"]["value"], worst_error_vs_one_term_df_union=f"{e1:.2e}")
    assert e1 < 1e-5

    # 2. A SynonymQuery: match with an analyzer that stacks the variants at one position.
    q2 = {"match": {"word": {"query": " ".join(variants), "analyzer": "stacked"}}}
    r2 = run(q2)
    e2 = compare(r2, max_df)
    prof = run(q2, profile=True)["profile"]["shards"][0]["searches"][0]["query"][0]
    show("2. match + 'stacked' analyzer = Lucene SynonymQuery (tf summed, df = max)", q2,
         total=r2["hits"]["total"]["value"], lucene_query=prof["type"],
         worst_error_vs_one_term_df_max=f"{e2:.2e}")
    assert e2 < 1e-5

    # 3. prefix with a scoring rewrite top_terms_blended_freqs_N (Lucene BlendedTermQuery):
    #    every variant scored on its own, then added, with an artificial df: on each shard
    #    the max of the variants' dfs there; the dfs phase then ADDS those per-shard maxima
    #    over the shards where the variant exists. Shard-dependent: not one term.
    q3 = {"prefix": {"word": {"value": folded + "|", "rewrite": "top_terms_blended_freqs_64"}}}
    r3 = run(q3, explain=True)
    hits = r3["hits"]["hits"]
    shard_df = {}
    for h in hits:
        for t in set(word.tokens[h["_id"]]):
            if t in variants:
                shard_df.setdefault(h["_shard"], Counter())[t] += 1
    blended = {t: sum(max(c.values()) for c in shard_df.values() if t in c) for t in variants}
    worst = worst_one = 0.0
    for h in hits:
        toks = word.tokens[h["_id"]]
        want = sum(lucene_bm25(toks.count(t), len(toks), blended[t], word.doc_count, word.sum_ttf)
                   for t in variants if t in toks)
        worst = max(worst, abs(h["_score"] - want) / want)
        one = word.score_merged(h["_id"], variants, max_df)
        worst_one = max(worst_one, abs(h["_score"] - one) / one)
    show("3. prefix, rewrite top_terms_blended_freqs_N: per-variant BM25 added, df = sum over shards of the shard's max", q3,
         total=r3["hits"]["total"]["value"], per_shard_dfs={k: dict(v) for k, v in shard_df.items()},
         df_used=blended, worst_error_vs_that=f"{worst:.2e}", worst_error_vs_one_term=f"{worst_one:.2e}")
    assert worst < 1e-5

    # 4. span_multi needs positions (word has freqs only: refused); on syl, a prefix of syllables.
    q4 = {"span_multi": {"match": {"prefix": {"word": {"value": folded + "|"}}}}}
    try:
        run(q4)
        refused = "answered"
    except TransportError as exc:
        refused = f"{exc.status_code} {exc.error}: {exc.info['error']['root_cause'][0]['reason']}"
    show("4a. span_multi on a field without positions", q4, refused=refused)
    syl = Stats(docs, "syl")
    pre = "trá"
    terms = sorted(t for t in syl.df if t.startswith(pre))
    q4 = {"span_multi": {"match": {"prefix": {"syl": {"value": pre}}}}}
    r4 = run(q4, explain=True)
    # SpanWeight: the frequency is the summed tf, the IDF the SUM of the IDFs (global dfs) of
    # the terms the prefix expands to ON THAT SHARD: shard-dependent again.
    on_shard = {}
    for h in r4["hits"]["hits"]:
        on_shard.setdefault(h["_shard"], set()).update(t for t in syl.tokens[h["_id"]] if t in terms)
    worst = 0.0
    for h in r4["hits"]["hits"]:
        toks = syl.tokens[h["_id"]]
        tf = sum(toks.count(t) for t in terms)
        summed_idf = sum(lucene_idf(syl.df[t], syl.doc_count) for t in on_shard[h["_shard"]])
        one = lucene_bm25(tf, len(toks), 1, syl.doc_count, syl.sum_ttf)
        want = one / lucene_idf(1, syl.doc_count) * summed_idf
        worst = max(worst, abs(h["_score"] - want) / want)
    show("4b. span_multi prefix on syl: tf summed, IDF = sum of the IDFs of the terms found on that shard", q4,
         terms={t: syl.df[t] for t in terms}, terms_per_shard={k: sorted(v) for k, v in on_shard.items()},
         total=r4["hits"]["total"]["value"], worst_error_vs_that=f"{worst:.2e}")
    assert worst < 1e-5

    # 5. Exact agreement with the embedded engine's Variants (df = capped sum): the folded
    #    term, boosted by idf(summed) / idf(union); both dfs come from the term statistics.
    boost = lucene_idf(summed_df, word.doc_count) / lucene_idf(union_df, word.doc_count)
    q5 = {"term": {"word_fold": {"value": folded, "boost": boost}}}
    r5 = run(q5)
    e5 = compare(r5, summed_df, word_fold, [folded])
    show("5. folded term with boost idf(summed df)/idf(union df): the embedded Variants score", q5,
         worst_error_vs_capped_sum_df=f"{e5:.2e}")
    assert e5 < 1e-4


def probe_doc_freqs(client, docs, word):
    candidates = ["trach_nhiem|trách_nhiệm", "so|sợ", "can_bo|cán_bộ", "khong_co|không_có_xyz", "dang_vien|đảng_viên"]
    want = {t: word.df.get(t, 0) for t in candidates}

    req = {
        "size": 0,
        "track_total_hits": False,
        "query": {"terms": {"word": candidates}},
        "aggs": {"df": {"filters": {"filters": {t: {"term": {"word": t}} for t in candidates}}}},
    }
    r = client.search(index=INDEX, body=req)
    got = {t: b["doc_count"] for t, b in r["aggregations"]["df"]["buckets"].items()}
    show("document frequencies: one search, a filters aggregation (live documents)", req, got=got, ok=got == want,
         took_ms=r["took"])
    assert got == want

    lines = []
    for t in candidates:
        lines.append({"index": INDEX})
        lines.append({"size": 0, "track_total_hits": True, "query": {"term": {"word": t}}})
    r = client.msearch(body=lines)
    got = {t: x["hits"]["total"]["value"] for t, x in zip(candidates, r["responses"])}
    show("document frequencies: _msearch of size-0 term counts", lines[:2], got=got, ok=got == want, took_ms=r["took"])
    assert got == want

    req = {"size": 0, "query": {"terms": {"word_kw": candidates}},
           "aggs": {"df": {"terms": {"field": "word_kw", "include": candidates, "size": len(candidates)}}}}
    r = client.search(index=INDEX, body=req)
    got = {b["key"]: b["doc_count"] for b in r["aggregations"]["df"]["buckets"]}
    show("document frequencies: terms aggregation on a keyword copy (word_kw)", req, got=got,
         ok=got == {t: n for t, n in want.items() if n})
    assert got == {t: n for t, n in want.items() if n}

    # _termvectors of an artificial document: term statistics, but of ONE shard.
    tv_req = {"doc": {"word": " ".join(candidates)}, "fields": ["word"], "term_statistics": True,
              "field_statistics": True, "positions": False, "offsets": False}
    r = client.termvectors(index=INDEX, body=tv_req)
    stats = r["term_vectors"]["word"]
    got = {t: v.get("doc_freq", 0) for t, v in stats["terms"].items()}
    show("_termvectors on an artificial document: per-shard doc_freq (not the index's)", tv_req,
         got=got, index_wide=want, field_statistics=stats["field_statistics"])


def probe_suggest(client, docs, syl):
    # Terms under a prefix, with their document frequencies: the keyword copy's terms agg.
    prefix = "so|"
    req = {
        "size": 0,
        "query": {"prefix": {"word_kw": prefix}},
        "aggs": {"terms": {"terms": {"field": "word_kw", "include": "so\\|.*", "size": 100, "order": {"_count": "desc"}}}},
    }
    r = client.search(index=INDEX, body=req)
    got = {b["key"]: b["doc_count"] for b in r["aggregations"]["terms"]["buckets"]}
    want = Counter(t for d in docs for t in d["word_kw"] if t.startswith(prefix))
    show("terms under a prefix with their document frequencies (keyword copy, terms agg + include regexp)",
         req, got=got, ok=got == dict(want))
    assert got == dict(want)

    # Did you mean: the term suggester reads the index's own terms (edit distance <= 2).
    for field, text in (("syl", "trácg nhiêm"), ("fold", "trach nhiem cna bo")):
        req = {
            "size": 0,
            "suggest": {
                "dym": {
                    "text": text,
                    "term": {"field": field, "suggest_mode": "missing", "max_edits": 2, "prefix_length": 1,
                             "min_word_length": 2, "size": 3, "sort": "score", "string_distance": "internal"},
                }
            },
        }
        r = client.search(index=INDEX, body=req)
        out = {e["text"]: [(o["text"], o["freq"], round(o["score"], 3)) for o in e["options"]] for e in r["suggest"]["dym"]}
        show(f"term suggester on {field}", req, suggestions=out)

    req = {
        "size": 0,
        "suggest": {
            "dym": {
                "text": "trách nhiêm cán bô",
                "phrase": {"field": "syl", "size": 2, "gram_size": 1, "max_errors": 2,
                           "direct_generator": [{"field": "syl", "suggest_mode": "always", "max_edits": 2}],
                           "collate": None},
            }
        },
    }
    req["suggest"]["dym"]["phrase"].pop("collate")
    r = client.search(index=INDEX, body=req)
    show("phrase suggester on syl", req, suggestions=[(o["text"], round(o["score"], 4)) for o in r["suggest"]["dym"][0]["options"]])

    # A fuzzy query (edit distance <= 2 over the index's terms) matches the documents too.
    req = {"query": {"fuzzy": {"syl": {"value": "trácg", "fuzziness": 2, "prefix_length": 1}}}, "size": 0, "track_total_hits": True}
    r = client.search(index=INDEX, body=req)
    show("fuzzy query", req, total=r["hits"]["total"]["value"])


def probe_dates(client, docs):
    for by, fmt in (("month", "yyyy-MM"), ("year", "yyyy")):
        req = {
            "size": 0,
            "track_total_hits": True,
            "query": {"term": {"syl": "trách"}},
            "aggs": {
                "periods": {
                    "date_histogram": {"field": "date", "calendar_interval": by, "format": fmt, "min_doc_count": 1},
                    "aggs": {"articles": {"cardinality": {"field": "article", "precision_threshold": 40000}}},
                }
            },
        }
        r = client.search(index=INDEX, body=req)
        got = {b["key_as_string"]: (b["doc_count"], b["articles"]["value"]) for b in r["aggregations"]["periods"]["buckets"]}
        want = {}
        for d in docs:
            if "trách" in d["syl"].split() and "date" in d:
                key = d["date"][:7] if by == "month" else d["date"][:4]
                paras, arts = want.get(key, (0, set()))
                want[key] = (paras + 1, arts | {d["article"]})
        want = {k: (p, len(a)) for k, (p, a) in sorted(want.items())}
        show(f"date_histogram by {by} with a distinct-article count", req, got=got, expected=want)
        assert got == want
    # Paragraphs without a date: a missing aggregation counts them.
    req = {"size": 0, "query": {"term": {"syl": "trách"}}, "aggs": {"undated": {"missing": {"field": "date"}}}}
    r = client.search(index=INDEX, body=req)
    show("paragraphs with no date", req, count=r["aggregations"]["undated"]["doc_count"])


def probe_failover(client, hosts, docs):
    req = {"query": {"match": {"syl": "sợ trách nhiệm"}}, "size": 10, "track_total_hits": True}

    def query(c):
        t0 = time.perf_counter()
        r = c.search(index=INDEX, body=req, search_type="dfs_query_then_fetch")
        return r, round((time.perf_counter() - t0) * 1000)

    base, _ = query(client)

    # A node that hangs (SIGSTOP) rather than stops. Left to itself node-1 reads its own
    # copies (adaptive replica selection); preference sends the query to node-2's.
    state = Path(os.environ.get("SEARCHER_CLUSTER_STATE", HERE / ".run" / "state"))
    pids = dict(line.split("=", 1) for line in state.read_text().split() if "_PID=" in line)
    node2 = int(pids["node_2_PID"])
    node2_id = next(k for k, v in client.nodes.info()["nodes"].items() if v["name"] == "node-2")
    only1 = OpenSearch(hosts=[hosts[0]], timeout=120, max_retries=0)
    os.kill(node2, 19)  # SIGSTOP
    try:
        for preference in (None, f"_prefer_nodes:{node2_id}"):
            t0 = time.perf_counter()
            try:
                r = only1.search(index=INDEX, body=req, search_type="dfs_query_then_fetch", preference=preference)
                outcome = {"total": r["hits"]["total"]["value"], "shards": r["_shards"]}
            except (OSConnectionError, ConnectionTimeout, TransportError) as exc:
                outcome = f"{type(exc).__name__}: {str(exc)[:200]}"
            # opensearch-py: timeout= alone is the client's read timeout; with request_timeout=
            # beside it, timeout= goes to the server.
            health = only1.cluster.health(request_timeout=10, timeout="5s")
            show(f"node-2 frozen (SIGSTOP), query through node-1 only, preference {preference and '_prefer_nodes:node-2'}",
                 None, outcome=outcome, seconds=round(time.perf_counter() - t0, 1),
                 health=health["status"], nodes=health["number_of_nodes"])
    finally:
        os.kill(node2, 18)  # SIGCONT
    # node-2 was dropped from the cluster; thawed, it rejoins, but its copy of a shard it
    # was serving can stay locked ("closing shard") for minutes: stop it, start it again.

    subprocess.run([str(HERE / "stop"), "node-2"], check=True)
    t0 = time.perf_counter()
    r, ms = query(client)
    first_s = round(time.perf_counter() - t0, 3)
    health = client.cluster.health()
    same = [(h["_id"], round(h["_score"], 5)) for h in r["hits"]["hits"]] == [
        (h["_id"], round(h["_score"], 5)) for h in base["hits"]["hits"]
    ]
    show("node-2 stopped: the same query through the client (both URLs configured)", req,
         total=r["hits"]["total"], shards=r["_shards"], same_hits_and_scores=same, first_query_s=first_s,
         health=health["status"], nodes=health["number_of_nodes"],
         unassigned=health["unassigned_shards"])
    assert r["hits"]["total"]["value"] == base["hits"]["total"]["value"]

    subprocess.run([str(HERE / "stop"), "node-1"], check=True)
    for timeout, retries in ((2, 0), (2, 3)):
        c = OpenSearch(hosts=hosts, timeout=timeout, max_retries=retries, retry_on_timeout=True)
        t0 = time.perf_counter()
        try:
            c.search(index=INDEX, body=req)
            outcome = "answered?!"
        except (OSConnectionError, ConnectionTimeout) as exc:
            outcome = f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:160]}"
        show(f"both nodes stopped (timeout={timeout}, max_retries={retries})", None, raised=outcome,
             seconds=round(time.perf_counter() - t0, 3))


if __name__ == "__main__":
    main()
