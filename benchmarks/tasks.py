"""Retrieval tasks for the ranking benchmarks: one collection of paragraphs, three kinds of
queries, fixed dev/test splits, query variants and metrics. Standard library only.

    python benchmarks/tasks.py            # sizes of the collection, tasks and splits

**The collection** (built at run time from the shared data beside the repository,
``../shared`` or $SEARCHER_SHARED; nothing is copied into the repository):

- the 240 paragraphs of Vietnamese XQuAD, 48 Wikipedia articles of 5 paragraphs with
  English titles (``data/xquad_vi/``; XQuAD: Artetxe, Ruder, Yogatama 2020, *On the
  Cross-lingual Transferability of Monolingual Representations*, file ``xquad.vi.json`` of
  github.com/google-deepmind/xquad; licence CC BY-SA 4.0);
- the body paragraphs of the five news articles bundled in the repository's ``corpus/``,
  read with searcher's own corpus reader (headline = article title);
- distractors: the 3,323 sentences of UD_Vietnamese-VTB (``data/ud_vtb_ws/*.raw``;
  Universal Dependencies, licence CC BY-SA 4.0), de-tokenized as ``make_corpus.py`` does,
  each used once, grouped with a fixed seed into paragraphs of 1-6 sentences and articles
  of 8-14 paragraphs, each article headed by a title made of the first words of one more
  sentence (kept out of its paragraphs), so that document frequencies behave as in a
  collection of news, not of 240 paragraphs on 48 topics.

A document is one paragraph with its article's title. The derived collection carries
CC BY-SA 4.0 with the attributions above, and lives only in the git-ignored
``benchmarks/data/``.

**Tasks** (every query knows its relevant paragraphs):

- ``question``: XQuAD questions → the one paragraph that answers each;
- ``title``: the title of an XQuAD article or of a bundled news article → every paragraph
  of that article (several relevant: MRR@10, nDCG@10, R-precision). The documents carry
  their title, so the floor finds them all; what it measures is whether an engine lets the
  title stand for the paragraph (an English title's words are rarely in the Vietnamese
  text);
- ``topic``: the same titles against the same paragraphs *without* their titles (the
  known-item search of an article from its headline, by its body alone), only titles with
  a syllable in their article's text;
- ``sentence``: a long sentence pasted out of a paragraph (10-60 syllables; from XQuAD
  paragraphs, from the bundled news and from the UD-VTB paragraphs) → that paragraph;
- ``fragment``: a run of 4-8 consecutive syllables of one paragraph, found in no other
  (what is between them kept: commas, quotes) → that paragraph.

**Splits**, fixed and never tuned on together: ``dev`` and ``test`` by a SHA-1 of the
article (XQuAD questions, sentences and fragments; titles) or of the paragraph (news
sentences and fragments), so no XQuAD article has queries on both sides.

**Variants** of every query: as written, accents stripped (``đ`` → ``d``), tone placement
swapped (``hòa`` ↔ ``hoà`` in open oa/oe/uy syllables); sentences also without
punctuation, and without punctuation and accents.

The engine sees the collection as a ``.jsonl`` corpus (``Collection.write_jsonl``). Its
reader makes the title paragraph 1 of each article; such a headline hit is not a document
of the collection here and is skipped when scoring (``benchmarks/quality.py``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BUNDLED_CORPUS, shared_dir  # noqa: E402
from make_corpus import detokenize, split_sentences  # noqa: E402

K = 10  # every metric is @10
SEED = 20261201
TASKS = ("question", "title", "topic", "sentence", "fragment")
UNTITLED_TASKS = ("topic",)  # run against the collection without titles
SPLITS = ("dev", "test")


# -- the collection ----------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """One paragraph of the collection, with its article's title."""

    id: str
    article: str
    title: str
    text: str
    source: str  # xquad | news | ud_vtb


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    docs: tuple[str, ...]  # paragraph ids, in order
    source: str


@dataclass(frozen=True)
class Query:
    id: str
    task: str
    text: str
    relevant: frozenset[str]
    split: str
    source: str  # xquad | news | ud_vtb


