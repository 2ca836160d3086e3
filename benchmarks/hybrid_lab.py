"""Hybrid ranking, measured and fitted on the dev tasks (``benchmarks/quality.py --semantic``).

For every query (task × variant × split) the engine is asked once, through the same
functions ``searcher.hybrid.rank`` uses, for everything any fusion setting needs: the
lexical top 100 (identical paragraphs collapsed; BM25 scores, full-match flags), the
query's embedding (as typed, and with its accents restored when typed without), the cosine
of every lexical candidate, and the 100 nearest paragraphs by cosine with whether the
query's constraints allow each. Fusion is then replayed offline for every setting of the
grid, exactly as ``hybrid.rank`` computes it (``fusion.linear`` on the same lists), and
the setting is fitted by 5-fold cross-validation over the dev queries of *all* tasks
together (the objective: the mean over task × variant cells of MRR@10; folds by query id,
every variant of a query in one fold). ``verify`` runs the engine itself with the chosen
setting and checks that its hits are those of the replay.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tasks as T  # noqa: E402

POOL = 100  # lexical candidates collected
NEAR = 60  # nearest candidates collected (the grid takes up to 50)
ASK = 20  # hits kept (headlines are skipped, 10 scored)
LIMIT = 10
WEIGHTS = tuple(round(w, 2) for w in np.arange(0.3, 1.0001, 0.05))
POOLS = (20, 50, 100)
NEARESTS = (0, 10, 20, 50)
ACCENTLESS = ("restore", "restore-or-lexical", "lexical", "as typed")
FOLDS = 5


@dataclass
class Record:
    """One query's candidates, as ``hybrid.rank`` sees them."""

    query: object  # tasks.Query
    variant: str
    question: bool  # no tiers (full is None): the question weight applies
    full: int | None
    accentless: bool
    lexical: list  # [(key, bm25, complete, doc, duplicate key)]: the lexical top POOL, in order
    near: dict = field(default_factory=dict)  # mode -> [(key, cosine, allowed, dupkey, doc)] nearest first
    cos: dict = field(default_factory=dict)  # mode -> {key: cosine} of the lexical candidates


_DOCS: dict = {}
_DUPS: dict = {}


def _doc_of(paragraph, paragraphs, headlines):
    from quality import match_key

    cached = (paragraph.article, paragraph.number, id(paragraphs))
    if cached not in _DOCS:
        _DOCS[cached] = _doc_uncached(match_key(paragraph.article, paragraph.text), paragraphs, headlines, paragraph)
    return _DOCS[cached]


def _dup_of(paragraph):
    from searcher.search import _duplicate_key

    key = (paragraph.article, paragraph.number, paragraph.text)
    if key not in _DUPS:
        _DUPS[key] = _duplicate_key(paragraph.text)
    return _DUPS[key]


def _doc_uncached(key, paragraphs, headlines, paragraph):
    if key in paragraphs:
        return paragraphs[key]
    if key in headlines:
        return None  # a headline: skipped
    return f"?{paragraph.article}"


def collect(index, work, paragraphs, headlines, progress=None) -> list[Record]:
    """Ask the engine once per (query, variant) for every fusion setting's inputs."""
    from searcher.engine.nodes import Filters, Tiered
    from searcher.errors import SearcherError
    from searcher.hybrid import _check, _cosines
    from searcher.query import compile_query, constraint_query, embedding_text
    from searcher.search import _duplicate_key, unique_hits
    from searcher.suggest import restore_accents

    snapshot = index.engine.snapshot()
    vectors, warning = index.vectors()
    if vectors is None:
        raise SystemExit(f"no embeddings: {warning}")
    store, embedder = vectors.store, vectors.embedder
    firsts = vectors.first_refs(snapshot)
    out = []
    started = time.perf_counter()
    for n, (q, variant, text) in enumerate(work, 1):
        try:
            compiled = compile_query(text, snapshot)
        except SearcherError:
            out.append(Record(q, variant, False, None, False, []))
            continue
        filters = Filters()
        found, _, _, full = unique_hits(snapshot, compiled.query, filters, POOL)
        lexical = [
            ((p.article, p.number), score, complete, _doc_of(p, paragraphs, headlines), _dup_of(p))
            for p, score, complete in found
        ]
        rec = Record(q, variant, full is None, full, compiled.accentless, lexical)
        meaning = embedding_text(text)
        modes = {"as typed": meaning}
        if compiled.accentless:
            modes["restore"] = restore_accents(meaning, snapshot)
        constraint = constraint_query(text, snapshot)
        lexical_query = compiled.query.query if isinstance(compiled.query, Tiered) else compiled.query
        for mode, qtext in modes.items():
            if not qtext or not qtext.strip():
                continue
            qvec = embedder.embed_query(qtext)
            rec.cos[mode] = _cosines(store, qvec, [x[0] for x in lexical])
            hits = store.search(qvec, k=NEAR)
            allowed, _ = _check(snapshot, {h.article for h in hits}, constraint, None, filters,
                                [(h.article, h.paragraph + 1) for h in hits], firsts)
            near = []
            for h in hits:
                key = (h.article, h.paragraph + 1)
                paragraph = allowed.get(key)
                if paragraph is None:
                    near.append((key, h.score, False, None, None))
                else:
                    near.append((key, h.score, True, _dup_of(paragraph), _doc_of(paragraph, paragraphs, headlines)))
            rec.near[mode] = near
        out.append(rec)
        if progress and n % 200 == 0:
            progress(f"  {n}/{len(work)} queries, {time.perf_counter() - started:.0f} s")
    return out


