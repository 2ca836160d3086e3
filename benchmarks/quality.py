"""Retrieval quality: question → paragraph, the engine against plain syllable BM25.

Indexes a passages file (JSON Lines ``id``, ``title``, ``text``) with the project's own
code (one article of one paragraph per passage), runs every question through
``Index.search`` and prints MRR@10, Hit@1 and Hit@10 against the qrels, for three
variants of the questions: as written, accents stripped, tone placement swapped
(``hòa`` ↔ ``hoà``). In the same run a plain syllable-BM25 baseline (a Whoosh index of
lowercased ``\\w+`` syllables, default BM25F, the question's syllables OR-ed; accent-folded
on both sides for the accentless variant) answers the same questions, and the ratio
engine/baseline is printed per variant.

    python benchmarks/quality.py                      # xquad_vi, the engine as it is
    python benchmarks/quality.py --limit-queries 200  # a quick look
    python benchmarks/quality.py --experiments        # also the ablations (query rule,
                                                      # evidence, weights, BM25 K1/B)
    python benchmarks/quality.py --passages P --queries Q --qrels R [--distractors D]

The default run measures the engine unmodified; only ``--experiments`` patches it
(query construction, weights, BM25 parameters) from here, never in ``searcher/``.
See benchmarks/QUALITY.md for the figures and what they recommend.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.collectors import TopCollector
from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer
from whoosh.fields import ID, TEXT, Schema
from whoosh.scoring import BM25F

import searcher.query as sq
from searcher.corpus import Article, content_hash
from searcher.errors import SearcherError
from searcher import ranking
from searcher.store import Index
from searcher.text import fold_accents, nfc

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "xquad_vi"
if not DATA.is_dir():  # a clone elsewhere: fall back to the shared folder of the workplace
    DATA = Path("/work/shared/data/xquad_vi")
K = 10  # MRR@K, Hit@K


# -- data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Question:
    id: str
    text: str


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_passages(path: Path) -> list[Passage]:
    return [Passage(str(r["id"]), r.get("title") or "", r["text"]) for r in read_jsonl(path)]


def load_questions(path: Path) -> list[Question]:
    rows = read_jsonl(path)
    return [Question(str(r["id"]), r.get("text") or r.get("query") or "") for r in rows]


def load_qrels(path: Path) -> dict[str, set[str]]:
    """query id → relevant passage ids (TREC-style ``qid<TAB>pid<TAB>grade``; grade > 0)."""
    qrels: dict[str, set[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or (len(parts) >= 3 and parts[-1].lstrip("-").isdigit() and int(parts[-1]) <= 0):
                continue
            qid, pid = (parts[0], parts[2]) if len(parts) == 4 else (parts[0], parts[1])
            qrels.setdefault(qid, set()).add(pid)
    return qrels


# -- question variants ------------------------------------------------------------------

_D_TABLE = str.maketrans({"đ": "d", "Đ": "D", "Ð": "D", "ð": "d"})


def strip_accents(text: str) -> str:
    """Every diacritic removed and đ → d, case kept (``Đà Nẵng`` → ``Da Nang``)."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D_TABLE))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


_TONES = "\u0300\u0301\u0303\u0309\u0323"
_VOWELS = "aeiouy"
_SWAP_PAIRS = ("oa", "oe", "uy")


def _swap_syllable(syllable: str) -> str:
    letters: list[list[str]] = []  # [base, marks...] per letter
    for ch in unicodedata.normalize("NFD", syllable):
        if unicodedata.combining(ch) and letters:
            letters[-1].append(ch)
        else:
            letters.append([ch])
    bases = "".join(letter[0] for letter in letters).lower()
    first = next((i for i, b in enumerate(bases) if b in _VOWELS), None)
    if first is None:
        return syllable
    if first == 1 and bases[0] == "q" and bases[1] == "u":  # qu- is a consonant: quý, quỳ
        return syllable
    last = first
    while last + 1 < len(bases) and bases[last + 1] in _VOWELS:
        last += 1
    # Only an open syllable whose nucleus is exactly oa / oe / uy, no quality marks.
    if last != len(bases) - 1 or last - first != 1 or bases[first : last + 1] not in _SWAP_PAIRS:
        return syllable
    a, b = letters[first], letters[last]
    marks = a[1:] + b[1:]
    tones = [m for m in marks if m in _TONES]
    if len(tones) != 1 or len(marks) != 1:
        return syllable
    if a[1:]:
        letters[first], letters[last] = [a[0]], [b[0], tones[0]]
    else:
        letters[first], letters[last] = [a[0], tones[0]], [b[0]]
    return unicodedata.normalize("NFC", "".join("".join(letter) for letter in letters))


_WORD_RE = re.compile(r"[^\W\d_]+")


def swap_tones(text: str) -> str:
    """Tone mark moved to the other vowel of open oa/oe/uy syllables: hòa↔hoà, thủy↔thuỷ."""
    return _WORD_RE.sub(lambda m: _swap_syllable(m.group(0)), nfc(text))


VARIANTS: dict[str, Callable[[str], str]] = {
    "as written": lambda t: t,
    "accents stripped": strip_accents,
    "tone swapped": swap_tones,
}


# -- metrics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    mrr: float
    hit1: float
    hitk: float
    empty: int  # questions that got no hit at all
    n: int


