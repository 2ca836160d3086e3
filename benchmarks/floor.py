"""The floor: a textbook BM25 recipe for Vietnamese, written independently of searcher.

Pure Python and numpy (and pyvi for the words); no Whoosh, nothing of ``searcher``:

- field A: the lowercased NFC syllables (``\\w+``) of title + " " + text, and every pair of
  adjacent syllables (a bigram) in the same field, so its length counts both;
- field B: the words of pyvi's ``ViTokenizer.tokenize`` (title + " " + text), lowercased
  after segmentation; tokens without a letter or digit (punctuation) are not words;
- the query analyzed the same way (its syllables and bigrams for A, pyvi for B);
- BM25 per field, k1 1.2, b 0.75, IDF ``log(1 + (N - n + 0.5) / (n + 0.5))``; pure OR over
  the query's terms, a term repeated in the query counting each time (as Lucene's
  BooleanQuery of the analyzed tokens does); the two fields' scores added;
- a query typed without accents runs the same recipe on accent-folded text: every
  diacritic removed and đ → d on both sides before anything else (pyvi included).

Ties go to the document listed first. ``python benchmarks/floor.py`` prints its figures on
every task of ``benchmarks/tasks.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import unicodedata
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA  # noqa: E402

K1 = 1.2
B = 0.75
CACHE = DATA / "ranking" / "pyvi-tokenize.json"

_SYLLABLE = re.compile(r"\w+")
_D_TABLE = str.maketrans({"đ": "d", "Đ": "D", "Ð": "D", "ð": "d"})


def fold(text: str) -> str:
    """Diacritics removed, đ → d (NFC in, NFC out)."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D_TABLE))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


class Pyvi:
    """``ViTokenizer.tokenize`` with its results kept on disk (segmentation is the slow part)."""

    def __init__(self, path: Path = CACHE):
        self.path = path
        try:
            self.cache: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.cache = {}
        self.added = 0
        self._tokenize = None

    def __call__(self, text: str) -> str:
        key = hashlib.sha1(text.encode("utf-8")).hexdigest()
        out = self.cache.get(key)
        if out is None:
            if self._tokenize is None:
                from pyvi import ViTokenizer

                self._tokenize = ViTokenizer.tokenize
            out = self.cache[key] = self._tokenize(text)
            self.added += 1
        return out

    def save(self) -> None:
        if self.added:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.cache, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.path)
            self.added = 0


def field_a(text: str) -> list[str]:
    syllables = _SYLLABLE.findall(unicodedata.normalize("NFC", text).lower())
    return syllables + [f"{a} {b}" for a, b in zip(syllables, syllables[1:])]


def field_b(text: str, pyvi: Pyvi) -> list[str]:
    return [t for t in pyvi(unicodedata.normalize("NFC", text)).lower().split() if _SYLLABLE.search(t)]


class _Field:
    """One field's postings: term → (document numbers, frequencies); lengths; BM25."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float, b: float):
        postings: dict[str, dict[int, int]] = {}
        for n, terms in enumerate(docs):
            for t in terms:
                row = postings.setdefault(t, {})
                row[n] = row.get(n, 0) + 1
        self.n = len(docs)
        self.lengths = np.array([len(t) for t in docs], dtype=np.float64)
        avg = self.lengths.mean() if self.n else 1.0
        self.norm = k1 * (1 - b + b * self.lengths / avg)  # K of each document
        self.k1 = k1
        self.postings = {
            t: (np.fromiter(row.keys(), np.int64, len(row)), np.fromiter(row.values(), np.float64, len(row)))
            for t, row in postings.items()
        }

    def idf(self, term: str) -> float:
        n = len(self.postings[term][0]) if term in self.postings else 0
        return math.log(1 + (self.n - n + 0.5) / (n + 0.5))

    def add_scores(self, scores: np.ndarray, terms: Sequence[str]) -> None:
        for t in terms:
            found = self.postings.get(t)
            if found is None:
                continue
            docs, tf = found
            scores[docs] += self.idf(t) * tf * (self.k1 + 1) / (tf + self.norm[docs])


class Floor:
    """The recipe over one list of documents ``(id, title, text)``; ``folded`` for the
    accentless queries."""

    def __init__(self, docs: Sequence[tuple[str, str, str]], folded: bool, pyvi: Pyvi, k1: float = K1, b: float = B):
        self.ids = [d[0] for d in docs]
        self.folded = folded
        self.pyvi = pyvi
        texts = [self._prepare(f"{title} {text}" if title else text) for _, title, text in docs]
        self.a = _Field([field_a(t) for t in texts], k1, b)
        self.b = _Field([field_b(t, pyvi) for t in texts], k1, b)
        pyvi.save()

    def _prepare(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        return fold(text) if self.folded else text

    def scores(self, query: str) -> np.ndarray:
        q = self._prepare(query)
        scores = np.zeros(len(self.ids))
        self.a.add_scores(scores, field_a(q))
        self.b.add_scores(scores, field_b(q, self.pyvi))
        return scores

    def rank(self, query: str, k: int = 10) -> list[str]:
        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in order if scores[i] > 0]


def floors(docs, pyvi: Pyvi | None = None) -> dict[bool, Floor]:
    """The floor on accented text (``False``) and on accent-folded text (``True``)."""
    pyvi = pyvi or Pyvi()
    return {folded: Floor(docs, folded, pyvi) for folded in (False, True)}


def _signature(collection) -> str:
    h = hashlib.sha1(f"{K1} {B}".encode())
    for d in collection.docs:
        h.update(f"{d.id}\t{d.title}\t{d.text}\n".encode())
    for q in collection.queries:
        h.update(f"{q.id}\t{q.text}\n".encode())
    return h.hexdigest()


def floor_runs(collection, cache: Path | None = DATA / "ranking" / "floor-runs.json") -> dict[tuple[str, str], list[str]]:
    """(query id, variant) → the floor's top 10 for every query of ``collection`` (a
    ``tasks.Collection``), kept on disk for the same collection and queries."""
    import tasks as T

    sig = _signature(collection)
    if cache is not None:
        try:
            stored = json.loads(cache.read_text(encoding="utf-8"))
            if stored["signature"] == sig:
                return {tuple(k.split("\x1f")): v for k, v in stored["runs"].items()}
        except (OSError, ValueError, KeyError):
            pass
    pyvi = Pyvi()
    both = {
        untitled: floors([(d.id, d.title, d.text) for d in c.docs], pyvi)
        for untitled, c in ((False, collection), (True, collection.untitled()))
    }
    runs = {}
    for q in collection.queries:
        for v in T.TASK_VARIANTS[q.task]:
            f = both[q.task in T.UNTITLED_TASKS][v in T.ACCENTLESS_VARIANTS]
            runs[(q.id, v)] = f.rank(T.VARIANTS[v](q.text))
    pyvi.save()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        record = {"signature": sig, "runs": {"\x1f".join(k): v for k, v in runs.items()}}
        cache.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return runs


def main() -> None:
    import tasks as T

    c = T.load()
    print(T.describe(c))
    runs = floor_runs(c, cache=None)
    print(f"\n{'task':9} {'variant':20} {'split':5} " + " ".join(f"{m:>8}" for m in T.METRICS))
    for task, variant in T.cells():
        for split in T.SPLITS:
            qs = c.select(task, split)
            m = T.mean_metrics([runs[(q.id, variant)] for q in qs], qs)
            print(f"{task:9} {variant:20} {split:5} " + " ".join(f"{m[k]:8.3f}" for k in T.METRICS))


if __name__ == "__main__":
    main()