@dataclass(frozen=True)
class Setting:
    pool: int = 100
    nearest: int = 20
    tiers: bool = False
    accentless: str = "restore"
    weight: float = 0.7
    question_weight: float = 0.7
    partial_weight: float = 0.7

    def params(self):
        from searcher.hybrid import Params

        return Params(float(self.weight), float(self.question_weight), float(self.partial_weight), self.pool,
                      self.nearest, self.tiers, self.accentless)


def kind(rec: Record) -> int:
    """Which weight a query takes: 0 keyword with full matches, 1 question, 2 keyword without."""
    return 1 if rec.question else 0 if rec.full else 2


def _mode(rec: Record, accentless: str) -> str | None:
    if not rec.accentless:
        return "as typed" if "as typed" in rec.near else None
    if accentless == "lexical":
        return None
    if accentless == "restore":  # restored, else as typed
        return "restore" if "restore" in rec.near else "as typed" if "as typed" in rec.near else None
    mode = "restore" if accentless == "restore-or-lexical" else "as typed"
    return mode if mode in rec.near else None


def _docs(ranked_docs) -> list:
    return [d for d in ranked_docs if d is not None][:LIMIT]


def lexical_docs(rec: Record) -> list:
    return _docs([x[3] for x in rec.lexical[:ASK]])


def semantic_docs(rec: Record) -> list:
    """e5 alone: the nearest paragraphs by cosine (accents restored when typed without)."""
    mode = "restore" if rec.accentless and "restore" in rec.near else "as typed"
    return _docs([d for _, _, ok, _, d in rec.near.get(mode, []) if ok][:ASK])


def fused_docs(rec: Record, s: Setting, weights=None) -> list | dict:
    """The hybrid's documents for one setting (as ``hybrid.rank``); with ``weights``, a
    dict weight -> documents for every weight at once."""
    mode = _mode(rec, s.accentless)
    if mode is None or not rec.lexical:
        docs = lexical_docs(rec)
        return {w: docs for w in weights} if weights else docs
    head = rec.lexical[: s.pool]
    seen = {x[0] for x in head}
    dups = set()
    head_dups = {x[4] for x in head}
    near = []
    for key, cos, ok, dup, doc in rec.near[mode]:
        if len(near) >= s.nearest:
            break
        if key in seen or not ok:
            continue
        seen.add(key)
        if dup in head_dups or dup in dups:
            continue
        dups.add(dup)
        near.append((key, cos, doc))
    cos = rec.cos[mode]
    keys = [x[0] for x in head] + [k for k, _, _ in near]
    lex = np.array([x[1] for x in head] + [np.nan] * len(near))
    sem = np.array([cos.get(x[0], np.nan) for x in head] + [c for _, c, _ in near])
    docs = [x[3] for x in head] + [d for _, _, d in near]
    complete = [x[2] for x in head] + [False] * len(near)
    lex_present = ~np.isnan(lex)
    lex_n = np.zeros(len(keys))
    if lex_present.any():
        lo, hi = np.nanmin(lex), np.nanmax(lex)
        lex_n[lex_present] = (lex[lex_present] - lo) / (hi - lo) if hi > lo else 1.0
    sem_present = ~np.isnan(sem)
    sem_n = np.zeros(len(keys))
    if sem_present.any():
        lo, hi = np.nanmin(sem), np.nanmax(sem)
        sem_n[sem_present] = (sem[sem_present] - lo) / (hi - lo) if hi > lo else 1.0
    tail = [x[3] for x in rec.lexical[s.pool : ASK]] if s.pool < ASK else []
    order_index = np.arange(len(keys))

    def one(w):
        fused = w * lex_n + (1 - w) * sem_n
        order = np.lexsort((order_index, -fused))
        if s.tiers and not rec.question:
            order = sorted(order.tolist(), key=lambda i: (complete[i] is not True,))  # stable
        return _docs([docs[i] for i in order] + tail)

    if weights:
        return {w: one(w) for w in weights}
    return one((s.weight, s.question_weight, s.partial_weight)[kind(rec)])