def score_runs(runs: Sequence[Sequence[str]], relevant: Sequence[set[str]]) -> Scores:
    rr = hit1 = hitk = empty = 0
    for ranked, rel in zip(runs, relevant):
        if not ranked:
            empty += 1
        for rank, pid in enumerate(ranked[:K], start=1):
            if pid in rel:
                rr += 1 / rank
                hit1 += rank == 1
                hitk += 1
                break
    n = max(len(runs), 1)
    return Scores(rr / n, hit1 / n, hitk / n, empty, len(runs))


# -- the engine -------------------------------------------------------------------------


def build_engine_index(passages: Sequence[Passage], folder: Path) -> Index:
    articles = [
        Article(
            id=p.id,
            title=nfc(p.title),
            paragraphs=(nfc(p.text),),
            hash=content_hash((p.title + "\n" + p.text).encode("utf-8")),
        )
        for p in passages
    ]
    index = Index.create(folder)
    index.add_articles(articles)
    return index


def run_engine(index: Index, questions: Sequence[str]) -> list[list[str]]:
    runs = []
    for text in questions:
        try:
            results = index.search(text, limit=K)
        except SearcherError:  # nothing searchable in the question
            runs.append([])
            continue
        runs.append([hit.article for hit in results.hits])
    return runs


def run_engine_direct(index: Index, questions: Sequence[str]) -> list[list[str]]:
    """``Index.search``'s ranking with one searcher kept open, no hit count, no
    highlighting and no pruning (``TopCollector`` without block-quality skipping or
    matcher replacement): what the ablations use to run many configurations.

    Without pruning, Whoosh's ArrayUnionMatcher bug (see ``Config.or_fix``) cannot drop
    documents, so this ranks as the engine would with that bug fixed."""
    runs = []
    with index.searcher() as s:
        reader = s.reader()
        for text in questions:
            try:
                compiled = sq.compile_query(text, reader)
            except SearcherError:
                runs.append([])
                continue
            collector = TopCollector(limit=K, usequality=False)
            collector.replace = 0
            s.search_with_collector(compiled.query, collector)
            runs.append([hit["article"] for hit in collector.results()])
    return runs


class FastRanker:
    """Whoosh's own ranking, computed fast for the ablations.

    Each term's BM25F score in each document comes from Whoosh's scorer (once per term,
    cached); the query tree is then evaluated over those scores as Whoosh's matchers do
    (Or and And add, AndMaybe adds the optional part where the required part matches,
    boosts multiply, a quorum keeps documents on enough clauses; ties go to the lower
    document number); phrases are scored by Whoosh and cached. Other nodes (exclusions)
    fall back to Whoosh for that question. It neither prunes nor collapses identical
    paragraphs. ``check_fast_ranker`` compares it with Whoosh on real questions.
    """

    class Unsupported(Exception):
        pass

    def __init__(self, index: Index):
        self.index = index
        self.searcher = index.searcher()  # whatever weighting Index.searcher gives now
        self.articles = [self.searcher.stored_fields(d)["article"] for d in range(self.searcher.doc_count_all())]
        self._cache: dict[tuple[str, str], dict[int, float]] = {}
        self.fallbacks = 0

    def close(self):
        self.searcher.close()

    def _term(self, q: wq.Term) -> dict[int, float]:
        key = (q.fieldname, q.text)
        scores = self._cache.get(key)
        if scores is None:
            scores = {}
            m = wq.Term(q.fieldname, q.text).matcher(self.searcher)
            while m.is_active():
                scores[m.id()] = m.score()
                m.next()
            self._cache[key] = scores
        return scores

    def _eval(self, q) -> dict[int, float]:
        if q is wq.NullQuery:
            return {}
        if type(q) is wq.Term:
            if q.boost == 1.0:
                return self._term(q)
            key = (q.fieldname, q.text, q.boost)
            scores = self._cache.get(key)
            if scores is None:
                scores = self._cache[key] = {d: s * q.boost for d, s in self._term(q).items()}
            return scores
        if isinstance(q, Quorum) or type(q).__name__ == "Quorum":  # ours or searcher.ranking's
            parts = [self._eval(sub) for sub in q.subqueries]
            k, total = min(q.minimum, len(parts)), getattr(q, "total", len(parts))
            counts: dict[int, int] = {}
            sums: dict[int, float] = {}
            for p in parts:
                for d, s in p.items():
                    counts[d] = counts.get(d, 0) + 1
                    sums[d] = sums.get(d, 0.0) + s
            out = {}
            for d, c in counts.items():
                if c >= k:
                    coord = getattr(q, "coord", 0.0)
                    out[d] = sums[d] * q.boost * ((c / total) ** coord if coord else 1.0)
            return out
        if isinstance(q, wq.Or) or type(q) is wq.And:
            parts = [self._eval(sub) for sub in q.subqueries]
            out: dict[int, float] = {}
            if isinstance(q, wq.Or):
                for p in parts:
                    for d, s in p.items():
                        out[d] = out.get(d, 0.0) + s
            else:
                docs = set(parts[0]).intersection(*parts[1:]) if parts else set()
                out = {d: sum(p[d] for p in parts) for d in docs}
            return {d: s * q.boost for d, s in out.items()} if q.boost != 1.0 else out
        if type(q) is wq.AndMaybe:
            a, b = self._eval(q.a), self._eval(q.b)
            return {d: s + b.get(d, 0.0) for d, s in a.items()}
        if isinstance(q, wq.Phrase):  # leaves with positions: Whoosh scores them
            key = ("span", repr(q.with_boost(1.0)))
            scores = self._cache.get(key)
            if scores is None:
                scores = {}
                m = q.with_boost(1.0).matcher(self.searcher)
                while m.is_active():
                    scores[m.id()] = m.score()
                    m.next()
                self._cache[key] = scores
            return {d: s * q.boost for d, s in scores.items()}
        raise self.Unsupported(type(q).__name__)

    def rank(self, text: str) -> list[str]:
        try:
            compiled = sq.compile_query(text, self.searcher.reader())
        except SearcherError:
            return []
        try:
            scores = self._eval(compiled.query)
        except self.Unsupported:
            self.fallbacks += 1
            collector = TopCollector(limit=K, usequality=False)
            collector.replace = 0
            self.searcher.search_with_collector(compiled.query, collector)
            return [hit["article"] for hit in collector.results()]
        top = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:K]
        return [self.articles[d] for d, _ in top]

    def run(self, questions: Sequence[str]) -> list[list[str]]:
        return [self.rank(text) for text in questions]


