"""Vietnamese analysis: syllables, pyvi words and bigrams, with exact offsets.

``analyze(text)`` does the work once per paragraph and returns an ``Analysis``, from which
every analyzed field of an index is built (``searcher.engine.schema``): pyvi runs once per
paragraph, and the work can happen in another process. Nothing here knows an engine.

Invariant: for every unit, ``text[unit.start:unit.end]`` is the stored text it came from.
"""

from __future__ import annotations

from typing import NamedTuple

from searcher.records import Record
from searcher.text import SYLLABLE_RE, analysis_form, canonical_syllable, fold_accents, nfc


class Unit(NamedTuple):
    """A syllable, word or bigram: stored offsets, canonical form, accent-folded form."""

    start: int
    end: int
    canon: str
    folded: str


class Analysis(Record):
    """One text, analyzed: what every analyzed field of a paragraph is built from.

    A syllable's position is its index in ``syllables``: punctuation between two
    syllables leaves no gap, so a phrase copied with its punctuation ("minh bạch, dân
    chủ") finds the text it was copied from, as in SQLite FTS5 and Lucene. ``bigrams`` are
    the pairs of adjacent syllables, punctuation or not.
    """

    syllables: tuple[Unit, ...]
    words: tuple[Unit, ...]
    bigrams: tuple[Unit, ...]


_FORMS: dict[str, tuple[str, str]] = {}  # syllable as written → (canonical, folded)


def _forms(syllable: str) -> tuple[str, str]:
    forms = _FORMS.get(syllable)
    if forms is None:
        canon = canonical_syllable(syllable).lower()
        forms = (canon, fold_accents(canon))
        if len(_FORMS) < 500_000:  # bounded: numbers and names keep coming
            _FORMS[syllable] = forms
    return forms


def analyze(text: str, words: bool = True, bigrams: bool = True) -> Analysis:
    """Analyze stored (NFC) ``text``; ``words=False`` skips pyvi segmentation,
    ``bigrams=False`` the bigrams and phrase positions (syllables only: highlighting)."""
    form, offsets = analysis_form(text)

    def stored(start: int, end: int) -> tuple[int, int]:
        if offsets is None:
            return start, end
        return offsets[start], offsets[end - 1] + 1

    matches = list(SYLLABLE_RE.finditer(form))
    syllables = []
    for m in matches:
        canon, folded = _forms(m.group(0))
        if offsets is None:
            syllables.append(Unit(m.start(), m.end(), canon, folded))
        else:
            syllables.append(Unit(*stored(m.start(), m.end()), canon, folded))

    if not bigrams:
        return Analysis(tuple(syllables), (), ())
    pairs = [
        Unit(a.start, b.end, f"{a.canon}_{b.canon}", f"{a.folded}_{b.folded}") for a, b in zip(syllables, syllables[1:])
    ]

    word_units: list[Unit] = []
    if words and matches:
        from searcher.wordseg import segmenter

        starts = [m.start() for m in matches]
        i = 0
        for wstart, wend in segmenter().spans(form):
            while i < len(matches) and starts[i] < wstart:
                i += 1
            j = i
            while j < len(matches) and matches[j].end() <= wend:
                j += 1
            if j > i:
                parts = syllables[i:j]
                word_units.append(
                    Unit(
                        parts[0].start,
                        parts[-1].end,
                        "_".join(p.canon for p in parts),
                        "_".join(p.folded for p in parts),
                    )
                )
            i = j
    return Analysis(tuple(syllables), tuple(word_units), tuple(pairs))


def describe(text: str) -> list[tuple[str, str]]:
    """How ``text`` is normalized and analyzed, view by view (``searcher analyze``)."""
    stored = nfc(text)
    form, _ = analysis_form(stored)
    analysis = analyze(stored)
    return [
        ("normalized", form),
        ("syllables", " ".join(u.canon for u in analysis.syllables)),
        ("words", " ".join(u.canon for u in analysis.words)),
        ("folded", " ".join(u.folded for u in analysis.syllables)),
        ("offsets", " ".join(f"{stored[u.start:u.end]}[{u.start}:{u.end}]" for u in analysis.words)),
    ]
