"""Vietnamese text normalization and accent folding: pure functions on ``str``.

Stored text stays as the article wrote it (NFC). What gets indexed is an *analysis form*
of the same length per syllable: invisible characters dropped, every kind of space made a
plain space, compatibility characters (fullwidth letters) folded, tone marks moved to one
canonical place. ``analysis_form`` returns that form with a map back to stored offsets.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Zero-width and format characters that hide inside words in scraped pages.
INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u00ad\ufeff\u2060\u180e\u2061\u2062\u2063\u2064")
_SPECIAL_RE = re.compile(
    "[\u200b-\u200f\u00ad\ufeff\u2060-\u2064\u180e\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ud800-\udfff]"
)

# The five Vietnamese tones as combining marks (NFD): grave, acute, tilde, hook, dot below.
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
# Vowel-quality marks: circumflex (â ê ô), breve (ă), horn (ơ ư).
QUALITY_MARKS = frozenset("\u0302\u0306\u031b")
_VOWELS = frozenset("aeiouy")
# Diphthongs whose open-syllable tone sits on the second vowel in the canonical form.
_SECOND_VOWEL_PAIRS = frozenset({"oa", "oe", "uy"})

SYLLABLE_RE = re.compile(r"[^\W_]+")

# Word and bigram terms are indexed as "<accent-folded form>|<canonical form>"
# (``sợ_trách`` as ``so_trach|sợ_trách``): an accented query looks one term up, an
# accentless one takes every term under the prefix ``so_trach|``, the variants side by
# side in the term dictionary. No accent-folded copy of these fields is needed.
VARIANT_SEP = "|"


def variant_term(folded: str, canon: str) -> str:
    """The index term of a word or bigram: its folded form, ``VARIANT_SEP``, its canonical form."""
    return f"{folded}{VARIANT_SEP}{canon}"


def nfc(text: str) -> str:
    """Unicode NFC, the form documents and queries are compared in."""
    return unicodedata.normalize("NFC", text)


def analysis_form(text: str) -> tuple[str, list[int] | None]:
    """The text to analyze and, when it differs in length, each character's stored offset.

    ``text`` is NFC. Returns ``(form, offsets)`` where ``offsets[i]`` is the index in
    ``text`` that ``form[i]`` came from, or ``None`` when the two align one to one.
    """
    if unicodedata.is_normalized("NFKC", text) and not _SPECIAL_RE.search(text):
        return canonical_tones(text), None
    chars: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        if ch in INVISIBLE:
            continue
        if ch.isspace():
            out = " "
        elif "\ud800" <= ch <= "\udfff":
            out = "\ufffd"  # a lone surrogate: undecodable bytes in a command-line argument
        else:
            out = unicodedata.normalize("NFKC", ch)
        chars.append(out)
        offsets.extend([i] * len(out))
    form = "".join(chars)
    if len(form) == len(text) and all(o == i for i, o in enumerate(offsets)):
        return canonical_tones(form), None
    return canonical_tones(form), offsets


def canonical_tones(text: str) -> str:
    """Every syllable's tone mark moved to its canonical vowel; length unchanged."""
    return SYLLABLE_RE.sub(lambda m: canonical_syllable(m.group(0)), text)


@lru_cache(maxsize=1 << 16)
def canonical_syllable(syllable: str) -> str:
    """One syllable with its tone on the canonical vowel (``hòa`` → ``hoà``, ``thủy`` → ``thuỷ``).

    The rule: a vowel with a quality mark (ă â ê ô ơ ư) takes the tone (``ươ``: on ơ); else
    with a final consonant, the last vowel; else in ``oa``/``oe``/``uy``, the second vowel;
    else a triphthong's middle vowel, else the first. ``qu`` and ``gi`` count as consonants.
    Syllables that are not Vietnamese-shaped come back unchanged.
    """
    if syllable.isascii():
        return syllable
    decomposed = unicodedata.normalize("NFD", syllable)
    letters: list[list[str]] = []  # [base, marks...]
    tone = None
    for ch in decomposed:
        if ch in TONE_MARKS:
            if tone is not None or not letters:
                return syllable
            tone = ch
        elif unicodedata.combining(ch):
            if not letters:
                return syllable
            letters[-1].append(ch)
        else:
            letters.append([ch])
    if tone is None:
        return syllable
    bases = "".join(letter[0] for letter in letters).lower()
    vowel_idx = [i for i, b in enumerate(bases) if b in _VOWELS]
    if not vowel_idx:
        return syllable
    start = vowel_idx[0]
    end = start
    while end + 1 < len(bases) and bases[end + 1] in _VOWELS:
        end += 1
    if end > start and (
        (start == 1 and bases[0] == "q" and bases[1] == "u")
        or (start == 1 and bases[0] == "g" and bases[1] == "i")
    ):
        start += 1
    nucleus = list(range(start, end + 1))
    marked = [i for i in nucleus if any(m in QUALITY_MARKS for m in letters[i][1:])]
    if marked:
        pos = marked[-1]
    elif end + 1 < len(bases):
        pos = end
    elif len(nucleus) == 1:
        pos = start
    elif len(nucleus) == 3:
        pos = start + 1
    elif bases[start : end + 1] in _SECOND_VOWEL_PAIRS:
        pos = end
    else:
        pos = start
    letters[pos].append(tone)
    result = unicodedata.normalize("NFC", "".join("".join(letter) for letter in letters))
    return result if len(result) == len(syllable) else syllable


_FOLD_TABLE = str.maketrans({"đ": "d", "Đ": "D", "Ð": "D", "ð": "d"})


def _fold_slowly(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD_TABLE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Every precomposed Latin letter (Vietnamese's among them) mapped to its folded form, and
# the combining accents (U+0300-U+036F) removed: one str.translate folds a whole paragraph.
_FAST_FOLD = {
    cp: _fold_slowly(chr(cp))
    for cp in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00))
    if _fold_slowly(chr(cp)) != chr(cp)
}
_FAST_FOLD.update({cp: None for cp in range(0x300, 0x370) if unicodedata.combining(chr(cp))})


@lru_cache(maxsize=1 << 16)
def fold_accents(text: str) -> str:
    """Lowercase, with every accent and tone removed and ``đ``/``Đ``/``Ð`` made ``d``."""
    folded = text.translate(_FAST_FOLD)
    if not folded.isascii():  # other scripts' accents (Greek, Cyrillic…): the general way
        folded = _fold_slowly(folded)
    return folded.lower()


def has_accents(text: str) -> bool:
    """Whether ``text`` carries any Vietnamese diacritic (``đ`` included)."""
    return fold_accents(text) != text.lower()


def normalize_query(text: str) -> str:
    """A query as typed, made comparable with the analysis form of documents."""
    form, _ = analysis_form(nfc(text))
    return form