@dataclass
class Collection:
    docs: list[Doc]
    articles: list[Article]
    queries: list[Query] = field(default_factory=list)

    def untitled(self) -> "Collection":
        """The same paragraphs without their articles' titles (for ``UNTITLED_TASKS``)."""
        docs = [Doc(d.id, d.article, "", d.text, d.source) for d in self.docs]
        articles = [Article(a.id, "", a.docs, a.source) for a in self.articles]
        return Collection(docs, articles, [q for q in self.queries if q.task in UNTITLED_TASKS])

    def by_id(self) -> dict[str, Doc]:
        return {d.id: d for d in self.docs}

    def select(self, task: str | None = None, split: str | None = None) -> list[Query]:
        return [q for q in self.queries if (task is None or q.task == task) and (split is None or q.split == split)]

    def write_jsonl(self, path: Path) -> None:
        """The collection as a corpus file: one article a line, ``{"id", "title", "text"}``
        with ``text`` the list of its paragraphs. An article without a title gets the
        title "—" (no syllable: nothing to match), since the reader would otherwise make
        one of its first sentence."""
        docs = self.by_id()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            for a in self.articles:
                record = {"id": a.id, "title": a.title or "—", "text": [docs[d].text for d in a.docs]}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")


def clean(text: str) -> str:
    """NFC, every run of white space one plain space (what the corpus reader keeps)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _split_of(key: str) -> str:
    return SPLITS[hashlib.sha1(f"{SEED}:{key}".encode()).digest()[0] % 2]


def shared() -> Path:
    return shared_dir()


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def xquad_articles(data: Path) -> list[Article | Doc]:
    out: list = []
    by_title: dict[str, list[Doc]] = {}
    for r in _read_jsonl(data / "passages.jsonl"):
        article = r["id"].rsplit("-p", 1)[0]  # xquad_vi-test-a000-p000 → xquad_vi-test-a000
        doc = Doc(r["id"], article, clean(r["title"]), clean(r["text"]), "xquad")
        by_title.setdefault(article, []).append(doc)
    for article, docs in by_title.items():
        out.append(Article(article, docs[0].title, tuple(d.id for d in docs), "xquad"))
        out.extend(docs)
    return out


def news_articles(corpus: Path) -> list[Article | Doc]:
    """The bundled news articles, read by searcher's own reader (its API of today, or of
    the corpus package that replaces it)."""
    try:
        from searcher.corpus import Corpus  # the redesign's API

        sources = Corpus(corpus).sources()
    except ImportError:
        from searcher.corpus import scan_corpus

        sources = scan_corpus(corpus)
    out: list = []
    for source in sources:
        if not hasattr(source, "load"):  # a source that cannot be read
            continue
        article = source.load()
        title = clean(article.title)
        body = [clean(p) for p in article.paragraphs]
        if body and body[0] == title:
            body = body[1:]
        docs = [Doc(f"{article.id}-p{n:03d}", article.id, title, text, "news") for n, text in enumerate(body, 1)]
        out.append(Article(article.id, title, tuple(d.id for d in docs), "news"))
        out.extend(docs)
    return out


PARAGRAPH_SENTENCES = (1, 2, 2, 3, 3, 3, 4, 4, 5, 6)


def ud_vtb_articles(data: Path) -> list[Article | Doc]:
    sentences: list[str] = []
    seen: set[str] = set()
    for path in sorted(data.glob("*.raw")):
        for line in path.read_text(encoding="utf-8").splitlines():
            s = clean(detokenize(line)) if line.strip() else ""
            if len(s.split()) >= 3 and s not in seen:
                seen.add(s)
                sentences.append(s)
    rng = random.Random(SEED)
    rng.shuffle(sentences)
    out: list = []
    i = number = 0
    while i < len(sentences) - 1:
        words = sentences[i].split()[: rng.randint(6, 12)]
        title = " ".join(words).rstrip(".,:;!?…-–\"“”(")
        title = title[:1].upper() + title[1:]
        i += 1
        article = f"ud_vtb-g{number:03d}"
        docs = []
        for n in range(1, rng.randint(8, 14) + 1):
            take = rng.choice(PARAGRAPH_SENTENCES)
            if i >= len(sentences):
                break
            docs.append(Doc(f"{article}-p{n:02d}", article, title, " ".join(sentences[i : i + take]), "ud_vtb"))
            i += take
        if docs:
            out.append(Article(article, title, tuple(d.id for d in docs), "ud_vtb"))
            out.extend(docs)
        number += 1
    return out


# -- queries -----------------------------------------------------------------------------

_SYLLABLES = re.compile(r"\w+")
MIN_SENTENCE = 10  # syllables of a "long pasted sentence"
MAX_SENTENCE = 60


def question_queries(data: Path, docs: dict[str, Doc]) -> list[Query]:
    qrels: dict[str, set[str]] = {}
    for line in (data / "qrels.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and int(parts[2]) > 0:
            qrels.setdefault(parts[0], set()).add(parts[1])
    out = []
    for r in _read_jsonl(data / "queries.jsonl"):
        rel = qrels.get(r["id"])
        if not rel or not r["text"].strip():
            continue
        article = docs[next(iter(rel))].article
        out.append(Query(f"q:{r['id']}", "question", clean(r["text"]), frozenset(rel), _split_of(article), "xquad"))
    return out


def title_queries(articles: Sequence[Article]) -> list[Query]:
    return [
        Query(f"t:{a.id}", "title", a.title, frozenset(a.docs), _split_of(a.id), a.source)
        for a in articles
        if a.source in ("xquad", "news")
    ]


def topic_queries(articles: Sequence[Article], docs: dict[str, Doc]) -> list[Query]:
    """A title → its article's paragraphs, in the collection without titles; only the
    titles with at least one syllable in their article's paragraphs (accents ignored):
    half the XQuAD titles are English words the Vietnamese text never uses."""
    out = []
    for a in articles:
        if a.source not in ("xquad", "news"):
            continue
        body = {s for d in a.docs for s in _SYLLABLES.findall(strip_accents(docs[d].text).lower())}
        if any(s in body for s in _SYLLABLES.findall(strip_accents(a.title).lower())):
            out.append(Query(f"c:{a.id}", "topic", a.title, frozenset(a.docs), _split_of(a.id), a.source))
    return out


def _unique(piece: str, texts: Sequence[str]) -> bool:
    return sum(piece in t for t in texts) == 1


def fragment_queries(docs: Sequence[Doc]) -> list[Query]:
    """A run of 4-8 consecutive syllables of one paragraph (the characters between them
    kept), found in no other paragraph: one per XQuAD or news paragraph, one from every
    third UD-VTB one."""
    rng = random.Random(SEED + 2)
    texts = [d.text for d in docs]
    out = []
    for n, d in enumerate(docs):
        if d.source == "ud_vtb" and n % 3 != 1:
            continue
        spans = [m.span() for m in _SYLLABLES.finditer(d.text)]
        for _ in range(10):  # a few tries at a span that is unique
            size = rng.randint(4, 8)
            if len(spans) < size:
                break
            i = rng.randrange(len(spans) - size + 1)
            piece = d.text[spans[i][0] : spans[i + size - 1][1]]
            if _unique(piece, texts):
                key = d.article if d.source == "xquad" else d.id
                out.append(Query(f"f:{d.id}", "fragment", piece, frozenset([d.id]), _split_of(key), d.source))
                break
    return out


def sentence_queries(docs: Sequence[Doc]) -> list[Query]:
    """Sentences of ``MIN_SENTENCE``-``MAX_SENTENCE`` syllables found in exactly one
    paragraph: up to two per XQuAD or news paragraph, one from every third UD-VTB one."""
    rng = random.Random(SEED + 1)
    texts = [d.text for d in docs]
    out = []
    for n, d in enumerate(docs):
        if d.source == "ud_vtb" and n % 3:
            continue
        candidates = [
            s
            for s in split_sentences(d.text)
            if MIN_SENTENCE <= len(_SYLLABLES.findall(s)) <= MAX_SENTENCE
        ]
        rng.shuffle(candidates)
        taken = 0
        for s in candidates:
            if taken == (1 if d.source == "ud_vtb" else 2):
                break
            if not _unique(s, texts):
                continue
            key = d.article if d.source == "xquad" else d.id
            out.append(Query(f"s:{d.id}:{taken}", "sentence", s, frozenset([d.id]), _split_of(key), d.source))
            taken += 1
    return out


@lru_cache(maxsize=1)
def load() -> Collection:
    """The collection, its queries and their splits (the same on every run)."""
    root = shared()
    xquad = root / "data" / "xquad_vi"
    if not (xquad / "passages.jsonl").exists():
        sys.exit(f"no XQuAD data under {root} (set SEARCHER_SHARED to the shared data folder)")
    items = xquad_articles(xquad) + news_articles(BUNDLED_CORPUS) + ud_vtb_articles(root / "data" / "ud_vtb_ws")
    docs = [x for x in items if isinstance(x, Doc)]
    articles = [x for x in items if isinstance(x, Article)]
    ids = Counter(d.id for d in docs)
    assert max(ids.values()) == 1, "paragraph ids must be unique"
    by_id = {d.id: d for d in docs}
    queries = (
        question_queries(xquad, by_id)
        + title_queries(articles)
        + topic_queries(articles, by_id)
        + sentence_queries(docs)
        + fragment_queries(docs)
    )
    return Collection(docs, articles, queries)


# -- query variants ------------------------------------------------------------------------

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
    return _WORD_RE.sub(lambda m: _swap_syllable(m.group(0)), unicodedata.normalize("NFC", text))


_PUNCT = re.compile(r"[^\w\s]+")


def strip_punctuation(text: str) -> str:
    """Every character that is neither a letter, a digit nor a space becomes a space."""
    return " ".join(_PUNCT.sub(" ", text).split())


VARIANTS: dict[str, Callable[[str], str]] = {
    "as written": lambda t: t,
    "accents stripped": strip_accents,
    "tone swapped": swap_tones,
    "no punctuation": strip_punctuation,
    "no punct., stripped": lambda t: strip_accents(strip_punctuation(t)),
}
_THREE = ("as written", "accents stripped", "tone swapped")
TASK_VARIANTS = {
    "question": _THREE,
    "title": _THREE,
    "topic": _THREE,
    "sentence": tuple(VARIANTS),
    "fragment": _THREE,
}
ACCENTLESS_VARIANTS = ("accents stripped", "no punct., stripped")


def cells() -> list[tuple[str, str]]:
    """Every (task, variant) that is reported."""
    return [(t, v) for t in TASKS for v in TASK_VARIANTS[t]]


# -- metrics -----------------------------------------------------------------------------

METRICS = ("MRR@10", "nDCG@10", "R-prec", "Hit@1", "Hit@10")


def query_metrics(ranked: Sequence[str], relevant: frozenset[str]) -> tuple[float, ...]:
    """(reciprocal rank, nDCG, R-precision, hit@1, hit@K) of one ranked list (binary gains)."""
    import math

    top = list(ranked[:K])
    rr = next((1 / r for r, d in enumerate(top, 1) if d in relevant), 0.0)
    dcg = sum(1 / math.log2(r + 1) for r, d in enumerate(top, 1) if d in relevant)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(relevant), K) + 1))
    r = len(relevant)
    rprec = sum(1 for d in ranked[:r] if d in relevant) / r
    return (rr, dcg / ideal, rprec, float(bool(top) and top[0] in relevant), float(rr > 0))


def mean_metrics(runs: Sequence[Sequence[str]], queries: Sequence[Query]) -> dict[str, float]:
    rows = [query_metrics(run, q.relevant) for run, q in zip(runs, queries)]
    n = max(len(rows), 1)
    return {m: sum(r[i] for r in rows) / n for i, m in enumerate(METRICS)}


def describe(c: Collection) -> str:
    lines = []
    src = Counter(d.source for d in c.docs)
    lines.append(
        f"collection: {len(c.docs)} paragraphs in {len(c.articles)} articles "
        f"({', '.join(f'{k} {v}' for k, v in src.items())}); "
        f"{sum(len(d.text) for d in c.docs):,} characters"
    )
    for task in TASKS:
        for split in SPLITS:
            qs = c.select(task, split)
            by = Counter(q.source for q in qs)
            rel = sum(len(q.relevant) for q in qs) / max(len(qs), 1)
            lines.append(
                f"  {task:8} {split:4} {len(qs):5} queries ({', '.join(f'{k} {v}' for k, v in sorted(by.items()))}),"
                f" {rel:.1f} relevant each, variants: {', '.join(TASK_VARIANTS[task])}"
            )
    return "\n".join(lines)


def main() -> None:
    print(describe(load()))


if __name__ == "__main__":
    main()