# -- the baseline: plain syllable BM25 --------------------------------------------------

_SYLLABLE = re.compile(r"\w+")


class _FoldFilter(Filter):
    def __call__(self, tokens):
        for t in tokens:
            t.text = strip_accents(t.text)
            yield t


def _baseline_analyzer(folded: bool):
    analyzer = RegexTokenizer(_SYLLABLE) | LowercaseFilter()
    return analyzer | _FoldFilter() if folded else analyzer


class Baseline:
    """What an untuned engine does: syllables, BM25, the question's syllables OR-ed."""

    def __init__(self, passages: Sequence[Passage], folder: Path):
        schema = Schema(
            pid=ID(stored=True),
            syl=TEXT(analyzer=_baseline_analyzer(False)),
            fold=TEXT(analyzer=_baseline_analyzer(True)),
        )
        self.ix = whoosh_index.create_in(str(folder), schema)
        writer = self.ix.writer()
        for p in passages:
            text = nfc(p.text)
            writer.add_document(pid=p.id, syl=text, fold=text)
        writer.commit()

    def run(self, questions: Sequence[str], folded: bool) -> list[list[str]]:
        fieldname = "fold" if folded else "syl"
        runs = []
        with self.ix.searcher(weighting=BM25F()) as s:
            for text in questions:
                terms = [m.group(0).lower() for m in _SYLLABLE.finditer(nfc(text))]
                if folded:
                    terms = [strip_accents(t) for t in terms]
                if not terms:
                    runs.append([])
                    continue
                hits = s.search(wq.Or([wq.Term(fieldname, t) for t in terms]), limit=K)
                runs.append([hit["pid"] for hit in hits])
        return runs


# -- experiments: the engine patched from outside ---------------------------------------


class QuorumMatcher(ranking.QuorumMatcher):
    """searcher's quorum matcher, with an optional coordination factor for the ablations:
    scores times ``(matched / total) ** coord`` (coord ≤ 1 only lowers them, so the upper
    bound the pruning relies on still holds)."""

    def __init__(self, children, minmatch: int, total: int, coord: float = 0.0, boost: float = 1.0):
        super().__init__(children, minmatch, boost)
        self._total = max(1, total)
        self._coord = coord

    def score(self):
        s = super().score()
        if self._coord:
            s *= (len(self._here) / self._total) ** self._coord
        return s

    def copy(self):
        return QuorumMatcher([c.copy() for c in self._all], self._minimum, self._total, self._coord, self._boost)


def quorum_size(clauses: int, fraction: float, min_count: int = 1) -> int:
    """How many of ``clauses`` must match: ``ceil(fraction * clauses)``, at least
    ``min_count`` (and 1), at most all of them."""
    return min(clauses, max(1, min_count, math.ceil(fraction * clauses - 1e-9)))


class Quorum(wq.CompoundQuery):
    """Documents matched by at least ``minimum`` of the subqueries; scores added (times
    ``(matched / total) ** coord``). ``minimum`` is decided when the query is built, from
    the whole index's vocabulary: per segment it would vary with what each one holds."""

    JOINT = " , "

    def __init__(self, subqueries, boost=1.0, minimum=1, total=1, coord=0.0):
        super().__init__(subqueries, boost=boost)
        self.minimum = max(1, minimum)
        self.total = max(1, total)
        self.coord = coord

    def __unicode__(self):
        return f"QUORUM({self.minimum} of: {', '.join(str(q) for q in self.subqueries)})"

    __str__ = __unicode__

    def normalize(self):
        return self  # keeps ``minimum`` meaning "of these clauses"

    def _matcher(self, subs, searcher, context):
        ms = [q.matcher(searcher, context) for q in subs]
        return QuorumMatcher(ms, min(self.minimum, len(ms)), self.total, self.coord, self.boost)