def rr(docs, relevant) -> float:
    return next((1 / r for r, d in enumerate(docs[:LIMIT], 1) if d in relevant), 0.0)


def fold_of(q) -> int:
    return hashlib.sha1(q.id.encode()).digest()[0] % FOLDS


def table(records, keyfn, setting_of) -> dict:
    """Mean RR per (task, variant) cell."""
    cells: dict = {}
    for rec in records:
        s = setting_of(rec)
        cells.setdefault(keyfn(rec), []).append(rr(fused_docs(rec, s), rec.query.relevant))
    return {k: sum(v) / len(v) for k, v in cells.items()}


def fit(records, log=print):
    """The grid's best setting on ``records`` (macro MRR over task × variant cells)."""
    # rr[(structure)][weight] per record, computed once
    structures = list(itertools.product(POOLS, NEARESTS, (False, True), ACCENTLESS))
    scores = {}
    for st in structures:
        s = Setting(*st)
        per = []
        for rec in records:
            by_w = fused_docs(rec, s, WEIGHTS)
            per.append({w: rr(d, rec.query.relevant) for w, d in by_w.items()})
        scores[st] = per
    return structures, scores


def best_setting(records, structures, scores, idx):
    """Best (structure, weight per kind of query) on the records ``idx`` (the three kinds'
    weights apart: the macro mean is a sum over queries, each of one kind)."""
    cells = sorted({(records[i].query.task, records[i].variant) for i in idx})
    members = {c: [i for i in idx if (records[i].query.task, records[i].variant) == c] for c in cells}
    best = None
    for st in structures:
        per = scores[st]
        best_w = {}
        for k in (0, 1, 2):
            options = []
            for w in WEIGHTS:
                total = sum(sum(per[i][w] for i in m if kind(records[i]) == k) / max(len(m), 1) for m in members.values())
                options.append((round(total, 9), -abs(w - 0.7), w))
            best_w[k] = max(options)[2]
        value = _macro(records, idx, cells, lambda i: per[i][best_w[kind(records[i])]])
        cand = (value, Setting(*st, weight=best_w[0], question_weight=best_w[1], partial_weight=best_w[2]))
        if best is None or cand[0] > best[0] + 1e-12:
            best = cand
    return best


def _macro(records, idx, cells, value):
    total = 0.0
    for c in cells:
        members = [i for i in idx if (records[i].query.task, records[i].variant) == c]
        total += sum(value(i) for i in members) / max(len(members), 1)
    return total / max(len(cells), 1)


def cross_validate(records, log=print):
    """5-fold CV of the fitting procedure over the dev records; then the fit on all of them."""
    structures, scores = fit(records, log)
    folds = [fold_of(r.query) for r in records]
    held = {}
    chosen = []
    for f in range(FOLDS):
        train = [i for i, x in enumerate(folds) if x != f]
        test = [i for i, x in enumerate(folds) if x == f]
        _, s = best_setting(records, structures, scores, train)
        chosen.append(s)
        for i in test:
            st = (s.pool, s.nearest, s.tiers, s.accentless)
            held[i] = scores[st][i][(s.weight, s.question_weight, s.partial_weight)[kind(records[i])]]
    cells = sorted({(r.query.task, r.variant) for r in records})
    cv = _macro(records, list(range(len(records))), cells, lambda i: held[i])
    value, final = best_setting(records, structures, scores, list(range(len(records))))
    return cv, chosen, value, final, structures, scores
