"""Ranking research: a fast ranker of our own over searcher's analysis, to try rankings
before the engine implements them. A research tool, not a benchmark of the engine.

    python benchmarks/ranking_lab.py report      # the recipe and its ablations, dev and test
    python benchmarks/ranking_lab.py fit         # how RECIPE was found: coordinate ascent + 5-fold CV on dev
    python benchmarks/ranking_lab.py misses      # error analysis of the recipe's dev misses

Documents and queries are analyzed once with ``searcher.analysis.analyze`` (canonical and
accent-folded syllables with phrase positions, pyvi words, bigrams), cached in the
git-ignored ``benchmarks/data/ranking/``; the collection and the tasks are
``benchmarks/tasks.py``'s, the floor ``benchmarks/floor.py``'s (its runs cached too).

The ranker is numpy: every (query, field, term) posting list is gathered once per query
configuration, so a set of BM25 parameters and weights is scored with a handful of vector
operations per query (``Lab.evaluate``). What it models:

- fields: canonical syllables ``S``, folded syllables ``F``, pyvi words ``W``/``WF``,
  bigrams not across punctuation ``G``/``GF`` or across it ``X``/``XF``, and the same of the
  article title (``TS``, ``TF``, ``TG``...), each with its own length statistics;
- roles: an accented query's syllables score in ``S`` (exact accents) and, at a lower
  weight, in ``F`` (any accents); its words and bigrams in ``W`` and ``G``/``X``; an
  accentless query uses the folded fields only, with the same weights;
- per role: weight, k1, b; BM25 with the Lucene IDF; a query term repeated counts once or
  each time;
- query words: pyvi on the query, or the query's n-grams found in the word vocabulary
  (what the engine does, no CRF at query time), or greedy longest match on it;
- matching rules: OR; AND of the syllables for short keyword queries (text only, or text
  and title); a quorum for questions and long queries; AND relaxed to OR when it finds
  nothing; "all words first" (tiered);
- proximity (BM25TP, Rasolofo & Savoy 2003): each pair of different query syllables within
  ``W`` positions adds 1/d² to both terms' accumulators; the score adds
  ``w_P · Σ_t min(1, idf_t) · acc_t (k1 + 1) / (acc_t + K_d)``.

Nothing here names a word of one data set; the question words are Vietnamese's.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
import pickle
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tasks as T  # noqa: E402
from floor import floor_runs  # noqa: E402
from _common import DATA  # noqa: E402

LAB = DATA / "ranking"
K = T.K

# Interrogatives (the engine's list): what is asked, not what the answer paragraph holds.
QUESTION_WORDS = {
    ("ai",), ("gì",), ("nào",), ("đâu",), ("mấy",),
    ("bao", "nhiêu"), ("bao", "giờ"), ("bao", "lâu"), ("bao", "xa"), ("thế", "nào"), ("làm", "sao"),
    ("tại", "sao"), ("vì", "sao"),
}


# -- analysis, cached ----------------------------------------------------------------------


@dataclass(frozen=True)
class A:
    """One text analyzed: syllables (canonical, folded), phrase positions (punctuation
    leaves a gap), pyvi words (canonical, folded)."""

    sc: tuple[str, ...]
    sf: tuple[str, ...]
    pos: tuple[int, ...]
    wc: tuple[str, ...]
    wf: tuple[str, ...]

    def bigrams(self, folded: bool, across: bool) -> list[str]:
        s = self.sf if folded else self.sc
        return [
            f"{s[i - 1]}_{s[i]}"
            for i in range(1, len(s))
            if across or self.pos[i] - self.pos[i - 1] == 1
        ]

    def key(self) -> str:
        return hashlib.sha1(repr((self.sc, self.pos, self.wc)).encode()).hexdigest()


class Analyses:
    """``analyze`` results by text, kept on disk."""

    def __init__(self, path: Path = LAB / "analysis.pkl"):
        self.path = path
        try:
            with open(path, "rb") as f:
                self.cache: dict[str, A] = pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.cache = {}
        self.added = 0

    def __call__(self, text: str) -> A:
        key = hashlib.sha1(text.encode("utf-8")).hexdigest()
        found = self.cache.get(key)
        if found is None:
            from searcher.analysis import analyze
            from searcher.text import nfc

            a = analyze(nfc(text))
            found = A(
                tuple(u.canon for u in a.syllables),
                tuple(u.folded for u in a.syllables),
                tuple(a.positions),
                tuple(u.canon for u in a.words),
                tuple(u.folded for u in a.words),
            )
            self.cache[key] = found
            self.added += 1
        return found

    def save(self) -> None:
        if self.added:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                pickle.dump(self.cache, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(self.path)
            self.added = 0


def has_accents(text: str) -> bool:
    from searcher.text import has_accents as h

    return h(text)


# -- the index -----------------------------------------------------------------------------

TEXT_FIELDS = {
    "S": lambda a: a.sc,
    "F": lambda a: a.sf,
    "W": lambda a: a.wc,
    "WF": lambda a: a.wf,
    "G": lambda a: a.bigrams(False, False),
    "GF": lambda a: a.bigrams(True, False),
    "X": lambda a: a.bigrams(False, True),
    "XF": lambda a: a.bigrams(True, True),
}
FIELDS = list(TEXT_FIELDS) + ["T" + f for f in TEXT_FIELDS]


class FieldIndex:
    def __init__(self, docs_terms: Sequence[Sequence[str]]):
        rows: dict[str, dict[int, int]] = {}
        for n, terms in enumerate(docs_terms):
            for t in terms:
                r = rows.setdefault(t, {})
                r[n] = r.get(n, 0) + 1
        self.n = len(docs_terms)
        self.dl = np.array([len(t) for t in docs_terms], dtype=np.float64)
        avg = self.dl.mean() if self.dl.sum() else 1.0
        self.dln = self.dl / avg
        self.vocab = {t: i for i, t in enumerate(rows)}
        self.docs = [np.fromiter(r.keys(), np.int32, len(r)) for r in rows.values()]
        self.tf = [np.fromiter(r.values(), np.float32, len(r)) for r in rows.values()]
        self.df = np.array([len(r) for r in rows.values()], dtype=np.float64)
        self.idf = np.log(1 + (self.n - self.df + 0.5) / (self.df + 0.5))


class Index:
    """Every field of ``FIELDS`` over one collection; positions of folded and canonical
    syllables concatenated for proximity."""

    def __init__(self, collection: T.Collection, analyses: Analyses):
        self.ids = [d.id for d in collection.docs]
        self.n = len(self.ids)
        text = [analyses(d.text) for d in collection.docs]
        titles = [analyses(d.title) if d.title else A((), (), (), (), ()) for d in collection.docs]
        self.fields: dict[str, FieldIndex] = {}
        for name, fn in TEXT_FIELDS.items():
            self.fields[name] = FieldIndex([fn(a) for a in text])
            self.fields["T" + name] = FieldIndex([fn(a) for a in titles])
        # proximity: every syllable of the collection, in document order
        F, S = self.fields["F"], self.fields["S"]
        self.g_doc = np.concatenate([np.full(len(a.sf), n, np.int32) for n, a in enumerate(text)])
        self.g_pos = np.concatenate([np.array(a.pos, np.int32) for a in text])
        self.g_f = np.concatenate([np.array([F.vocab[s] for s in a.sf], np.int32) for a in text])
        self.g_c = np.concatenate([np.array([S.vocab[s] for s in a.sc], np.int32) for a in text])
        self.field_names = FIELDS
        self.dln = np.stack([self.fields[f].dln for f in FIELDS])  # field × doc


# -- configurations ------------------------------------------------------------------------

ROLES = ("syl", "fsyl", "word", "big", "tsyl", "tword", "tbig")
ROLE_GROUP = {"syl": "syl", "fsyl": "syl", "word": "word", "big": "big", "tsyl": "title", "tword": "title", "tbig": "title"}
GROUPS = ("syl", "word", "big", "title", "prox")


@dataclass(frozen=True)
class QueryConfig:
    """How a query becomes terms (what is gathered once per query)."""

    words: str = "pyvi"  # pyvi | pyvi2 | vocab | vocab2 | greedy | none
    bigrams: str = "across"  # within | across
    qwords: str = "keep"  # keep | drop_syl (out of the syllable roles) | drop (out of all)
    dedupe: bool = False  # a term repeated in the query counts once
    window: int = 5  # proximity window (positions)
    prox_canonical: bool = False  # proximity over canonical syllables for accented queries
    prox_idf: bool = False  # a pair adds min(idf) / d² (not 1 / d²) and terms weigh 1 (not min(1, idf))


@dataclass(frozen=True)
class Params:
    """How terms are scored and documents selected."""

    w: tuple = (("syl", 1.0), ("fsyl", 0.35), ("word", 1.0), ("big", 1.0), ("tsyl", 0.0), ("tword", 0.0), ("tbig", 0.0))
    k1: tuple = (("syl", 1.2), ("word", 1.2), ("big", 1.2), ("title", 1.2), ("prox", 1.2))
    b: tuple = (("syl", 0.75), ("word", 0.75), ("big", 0.75), ("title", 0.75), ("prox", 0.75))
    prox: float = 0.0
    # or | engine (AND ≤ short of the text, else quorum) | engine_title (the same over text
    # and title) | and_relax (AND if it finds something) | tiered (documents with every
    # syllable in text or title first, then the rest) | tiered_text | quorum
    rule: str = "or"
    short: int = 5  # keyword queries: at most this many distinct syllables, no question word
    quorum: float = 0.3

    def get(self, name: str, key: str) -> float:
        return dict(getattr(self, name))[key]

    def set(self, name: str, key: str, value: float) -> "Params":
        d = dict(getattr(self, name))
        d[key] = value
        return replace(self, **{name: tuple(d.items())})

    def brief(self) -> str:
        w = ", ".join(f"{k} {v:g}" for k, v in self.w if v)
        k1 = ", ".join(f"{k} {v:g}" for k, v in self.k1)
        b = ", ".join(f"{k} {v:g}" for k, v in self.b)
        return f"weights [{w}]; k1 [{k1}]; b [{b}]; prox {self.prox:g}; rule {self.rule}"


def role_field(role: str, accentless: bool, qc: QueryConfig) -> str | None:
    big = "X" if qc.bigrams == "across" else "G"
    table = {
        "syl": "F" if accentless else "S",
        "fsyl": None if accentless else "F",
        "word": "WF" if accentless else "W",
        "big": big + "F" if accentless else big,
        "tsyl": "TF" if accentless else "TS",
        "tword": "TWF" if accentless else "TW",
        "tbig": "T" + big + ("F" if accentless else ""),
    }
    return table[role]


def question_positions(forms: Sequence[str]) -> set[int]:
    found = set()
    for i, f in enumerate(forms):
        if (f,) in QUESTION_WORDS:
            found.add(i)
        if i + 1 < len(forms) and (f, forms[i + 1]) in QUESTION_WORDS:
            found.update((i, i + 1))
    return found


def _folded_question_positions(sf: Sequence[str], sc: Sequence[str], accentless: bool) -> set[int]:
    if not accentless:
        return question_positions(sc)
    folded = {tuple(_fold(x) for x in w) for w in QUESTION_WORDS if len(w) > 1 or len(sf) > 3}
    found = set()
    for i, f in enumerate(sf):
        if (f,) in folded:
            found.add(i)
        if i + 1 < len(sf) and (f, sf[i + 1]) in folded:
            found.update((i, i + 1))
    return found


def _fold(s: str) -> str:
    from searcher.text import fold_accents

    return fold_accents(s)


@dataclass
class Prepared:
    """One query under one QueryConfig: its postings gathered, its match counts."""

    docs: np.ndarray  # int32, every posting of every term
    tf: np.ndarray  # float32
    idf: np.ndarray  # float32, IDF × query frequency
    role: np.ndarray  # int8 index into ROLES
    field: np.ndarray  # int8 index into FIELDS
    n_match: int  # distinct syllables that count for AND / quorum (known to the index)
    n_all: int  # distinct syllables of the query
    keyword: bool  # no question word
    text_count: np.ndarray  # int16 per doc: how many of those syllables its text has
    any_count: np.ndarray  # ... its text or its title
    prox_docs: np.ndarray
    prox_acc: np.ndarray
    prox_idf: np.ndarray
    by_role: dict = field(default_factory=dict)  # role index → slice of the postings
    key: tuple = ()


class Lab:
    def __init__(self, verbose: bool = True):
        started = time.perf_counter()
        self.collection = T.load()
        self.analyses = Analyses()
        self.index = {False: Index(self.collection, self.analyses), True: Index(self.collection.untitled(), self.analyses)}
        self.queries = {(q.task, q.split): [] for q in self.collection.queries}
        for q in self.collection.queries:
            self.queries[(q.task, q.split)].append(q)
        self.analyzed: dict[tuple[str, str], A] = {}
        for q in self.collection.queries:
            for v in T.TASK_VARIANTS[q.task]:
                text = T.VARIANTS[v](q.text)
                self.analyzed[(q.id, v)] = self.analyses(text)
                self.analyzed[(q.id, v, "accentless")] = not has_accents(text)
                self.analyzed[(q.id, v, "key")] = self.analyzed[(q.id, v)].key()
        self.analyses.save()
        self._prepared: dict = {}
        self._cells: dict = {}
        self.floor = floor_runs(self.collection)  # floor.py's, cached
        if verbose:
            print(f"(lab ready in {time.perf_counter() - started:.1f} s)", file=sys.stderr)

    # -- queries -> postings

    def query_words(self, a: A, accentless: bool, qc: QueryConfig, ix: Index) -> list[str]:
        forms = a.sf if accentless else a.sc
        vocab = ix.fields["WF" if accentless else "W"].vocab
        if qc.words == "none":
            return []
        if qc.words in ("pyvi", "pyvi2"):
            words = a.wf if accentless else a.wc
            return [w for w in words if qc.words == "pyvi" or "_" in w]
        if qc.words in ("vocab", "vocab2"):
            low = 1 if qc.words == "vocab" else 2
            out = []
            for i in range(len(forms)):
                for n in range(4, low - 1, -1):
                    if i + n <= len(forms):
                        w = "_".join(forms[i : i + n])
                        if w in vocab:
                            out.append(w)
            return out
        if qc.words == "greedy":
            out, i = [], 0
            while i < len(forms):
                for n in range(min(4, len(forms) - i), 0, -1):
                    w = "_".join(forms[i : i + n])
                    if n == 1 or w in vocab:
                        out.append(w)
                        i += n
                        break
            return out
        raise ValueError(qc.words)

    def prepare(self, qid: str, variant: str, untitled: bool, qc: QueryConfig) -> Prepared:
        a = self.analyzed[(qid, variant)]
        accentless = self.analyzed[(qid, variant, "accentless")]
        key = (self.analyzed[(qid, variant, "key")], accentless, untitled, qc)
        found = self._prepared.get(key)
        if found is not None:
            return found
        ix = self.index[untitled]
        sc, sf = list(a.sc), list(a.sf)
        asked = _folded_question_positions(sf, sc, accentless)
        keep = [i for i in range(len(sc)) if i not in asked] if qc.qwords != "keep" else list(range(len(sc)))
        syl_c = [sc[i] for i in keep] or sc
        syl_f = [sf[i] for i in keep] or sf
        words = self.query_words(a, accentless, qc, ix)
        bigs = a.bigrams(accentless, qc.bigrams == "across")
        if qc.qwords == "drop":
            forms = sf if accentless else sc
            qw = {"_".join(w) for w in QUESTION_WORDS}
            qw |= {_fold(w) for w in qw} if accentless else set()
            words = [w for w in words if w not in qw]
            inside = {f"{forms[i]}_{forms[i + 1]}" for i in asked if i + 1 in asked}
            bigs = [g for g in bigs if g not in inside]
        terms = {
            "syl": syl_f if accentless else syl_c,
            "fsyl": [] if accentless else syl_f,
            "word": words,
            "big": bigs,
            "tsyl": syl_f if accentless else syl_c,
            "tword": words,
            "tbig": bigs,
        }
        docs, tf, idf, role, fld = [], [], [], [], []
        for r_i, r in enumerate(ROLES):
            fname = role_field(r, accentless, qc)
            if fname is None:
                continue
            fx = ix.fields[fname]
            counts: dict[str, int] = {}
            for t in terms[r]:
                counts[t] = 1 if qc.dedupe else counts.get(t, 0) + 1
            f_i = FIELDS.index(fname)
            for t, c in counts.items():
                tid = fx.vocab.get(t)
                if tid is None:
                    continue
                d = fx.docs[tid]
                docs.append(d)
                tf.append(fx.tf[tid])
                idf.append(np.full(len(d), fx.idf[tid] * c, np.float32))
                role.append(np.full(len(d), r_i, np.int8))
                fld.append(np.full(len(d), f_i, np.int8))
        cat = lambda xs, t: np.concatenate(xs) if xs else np.zeros(0, t)  # noqa: E731
        # match counts over distinct folded syllables (question words never count)
        match = list(dict.fromkeys(sf[i] for i in range(len(sf)) if i not in asked)) or list(dict.fromkeys(sf))
        F, TF = ix.fields["F"], ix.fields["TF"]
        text_count = np.zeros(ix.n, np.int16)
        any_count = np.zeros(ix.n, np.int16)
        known = 0
        for s in match:
            in_text = np.zeros(ix.n, bool)
            tid = F.vocab.get(s)
            if tid is not None:
                in_text[F.docs[tid]] = True
            in_any = in_text.copy()
            tid2 = TF.vocab.get(s)
            if tid2 is not None:
                in_any[TF.docs[tid2]] = True
            known += bool(in_any.any())
            text_count += in_text
            any_count += in_any
        n_all = len(set(sf))
        keyword = not asked
        pd, pa, pi = self._proximity(a, accentless, qc, ix)
        p = Prepared(
            cat(docs, np.int32), cat(tf, np.float32), cat(idf, np.float32), cat(role, np.int8), cat(fld, np.int8),
            known, len(match), keyword, text_count, any_count, pd, pa, pi,
        )
        p.key = key
        start = 0
        for r_i in range(len(ROLES)):
            size = int((p.role == r_i).sum())
            if size:
                p.by_role[r_i] = slice(start, start + size)
            start += size
        self._prepared[key] = p
        return p

    def _proximity(self, a: A, accentless: bool, qc: QueryConfig, ix: Index):
        canonical = qc.prox_canonical and not accentless
        forms = a.sc if canonical else a.sf
        fx = ix.fields["S" if canonical else "F"]
        g = ix.g_c if canonical else ix.g_f
        local: dict[int, int] = {}
        for s in forms:
            tid = fx.vocab.get(s)
            if tid is not None:
                local.setdefault(tid, len(local))
        empty = (np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.float32))
        if len(local) < 2:
            return empty
        qmap = np.full(len(fx.vocab), -1, np.int32)
        tids = np.fromiter(local.keys(), np.int32, len(local))
        qmap[tids] = np.arange(len(local), dtype=np.int32)
        m = qmap[g]
        sel = np.nonzero(m >= 0)[0]
        d, p, t = ix.g_doc[sel], ix.g_pos[sel], m[sel]
        keys, vals = [], []
        W = qc.window
        for k in range(1, W + 1):
            if len(sel) <= k:
                break
            i = np.arange(len(sel) - k)
            j = i + k
            dist = p[j] - p[i]
            ok = (d[i] == d[j]) & (dist <= W) & (t[i] != t[j])
            if not ok.any():
                continue
            c = 1.0 / dist[ok].astype(np.float64) ** 2
            if qc.prox_idf:
                c = c * np.minimum(fx.idf[tids[t[i[ok]]]], fx.idf[tids[t[j[ok]]]])
            for side in (i[ok], j[ok]):
                keys.append(d[side].astype(np.int64) * len(local) + t[side])
                vals.append(c)
        if not keys:
            return empty
        keys_a, vals_a = np.concatenate(keys), np.concatenate(vals)
        uniq, inv = np.unique(keys_a, return_inverse=True)
        acc = np.bincount(inv, weights=vals_a)
        docs = (uniq // len(local)).astype(np.int32)
        term = (uniq % len(local)).astype(np.int32)
        idf = (np.ones(len(term)) if qc.prox_idf else np.minimum(1.0, fx.idf[tids[term]])).astype(np.float32)
        return docs, acc.astype(np.float32), idf

    # -- scoring

    # -- evaluation: one matrix (queries × documents) per cell

    def cell(self, task: str, variant: str, split: str, qc: QueryConfig, queries=None) -> "Cell":
        qs = tuple(queries if queries is not None else self.queries.get((task, split), ()))
        key = (task, variant, qc, tuple(q.id for q in qs))
        found = self._cells.get(key)
        if found is None:
            untitled = task in T.UNTITLED_TASKS
            ix = self.index[untitled]
            prepared = [self.prepare(q.id, variant, untitled, qc) for q in qs]
            same = (task, qc, tuple(p.key for p in prepared))  # e.g. tone swapped: analyzed alike
            if same in self._cells:
                found = copy.copy(self._cells[same])  # shares the score matrices
                found.variant = variant
            else:
                found = self._cells[same] = Cell(task, variant, list(qs), prepared, ix)
            found.qc = qc
            found.floor = np.array([T.query_metrics(self.floor[(q.id, variant)], q.relevant) for q in qs]).reshape(-1, len(T.METRICS))
            self._cells[key] = found
        return found

    def evaluate(self, qc: QueryConfig, params: Params, split: str, cells=None) -> dict:
        """(task, variant) → (per-query metrics of ``params``, of the floor, the queries)."""
        out = {}
        for task, variant in cells or self.cells():
            c = self.cell(task, variant, split, qc)
            out[(task, variant)] = (c.metrics(params), c.floor, c.queries)
        return out

    def cells(self, tasks: Iterable[str] = T.TASKS) -> list[tuple[str, str]]:
        return [(t, v) for t, v in T.cells() if t in tasks]

    def forget(self, qc: QueryConfig) -> None:
        """Drop what was gathered for ``qc`` (its postings and score matrices)."""
        self._prepared = {k: v for k, v in self._prepared.items() if k[3] != qc}
        self._cells = {k: v for k, v in self._cells.items() if v.qc != qc}


class Cell:
    """The queries of one task, variant and split, ready to score: each role's BM25
    scores as a (queries × documents) matrix, per (k1, b), a few settings kept."""

    def __init__(self, task, variant, queries, prepared: list[Prepared], ix: Index):
        self.task, self.variant, self.queries, self.prepared, self.ix = task, variant, queries, prepared, ix
        nq, n = len(queries), ix.n
        self.R = np.zeros((nq, n), bool)
        pos = {d: i for i, d in enumerate(ix.ids)}
        for row, q in enumerate(queries):
            self.R[row, [pos[d] for d in q.relevant]] = True
        self.nrel = self.R.sum(axis=1)
        self.depth = max(K, int(self.nrel.max()) if nq else K)
        self._mats: dict[str, dict] = {}
        self._masks: dict = {}
        self._flats: dict = {}
        self.floor = None

    def matrices(self, group: str, k1: float, b: float) -> dict[str, np.ndarray]:
        slot = self._mats.setdefault(group, {})
        found = slot.get((k1, b))
        if found is not None:
            return found
        nq, n, ix = len(self.queries), self.ix.n, self.ix
        out: dict[str, np.ndarray] = {}
        for r in ("prox",) if group == "prox" else [r for r in ROLES if ROLE_GROUP[r] == group]:
            flat = self._flat(r)
            if flat is None:
                continue
            cells, docs, tf, idf, dln = flat
            K_ = k1 * (1 - b + b * dln)
            weights = idf * tf * (k1 + 1) / (tf + K_)
            out[r] = np.bincount(cells, weights=weights, minlength=nq * n).astype(np.float32).reshape(nq, n)
        if len(slot) >= 2:
            slot.pop(next(iter(slot)))
        slot[(k1, b)] = out
        return out

    def _flat(self, role: str):
        """Every posting of ``role`` over the cell's queries: (row × n + doc, doc, tf, idf, dl/avgdl)."""
        if role in self._flats:
            return self._flats[role]
        n, ix = self.ix.n, self.ix
        parts = []
        for row, p in enumerate(self.prepared):
            if role == "prox":
                if len(p.prox_docs):
                    parts.append((row, p.prox_docs, p.prox_acc, p.prox_idf, ix.fields["S"].dln[p.prox_docs]))
                continue
            sel = p.by_role.get(ROLES.index(role))
            if sel is not None:
                docs = p.docs[sel]
                parts.append((row, docs, p.tf[sel], p.idf[sel], ix.dln[p.field[sel], docs]))
        if not parts:
            self._flats[role] = None
            return None
        docs = np.concatenate([x[1] for x in parts])
        cells = np.concatenate([np.full(len(x[1]), x[0], np.int64) for x in parts]) * n + docs
        flat = (cells, docs, np.concatenate([x[2] for x in parts]), np.concatenate([x[3] for x in parts]),
                np.concatenate([x[4] for x in parts]).astype(np.float32))
        self._flats[role] = flat
        return flat

    def mask(self, params: Params) -> np.ndarray | None:
        """Documents the rule lets through (None: all that score), or a tier bonus."""
        if params.rule == "or":
            return None
        key = (params.rule, params.short, params.quorum)
        found = self._masks.get(key)
        if found is None:
            rows = []
            for p in self.prepared:
                short = p.keyword and p.n_all <= params.short
                need = min(max(2, math.ceil(params.quorum * p.n_match - 1e-9)), max(p.n_match, 1))
                ok = np.ones(self.ix.n, bool)
                if params.rule in ("engine", "engine_title"):
                    count = p.text_count if params.rule == "engine" else p.any_count
                    ok = count >= (p.n_all if short else need)
                elif params.rule == "and_relax" and short:
                    full = p.any_count >= p.n_all
                    if full.any():
                        ok = full
                elif params.rule == "tiered" and short:
                    ok = p.any_count >= p.n_all  # a tier, not a filter: see ranked()
                elif params.rule == "tiered_text" and short:
                    ok = p.text_count >= p.n_all
                elif params.rule == "quorum":
                    ok = p.any_count >= need
                rows.append(ok)
            found = self._masks[key] = np.array(rows).reshape(len(self.prepared), self.ix.n)
        return found

    def scores(self, params: Params) -> np.ndarray:
        w, k1, b = dict(params.w), dict(params.k1), dict(params.b)
        s = np.zeros((len(self.queries), self.ix.n), np.float32)
        for group in ("syl", "word", "big", "title"):
            if any(w[r] for r in ROLES if ROLE_GROUP[r] == group):
                for r, m in self.matrices(group, k1[group], b[group]).items():
                    if w[r]:
                        s += w[r] * m
        if params.prox:
            s += params.prox * self.matrices("prox", k1["prox"], b["prox"])["prox"]
        return s

    def ranked(self, params: Params) -> np.ndarray:
        """(queries × depth) document numbers by score, -1 past the last match."""
        s = self.scores(params)
        matched = s > 0
        mask = self.mask(params)
        if mask is not None:
            if params.rule.startswith("tiered"):
                s = s + np.where(mask & matched, np.float32(1e6), np.float32(0))
            else:
                matched &= mask
        s = np.where(matched, s, -np.inf)
        d = min(self.depth, self.ix.n)
        if s.shape[0] == 0:
            return np.zeros((0, d), np.int64)
        part = np.argpartition(-s, d - 1, axis=1)[:, :d]
        vals = np.take_along_axis(s, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        top = np.take_along_axis(part, order, axis=1)
        top_vals = np.take_along_axis(vals, order, axis=1)
        return np.where(np.isfinite(top_vals), top, -1)

    def metrics(self, params: Params) -> np.ndarray:
        """(queries × METRICS) for ``params``."""
        top = self.ranked(params)
        nq = len(self.queries)
        valid = top >= 0
        rel = np.take_along_axis(self.R, np.where(valid, top, 0), axis=1) & valid
        relk = rel[:, :K]
        first = relk.argmax(axis=1)
        any_k = relk.any(axis=1)
        rr = np.where(any_k, 1.0 / (first + 1), 0.0)
        disc = 1.0 / np.log2(np.arange(2, K + 2))
        dcg = (relk * disc).sum(axis=1)
        ideal = np.cumsum(disc)[np.minimum(self.nrel, K) - 1]
        ranks = np.arange(top.shape[1])
        rprec = (rel & (ranks[None, :] < self.nrel[:, None])).sum(axis=1) / self.nrel
        return np.stack([rr, dcg / ideal, rprec, relk[:, 0].astype(float), any_k.astype(float)], axis=1).reshape(nq, -1)

    def run(self, params: Params) -> list[list[str]]:
        return [[self.ix.ids[i] for i in row[:K] if i >= 0] for row in self.ranked(params)]


def primary(task: str) -> int:
    """The metric a task is judged on (index into METRICS): nDCG@10 where several
    paragraphs are relevant, MRR@10 elsewhere."""
    return T.METRICS.index("nDCG@10" if task in ("title", "topic") else "MRR@10")


PENALTY = 2.0  # a cell below the floor costs this much more than one above it gains


def ratios(results: dict, keep: set[str] | None = None) -> dict:
    """(task, variant) → ratio to the floor of the primary metric (over ``keep`` queries)."""
    out = {}
    for (task, variant), (m, f, qs) in results.items():
        if keep is not None:
            rows = [i for i, q in enumerate(qs) if q.id in keep]
            m, f = m[rows], f[rows]
        if len(m):
            j = primary(task)
            out[(task, variant)] = m[:, j].mean() / f[:, j].mean() if f[:, j].mean() else 1.0
    return out


def objective(results: dict, keep: set[str] | None = None) -> tuple[float, float]:
    """(score, minimum ratio). The score: the ratio to the floor averaged over the variants
    of each task, then over tasks (every task counts alike, whatever its variants), minus
    ``PENALTY`` times the mean shortfall of the cells below the floor."""
    r = ratios(results, keep)
    if not r:
        return 0.0, 0.0
    by_task: dict[str, list[float]] = {}
    for (task, _), x in r.items():
        by_task.setdefault(task, []).append(x)
    mean = float(np.mean([np.mean(v) for v in by_task.values()]))
    shortfall = float(np.mean([min(0.0, x - 1.0) for x in r.values()]))
    return mean + PENALTY * shortfall, float(min(r.values()))


def means(results: dict) -> dict:
    """(task, variant) → ({metric: mean}, {metric: floor mean}, n)."""
    return {
        c: ({k: float(m[:, i].mean()) for i, k in enumerate(T.METRICS)}, {k: float(f[:, i].mean()) for i, k in enumerate(T.METRICS)}, len(qs))
        for c, (m, f, qs) in results.items()
    }


# -- the floor's runs, cached -----------------------------------------------------------------


# -- printing ---------------------------------------------------------------------------------


def table(results_by_name: dict[str, dict], cells=None) -> str:
    """Rows: configurations; columns: cells (the primary metric), mean and min ratio to the floor."""
    names = list(results_by_name)
    cells = cells or list(next(iter(results_by_name.values())))
    short = {"as written": "wr", "accents stripped": "st", "tone swapped": "ts", "no punctuation": "np", "no punct., stripped": "nps"}
    head = "| configuration | " + " | ".join(f"{t[:5]} {short[v]}" for t, v in cells) + " | score | min ratio |"
    lines = [head, "|---|" + "--:|" * (len(cells) + 2)]
    first = results_by_name[names[0]]
    lines.append("| floor | " + " | ".join(f"{first[c][1][:, primary(c[0])].mean():.3f}" for c in cells) + " | 1 | 1 |")
    for name in names:
        r = {c: results_by_name[name][c] for c in cells}
        mean, low = objective(r)
        lines.append(f"| {name} | " + " | ".join(f"{r[c][0][:, primary(c[0])].mean():.3f}" for c in cells) + f" | {mean:.4f} | {low:.3f} |")
    return "\n".join(lines)


# -- fitting ------------------------------------------------------------------------------------

GRID = {
    ("w", "fsyl"): (0.0, 0.1, 0.2, 0.35, 0.5, 0.75),
    ("w", "word"): (0.0, 0.25, 0.5, 0.75, 1.0, 1.5),
    ("w", "big"): (0.0, 0.25, 0.5, 0.75, 1.0, 1.5),
    ("w", "tsyl"): (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0),
    ("w", "tbig"): (0.0, 0.1, 0.25, 0.5),
    ("k1", "syl"): (0.6, 0.9, 1.2, 1.6, 2.0),
    ("b", "syl"): (0.3, 0.5, 0.75, 0.9),
    ("k1", "word"): (0.6, 0.9, 1.2, 1.6, 2.0),
    ("b", "word"): (0.3, 0.5, 0.75, 0.9),
    ("k1", "big"): (0.6, 0.9, 1.2, 1.6, 2.0),
    ("b", "big"): (0.3, 0.5, 0.75, 0.9),
    ("k1", "title"): (0.6, 1.2, 2.0),
    ("b", "title"): (0.0, 0.5, 0.75),
    ("prox", None): (0.0, 0.5, 1.0, 2.0, 3.0, 5.0),
}


def set_param(p: Params, key, value) -> Params:
    name, sub = key
    if sub is None:
        return replace(p, **{name: value})
    return p.set(name, sub, value)


def get_param(p: Params, key):
    name, sub = key
    return getattr(p, name) if sub is None else p.get(name, sub)


def fit(lab: Lab, qc: QueryConfig, start: Params, keep: set[str] | None, grid=GRID, rounds: int = 3,
        log=None) -> tuple[Params, float]:
    """Coordinate ascent of the mean ratio to the floor over the dev queries in ``keep``."""
    best = start
    best_score = objective(lab.evaluate(qc, best, "dev"), keep)[0]
    for _ in range(rounds):
        improved = False
        for key, values in grid.items():
            for v in values:
                if v == get_param(best, key):
                    continue
                cand = set_param(best, key, v)
                score = objective(lab.evaluate(qc, cand, "dev"), keep)[0]
                if score > best_score + 1e-5:
                    best, best_score, improved = cand, score, True
                    if log:
                        log(f"  {key} = {v}: {score:.4f}")
        if not improved:
            break
    return best, best_score


def folds(queries: Sequence[T.Query], k: int = 5) -> list[set[str]]:
    """``k`` folds of the dev queries (ids), by article for XQuAD queries, as the split is."""
    out: list[set[str]] = [set() for _ in range(k)]
    for q in queries:
        key = q.id
        if q.source == "xquad":
            key = min(q.relevant).rsplit("-p", 1)[0]
        out[hashlib.sha1(key.encode()).digest()[1] % k].add(q.id)
    return out


def cross_validate(lab: Lab, qc: QueryConfig, start: Params, k: int = 5, grid=GRID, log=None, rounds: int = 2) -> tuple[float, list[Params]]:
    """Mean held-out objective of fitting on k-1 folds of dev, and the parameters of each fit."""
    dev = [q for q in lab.collection.queries if q.split == "dev"]
    parts = folds(dev, k)
    scores, fitted = [], []
    for i in range(k):
        train = set().union(*(p for j, p in enumerate(parts) if j != i))
        params, _ = fit(lab, qc, start, train, grid, rounds=rounds)
        held = objective(lab.evaluate(qc, params, "dev"), parts[i])[0]
        scores.append(held)
        fitted.append(params)
        if log:
            log(f"fold {i}: held-out {held:.4f}; {params.brief()}")
    return sum(scores) / k, fitted


# -- the recipe and its ablations -----------------------------------------------------------

# Query analysis of the recipe (chosen on dev, see the report) and the starting point of
# its fit; RECIPE is what ``fit`` found on the whole dev split from there.
RECIPE_QC = QueryConfig(words="pyvi", bigrams="across", qwords="drop", dedupe=True)
START = Params(
    w=(("syl", 1.0), ("fsyl", 0.35), ("word", 1.0), ("big", 1.0), ("tsyl", 1.0), ("tword", 0.0), ("tbig", 0.5)),
    k1=(("syl", 0.6), ("word", 1.2), ("big", 1.2), ("title", 1.2), ("prox", 1.2)),
    rule="tiered",
    short=99,
)
# What ``ranking_lab.py fit`` found from START on the whole dev split (score 1.0072; its
# 5-fold cross-validation held out 1.0044, folds 0.9998-1.0085).
RECIPE = Params(
    w=(("syl", 1.0), ("fsyl", 0.5), ("word", 0.5), ("big", 1.0), ("tsyl", 0.1), ("tword", 0.0), ("tbig", 0.5)),
    k1=(("syl", 0.6), ("word", 0.9), ("big", 0.6), ("title", 1.2), ("prox", 1.2)),
    b=(("syl", 0.5), ("word", 0.75), ("big", 0.9), ("title", 0.75), ("prox", 0.75)),
    rule="tiered",
    short=99,
)
FIT_GRID = dict(GRID)
FIT_GRID[("short", None)] = (5, 8, 99)

# The engine as it ranks today, modelled here (searcher/query.py, ranking.py): words from the
# index vocabulary, bigrams not across punctuation, weights 1 / 0.35 / 0.6 / 0.6 / 0.3,
# K1 0.9, B 0.75, AND up to 5 syllables, else a 30 % quorum (text only; the title is
# optional evidence). Whoosh's quantized lengths are not modelled.
ENGINE_QC = QueryConfig(words="vocab", bigrams="within", qwords="drop_syl", dedupe=True)
ENGINE = Params(
    w=(("syl", 1.0), ("fsyl", 0.35), ("word", 0.6), ("big", 0.6), ("tsyl", 0.3), ("tword", 0.0), ("tbig", 0.0)),
    k1=(("syl", 0.9), ("word", 0.9), ("big", 0.9), ("title", 0.9), ("prox", 0.9)),
    rule="engine",
    short=5,
)


def ablations(recipe: Params, qc: QueryConfig) -> dict[str, tuple[QueryConfig, Params]]:
    """The recipe with one part changed at a time (not refitted)."""
    r = recipe
    out = {
        "recipe": (qc, r),
        "rule: OR (no tier)": (qc, replace(r, rule="or")),
        "rule: tier only ≤ 5 syllables": (qc, replace(r, rule="tiered", short=5)),
        "rule: tier on the text only (title not counted)": (qc, replace(r, rule="tiered_text")),
        "rule: AND when it finds something, else OR": (qc, replace(r, rule="and_relax", short=5)),
        "rule: engine's (AND ≤ 5 of the text, else 30 % quorum)": (qc, replace(r, rule="engine", short=5)),
        "rule: engine's, the title counting for AND": (qc, replace(r, rule="engine_title", short=5)),
        "rule: 30 % quorum for every query": (qc, replace(r, rule="quorum")),
        "no title evidence": (qc, r.set("w", "tsyl", 0.0).set("w", "tbig", 0.0).set("w", "tword", 0.0)),
        "no words": (qc, r.set("w", "word", 0.0)),
        "words: index vocabulary n-grams (no CRF)": (replace(qc, words="vocab"), r),
        "words: longest match in the index vocabulary": (replace(qc, words="greedy"), r),
        "no bigrams": (qc, r.set("w", "big", 0.0).set("w", "tbig", 0.0)),
        "bigrams stop at punctuation": (replace(qc, bigrams="within"), r),
        "no folded (any-accent) evidence for accented queries": (qc, r.set("w", "fsyl", 0.0)),
        "no proximity": (qc, replace(r, prox=0.0)),
        "proximity BM25TP, weight 1": (qc, replace(r, prox=1.0)),
        "proximity, idf-weighted pairs, weight 0.3": (replace(qc, prox_idf=True), replace(r, prox=0.3)),
        "question words kept": (replace(qc, qwords="keep"), r),
        "question words out of the syllables only": (replace(qc, qwords="drop_syl"), r),
        "repeated query terms count each time": (replace(qc, dedupe=False), r),
        "BM25 k1 1.2 b 0.75 everywhere": (qc, replace(r, k1=tuple((g, 1.2) for g in GROUPS), b=tuple((g, 0.75) for g in GROUPS))),
        "BM25 k1 0.9 b 0.75 everywhere (the engine's)": (qc, replace(r, k1=tuple((g, 0.9) for g in GROUPS), b=tuple((g, 0.75) for g in GROUPS))),
        "engine today, modelled": (ENGINE_QC, ENGINE),
    }
    return out


def fit_recipe(lab: Lab) -> None:
    """Fit from START on the whole dev split, then 5-fold cross-validation of that fit."""
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    qc = RECIPE_QC
    recipe, score = fit(lab, qc, START, None, FIT_GRID, log=log)
    print(f"## fitted on dev (score {score:.4f})\n\n{recipe.brief()}\n{qc}\n")
    held, fitted = cross_validate(lab, qc, START, 5, FIT_GRID, log=log)
    print(f"## 5-fold cross-validation on dev: held-out score {held:.4f} (floor 1)\n")
    for i, p in enumerate(fitted):
        print(f"- fold {i}: {p.brief()}")


def report(lab: Lab) -> None:
    """RECIPE and its ablations beside the floor, dev and test."""
    qc = RECIPE_QC
    print(f"## recipe\n\n{RECIPE.brief()}\n{qc}\n")
    variants = ablations(RECIPE, qc)
    for split in T.SPLITS:
        res = {}
        for name, (q, p) in variants.items():
            print(f"({split}: {name})", file=sys.stderr, flush=True)
            res[name] = lab.evaluate(q, p, split)
            if q != qc:
                lab.forget(q)  # memory: every configuration holds every posting of its queries
        print(f"## {split}: primary metric per cell (nDCG@10 for title/topic, MRR@10 elsewhere)\n")
        print(table(res))
        print()
        print(f"### {split}: the recipe and the floor, every metric\n")
        print("| task | variant | n | " + " | ".join(f"{k} recipe | floor" for k in T.METRICS) + " |")
        print("|---|---|--:|" + "--:|--:|" * len(T.METRICS))
        for c in res["recipe"]:
            mr, mf, n = means({c: res["recipe"][c]})[c]
            print(f"| {c[0]} | {c[1]} | {n} | " + " | ".join(f"{mr[k]:.3f} | {mf[k]:.3f}" for k in T.METRICS) + " |")
        print(flush=True)
        lab.forget(qc)


def misses(lab: Lab, recipe: Params, qc: QueryConfig, limit: int = 60) -> None:
    """The recipe's dev question misses (answer not first), classified."""
    docs = lab.collection.by_id()
    c = lab.cell("question", "as written", "dev", qc)
    runs = c.run(recipe)
    kinds: dict[str, int] = {}
    shown = 0
    for q, run in zip(c.queries, runs):
        rel = next(iter(q.relevant))
        if run and run[0] == rel:
            continue
        a = lab.analyzed[(q.id, "as written")]
        asked = question_positions(a.sc)
        content = {s for i, s in enumerate(a.sc) if i not in asked}
        body = set(lab.analyses(docs[rel].text).sc) | set(lab.analyses(docs[rel].title).sc)
        overlap = len(content & body) / max(len(content), 1)
        top = docs[run[0]] if run else None
        if top is None:
            kind = "no hit"
        elif top.article == docs[rel].article:
            kind = "sibling paragraph of the same article"
        elif top.source != "xquad":
            kind = "an unrelated news paragraph (common words)"
        else:
            kind = "a paragraph of another article"
        if overlap < 0.5:
            kind += ", low overlap (paraphrase)"
        kinds[kind] = kinds.get(kind, 0) + 1
        if shown < limit:
            shown += 1
            rank = run.index(rel) + 1 if rel in run else None
            print(f"- [{kind}; rank {rank}; overlap {overlap:.2f}] {q.text}")
            print(f"  - answer: {docs[rel].text[:160]}…")
            if top is not None:
                print(f"  - first: ({top.title}) {top.text[:160]}…")
    print()
    for k, n in sorted(kinds.items(), key=lambda x: -x[1]):
        print(f"- {k}: {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("report", "fit", "misses", "floor"))
    args = parser.parse_args()
    lab = Lab()
    if args.what == "floor":
        print(table({"default": lab.evaluate(QueryConfig(), Params(), "dev")}))
    elif args.what == "report":
        report(lab)
    elif args.what == "fit":
        fit_recipe(lab)
    elif args.what == "misses":
        misses(lab, RECIPE, RECIPE_QC)


if __name__ == "__main__":
    main()