class LuceneIdfBM25F(BM25F):
    """BM25F with the IDF of Lucene/Elasticsearch and of the BM25 literature,
    ``log(1 + (N - n + 0.5) / (n + 0.5))``: near 0 for a syllable in every paragraph.
    Whoosh's ``log(N / (n + 1)) + 1`` never goes below 1, so the function syllables that
    make up much of a Vietnamese question (của, là, có, được, người, năm…) keep a weight
    of 1-2 against 5-6 for the rare syllable that identifies the paragraph."""

    def __init__(self, B=0.75, K1=1.2, field_K1=None, **kwargs):
        super().__init__(B=B, K1=K1, **kwargs)
        self.field_K1 = field_K1 or {}

    def idf(self, searcher, fieldname, text):
        parent = searcher.get_parent()
        n = parent.doc_frequency(fieldname, text)
        total = parent.doc_count_all()
        return math.log(1 + (total - n + 0.5) / (n + 0.5))

    def scorer(self, searcher, fieldname, text, qf=1):
        if fieldname not in self.field_K1:
            return super().scorer(searcher, fieldname, text, qf)
        from whoosh.scoring import BM25FScorer

        B = self._field_B.get(fieldname, self.B)
        return BM25FScorer(searcher, fieldname, text, B, self.field_K1[fieldname], qf=qf)


@dataclass(frozen=True)
class Config:
    """One way to build and score queries. ``rule``: ``and`` (every syllable), ``or``, or
    ``quorum`` (``max(min_count, ceil(fraction * n))`` of the n distinct syllables the index
    knows) for plain-word runs of at least ``min_relax`` distinct syllables; shorter runs
    stay AND. The other fields switch evidence and question-word handling on and off."""

    name: str
    rule: str = "and"
    fraction: float = 0.0
    coord: float = 0.0
    min_relax: int = 4  # plain-word runs of fewer distinct syllables need them all
    questions_relax: bool = False  # ... unless they hold a question word
    fallback: bool = False  # a question the rule finds nothing for is asked again, relaxed
    known_only: bool = True
    min_count: int = 1  # the quorum is never below this many syllables
    pool: bool = False  # one rule over all plain-word runs of a conjunction (split by "phrases")
    word_min: int = 1  # word evidence only for words of at least this many syllables
    word_source: str = "vocab"  # "vocab": every known n-gram of the query; "pyvi": segment it
    dedupe: bool = False  # a syllable repeated in the question counts once
    drop_question_words: bool = False  # ai, gì, nào, đâu, bao nhiêu… left to rank only
    words: bool = True
    bigrams: bool = True
    folded: bool = True  # accented queries also match accent-folded syllables
    title: bool = True
    weights: dict = field(default_factory=dict)  # W_* overrides
    # Whoosh picks ArrayUnionMatcher for an Or of > 2 clauses on indexes < 5,000 documents;
    # its max_quality() is wrong (0 once preloaded), so TopCollector's pruning drops
    # documents. True: every Or built as a tree of UnionMatchers (Or.DEFAULT_MATCHER).
    or_fix: bool = False
    bm25: dict = field(default_factory=dict)  # K1, B (and field_B) for BM25F
    idf: str = "whoosh"  # "whoosh": log(N/(n+1)) + 1; "lucene": log(1 + (N-n+0.5)/(n+0.5))


# Vietnamese interrogatives: in a question they say what is asked, not what the answer
# paragraph contains. Matched on the accented form; an accentless query drops only the
# two-syllable ones, since "may", "dau", "nao", "gi" fold together with content words
# (máy, đầu, não, ...).
QUESTION_WORDS = {
    ("ai",), ("gì",), ("nào",), ("đâu",), ("mấy",),
    ("bao", "nhiêu"), ("bao", "giờ"), ("bao", "lâu"), ("thế", "nào"), ("tại", "sao"), ("vì", "sao"),
}
_FOLDED_QUESTION_WORDS = {tuple(fold_accents(p) for p in w) for w in QUESTION_WORDS if len(w) > 1}


def question_word_positions(forms: Sequence[str], accentless: bool) -> set[int]:
    """Indexes of the syllables of ``forms`` (canonical, or folded if ``accentless``) that
    belong to a question word."""
    words = _FOLDED_QUESTION_WORDS if accentless else QUESTION_WORDS
    found = set()
    for i, f in enumerate(forms):
        if (f,) in words:
            found.add(i)
        if i + 1 < len(forms) and (f, forms[i + 1]) in words:
            found.update((i, i + 1))
    return found


