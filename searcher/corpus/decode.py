"""Bytes → text: BOMs, UTF-16 without a BOM, charset detection (cp1258 included), and the
legacy Vietnamese encodings TCVN3 (``Céng hoµ``) and VNI (``Coäng hoøa``), converted line
by line when the conversion turns them into Vietnamese. Text that still looks garbled is
an error, never indexed; so are binary, empty and undecodable files.

Imported only where articles are parsed (its tables cost start-up time); charset-normalizer
only for files that are not UTF-8.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache

from searcher.errors import SearcherError
from searcher.text import TONE_MARKS

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 control characters that never occur in text (tab, newlines, form feed are fine).
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f]")



def _blank(data: bytes | str) -> bool:
    """Empty or only whitespace (without the copy ``strip`` makes of a large file)."""
    return not data or data.isspace()


def _too_many_controls(text: str) -> bool:
    """More control characters than text has (at most 1 in 200, at least 3)."""
    limit = max(2, len(text) // 200)
    count = 0
    for _ in _CONTROL_RE.finditer(text):
        count += 1
        if count > limit:
            return True
    return False


def decode_bytes(data: bytes, origin: str) -> str:
    """The text of a file's bytes, legacy Vietnamese encodings converted; ``SearcherError``
    naming ``origin`` for empty, binary, undecodable or garbled input."""
    if _blank(data):
        raise SearcherError(f"{origin}: empty file")
    text = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SearcherError(f"{origin}: not valid {encoding.upper()} text ({exc.reason})") from None
            break
    if text is None:
        if b"\x00" in data:
            text = _bomless_utf16(data)
            if text is None:
                raise SearcherError(f"{origin}: binary file (NUL bytes), not a text article")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = _detect_and_decode(data, origin)
    if _blank(text):
        raise SearcherError(f"{origin}: empty file")
    if _too_many_controls(text):
        raise SearcherError(f"{origin}: binary file (control characters), not a text article")
    text, _ = repair_legacy_encoding(text)
    garbled = garbled_reason(text)
    if garbled:
        raise SearcherError(f"{origin}: {garbled}; convert the file to UTF-8 Unicode")
    return text


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM, recognised by its NUL bytes all on one side; else ``None``."""
    if len(data) % 2:
        return None
    even = data[0::2].count(0)
    odd = data[1::2].count(0)
    half = len(data) // 2
    for nuls, other, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if nuls >= half * 0.3 and other == 0:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _detect_and_decode(data: bytes, origin: str) -> str:
    """Not UTF-8: the candidate decoding that reads best as Vietnamese, or what
    charset-normalizer finds most plausible for other text."""
    from charset_normalizer import from_bytes  # only files that are not UTF-8 pay for it

    detected = list(dict.fromkeys(match.encoding for match in list(from_bytes(data))[:3]))
    extra = [e for e in ("cp1258", "latin-1") if e not in detected]  # latin-1: TCVN3/VNI bytes
    guessed = None
    best, best_score = None, -1.0
    # One candidate decoded at a time: only the first guess and the best so far are kept.
    for encoding in [*detected, *extra]:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if guessed is None and encoding in detected:
            guessed = text
        repaired, _ = repair_legacy_encoding(text)
        valid, counted = vietnamese_score(repaired)
        if counted:
            score = valid / counted
            if score > best_score:
                best, best_score = repaired, score
        del text, repaired
    if best is not None and best_score >= 0.9:
        return best
    if guessed is not None:
        return guessed
    raise SearcherError(f"{origin}: not UTF-8 and no text encoding fits it")


# --- telling Vietnamese from mojibake -----------------------------------------------------


_QUALITY_MARKS = {"a": "\u0302\u0306", "e": "\u0302", "o": "\u0302\u031b", "u": "\u031b"}
# Onset, vowel nucleus (with its quality marks), coda: the shapes Vietnamese syllables take.
_NUCLEI = (
    "iêu yêu oai oay oeo uây uôi uya uyê uyu ươi ươu "
    "ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua uâ uê ui uô uơ ưa ưi ươ ưu uy yê "
    "a ă â e ê i o ô ơ u ư y"
).split()
_SYLLABLE_SHAPE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
    f"(?:{'|'.join(_NUCLEI)})"
    r"(?:ng|nh|ch|[cmnpt])?"
)
# The words of a text: runs between these separators (found one at a time, not split
# into a list: a 5 MB line holds a million of them).
_SEPARATORS = r"\s\-/.,;:!?()\[\]{}\"'“”‘’–—…0-9_*+=<>|#%&@"
_PIECE_RE = re.compile(f"[^{_SEPARATORS}]+")
_PIECE_SPLIT_RE = re.compile(f"[{_SEPARATORS}]+")
_SPLIT_LIMIT = 1 << 16  # texts up to this long are split in one go (faster); longer, one word at a time
# Letters only Vietnamese writes in Unicode: a line holding one is not legacy-encoded.
_VIETNAMESE_ONLY_RE = re.compile("[\u0102\u0103\u0110\u0111\u0128\u0129\u0168\u0169\u01a0\u01a1\u01af\u01b0\u1ea0-\u1ef9\u0300-\u036f]")
_LATIN1_HIGH_RE = re.compile("[\u0080-\u00ff]")


