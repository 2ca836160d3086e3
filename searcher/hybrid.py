"""Hybrid ranking: the lexical engine's best paragraphs and the nearest ones by meaning,
fused into one list (an index with embeddings, ``searcher index --semantic``).

For a query: the lexical top ``Params.lexical`` (BM25, identical paragraphs collapsed, as
``searcher.search.unique_hits``) and the ``Params.nearest`` paragraphs whose vectors are
nearest the query's (exact cosine over every vector, ``semantic.store``) are one pool;
each gets its cosine with the query (the store has every paragraph's vector) and its BM25
score (0 outside the lexical top), each side is min-max normalized over the pool and the
two are mixed, ``weight × BM25 + (1 − weight) × cosine`` (``semantic.fusion.linear``).
Past the pool, the remaining lexical matches follow in their own order.

Hard constraints stay exact: a nearest paragraph is taken only if it matches everything
the query restricts (phrases, exclusions, ``title:``, ``article:``, dates;
``query.constraint_query``), checked by the engine itself on the candidates' articles.

A query typed without accents is embedded with its accents restored from the index's
vocabulary (``suggest.restore_accents``): the model reads accentless Vietnamese as
noise. When nothing can be restored (a foreign name, say), it is embedded as typed.

The weights and pool sizes were fitted by cross-validation over the dev tasks of
``benchmarks/tasks.py`` (``benchmarks/quality.py --semantic``).
"""

from __future__ import annotations


from searcher.engine import schema as s
from searcher.engine.nodes import And, Or, Term, Tiered
from searcher.query import constraint_query, embedding_text
from searcher.records import Record
from searcher.search import _duplicate_key, unique_hits


class Params(Record):
    """How lexical and semantic evidence are fused (defaults: the cross-validated fit)."""

    # Fitted by 5-fold cross-validation over every dev query of benchmarks/tasks.py (all
    # tasks together, as written and accents stripped): benchmarks/quality.py --semantic.
    weight: float = 0.85  # BM25's share in a keyword query's fused score, when some paragraph has every word
    question_weight: float = 0.40  # in a question's (a query without "every word first")
    partial_weight: float = 0.45  # in a keyword query's that no paragraph matches in full
    lexical: int = 50  # lexical candidates fused
    nearest: int = 10  # nearest paragraphs by cosine added to them
    tiers: bool = True  # keep a keyword query's full matches above all others (as lexically)
    # A query typed without accents: "restore" its accents (if none can be, embed it as typed:
    # a foreign name), "restore-or-lexical" (if none can be, rank it lexically), "lexical",
    # or embed it "as typed".
    accentless: str = "restore"


DEFAULT = Params()
NEAREST_ROUNDS = 4  # nearest candidates asked for grow 4× a round while the constraints reject them


class Vectors:
    """What hybrid ranking needs of an index: its paragraph vectors (a ``VectorStore``)
    and the model that embeds queries (an ``Embedder`` of the same model id)."""

    def __init__(self, store, embedder, params: Params = DEFAULT):
        self.store = store
        self.embedder = embedder
        self.params = params
        self._firsts = (None, {})  # (snapshot, {article: ref of one of its paragraphs})

    def first_refs(self, snapshot) -> dict:
        """A cache of one paragraph ref per article, for as long as ``snapshot`` is the one."""
        if self._firsts[0] is not snapshot:
            self._firsts = (snapshot, {})
        return self._firsts[1]

    def ranker(self, params: Params | None = None):
        """A ``ranker`` for ``searcher.search.search``."""
        chosen = params or self.params
        return lambda snapshot, text, compiled, filters, wanted: rank(
            snapshot, text, compiled, filters, wanted, self, chosen
        )


def query_text(text: str, compiled, snapshot, params: Params) -> str | None:
    """What to embed for ``text``; None: rank this query lexically."""
    meaning = embedding_text(text)
    if not meaning.strip():
        return None
    if compiled.accentless:
        if params.accentless == "lexical":
            return None
        if params.accentless in ("restore", "restore-or-lexical"):
            from searcher.suggest import restore_accents

            restored = restore_accents(meaning, snapshot)
            if restored is not None or params.accentless == "restore-or-lexical":
                return restored
    return meaning