def _make_compiler(cfg: Config):
    base = sq.Compiler

    class ExperimentCompiler(base):
        def _syllable(self, raw, canon, folded, fields=("syl", "fold")):
            q = super()._syllable(raw, canon, folded, fields)
            if not cfg.folded and isinstance(q, wq.Or):
                return q.subqueries[0]
            return q

        def _words(self, canon, folded):
            keep = []
            extra = super()._words(canon, folded) if cfg.word_source == "vocab" else self._pyvi_words(canon, folded)
            for q in extra:
                if q.fieldname == "word" and not cfg.words:
                    continue
                if q.fieldname == "big" and not cfg.bigrams:
                    continue
                keep.append(q)
            return keep

        def _pyvi_words(self, canon, folded):
            """Word evidence from segmenting the query with pyvi (words of >= 2 syllables)
            instead of every known n-gram; bigrams as usual."""
            from searcher.segment import segmenter

            forms = folded if self.accentless else canon
            text = " ".join(self._raw)
            starts, pos = [], 0
            for syl in self._raw:
                starts.append(pos)
                pos += len(syl) + 1
            extra = []
            for wstart, wend in segmenter().spans(text):
                i = starts.index(wstart) if wstart in starts else None
                if i is None:
                    continue
                j = i
                while j < len(starts) and starts[j] < wend:
                    j += 1
                if j - i >= 2:
                    word, fword = "_".join(canon[i:j]), "_".join(folded[i:j])
                    if self.accentless:
                        known = self._has_variants("word", fword)
                    else:
                        known = self._known("word", sq.variant_term(fword, word))
                    if known:
                        extra.append(self._unit("word", word, fword, sq.W_WORD))
            for i in range(1, len(forms)):
                extra.append(self._unit("big", f"{canon[i - 1]}_{canon[i]}", f"{folded[i - 1]}_{folded[i]}", sq.W_BIGRAM))
            return extra

        def terms(self, syllables, title=False):
            self._raw = list(syllables)
            return super().terms(syllables, title)

        def _relaxed(self, nodes) -> tuple[wq.Query, list[wq.Query]]:
            """The plain-word runs ``nodes`` of one conjunction, under ``cfg.rule``."""
            clauses, optional, syllables = [], [], []
            for node in nodes:
                self._raw = list(node.syllables)
                required, extra = base.terms(self, node.syllables)
                clauses.extend(required.subqueries if isinstance(required, wq.And) else [required])
                optional.extend(extra)
                syllables.extend(node.syllables)
            if not cfg.title:
                optional = [q for q in optional if q.fieldname not in ("tsyl", "tfold")]
            if cfg.word_min > 1:
                optional = [
                    q
                    for q in optional
                    if q.fieldname != "word" or q.text.split(sq.VARIANT_SEP)[0].count("_") + 1 >= cfg.word_min
                ]
            canon, folded = self.forms(syllables)
            n = len(set(canon))
            known_clauses = [
                c
                for c, syl, f in zip(clauses, canon, folded)
                if self._known("fold", f) and (self.accentless or cfg.folded or self._known("syl", syl))
            ]
            if hasattr(base, "_question_words"):  # the engine's own list and rules, when it has them
                asked = base._question_words(self, folded if self.accentless else canon)
            else:
                asked = question_word_positions(folded if self.accentless else canon, self.accentless)
            short = n < cfg.min_relax and not (cfg.questions_relax and asked)
            if cfg.drop_question_words and not short:
                drop = asked
                clauses = [c for i, c in enumerate(clauses) if i not in drop] or clauses
            if cfg.dedupe:
                seen, unique = set(), []
                for c in clauses:
                    if c not in seen:
                        seen.add(c)
                        unique.append(c)
                clauses = unique
            if cfg.rule == "and" or short:
                query = clauses[0] if len(clauses) == 1 else wq.And(clauses)
            elif cfg.rule == "or":
                query = wq.Or(clauses)
            elif cfg.rule == "quorum":
                # Clauses whose syllable is in the index (any accents): what the quorum counts.
                if cfg.known_only:
                    total = sum(1 for c in clauses if c in known_clauses)
                else:
                    total = len(clauses)
                minimum = quorum_size(max(total, 1), cfg.fraction, cfg.min_count)
                query = Quorum(clauses, minimum=minimum, total=max(total, 1), coord=cfg.coord)
            else:
                raise ValueError(cfg.rule)
            return query, optional

        def plain_words(self, runs):
            if cfg.pool:
                return self._relaxed(runs)
            required, optional = [], []
            for run in runs:
                q, extra = self._relaxed([run])
                required.append(q)
                optional.extend(extra)
            return (required[0] if len(required) == 1 else wq.And(required)), optional

        def build(self, node, negated=False):
            # Plain-word runs are this class's; everything else is the engine's.
            if negated:
                return super().build(node, negated)
            if isinstance(node, sq.Terms):
                return self.plain_words([node])
            if isinstance(node, sq.AllOf):
                runs = [n for n in node.nodes if isinstance(n, sq.Terms)]
                required, optional = [], []
                if runs:
                    q, extra = self.plain_words(runs)
                    required.append(q)
                    optional.extend(extra)
                for child in node.nodes:
                    if not isinstance(child, sq.Terms):
                        q, extra = self.build(child)
                        required.append(q)
                        optional.extend(extra)
                return (required[0] if len(required) == 1 else wq.And(required)), optional
            return super().build(node, negated)

    return ExperimentCompiler


@contextlib.contextmanager
def patched(cfg: Config):
    """The engine with ``cfg``'s query rule, weights and BM25 parameters, for this block."""
    saved_weights = {name: getattr(sq, name) for name in cfg.weights}
    saved_compiler = sq.Compiler
    saved_searcher = Index.searcher
    saved_matcher_type = wq.Or.matcher_type
    try:
        if cfg.or_fix:
            wq.Or.matcher_type = wq.Or.DEFAULT_MATCHER
        for name, value in cfg.weights.items():
            setattr(sq, name, value)
        sq.Compiler = _make_compiler(cfg)  # compile_query looks the class up at call time
        weighting = {"whoosh": BM25F, "lucene": LuceneIdfBM25F}[cfg.idf]
        Index.searcher = lambda self: self._ix.searcher(weighting=weighting(**cfg.bm25))
        yield
    finally:
        for name, value in saved_weights.items():
            setattr(sq, name, value)
        sq.Compiler = saved_compiler
        Index.searcher = saved_searcher
        wq.Or.matcher_type = saved_matcher_type


# The rule benchmarks/QUALITY.md recommends for searcher/query.py and store.py.
RECOMMENDED = Config(
    "recommended",
    rule="quorum",
    fraction=0.3,
    min_count=2,
    min_relax=3,
    pool=True,
    dedupe=True,
    drop_question_words=True,
    idf="lucene",
    bm25=dict(K1=0.9, B=0.75),
)