def _pieces(text: str):
    """The words of ``text`` that are not plain ASCII (a long text's one at a time)."""
    if len(text) <= _SPLIT_LIMIT:
        return [piece for piece in _PIECE_SPLIT_RE.split(text) if piece and not piece.isascii()]
    return (piece for piece in (m.group() for m in _PIECE_RE.finditer(text)) if not piece.isascii())


@lru_cache(maxsize=1 << 16)  # a text repeats its few thousand syllables
def is_vietnamese_syllable(word: str) -> bool:
    """Whether ``word`` is shaped like one Vietnamese syllable: a known onset, vowel nucleus
    and coda, quality marks where Vietnamese has them, at most one tone, on a vowel."""
    letters: list[str] = []  # tone marks removed, quality marks kept
    tones = 0
    for ch in unicodedata.normalize("NFD", word.lower()):
        if unicodedata.combining(ch):
            if not letters:
                return False
            base = letters[-1][0]
            if ch in TONE_MARKS:
                if base not in "aeiouy":
                    return False
                tones += 1
            elif ch in _QUALITY_MARKS.get(base, "") and len(letters[-1]) == 1:
                letters[-1] += ch
            else:
                return False
        else:
            letters.append(ch)
    if tones > 1:
        return False
    return _SYLLABLE_SHAPE.fullmatch(unicodedata.normalize("NFC", "".join(letters))) is not None


def vietnamese_score(text: str) -> tuple[int, int]:
    """(Vietnamese-shaped, counted) over the words of ``text`` that are not plain ASCII."""
    valid = counted = 0
    for piece in _pieces(text):
        counted += 1
        valid += is_vietnamese_syllable(piece)
    return valid, counted

# TCVN3 (TCVN 5712:1993, the ".Vn" fonts): byte → letter, as glibc's TCVN5712-1 maps it.
# 0xB0-0xB4 (lone combining tones there, but ° ± ² ³ ´ in ordinary text) are left alone.
_TCVN3_C1 = "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x80-0x9F
_TCVN3_A1_AF = "ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA1-0xAF
_TCVN3_B5_FF = "àảãáạẲằẳẵắẴẮẦẨẪẤỀặầẩẫấậèỂẻẽéẹềểễếệìỉỄẾỒĩíịòỔỏõóọồổỗốộờởỡớợùỖủũúụừửữứựỳỷỹýỵỐ"
_TCVN3_TABLE = {
    **{0x80 + i: ch for i, ch in enumerate(_TCVN3_C1)},
    **{0xA1 + i: ch for i, ch in enumerate(_TCVN3_A1_AF)},
    **{0xB5 + i: ch for i, ch in enumerate(_TCVN3_B5_FF)},
}


def tcvn3_to_unicode(text: str) -> str:
    """Text typed in TCVN3 and read as Latin-1 (``Céng hoµ``), in Unicode (``Cộng hoà``)."""
    return unicodedata.normalize("NFC", text.translate(_TCVN3_TABLE))


# VNI (VNI-Windows fonts): a base letter followed by mark letters (``Vieät`` = ``Việt``).
_VNI_TONE = {"ù": "\u0301", "ø": "\u0300", "û": "\u0309", "õ": "\u0303", "ï": "\u0323"}
_VNI_CIRCUMFLEX = {"â": "", "á": "\u0301", "à": "\u0300", "å": "\u0309", "ã": "\u0303", "ä": "\u0323"}
_VNI_BREVE = {"ê": "", "é": "\u0301", "è": "\u0300", "ú": "\u0309", "ü": "\u0303", "ë": "\u0323"}
_VNI_SINGLE = {"í": "í", "ì": "ì", "æ": "ỉ", "ó": "ĩ", "ò": "ị", "î": "ỵ", "ñ": "đ"}


def _chars(table: dict[str, str]) -> str:
    return "".join(table) + "".join(table).upper()


_VNI_RE = re.compile(
    f"([aeoAEO])([{_chars(_VNI_CIRCUMFLEX)}])"
    f"|([aA])([{_chars(_VNI_BREVE)}])"
    f"|([ôöÔÖ])([{_chars(_VNI_TONE)}])?"
    f"|([aeiouyAEIOUY])([{_chars(_VNI_TONE)}])"
    f"|([{_chars(_VNI_SINGLE)}])"
)


def _vni_letter(match: re.Match) -> str:
    g = match.groups()
    if g[0]:
        return g[0] + "\u0302" + _VNI_CIRCUMFLEX[g[1].lower()]
    if g[2]:
        return g[2] + "\u0306" + _VNI_BREVE[g[3].lower()]
    if g[4]:
        base = {"ô": "ơ", "ö": "ư", "Ô": "Ơ", "Ö": "Ư"}[g[4]]
        return base + (_VNI_TONE[g[5].lower()] if g[5] else "")
    if g[6]:
        return g[6] + _VNI_TONE[g[7].lower()]
    single = _VNI_SINGLE[g[8].lower()]
    return single.upper() if g[8].isupper() else single