def rank(snapshot, text: str, compiled, filters, wanted: int, vectors: Vectors, params: Params = DEFAULT):
    """``search.unique_hits``'s answer, fused: ``(hits, duplicate counts, total, full
    matches, ranking)``, each hit ``(Paragraph, score, complete, score_lexical,
    score_semantic)``. ``total`` counts the lexical matches and the nearest paragraphs
    that are not among them."""
    from searcher.semantic import fusion

    pool = max(0, params.lexical)
    found, counts, total, full = unique_hits(snapshot, compiled.query, filters, max(pool, wanted))
    meaning = query_text(text, compiled, snapshot, params)
    if meaning is None:
        return found, counts, total, full, "lexical"
    store = vectors.store
    qvec = vectors.embedder.embed_query(meaning)
    head, head_counts = found[:pool], counts[:pool]
    tail, tail_counts = found[pool:], counts[pool:]
    keys = [(p.article, p.number) for p, _, _ in head]
    cosine = _cosines(store, qvec, keys)
    # Whether every lexical match was ranked (the head and the duplicates folded into it):
    # then a nearest paragraph outside the head is no lexical match, with nothing to check.
    every_match_seen = total <= len(found) + sum(counts)
    near, extra = _nearest(
        snapshot, text, compiled, filters, store, qvec, params.nearest, head, every_match_seen, vectors.first_refs(snapshot)
    )
    for paragraph, score, _ in near:
        cosine[(paragraph.article, paragraph.number)] = score
    weight = params.question_weight if full is None else params.weight if full else params.partial_weight
    lexical = [(key, score) for key, (_, score, _) in zip(keys, head)]
    fused = fusion.linear(lexical, cosine, weight)
    entries = {key: (p, score, complete, head_counts[i]) for i, (key, (p, score, complete)) in enumerate(zip(keys, head))}
    for paragraph, score, _ in near:
        entries[(paragraph.article, paragraph.number)] = (paragraph, None, None if full is None else False, 0)
    out, out_counts = [], []
    for key, value in fused:
        paragraph, lexical_score, complete, count = entries[key]
        out.append((paragraph, value, complete, lexical_score, cosine.get(key)))
        out_counts.append(count)
    if params.tiers and full is not None:
        order = sorted(range(len(out)), key=lambda i: (out[i][2] is not True, i))
        out, out_counts = [out[i] for i in order], [out_counts[i] for i in order]
    if tail:
        # Beyond the pool: the other lexical matches, in their order, below every fused score.
        tail_cos = _cosines(store, qvec, [(p.article, p.number) for p, _, _ in tail])
        floor = min((hit[1] for hit in out), default=0.0)
        for (paragraph, score, complete), count in zip(tail, tail_counts):
            out.append((paragraph, floor, complete, score, tail_cos.get((paragraph.article, paragraph.number))))
            out_counts.append(count)
    return out[:wanted], out_counts[:wanted], total + extra, full, "hybrid"


def _cosines(store, qvec, keys) -> dict[tuple[str, int], float]:
    """Cosine of the query with paragraphs ``(article, number)`` (numbers from 1; the store
    counts from 0)."""
    found = store.scores(qvec, [(article, number - 1) for article, number in keys])
    return {(article, row + 1): score for (article, row), score in found.items()}


def _nearest(snapshot, text: str, compiled, filters, store, qvec, n: int, head, every_match_seen=False, firsts=None):
    """The ``n`` paragraphs nearest ``qvec`` that satisfy the query's constraints and
    filters, are not in ``head`` (nor identical to one there): ``[(Paragraph, cosine,
    lexical match)]``, and how many of them the lexical query does not match."""
    if n <= 0:
        return [], 0
    constraint = constraint_query(text, snapshot)
    lexical_query = None if every_match_seen else compiled.query.query if isinstance(compiled.query, Tiered) else compiled.query
    seen = {(p.article, p.number) for p, _, _ in head}
    duplicates = {_duplicate_key(p.text) for p, _, _ in head}
    articles = [filters.article] if filters.article else None
    chosen: list = []
    extra = 0
    k = n * 2
    for _ in range(NEAREST_ROUNDS):
        hits = store.search(qvec, k=k, articles=articles)
        fresh = [h for h in hits if (h.article, h.paragraph + 1) not in seen]
        if fresh:
            allowed, matching = _check(
                snapshot, {h.article for h in fresh}, constraint, lexical_query, filters,
                [(h.article, h.paragraph + 1) for h in fresh], firsts,
            )
            for hit in fresh:
                key = (hit.article, hit.paragraph + 1)
                seen.add(key)
                paragraph = allowed.get(key)
                if paragraph is None:
                    continue
                duplicate = _duplicate_key(paragraph.text)
                if duplicate in duplicates:
                    continue
                duplicates.add(duplicate)
                lexical = lexical_query is not None and paragraph.ref in matching
                chosen.append((paragraph, hit.score, lexical))
                extra += not lexical
                if len(chosen) == n:
                    return chosen, extra
        if len(hits) < k:
            break
        k *= 4
    return chosen, extra


def _check(snapshot, articles, constraint, lexical_query, filters, wanted, firsts=None):
    """Of the paragraphs ``wanted`` (``(article, number)`` pairs; their articles are
    ``articles``): those the constraints and filters allow, as ``{(article, number):
    Paragraph}``, and the refs of those the lexical query matches too. The engine
    evaluates both queries, restricted to these articles; only the wanted paragraphs are
    read. ``lexical_query`` None: every lexical match is known already (no refs)."""
    among = Or(tuple(Term(s.ARTICLE, a) for a in sorted(articles)))
    found = _paragraphs(snapshot, wanted, {} if firsts is None else firsts)
    if constraint is not None or filters:
        query = among if constraint is None else And((among, constraint))
        refs, _, _ = snapshot.top(query, max(1, snapshot.paragraphs), filters)
        passing = {ref for ref, _ in refs}
        found = {key: p for key, p in found.items() if p.ref in passing}
    if not found or lexical_query is None:
        return found, set()
    matched, _, _ = snapshot.top(And((among, lexical_query)), max(1, snapshot.paragraphs), filters)
    return found, {ref for ref, _ in matched}


def _paragraphs(snapshot, wanted, firsts: dict) -> dict:
    """The stored paragraphs ``(article, number)``: one look-up of the article (kept in
    ``firsts``), then its paragraphs by number (``Snapshot.paragraphs_near``)."""
    by_article: dict[str, set[int]] = {}
    for article, number in wanted:
        by_article.setdefault(article, set()).add(number)
    found = {}
    for article, numbers in by_article.items():
        ref = firsts.get(article)
        if ref is None:
            refs, _, _ = snapshot.top(Term(s.ARTICLE, article), 1)
            if not refs:
                continue
            ref = firsts[article] = refs[0][0]
        first = snapshot.paragraph(ref)
        near = snapshot.paragraphs_near(first.ref, sorted(numbers - {first.number}))
        if first.number in numbers:
            near[first.number] = first
        for number, paragraph in near.items():
            found[(article, number)] = paragraph
    return found