def _rec(name: str, **changes) -> Config:
    return replace(RECOMMENDED, name=name, **changes)


# The engine's own rule, read from searcher.query (db9ac5b on: the recommendation with
# keyword queries of up to SHORT_QUERY syllables and no question word needing every one).
COMMITTED = _rec(
    f"engine's rule: AND up to {getattr(sq, 'SHORT_QUERY', 2)} unless a question word",
    min_relax=getattr(sq, "SHORT_QUERY", 2) + 1,
    questions_relax=True,
    fraction=getattr(sq, "QUORUM", 0.3),
    min_count=getattr(sq, "QUORUM_MIN", 2),
)


def experiment_configs() -> list[tuple[str, list[Config]]]:
    """The ablations, grouped; every group but the first varies the recommended rule."""
    today = dict(idf="whoosh", bm25={}, dedupe=False, drop_question_words=False)
    groups: list[tuple[str, list[Config]]] = []
    groups.append(
        (
            "query rule for plain words (today's evidence, weights and BM25)",
            [
                Config("AND of every syllable (the engine before db9ac5b)"),
                Config("OR, from 4 syllables", rule="or", min_relax=4),
                Config("OR, from 3 syllables, runs pooled", rule="or", min_relax=3, pool=True),
                _rec("quorum 30% (min 2), from 3, pooled", **today),
                _rec("quorum 50% (min 2), from 3, pooled", fraction=0.5, **today),
                _rec("quorum 75% (min 2), from 3, pooled", fraction=0.75, **today),
                _rec("OR x coordination (matched/total)", rule="quorum", fraction=0.0, min_count=1, coord=1.0, **today),
            ],
        )
    )
    groups.append(
        (
            "the recommended rule, built up, then each part taken out",
            [
                _rec("quorum 30% (min 2), from 3, pooled", **today),
                _rec("+ Lucene IDF", dedupe=False, drop_question_words=False, bm25={}),
                _rec("+ question words out of the quorum", dedupe=False, bm25={}),
                _rec("+ each syllable once", bm25={}),
                _rec("+ K1 0.9 (= recommended)"),
                _rec("recommended, Whoosh IDF", idf="whoosh"),
                _rec("recommended, question words kept", drop_question_words=False),
                _rec("recommended, repeated syllables kept", dedupe=False),
                _rec("recommended, K1 1.2", bm25=dict(K1=1.2, B=0.75)),
                _rec("recommended, OR (no quorum)", fraction=0.0, min_count=1),
                _rec("recommended, quorum 50%", fraction=0.5),
                _rec("recommended, quorum without the min of 2", min_count=1),
                _rec("recommended, runs split by phrases not pooled", pool=False),
                _rec("recommended, unknown syllables count in the quorum", known_only=False),
                _rec("recommended, AND up to 3 syllables", min_relax=4),
                _rec("recommended, AND up to 2 unless a question word", questions_relax=True),
                COMMITTED,
                replace(COMMITTED, name="engine's rule, relaxed when AND finds nothing", fallback=True),
            ],
        )
    )
    no_extra = dict(words=False, bigrams=False, folded=False, title=False)
    groups.append(
        (
            "evidence (recommended rule)",
            [
                _rec("syllables only", **no_extra),
                _rec("+ words", **{**no_extra, "words": True}),
                _rec("+ bigrams", **{**no_extra, "bigrams": True}),
                _rec("+ words + bigrams", folded=False, title=False),
                _rec("+ words + bigrams + folded", title=False),
                _rec("+ words + bigrams + folded + title (= recommended)"),
                _rec("all but words", words=False),
                _rec("all but bigrams", bigrams=False),
                _rec("all but folded", folded=False),
                _rec("words: pyvi segmentation of the query", word_source="pyvi"),
                _rec("words: only those of >= 2 syllables", word_min=2),
            ],
        )
    )
    weights = []
    for name, values in (
        ("W_WORD", (0.3, 1.0)),
        ("W_BIGRAM", (0.3, 1.0)),
        ("W_FOLDED", (0.0, 0.6)),
        ("W_TITLE", (0.0, 0.6, 1.0)),
    ):
        for v in values:
            weights.append(_rec(f"{name} = {v}", weights={name: v}))
    groups.append(("weights (recommended rule; now W_WORD 0.6, W_BIGRAM 0.6, W_FOLDED 0.35, W_TITLE 0.3)", weights))
    bm25 = []
    for k1 in (0.6, 0.9, 1.2, 1.6):
        for b in (0.5, 0.75, 0.9):
            bm25.append(_rec(f"K1 = {k1}, B = {b}", bm25=dict(K1=k1, B=b)))
    groups.append(("BM25F K1, B (recommended rule, Lucene IDF)", bm25))
    return groups


# -- running ----------------------------------------------------------------------------


@dataclass
class Bench:
    index: Index
    baseline: Baseline
    questions: list[Question]
    relevant: list[set[str]]
    variants: dict[str, list[str]]  # variant name → question texts

    def engine(self, variant: str) -> tuple[Scores, float]:
        started = time.perf_counter()
        runs = run_engine(self.index, self.variants[variant])
        return score_runs(runs, self.relevant), time.perf_counter() - started

    def base(self, variant: str) -> Scores:
        folded = variant == "accents stripped"
        return score_runs(self.baseline.run(self.variants[variant], folded), self.relevant)