def vni_to_unicode(text: str) -> str:
    """Text typed in VNI and read as Latin-1 (``Coäng hoøa``), in Unicode (``Cộng hoà``)."""
    return unicodedata.normalize("NFC", _VNI_RE.sub(_vni_letter, text))


_LEGACY_CONVERTERS = {"TCVN3": tcvn3_to_unicode, "VNI": vni_to_unicode}


def _legacy_candidate(line: str) -> bool:
    """A line that could be legacy-encoded: Latin-1 letters, no Unicode-only Vietnamese."""
    return bool(_LATIN1_HIGH_RE.search(line)) and not _VIETNAMESE_ONLY_RE.search(line)


def _ratio(score: tuple[int, int]) -> float | None:
    return score[0] / score[1] if score[1] else None


# A line with its line break, as str.splitlines(keepends=True) cuts them.
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_KEEPENDS_RE = re.compile(f"[^{_BREAKS}]*(?:\r\n|[{_BREAKS}])|[^{_BREAKS}]+")


def repair_legacy_encoding(text: str) -> tuple[str, str | None]:
    """Convert the lines typed in TCVN3 or VNI; returns the text and the encoding found.

    Only lines without any Unicode-only Vietnamese letter are candidates. The encoding is
    the one whose conversion makes the most of their words Vietnamese syllables; a line is
    converted when that makes clearly more of its words Vietnamese (at least 80%). When
    the whole document is legacy text, its other candidate lines are converted too unless
    that makes them worse (short lines such as ``Céng héi`` look valid either way).
    """
    # The candidates' places only: a large file is not split into a list of its lines.
    spans = [m.span() for m in _LINE_KEEPENDS_RE.finditer(text) if _legacy_candidate(m.group())]
    if not spans:
        return text, None
    before = [vietnamese_score(text[a:b]) for a, b in spans]
    # Scores only: the lines are converted again for the encoding chosen, so that a large
    # legacy file is not held converted twice over.
    scores = {
        name: [vietnamese_score(convert(text[a:b])) for a, b in spans] for name, convert in _LEGACY_CONVERTERS.items()
    }
    encoding = max(scores, key=lambda name: sum(score[0] for score in scores[name]))
    after = scores[encoding]

    clear = set()
    for n in range(len(spans)):
        now, was = _ratio(after[n]), _ratio(before[n])
        if now is not None and now >= 0.8 and now > (was or 0.0) + 0.15:
            clear.add(n)
    if not clear:
        return text, None
    whole_document = not _VIETNAMESE_ONLY_RE.search(text)
    convert = _LEGACY_CONVERTERS[encoding]
    pieces = []
    done = 0
    for n, (a, b) in enumerate(spans):
        now, was = _ratio(after[n]), _ratio(before[n])
        if n in clear or (whole_document and now is not None and (was is None or now >= was)):
            pieces.append(text[done:a])
            pieces.append(convert(text[a:b]))
            done = b
    pieces.append(text[done:])
    return "".join(pieces), encoding


_LATIN1_SYMBOL_IN_WORD_RE = re.compile(r"\w[\u00a1-\u00bf\u00d7\u00f7]|[\u00a1-\u00bf\u00d7\u00f7]\w")
_VNI_PAIR_RE = re.compile(f"[aeiouyAEIOUY][{_chars(_VNI_TONE)}{_chars(_VNI_CIRCUMFLEX)}{_chars(_VNI_BREVE)}]")
_DOUBLE_UTF8_RE = re.compile("[\u00c2\u00c3\u00c4\u00c5\u00c6\u00e1][\u0080-\u00bf\u2018-\u203a\u20ac\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2122]")


def garbled_reason(text: str) -> str | None:
    """Why ``text`` looks like mojibake (a legacy or wrong encoding), or ``None``."""
    if _VIETNAMESE_ONLY_RE.search(text):
        return None
    pieces = invalid = signed = 0  # counted in one pass, no list of words
    for piece in _pieces(text):
        pieces += 1
        if not is_vietnamese_syllable(piece):
            invalid += 1
            if _LATIN1_SYMBOL_IN_WORD_RE.search(piece) or _VNI_PAIR_RE.search(piece):
                signed += 1
    if pieces < 5:
        return None
    if invalid < pieces / 2:
        return None
    if sum(1 for _ in _DOUBLE_UTF8_RE.finditer(text)) * 5 >= pieces:
        return "text looks garbled (UTF-8 read as another encoding, e.g. “Viá»‡t”)"
    if signed * 2 >= pieces:
        return "text looks garbled (a legacy Vietnamese encoding such as TCVN3 or VNI that could not be converted)"
    return None
