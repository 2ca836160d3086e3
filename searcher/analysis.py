"""Vietnamese analysis for Whoosh: syllables, pyvi words and bigrams, with exact offsets.

``analyze(text)`` does the work once per paragraph and returns an ``Analysis``; the Whoosh
tokenizer below reads whichever view a field wants from it (syllables, words, bigrams;
canonical or accent-folded). Passing the same ``Analysis`` to every field of a document
means pyvi runs once per paragraph, and the work can happen in another process.

Invariant: for every unit, ``text[unit.start:unit.end]`` is the stored text it came from.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterator, NamedTuple

from itertools import accumulate

from whoosh.analysis import Token, Tokenizer
from whoosh.fields import TEXT
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint

from searcher.text import SYLLABLE_RE, analysis_form, canonical_syllable, fold_accents, nfc, variant_term


class Unit(NamedTuple):
    """A syllable, word or bigram: stored offsets, canonical form, accent-folded form."""

    start: int
    end: int
    canon: str
    folded: str


@dataclass(frozen=True)
class Analysis:
    """One text, analyzed: what every analyzed field of a paragraph is built from."""

    syllables: tuple[Unit, ...]
    words: tuple[Unit, ...]
    bigrams: tuple[Unit, ...]
    # Phrase positions of the syllables: punctuation between two syllables leaves a gap,
    # so "chức trách, nhiệm vụ" does not match the phrase "trách nhiệm".
    positions: tuple[int, ...] = ()


_JOINING_GAP = re.compile(r"[\s\-\u2010\u2011]+")


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
    pairs = []
    positions = [0] * len(matches)
    for i in range(1, len(matches)):
        # Syllables separated by spaces or a hyphen are adjacent: they make a bigram and
        # consecutive phrase positions. Any other punctuation between them is a boundary.
        if _JOINING_GAP.fullmatch(form, matches[i - 1].end(), matches[i].start()):
            a, b = syllables[i - 1], syllables[i]
            pairs.append(Unit(a.start, b.end, f"{a.canon}_{b.canon}", f"{a.folded}_{b.folded}"))
            positions[i] = positions[i - 1] + 1
        else:
            positions[i] = positions[i - 1] + 2

    word_units: list[Unit] = []
    if words and matches:
        from searcher.segment import segmenter

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
    return Analysis(tuple(syllables), tuple(word_units), tuple(pairs), tuple(positions))


UNITS = ("syllables", "words", "bigrams")


class VietnameseTokenizer(Tokenizer):
    """Yields one view of an ``Analysis`` (or of a string, analyzed on the spot) as tokens.

    ``unit`` is ``syllables``, ``words`` or ``bigrams``; ``folded`` picks the accentless
    form, ``keyed`` the ``folded|canonical`` term of ``variant_term``. Token
    ``startchar``/``endchar`` are offsets into the stored text.
    """

    def __init__(self, unit: str = "syllables", folded: bool = False, keyed: bool = False):
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}")
        self.unit = unit
        self.folded = folded
        self.keyed = keyed

    def __eq__(self, other):
        return (
            isinstance(other, VietnameseTokenizer)
            and self.unit == other.unit
            and self.folded == other.folded
            and self.keyed == other.keyed
        )

    def forms(self, units) -> list[str]:
        """The term of each unit, as this tokenizer indexes it."""
        if self.keyed:
            return [variant_term(u.folded, u.canon) for u in units]
        return [u.folded for u in units] if self.folded else [u.canon for u in units]

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ) -> Iterator[Token]:
        if isinstance(value, Analysis):
            analysis = value
        else:
            analysis = analyze(nfc(value), words=self.unit == "words")
        units = getattr(analysis, self.unit)
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        places = analysis.positions if self.unit == "syllables" else range(len(units))
        for pos, unit, form in zip(places, units, self.forms(units)):
            token.text = form
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = token.text
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + unit.start
                token.endchar = start_char + unit.end
            yield token


def _varints(numbers) -> bytes:
    if max(numbers) < 0x80:
        return bytes(numbers)
    out = bytearray()
    for n in numbers:
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


def _unvarints(data: bytes) -> list[int]:
    if not data or max(data) < 0x80:
        return list(data)
    numbers, n, shift = [], 0, 0
    for byte in data:
        n |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            numbers.append(n)
            n, shift = 0, 0
    return numbers


class CompactPositions(Positions):
    """Whoosh's ``Positions`` with each posting's positions as varint deltas.

    Whoosh stores a 4-byte count and a *pickled list* of deltas per posting (~14 bytes for
    a syllable seen once); here a syllable seen once at position < 128 costs one byte,
    and the count is the number of varints.
    """

    def encode(self, poslist) -> bytes:
        return _varints([b - a for a, b in zip([0, *poslist], poslist)])

    def decode_positions(self, valuestring) -> list[int]:
        return list(accumulate(_unvarints(valuestring)))

    def decode_frequency(self, valuestring) -> int:
        if max(valuestring, default=0) < 0x80:
            return len(valuestring)
        return sum(1 for byte in valuestring if byte < 0x80)

    def decode_weight(self, valuestring) -> float:
        return self.decode_frequency(valuestring) * self.field_boost


class Counts(Frequency):
    """Whoosh's ``Frequency`` without a value per posting: W3 already stores each
    posting's frequency as its weight, and ``Frequency`` added the same count again as a
    4-byte value (about a third of the postings bytes of the word and bigram fields)."""

    posting_size = 0

    def decode_frequency(self, valuestring):
        raise NotImplementedError("a Counts posting's frequency is its weight")

    def decode_weight(self, valuestring):
        raise NotImplementedError("a Counts posting's weight is read from the posting")


class VietnameseText(TEXT):
    """A TEXT field that also takes a ready ``Analysis`` as its value (Whoosh's own
    ``TEXT`` only takes strings, and reads a tuple as a list of ready-made terms).

    Postings are built straight from the ``Analysis`` (no Token objects), positions
    stored in the compact form of ``CompactPositions``, counts as ``Counts``.
    """

    def __init__(self, analyzer: VietnameseTokenizer, phrase: bool = False):
        super().__init__(analyzer=analyzer, phrase=phrase)
        if phrase:
            self.format = CompactPositions(field_boost=self.format.field_boost)
        else:
            self.format = Counts(field_boost=self.format.field_boost)

    def index(self, value, **kwargs):
        """Whoosh's ``(term bytes, frequency, weight, value)`` per distinct term, as a list."""
        if not isinstance(value, Analysis):
            value = analyze(nfc(value), words=self.analyzer.unit == "words")
        unit = self.analyzer.unit
        units = getattr(value, unit)
        forms = self.analyzer.forms(units)
        boost = self.format.field_boost
        if isinstance(self.format, CompactPositions):
            places = value.positions if unit == "syllables" else range(len(units))
            seen: dict[str, list[int]] = {}
            for form, pos in zip(forms, places):
                poses = seen.get(form)
                if poses is None:
                    seen[form] = [pos]
                else:
                    poses.append(pos)
            encode = self.format.encode
            postings = []
            for form, poses in seen.items():
                n = len(poses)
                # Most terms occur once, early: their value is one byte.
                data = _ONE_BYTE[poses[0]] if n == 1 and poses[0] < 0x80 else encode(poses)
                postings.append((form.encode("utf-8"), n, n * boost, data))
            return postings
        counts = Counter(forms)
        if isinstance(self.format, Counts):
            return [(form.encode("utf-8"), n, n * boost, b"") for form, n in counts.items()]
        # an index made before Counts keeps Frequency's 4-byte value
        return [(form.encode("utf-8"), n, n * boost, pack_uint(n)) for form, n in counts.items()]


_ONE_BYTE = [bytes((n,)) for n in range(0x80)]