def load_extra_passages(path: Path) -> list[Passage]:
    """Distractor passages: JSON Lines like ``--passages``, or plain text (five lines a passage)."""
    if path.suffix == ".jsonl":
        return [replace(p, id=f"distractor:{p.id}") for p in load_passages(path)]
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        Passage(f"distractor:{path.stem}:{i // 5}", "", " ".join(lines[i : i + 5])) for i in range(0, len(lines), 5)
    ]


def prepare(args, folder: Path) -> Bench:
    passages = load_passages(args.passages)
    for path in args.distractors or ():
        passages += load_extra_passages(path)
    qrels = load_qrels(args.qrels)
    questions = [q for q in load_questions(args.queries) if q.id in qrels and q.text.strip()]
    if args.limit_queries:
        questions = questions[: args.limit_queries]
    started = time.perf_counter()
    index = build_engine_index(passages, folder / "engine")
    (folder / "baseline").mkdir()
    baseline = Baseline(passages, folder / "baseline")
    variants = {name: [fn(q.text) for q in questions] for name, fn in VARIANTS.items()}
    changed = sum(a != b for a, b in zip(variants["as written"], variants["tone swapped"]))
    print(
        f"{len(passages)} passages indexed in {time.perf_counter() - started:.1f} s; {len(questions)} questions "
        f"({changed} changed by the tone swap)",
        flush=True,
    )
    return Bench(index, baseline, questions, [qrels[q.id] for q in questions], variants)


# Worker processes (fork) share the bench built before them.
_BENCH: Bench | None = None


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _engine_variant(variant: str) -> tuple[Scores, float]:
    return _BENCH.engine(variant)


def _pool_map(fn, items: list, jobs: int) -> list:
    """``map`` in ``jobs`` forked worker processes that share ``_BENCH``."""
    if jobs <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(min(jobs, len(items))) as pool:
        return pool.map(fn, items, chunksize=1)


def print_main(bench: Bench, jobs: int) -> dict[str, tuple[Scores, Scores]]:
    global _BENCH
    _BENCH = bench
    out = {}
    engine = dict(zip(VARIANTS, _pool_map(_engine_variant, list(VARIANTS), jobs)))
    for variant in VARIANTS:
        eng, elapsed = engine[variant]
        base = bench.base(variant)
        out[variant] = (eng, base)
        ratio = eng.mrr / base.mrr if base.mrr else float("inf")
        print(f"\n## {variant} ({eng.n} questions; engine {eng.n / elapsed:.0f} queries/s in one process)")
        print(f"{'':10} {'MRR@10':>7} {'Hit@1':>7} {'Hit@10':>7} {'no hit':>7}")
        print(f"{'engine':10} {_fmt(eng.mrr):>7} {_fmt(eng.hit1):>7} {_fmt(eng.hitk):>7} {eng.empty:>7}")
        print(f"{'baseline':10} {_fmt(base.mrr):>7} {_fmt(base.hit1):>7} {_fmt(base.hitk):>7} {base.empty:>7}")
        print(f"{'ratio':10} {ratio:>7.3f}   (engine MRR@10 / baseline MRR@10)", flush=True)
    return out


def print_acceptance(out: dict[str, tuple[Scores, Scores]]) -> bool:
    written = out["as written"][0].mrr
    checks = [
        ("as written MRR@10 >= 0.96", written >= 0.96),
        ("accents stripped MRR@10 >= 0.95", out["accents stripped"][0].mrr >= 0.95),
        ("tone swapped within 0.005 of as written", abs(out["tone swapped"][0].mrr - written) <= 0.005),
    ]
    checks += [(f"{v}: engine >= baseline", e.mrr >= b.mrr) for v, (e, b) in out.items()]
    print("\n## acceptance (issue 4, xquad_vi)")
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return all(ok for _, ok in checks)


EXPERIMENT_VARIANTS = ("as written", "accents stripped")


def _ranked(bench: Bench, cfg: Config, variant: str) -> list[list[str]]:
    """FastRanker's top K for every question of ``variant`` under ``cfg``."""
    with patched(cfg):
        ranker = FastRanker(bench.index)
        try:
            runs = ranker.run(bench.variants[variant])
        finally:
            ranker.close()
    if cfg.fallback:
        relaxed = replace(cfg, min_relax=1, fallback=False)
        empty = [i for i, r in enumerate(runs) if not r]
        if empty:
            with patched(relaxed):
                ranker = FastRanker(bench.index)
                for i in empty:
                    runs[i] = ranker.rank(bench.variants[variant][i])
                ranker.close()
    return runs


def _experiment(cfg: Config) -> list[float]:
    bench = _BENCH
    row: list[float] = []
    for variant in EXPERIMENT_VARIANTS:
        runs = _ranked(bench, cfg, variant)
        s = score_runs(runs, bench.relevant)
        row += [s.mrr, s.hit1, s.hitk]
        if variant == "as written":
            halves = [score_runs(runs[i::2], bench.relevant[i::2]).mrr for i in (0, 1)]
    return row + halves


