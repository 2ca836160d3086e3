"""What an index holds, whichever engine holds it: field names, and the documents of an
article (one per paragraph, analyzed once).

Indexed fields (all terms lowercase, tone marks in canonical place):

| field | terms | positions |
|---|---|---|
| ``syl`` / ``fold`` | syllables, canonical / accent-folded | yes (phrases) |
| ``word`` | pyvi words as ``folded|canonical`` (``trach_nhiem|trách_nhiệm``) | no |
| ``big`` | adjacent-syllable bigrams, ``folded|canonical`` | no |
| ``tsyl`` / ``tfold`` | the article title's syllables, canonical / folded | yes |
| ``tbig`` | the title's bigrams, ``folded|canonical`` | no |

Keyed terms (``folded|canonical``, ``searcher.text.variant_term``) put every accent variant
of a word side by side in the term dictionary: an accented query looks up one term, an
accentless one every term under the prefix ``trach_nhiem|``.

Stored per paragraph: article id, paragraph number (from 1), date, text; the article's
title, author and url with its first paragraph only. ``version`` (``<article>:<content
hash>``) tells which version of each article is indexed.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

from searcher.analysis import Analysis, analyze
from searcher.records import Record
from searcher.text import VARIANT_SEP, fold_accents, variant_term

# Bump whenever the schema or the analysis changes what an index holds: an index built by
# another version is refused with a message to rebuild, never read wrongly.
# 4: positions and bigrams continue across punctuation; field lengths kept as Lucene's
#    one-byte norms.
# 5: the title's bigrams (tbig).
SCHEMA_VERSION = 5

ARTICLE = "article"
VERSION = "version"
PARAGRAPH = "para"
DATE = "date"
TITLE = "title"
AUTHOR = "author"
URL = "url"
TEXT = "text"

SYL = "syl"
FOLD = "fold"
WORD = "word"
BIGRAM = "big"
TITLE_SYL = "tsyl"
TITLE_FOLD = "tfold"
TITLE_BIGRAM = "tbig"


class FieldSpec(Record):
    """How an analyzed field is made from an ``Analysis``."""

    unit: str  # "syllables", "words" or "bigrams"
    folded: bool = False  # accent-folded forms
    keyed: bool = False  # "folded|canonical" terms
    positions: bool = False  # positions kept (phrases)
    title: bool = False  # from the article's title, not the paragraph


ANALYZED = {
    SYL: FieldSpec("syllables", positions=True),
    FOLD: FieldSpec("syllables", folded=True, positions=True),
    WORD: FieldSpec("words", keyed=True),
    BIGRAM: FieldSpec("bigrams", keyed=True),
    TITLE_SYL: FieldSpec("syllables", positions=True, title=True),
    TITLE_FOLD: FieldSpec("syllables", folded=True, positions=True, title=True),
    TITLE_BIGRAM: FieldSpec("bigrams", keyed=True, title=True),
}

# BM25's (k1, b) per field, fitted with the weights of searcher.query by cross-validation
# on the dev split of benchmarks/tasks.py (benchmarks/QUALITY.md): syllables saturate
# early (k1 0.6), bigrams are normalized by length the most (b 0.9).
BM25_PARAMS = {
    SYL: (0.6, 0.5),
    FOLD: (0.6, 0.5),
    WORD: (0.9, 0.75),
    BIGRAM: (0.6, 0.9),
    TITLE_SYL: (1.2, 0.75),
    TITLE_FOLD: (1.2, 0.75),
    TITLE_BIGRAM: (1.2, 0.75),
}


def phrase_pairs(field: str, terms) -> tuple[str, list[tuple[str, bool]]] | None:
    """Where the adjacent pairs of a phrase over ``field`` are indexed as terms:
    ``(bigram field, [(term or prefix, is a prefix)])``, or ``None`` for a field without
    bigrams. Every pair of adjacent syllables is a bigram, so a phrase occurs only where
    its bigrams do, and a two-syllable phrase occurs as often as its bigram: the canonical
    ``syl`` pairs are keyed terms, the folded ``fold`` pairs every variant under a prefix."""
    if field == SYL:
        return BIGRAM, [(variant_term(f"{fold_accents(a)}_{fold_accents(b)}", f"{a}_{b}"), False) for a, b in zip(terms, terms[1:])]
    if field == FOLD:
        return BIGRAM, [(f"{a}_{b}{VARIANT_SEP}", True) for a, b in zip(terms, terms[1:])]
    return None


def unit_terms(spec: FieldSpec, units) -> list[str]:
    """The term of each unit, as ``spec`` indexes it."""
    if spec.keyed:
        return [variant_term(u.folded, u.canon) for u in units]
    return [u.folded for u in units] if spec.folded else [u.canon for u in units]


def field_postings(spec: FieldSpec, analysis: Analysis) -> dict[str, list[int]] | Counter:
    """One field of one paragraph: term → positions (positional fields, in order of
    occurrence), or term → frequency."""
    units = getattr(analysis, spec.unit)
    terms = unit_terms(spec, units)
    if not spec.positions:
        return Counter(terms)
    found: dict[str, list[int]] = {}
    for pos, term in enumerate(terms):
        poses = found.get(term)
        if poses is None:
            found[term] = [pos]
        else:
            poses.append(pos)
    return found


class Document(Record):
    """One paragraph as indexed: stored data and the analyses its fields are built from."""

    article: str
    version: str
    number: int
    date: str  # "" when the article has no date
    text: str
    analysis: Analysis
    title_analysis: Analysis
    # The article's own fields, on its first paragraph only (None on the others).
    title: str | None = None
    author: str | None = None
    url: str | None = None

    def analysis_for(self, spec: FieldSpec) -> Analysis:
        return self.title_analysis if spec.title else self.analysis


def documents(article) -> Iterator[Document]:
    """The documents of an ``Article``, one per paragraph, analysed as they are asked for
    (an article of thousands of paragraphs never has them all analysed at once)."""
    title = analyze(article.title, words=False)  # syllables and bigrams
    version = f"{article.id}:{article.hash}"
    for number, paragraph in enumerate(article.paragraphs, start=1):
        first = number == 1
        yield Document(
            article=article.id,
            version=version,
            number=number,
            date=article.date or "",
            text=paragraph,
            analysis=analyze(paragraph),
            title_analysis=title,
            title=article.title if first else None,
            author=(article.author or "") if first else None,
            url=(article.url or "") if first else None,
        )


def stored_article(article_id: str, paragraphs: list[dict]):
    """A ``StoredArticle`` from the stored fields of its paragraphs, in paragraph order
    (the metadata is paragraph 1's): what either engine reads back."""
    from searcher.engine.base import StoredArticle

    first = paragraphs[0]
    return StoredArticle(
        id=article_id,
        title=first.get(TITLE, ""),
        date=first.get(DATE) or None,
        author=first.get(AUTHOR) or None,
        url=first.get(URL) or None,
        paragraphs=tuple(p[TEXT] for p in paragraphs),
    )