def check_fast_ranker(bench: Bench, n: int = 150) -> str:
    """Compare FastRanker with Whoosh itself (no pruning) on ``n`` questions."""
    agree = total = 0
    for cfg in (Config("today"), RECOMMENDED, _rec("OR", fraction=0.0, min_count=1)):
        for variant in EXPERIMENT_VARIANTS:
            questions = bench.variants[variant][:n]
            with patched(cfg):
                ranker = FastRanker(bench.index)
                fast = ranker.run(questions)
                ranker.close()
                slow = run_engine_direct(bench.index, questions)
            agree += sum(a == b for a, b in zip(fast, slow))
            total += len(questions)
    return f"FastRanker and Whoosh rank the same top {K} for {agree} of {total} question runs"


def check_committed(bench: Bench, n: int = 300) -> str:
    """Does ``COMMITTED`` (through FastRanker) rank as the engine as it is does?"""
    same = total = 0
    for variant in EXPERIMENT_VARIANTS:
        questions = bench.variants[variant][:n]
        engine = run_engine(bench.index, questions)
        with patched(COMMITTED):
            ranker = FastRanker(bench.index)
            fast = ranker.run(questions)
            ranker.close()
        same += sum(a == b for a, b in zip(engine, fast))
        total += len(questions)
    return f"'{COMMITTED.name}' ranks as the engine as it is for {same} of {total} question runs"


def check_pruning(bench: Bench, n: int = 300) -> list[str]:
    """Rules through ``Index.search`` itself (Whoosh's pruning on), with and without the
    Or fix, against FastRanker (no pruning), on the first ``n`` questions as written."""
    lines = []
    questions = bench.variants["as written"][:n]
    relevant = bench.relevant[:n]
    for base in (_rec("recommended with a plain Or, no quorum", rule="or"), RECOMMENDED):
        with patched(base):
            ranker = FastRanker(bench.index)
            reference = ranker.run(questions)
            ranker.close()
        for fix in (False, True):
            started = time.perf_counter()
            with patched(replace(base, or_fix=fix)):
                runs = run_engine(bench.index, questions)
            elapsed = time.perf_counter() - started
            s = score_runs(runs, relevant)
            same = sum(a == b for a, b in zip(runs, reference))
            label = f"{base.name}, {'Or fix' if fix else 'Whoosh as is'}"
            lines.append(
                f"| {label:52} | {s.mrr:.4f} | {s.hitk:.3f} | {same}/{len(runs)} | {len(runs) / elapsed:.0f} |"
            )
    return lines


def print_experiments(bench: Bench, jobs: int) -> None:
    global _BENCH
    _BENCH = bench
    print(f"\n# ablations (MRR@10 etc.; even/odd: the two halves of the questions, as written)")
    print(check_fast_ranker(bench), flush=True)
    print(check_committed(bench), flush=True)
    groups = experiment_configs()
    configs = [cfg for _, group in groups for cfg in group]
    by_name = iter(zip(configs, _pool_map(_experiment, configs, jobs)))
    head = (
        f"| {'configuration':52} | written MRR | Hit@1 | Hit@10 | stripped MRR | Hit@1 | Hit@10 | even | odd |\n"
        f"|{'-' * 54}|------------:|------:|-------:|-------------:|------:|-------:|-----:|----:|"
    )
    for title, group in groups:
        print(f"\n## {title}\n")
        print(head)
        for _ in group:
            cfg, r = next(by_name)
            print(
                f"| {cfg.name:52} | {r[0]:11.4f} | {r[1]:5.3f} | {r[2]:6.3f} | {r[3]:12.4f} | {r[4]:5.3f} | "
                f"{r[5]:6.3f} | {r[6]:.3f} | {r[7]:.3f} |"
            )
    n = min(300, len(bench.questions))
    print(f"\n## through Index.search (Whoosh's pruning on), first {n} questions as written\n")
    print(f"| {'rule':52} | MRR@10 | Hit@10 | same top {K} as without pruning | queries/s |")
    print(f"|{'-' * 54}|-------:|-------:|------:|------:|")
    for line in check_pruning(bench, n):
        print(line, flush=True)
    with patched(RECOMMENDED):
        ranker = FastRanker(bench.index)
        swapped = score_runs(ranker.run(bench.variants["tone swapped"]), bench.relevant)
        written = score_runs(ranker.run(bench.variants["as written"]), bench.relevant)
        ranker.close()
    print(f"recommended, tone swapped: MRR@10 {swapped.mrr:.4f} (as written {written.mrr:.4f})")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=Path, default=DATA / "passages.jsonl", help="JSON Lines id, title, text")
    parser.add_argument("--queries", type=Path, default=DATA / "queries.jsonl", help="JSON Lines id, text")
    parser.add_argument("--qrels", type=Path, default=DATA / "qrels.tsv", help="query_id TAB passage_id TAB grade")
    parser.add_argument("--limit-queries", type=int, default=0, metavar="N", help="only the first N questions")
    parser.add_argument(
        "--distractors",
        type=Path,
        action="append",
        metavar="FILE",
        help="more passages that answer nothing (JSON Lines, or text: five lines a passage)",
    )
    parser.add_argument("--experiments", action="store_true", help="also run the ablations (a few minutes)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    with tempfile.TemporaryDirectory(prefix="searcher-quality-") as tmp:
        bench = prepare(args, Path(tmp))
        out = print_main(bench, args.jobs)
        if args.qrels.resolve() == (DATA / "qrels.tsv").resolve() and not (args.distractors or args.limit_queries):
            print_acceptance(out)
        if args.experiments:
            print_experiments(bench, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
