"""Reading the corpus: files → ``Article`` (title, metadata, paragraphs).

The corpus folder is the source of truth; the index is derived from it. A corpus file is
``.txt`` (one article, as scraped), ``.json`` (one article object), ``.jsonl`` (one article
object per line) or ``.html``/``.htm`` (a saved web page). Every article goes through the
same steps:

1. **read** — bytes to text: UTF-8 (BOM or not), UTF-16/32 with a BOM, else the encoding
   charset-normalizer finds (cp1258 included). Text typed in the legacy Vietnamese
   encodings TCVN3 (``Céng hoµ``) and VNI (``Coäng hoøa``) is converted line by line
   when the conversion turns it into Vietnamese; text that still looks garbled is an
   error, never indexed. Binary, empty and undecodable files are errors naming the file.
2. **normalize** — NFC; NBSP and other spaces become one plain space; zero-width
   characters and soft hyphens go. Letters, accents and tone-mark placement stay as
   written (matching is normalized later, in ``searcher.text``).
3. **clean** — page chrome goes: share/follow buttons, comment counters, image file
   names, ``>>`` related links, copyright notices, series navigation (two or more
   ``Kỳ 1: …``/``Bài 2: …`` lines in a row), the title repeated, a line repeated twice in
   a row, and everything from a related-articles marker (``Bài liên quan``, ``Các tin
   khác``, ``Tags``, ``(0) Bình luận`` …) to the end once the body has begun.
4. **extract** — title, date (ISO), author and source URL from the metadata lines around
   the body; those lines are not paragraphs. The paragraphs are the headline (once, as
   paragraph 1) and then what is left of the body, one per line (hard-wrapped lines of
   one paragraph are joined).

The rules are lists of markers and patterns (see ``TAIL_MARKERS``, ``CHROME_PATTERNS``),
not per-site code, so they apply to any news site's pages.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from searcher.errors import SearcherError
from searcher.files import ARTICLE_SUFFIXES, corpus_files  # noqa: F401  (part of this API)


# Part of every content hash: bump it when cleaning or extraction changes what an article
# becomes, so ``searcher index`` re-parses files whose bytes did not change.
PARSER_VERSION = "2"


@dataclass(frozen=True)
class Article:
    """One article: its id (file name without suffix), metadata and paragraphs (NFC)."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    date: str | None = None  # ISO 8601 date, YYYY-MM-DD
    author: str | None = None
    url: str | None = None
    hash: str = ""  # digest of the source bytes: tells a changed article from an unchanged one
    source: str | None = None  # the publication it names (``Nguồn Tuyên Quang: …`` → ``Tuyên Quang``)


def content_hash(data: bytes) -> str:
    """Digest of an article's raw bytes (and of the parser version that reads them)."""
    return hashlib.blake2b(data, digest_size=16, person=f"searcher-p{PARSER_VERSION}".encode()).hexdigest()


# ---------------------------------------------------------------------------------------
# Reading: bytes → text
# ---------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 control characters that never occur in text (tab, newlines, form feed are fine).
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


def decode_bytes(data: bytes, origin: str) -> str:
    """The text of a file's bytes, legacy Vietnamese encodings converted; ``SearcherError``
    naming ``origin`` for empty, binary, undecodable or garbled input."""
    if not data.strip():
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
    if not text.strip():
        raise SearcherError(f"{origin}: empty file")
    if len(_CONTROL_RE.findall(text)) > max(2, len(text) // 200):
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

    candidates: list[str] = []
    seen: set[str] = set()
    for match in list(from_bytes(data))[:3]:
        if match.encoding not in seen:
            seen.add(match.encoding)
            candidates.append(str(match))
    guessed = candidates[0] if candidates else None
    for encoding in ("cp1258", "latin-1"):  # latin-1: TCVN3/VNI bytes, converted by repair
        if encoding not in seen:
            try:
                candidates.append(data.decode(encoding))
            except UnicodeDecodeError:
                pass
    best, best_score = None, -1.0
    for text in candidates:
        repaired, _ = repair_legacy_encoding(text)
        valid, counted = vietnamese_score(repaired)
        if counted:
            score = valid / counted
            if score > best_score:
                best, best_score = repaired, score
    if best is not None and best_score >= 0.9:
        return best
    if guessed is not None:
        return guessed
    raise SearcherError(f"{origin}: not UTF-8 and no text encoding fits it")


# --- telling Vietnamese from mojibake -----------------------------------------------------

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
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
_PIECE_SPLIT_RE = re.compile(r"[\s\-/.,;:!?()\[\]{}\"'“”‘’–—…0-9_*+=<>|#%&@]+")
# Letters only Vietnamese writes in Unicode: a line holding one is not legacy-encoded.
_VIETNAMESE_ONLY_RE = re.compile("[\u0102\u0103\u0110\u0111\u0128\u0129\u0168\u0169\u01a0\u01a1\u01af\u01b0\u1ea0-\u1ef9\u0300-\u036f]")
_LATIN1_HIGH_RE = re.compile("[\u0080-\u00ff]")


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
            if ch in _TONE_MARKS:
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
    for piece in _PIECE_SPLIT_RE.split(text):
        if piece and not piece.isascii():
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


def repair_legacy_encoding(text: str) -> tuple[str, str | None]:
    """Convert the lines typed in TCVN3 or VNI; returns the text and the encoding found.

    Only lines without any Unicode-only Vietnamese letter are candidates. The encoding is
    the one whose conversion makes the most of their words Vietnamese syllables; a line is
    converted when that makes clearly more of its words Vietnamese (at least 80%). When
    the whole document is legacy text, its other candidate lines are converted too unless
    that makes them worse (short lines such as ``Céng héi`` look valid either way).
    """
    lines = text.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if _legacy_candidate(line)]
    if not candidates:
        return text, None
    before = {i: vietnamese_score(lines[i]) for i in candidates}
    trials: dict[str, dict[int, tuple[str, tuple[int, int]]]] = {}
    for name, convert in _LEGACY_CONVERTERS.items():
        trials[name] = {}
        for i in candidates:
            converted = convert(lines[i])
            trials[name][i] = (converted, vietnamese_score(converted))
    encoding = max(trials, key=lambda name: sum(score[0] for _, score in trials[name].values()))

    def ratio(score: tuple[int, int]) -> float | None:
        return score[0] / score[1] if score[1] else None

    clear = set()
    for i in candidates:
        after, was = ratio(trials[encoding][i][1]), ratio(before[i])
        if after is not None and after >= 0.8 and after > (was or 0.0) + 0.15:
            clear.add(i)
    if not clear:
        return text, None
    whole_document = not any(_VIETNAMESE_ONLY_RE.search(line) for line in lines)
    for i in candidates:
        after, was = ratio(trials[encoding][i][1]), ratio(before[i])
        if i in clear or (whole_document and after is not None and (was is None or after >= was)):
            lines[i] = trials[encoding][i][0]
    return "".join(lines), encoding


_LATIN1_SYMBOL_IN_WORD_RE = re.compile(r"\w[\u00a1-\u00bf\u00d7\u00f7]|[\u00a1-\u00bf\u00d7\u00f7]\w")
_VNI_PAIR_RE = re.compile(f"[aeiouyAEIOUY][{_chars(_VNI_TONE)}{_chars(_VNI_CIRCUMFLEX)}{_chars(_VNI_BREVE)}]")
_DOUBLE_UTF8_RE = re.compile("[\u00c2\u00c3\u00c4\u00c5\u00c6\u00e1][\u0080-\u00bf\u2018-\u203a\u20ac\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2122]")


def garbled_reason(text: str) -> str | None:
    """Why ``text`` looks like mojibake (a legacy or wrong encoding), or ``None``."""
    if _VIETNAMESE_ONLY_RE.search(text):
        return None
    pieces = [p for p in _PIECE_SPLIT_RE.split(text) if p and not p.isascii()]
    if len(pieces) < 5:
        return None
    invalid = [p for p in pieces if not is_vietnamese_syllable(p)]
    if len(invalid) < len(pieces) / 2:
        return None
    if len(_DOUBLE_UTF8_RE.findall(text)) * 5 >= len(pieces):
        return "text looks garbled (UTF-8 read as another encoding, e.g. “Viá»‡t”)"
    signed = sum(1 for p in invalid if _LATIN1_SYMBOL_IN_WORD_RE.search(p) or _VNI_PAIR_RE.search(p))
    if signed * 2 >= len(pieces):
        return "text looks garbled (a legacy Vietnamese encoding such as TCVN3 or VNI that could not be converted)"
    return None


# ---------------------------------------------------------------------------------------
# Normalizing
# ---------------------------------------------------------------------------------------

# Zero-width characters and the soft hyphen: invisible, dropped from stored text.
_INVISIBLE_RE = re.compile("[\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff]")


def normalize_line(line: str) -> str:
    """One line as stored: NFC, invisible characters gone, every run of spaces one space."""
    return " ".join(unicodedata.normalize("NFC", _INVISIBLE_RE.sub("", line)).split())


# ---------------------------------------------------------------------------------------
# Cleaning rules
# ---------------------------------------------------------------------------------------

LONG_LINE_WORDS = 25  # a line this long is body text, never chrome or metadata

# A line that is exactly one of these (case-insensitive, ``:`` allowed) ends the body:
# everything from it to the end of the page is related links, comments or site footer.
TAIL_MARKERS = (
    "bài liên quan", "bài viết liên quan", "tin liên quan", "tin bài liên quan",
    "các tin khác", "tin khác", "các bài khác", "bài khác", "các tin cũ hơn", "tin cũ hơn",
    "tin cùng chuyên mục", "cùng chuyên mục", "bài cùng chuyên mục", "tin cùng loại",
    "đừng bỏ lỡ", "có thể bạn quan tâm", "bạn có thể quan tâm", "có thể bạn muốn xem",
    "tin mới", "tin mới nhất", "mới nhất", "tin mới cập nhật", "tin nổi bật", "nổi bật",
    "đọc nhiều", "đọc nhiều nhất", "xem nhiều", "xem nhiều nhất", "tin đọc nhiều", "tin xem nhiều",
    "tin tiêu điểm", "tiêu điểm", "tin nóng", "bình luận", "ý kiến bạn đọc",
    "gửi bình luận", "viết bình luận", "gửi ý kiến", "chia sẻ ý kiến", "tags", "tag", "từ khóa", "từ khoá",
)
# Lines that begin a tail whatever follows on the same line.
TAIL_PATTERNS = (
    re.compile(r"\(?\d+\)?\s*(?:bình luận|ý kiến)"),  # "(0) Bình luận"
    re.compile(r"(?:tags?|từ khóa|từ khoá)\s*[:\s].*"),
    re.compile(r"tin trong\s*:.*"),
    re.compile(r"xem các tin đã đưa ngày.*"),
    re.compile(r"powered by\b.*"),
    re.compile(r"(?:copyright|bản quyền thuộc|©).*"),
)
# "See also" markers that may sit mid-article: the marker and the link lines after it go.
INLINE_MARKERS = ("xem thêm", "đọc thêm", "xem tiếp", "mời xem thêm", "mời bạn đọc xem thêm")

# Lines that are page furniture wherever they appear (matched against the casefolded line).
CHROME_PATTERNS = (
    re.compile(r"theo dõi(?: \S+){0,6} trên(?: \S+){0,3}"),  # "Theo dõi trên", "… trên Google News"
    re.compile(r"(?:(?:chia sẻ|share|like|tweet|email|e-mail|print|in bài|in|lưu|lưu bài|bookmark|facebook|zalo|twitter|x|telegram|linkedin|copy link|sao chép liên kết|gửi bài|phóng to|thu nhỏ|cỡ chữ|nghe|nghe đọc|tải về|theo dõi|quay lại|trở về|về trang chủ|trang chủ|lên đầu trang|\+|-|\||•)\s*)+"),
    re.compile(r"(?:(?:một|vài|\d+)\s+(?:giây|phút|giờ|tiếng|ngày|tuần|tháng|năm)\s+trước)?\s*(?:xem |link )?(?:bài gốc)?"),
    re.compile(r"\((?:còn nữa|còn tiếp|hết|kỳ sau|kỳ tới|kỳ cuối|bài sau|bài tới|xem tiếp|đón đọc)\b[^()]*\)\.?"),
    re.compile(r"(?:>{2,}|»|›|⇒|=>|→)\s*\S.*"),  # related links: ">> Giải pháp …"
    re.compile(r"(?:\(\*\)\s*)?(?:không|nghiêm cấm|cấm)\s.{0,40}sao chép.*"),  # copy notices
    re.compile(r"cập nhật(?: lúc)?\s*:?\s*"),
    re.compile(r"[^>»›]{1,40}(?:\s(?:>|»|›)\s[^>»›]{1,40})+"),  # breadcrumbs: "Trang chủ > Chính trị"
    re.compile(r"(?:ảnh|nguồn ảnh|ảnh minh họa|ảnh minh hoạ|ảnh tư liệu|ảnh chụp màn hình)(?:\s*:\s*(?:\S+\s*){1,8})?"),
)
# Image file names (and image URLs) standing alone on a line.
IMAGE_LINE_RE = re.compile(r"\S+\.(?:jpe?g|png|gif|webp|bmp|tiff?|svg|heic|avif)(?:\?\S*)?", re.IGNORECASE)
# One part of a series: "Kỳ 1: …", "Bài 2: …", "Phần cuối: …".
SERIES_LINE_RE = re.compile(
    r"(?:kỳ|ky|bài|phần|tập|chương)\s+(?:\d+|[ivxlc]+|cuối|đầu|một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười)\s*[:.\-–—]\s*\S.*"
)


def _key(line: str) -> str:
    """The comparable form of a line: casefolded, bullets and outer punctuation stripped."""
    return line.casefold().strip(" \t•·●○■□▪▫◆◇►▶-–—*|")


_NOT_ALNUM_RE = re.compile(r"[\W_]+")


def _fuzzy(line: str) -> str:
    """Letters and digits only, casefolded: the same headline however spaced or punctuated."""
    return _NOT_ALNUM_RE.sub("", line.casefold())


def _words(line: str) -> int:
    return len(line.split())


def _is_tail_marker(line: str) -> bool:
    key = _key(line).rstrip(" :")
    return key in TAIL_MARKERS or any(p.fullmatch(key) for p in TAIL_PATTERNS)


def _is_inline_marker(line: str) -> bool:
    key = _key(line)
    for marker in INLINE_MARKERS:
        if key == marker or key.startswith(marker + ":") or key.startswith(marker + " :"):
            return _words(line) < LONG_LINE_WORDS
    return False


def _is_chrome(line: str) -> bool:
    if _words(line) >= LONG_LINE_WORDS:
        return False
    key = _key(line)
    return not key or IMAGE_LINE_RE.fullmatch(key.strip()) is not None or any(p.fullmatch(key) for p in CHROME_PATTERNS)


# --- dates -------------------------------------------------------------------------------

_DATE_RES = (
    (re.compile(r"(?<![\d/.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d])"), (0, 1, 2)),  # 2024-10-30
    (re.compile(r"(?<![\d/.-])(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?![\d/.-]*\d)"), (2, 1, 0)),  # 30/10/2024
    (re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.IGNORECASE), (2, 1, 0)),
)
# What may surround a date on a date line besides the date itself.
_DATE_LINE_NOISE = re.compile(
    r"\d{1,2}\s*[:h]\s*\d{2}(?:\s*:\s*\d{2})?\s*(?:am|pm|sa|ch)?\b"  # 05:25, 9:30:21 AM, 10h30
    r"|\(?\s*gmt\s*[+-]?\s*\d{0,2}(?::?\d{2})?\s*\)?"
    r"|\bthứ\s+(?:hai|ba|tư|năm|sáu|bảy|bẩy|[2-7])\b|\bchủ\s+nhật\b|\bcn\b|\bt[2-7]\b"
    r"|\b(?:ngày\s+)?(?:cập\s+nhật|đăng\s+tải|đăng|xuất\s+bản|phát\s+hành)(?:\s+(?:lúc|ngày|lần\s+cuối))?\b"
    r"|\b(?:ngày|lúc|thời\s+gian|updated|published|posted|date)\b"
    r"|[\s,|•·:/()\-–—]+",
    re.IGNORECASE,
)


def parse_date(text: str) -> str | None:
    """The first calendar date written in ``text`` (``30/10/2024`` is day first) as ISO."""
    found = _find_date(text)
    return found[0] if found else None


def _find_date(text: str) -> tuple[str, tuple[int, int]] | None:
    best = None
    for regex, order in _DATE_RES:
        for match in regex.finditer(text):
            parts = [int(g) for g in match.groups()]
            year, month, day = (parts[i] for i in order)
            try:
                iso = _dt.date(year, month, day).isoformat()
            except ValueError:
                continue
            if 1800 <= year <= 2200 and (best is None or match.start() < best[1][0]):
                best = (iso, match.span())
            break
    return best


def _date_line(line: str) -> tuple[str, str] | None:
    """(ISO date, leftover text) when ``line`` is a dateline, e.g. ``Hương Ly 22/10/2023 - 06:54``."""
    if _words(line) > 14:
        return None
    found = _find_date(line)
    if not found:
        return None
    iso, (start, end) = found
    rest = line[:start] + " " + line[end:]
    rest = " ".join(_DATE_LINE_NOISE.sub(" ", rest).split())
    if rest and not _author_name(rest):
        return None
    return iso, rest


# --- authors, sources --------------------------------------------------------------------

_AUTHOR_PREFIX_RE = re.compile(
    r"^(?:bài\s*(?:,|và|&|\+)\s*ảnh|bài\s*(?:,|và|&|\+)\s*clip|tin\s*(?:,|và|&|\+)\s*ảnh|bài|tin|tác giả|"
    r"nhóm phóng viên|nhóm pv|phóng viên|pv|ghi chép|thực hiện|nhóm thực hiện|người viết)\s*:\s*",
    re.IGNORECASE,
)
_NAME_SEPARATORS_RE = re.compile(r"\s*(?:[–—,&/;]|\s-\s|\bvà\b)\s*")
_NAME_WORD_RE = re.compile(r"[^\W\d_]+\.?")


def _author_name(line: str, prefixed: bool = False) -> str | None:
    """The author(s) when ``line`` is a byline (names only, each word capitalized)."""
    text = re.sub(r"\s*\([^()]{1,40}\)\s*$", "", line.strip())  # "Minh Anh (TTXVN)"
    text = text.strip(" .")
    if not text or _words(text) > 12:
        return None
    names = [n for n in _NAME_SEPARATORS_RE.split(text) if n]
    if not names:
        return None
    longest = 0
    for name in names:
        words = name.split()
        if not 1 <= len(words) <= 5:
            return None
        for word in words:
            if not _NAME_WORD_RE.fullmatch(word) or not word[0].isupper():
                return None
        longest = max(longest, len(words))
    if longest < 2 and not prefixed:
        return None
    return text


def _byline(line: str) -> str | None:
    """The author of a byline with or without a ``Bài, ảnh:`` style prefix."""
    match = _AUTHOR_PREFIX_RE.match(line)
    if match:
        return _author_name(line[match.end():], prefixed=True)
    return _author_name(line)


_URL_RE = re.compile(r"https?://[^\s<>\"'”)]+")
_SOURCE_LINE_RE = re.compile(
    r"^(?:nguồn|theo|source|link bài viết|link bài gốc|link gốc|bài gốc|url)\b(?!\s*ảnh)\s*([^:]{0,80}?)\s*:?\s*(https?://\S+)?\s*$",
    re.IGNORECASE,
)
_THEO_RE = re.compile(r"^\(?\s*(?:nguồn|theo)\s*:?\s*(.+?)\s*\)?\.?$", re.IGNORECASE)


def _source_line(line: str, at_end: bool) -> tuple[str | None, str | None] | None:
    """(publication, URL) when ``line`` says where the article comes from.

    ``Nguồn Tuyên Quang : http://…`` anywhere; a bare URL, ``Nguồn: Báo X`` or ``Theo TTXVN``
    only among the last lines (elsewhere they may be sentences of the body).
    """
    if _words(line) > 14:
        return None
    match = _SOURCE_LINE_RE.match(line)
    if match and match.group(2):
        return (match.group(1).strip(" :-–") or None), match.group(2).rstrip(".,;")
    if not at_end:
        return None
    if _URL_RE.fullmatch(line.strip()):
        return None, line.strip().rstrip(".,;")
    match = _THEO_RE.match(line)
    if match and _publication(match.group(1)):
        return match.group(1), None
    return None


def _publication(name: str) -> bool:
    """A plausible publication name: short, capitalized, no sentence punctuation."""
    words = name.split()
    return 1 <= len(words) <= 8 and name[0].isupper() and not re.search(r"[.!?;]\s", name + " ")


# ---------------------------------------------------------------------------------------
# Extraction: lines → title, paragraphs, metadata
# ---------------------------------------------------------------------------------------


@dataclass
class _Line:
    text: str
    block: int  # lines of one block are separated by single newlines, blocks by blank lines
    drop: bool = False


@dataclass
class _Meta:
    title: str | None = None
    date: str | None = None
    author: str | None = None
    url: str | None = None
    source: str | None = None
    paragraphs: tuple[str, ...] = ()


def _split_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    block = 0
    for raw in text.splitlines():
        line = normalize_line(raw)
        if line:
            lines.append(_Line(line, block))
        else:
            block += 1
    return lines


def _short_title(line: str, limit: int = 20) -> str:
    """A headline made from a body line: its first sentence, at most ``limit`` words."""
    sentence = re.split(r"(?<=[.!?…])\s", line, maxsplit=1)[0]
    words = sentence.split()
    return sentence if len(words) <= limit else " ".join(words[:limit]) + "…"


def extract(text: str, origin: str, known: _Meta | None = None) -> _Meta:
    """Clean the text of one article: its metadata and paragraphs. ``known`` metadata (from
    JSON fields or HTML markup) wins over what the lines say."""
    known = known or _Meta()
    lines = _split_lines(text)
    if not lines:
        raise SearcherError(f"{origin}: no article text")
    meta = _Meta(known.title, known.date, known.author, known.url, known.source)

    def plain(i: int) -> bool:
        line = lines[i].text
        return not (_is_chrome(line) or _is_tail_marker(line) or _is_inline_marker(line))

    long_at = next((i for i, ln in enumerate(lines) if _is_body_text(ln.text)), len(lines))

    # --- title: in the head, the lines before the body --------------------------------
    head = [i for i in range(min(long_at, 10)) if plain(i)]
    dated = {i: _date_line(lines[i].text) for i in head}
    title_at = None
    if meta.title:
        title_at = _find_known_title(lines, head, meta.title)
        if title_at is not None:
            meta.title = lines[title_at].text  # the headline as the text prints it
    else:
        candidates = [i for i in head if not dated[i] and not _source_line(lines[i].text, at_end=False)]
        title_at = _pick_title(lines, candidates, dated)
        if title_at is not None:
            meta.title = lines[title_at].text
    if title_at is not None:
        # Before the headline: breadcrumbs, section names, buttons; harvest a dateline.
        for i in range(title_at):
            found = dated.get(i)
            if found:
                meta.date = meta.date or found[0]
                meta.author = meta.author or (found[1] or None)
            lines[i].drop = True
        lines[title_at].drop = True
    after_title = title_at + 1 if title_at is not None else 0
    body_start = next((i for i in range(after_title, len(lines)) if plain(i) and not _date_line(lines[i].text)), len(lines))

    # --- the tail: from a related-articles marker after the body has begun -------------
    for i in range(after_title, len(lines)):
        line = lines[i]
        if line.drop:
            continue
        if _is_tail_marker(line.text):
            if i > body_start:
                for rest in lines[i:]:
                    rest.drop = True
                break
            _drop_link_list(lines, i)
        elif _is_inline_marker(line.text):
            _drop_link_list(lines, i)
        elif _is_chrome(line.text):
            line.drop = True

    kept = [ln for ln in lines if not ln.drop]
    # --- repeats: the headline again, a caption twice in a row --------------------------
    if meta.title:
        title_key = _fuzzy(meta.title)
        kept = [ln for ln in kept if _fuzzy(ln.text) != title_key]
    keys = [_fuzzy(ln.text) for ln in kept]
    kept = [ln for n, ln in enumerate(kept) if n == 0 or keys[n] != keys[n - 1]]
    # --- series navigation: two or more "Kỳ 1: …" lines in a row list the other parts ----
    kept = _drop_series_lists(kept)
    # --- metadata lines ------------------------------------------------------------------
    kept = _take_metadata(kept, meta)
    body = _join_wrapped(kept)
    if not body and title_at is None:
        raise SearcherError(f"{origin}: no article text left after removing page chrome")
    if meta.title:
        # The headline is paragraph 1 (once): a search for its words lands on it.
        meta.paragraphs = (meta.title, *body)
    else:
        meta.paragraphs = tuple(body)
        meta.title = _short_title(body[0])
    return meta


def _find_known_title(lines: list[_Line], head: list[int], title: str) -> int | None:
    """The head line that prints a title known from JSON or HTML markup; a page title
    with the site's name added (``Headline - Báo X``) finds the bare headline too."""
    wanted = _fuzzy(title)
    keys = {i: _fuzzy(lines[i].text) for i in head}
    exact = next((i for i in head if keys[i] == wanted), None)
    if exact is not None or not wanted:
        return exact
    return next(
        (
            i
            for i in head
            if _words(lines[i].text) >= 3 and len(keys[i]) >= 0.4 * len(wanted) and wanted.startswith(keys[i])
        ),
        None,
    )


def _is_body_text(line: str) -> bool:
    """A line that can only be body text: long, and a finished sentence (headlines, however
    long, rarely end with a full stop)."""
    words = _words(line)
    return words >= 2 * LONG_LINE_WORDS or (words >= LONG_LINE_WORDS and _SENTENCE_END_RE.search(line) is not None)


def _pick_title(lines: list[_Line], candidates: list[int], dated: dict) -> int | None:
    """The headline among the head's lines.

    In order: a line the page repeats further down (sites print the headline again in
    the footer or a "Đừng bỏ lỡ" box, or twice at the top); the line just before the
    dateline, else just after it; the first line.
    """
    if not candidates:
        return None
    keys = [_fuzzy(ln.text) for ln in lines]
    for i in candidates:
        if _words(lines[i].text) >= 3 and keys.count(keys[i]) > 1:
            return i
    date_at = next((i for i in sorted(dated) if dated[i]), None)
    if date_at is not None:
        before = [i for i in candidates if i < date_at]
        after = [i for i in candidates if i > date_at]
        if before:
            return before[-1]
        if after:
            return after[0]
    return candidates[0]


def _drop_link_list(lines: list[_Line], at: int) -> None:
    """Drop a marker line and the link titles after it (short lines without a full stop)."""
    lines[at].drop = True
    for line in lines[at + 1 : at + 9]:
        text = line.text
        if _words(text) >= LONG_LINE_WORDS or re.search(r"[.!?…]['\"”’)]*$", text):
            break
        line.drop = True


def _drop_series_lists(lines: list[_Line]) -> list[_Line]:
    series = [SERIES_LINE_RE.fullmatch(_key(ln.text)) is not None and _words(ln.text) < LONG_LINE_WORDS for ln in lines]
    kept = []
    for n, line in enumerate(lines):
        in_run = series[n] and ((n > 0 and series[n - 1]) or (n + 1 < len(lines) and series[n + 1]))
        if not in_run:
            kept.append(line)
    return kept


def _take_metadata(lines: list[_Line], meta: _Meta) -> list[_Line]:
    """Remove the dateline, byline and source lines, filling ``meta`` from them."""
    if not lines:
        return lines
    drop: set[int] = set()
    n = len(lines)
    # A dateline sits right under the headline or among the last lines.
    for i in [*range(min(3, n)), *range(max(0, n - 4), n)]:
        if i in drop:
            continue
        found = _date_line(lines[i].text)
        if found and (meta.date is None or meta.date == found[0]):
            drop.add(i)
            meta.date = found[0]
            # "Hương Ly 22/10/2023" under the headline names the author; at the end of the
            # body, "Hà Nội, ngày 5/1/2024" names a place.
            if found[1] and not any(_is_body_text(ln.text) for ln in lines[:i]):
                meta.author = meta.author or found[1]
            break
    # Source lines: a "Nguồn …: URL" line anywhere, the shorter forms at the end.
    for i in range(n):
        at_end = i >= n - 3
        found = _source_line(lines[i].text, at_end)
        if found and i not in drop:
            drop.add(i)
            meta.source = meta.source or found[0]
            meta.url = meta.url or found[1]
    # The byline: the last line of the body (after any source or date line) ...
    end = n - 1
    while end >= 0 and end in drop:
        end -= 1
    for i in range(end, max(-1, end - 2), -1):
        if i in drop:
            continue
        author = _byline(lines[i].text)
        if author and (i == end or _AUTHOR_PREFIX_RE.match(lines[i].text)):
            drop.add(i)
            meta.author = meta.author or author
            break
    # ... or a prefixed byline under the headline.
    for i in range(min(2, n)):
        if i not in drop and _AUTHOR_PREFIX_RE.match(lines[i].text):
            author = _byline(lines[i].text)
            if author:
                drop.add(i)
                meta.author = meta.author or author
    return [ln for i, ln in enumerate(lines) if i not in drop]


_SENTENCE_END_RE = re.compile(r"[.!?:;…]['\"”’)\]»]*$")
WRAP_WIDTHS = (55, 100)  # plain-text exports wrap lines at a width in this range


def _join_wrapped(lines: list[_Line]) -> list[str]:
    """Paragraphs: one per line, except that the lines of a hard-wrapped paragraph are joined.

    A line continues the previous one (same block) when that one is unfinished and this one
    starts in lowercase, or when the block is hard-wrapped (its lines are at most 100
    characters, the longest at least 55) and the previous line is nearly full width.
    """
    widths: dict[int, list[int]] = {}
    for line in lines:
        widths.setdefault(line.block, []).append(len(line.text))
    paragraphs: list[str] = []
    previous: _Line | None = None
    for line in lines:
        joined = False
        if previous is not None and line.block == previous.block:
            block = widths[line.block]
            width = max(block)
            unfinished = not _SENTENCE_END_RE.search(previous.text)
            wrapped = WRAP_WIDTHS[0] <= width <= WRAP_WIDTHS[1] and len(previous.text) >= 0.75 * width
            joined = (unfinished and line.text[0].islower()) or (wrapped and (unfinished or line.text[0].islower()))
        if joined:
            paragraphs[-1] += " " + line.text
        else:
            paragraphs.append(line.text)
        previous = line
    return paragraphs


# ---------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------


def _article(article_id: str, meta: _Meta, data: bytes) -> Article:
    return Article(
        id=article_id,
        title=meta.title or "",
        paragraphs=meta.paragraphs,
        date=meta.date,
        author=meta.author,
        url=meta.url,
        hash=content_hash(data),
        source=meta.source,
    )


_HTML_START_RE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)


def parse_article(article_id: str, data: bytes, origin: str) -> Article:
    """Decode, clean and split one scraped ``.txt`` article; ``origin`` names it in errors.

    A page saved as ``.txt`` with its HTML (it starts with ``<html`` or a doctype) is read
    as a web page.
    """
    if _HTML_START_RE.match(data[:2000]):
        return parse_html(article_id, data, origin)
    text = decode_bytes(data, origin)
    return _article(article_id, extract(text, origin), data)


def parse_html(article_id: str, data: bytes, origin: str) -> Article:
    """The article in a saved web page, found by trafilatura, then cleaned like text."""
    if not data.strip():
        raise SearcherError(f"{origin}: empty file")
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SearcherError(f"{origin}: binary file (NUL bytes), not a web page")
    import trafilatura  # imported here: only indexing HTML pays its start-up cost

    document = None
    for recall in (False, True):
        try:
            document = trafilatura.bare_extraction(
                data,
                with_metadata=True,
                include_comments=False,
                include_images=False,
                include_tables=True,
                favor_recall=recall,
                deduplicate=False,  # True would drop text seen in *other* pages too
                # The page's own publication date, not a guess from its text: a dateline
                # in the text is read later if the page has no date in its markup.
                date_extraction_params={"extensive_search": False, "original_date": True},
            )
        except Exception as exc:  # lxml and trafilatura raise many kinds on broken pages
            raise SearcherError(f"{origin}: cannot read the web page ({exc.__class__.__name__})") from None
        if document is not None and (document.text or "").strip():
            break
    if document is None or not (document.text or "").strip():
        raise SearcherError(f"{origin}: no article text found in the web page")
    text, _ = repair_legacy_encoding(document.text)
    garbled = garbled_reason(text)
    if garbled:
        raise SearcherError(f"{origin}: {garbled}")
    title = normalize_line(repair_legacy_encoding(document.title or "")[0]) or None
    author = normalize_line(document.author or "") or None
    known = _Meta(
        title=title,
        date=parse_date(document.date or "") if document.date else None,
        author=author,
        url=document.url or None,
        source=normalize_line(document.sitename or "") or None,
    )
    return _article(article_id, extract(text, origin, known), data)


_JSON_TEXT_FIELDS = ("text", "content", "body")
_ID_RE = re.compile(r"[^\s#/\\]+")


def _record_id(record: object, default: str | None, origin: str) -> str:
    if not isinstance(record, dict):
        raise SearcherError(f"{origin}: expected a JSON object with the article's fields")
    value = record.get("id", default)
    if value is None:
        raise SearcherError(f"{origin}: the article has no \"id\"")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SearcherError(f"{origin}: \"id\" must be a string")
    article_id = str(value).strip()
    if not _ID_RE.fullmatch(article_id):
        raise SearcherError(f"{origin}: bad article id {article_id!r} (no spaces, '#', '/' or '\\')")
    return article_id


def _optional_str(record: dict, name: str, origin: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SearcherError(f"{origin}: \"{name}\" must be a string")
    value = normalize_line(repair_legacy_encoding(value)[0])
    return value or None


def parse_record(article_id: str, record: dict, data: bytes, origin: str) -> Article:
    """One article from a JSON object: ``title``, ``text`` (a string, or a list of
    paragraphs), optional ``date``, ``author``, ``url``, ``source``."""
    body = next((record[name] for name in _JSON_TEXT_FIELDS if name in record), None)
    if isinstance(body, list) and all(isinstance(p, str) for p in body):
        body = "\n\n".join(body)
    if not isinstance(body, str):
        raise SearcherError(f"{origin}: the article needs a \"text\" string")
    title = _optional_str(record, "title", origin)
    date_text = _optional_str(record, "date", origin)
    date = None
    if date_text:
        date = parse_date(date_text)
        if date is None:
            raise SearcherError(f"{origin}: \"date\" {date_text!r} is not a date (use YYYY-MM-DD)")
    text, _ = repair_legacy_encoding(body)
    garbled = garbled_reason(text)
    if garbled:
        raise SearcherError(f"{origin}: {garbled}")
    known = _Meta(
        title=title,
        date=date,
        author=_optional_str(record, "author", origin),
        url=_optional_str(record, "url", origin),
        source=_optional_str(record, "source", origin),
    )
    return _article(article_id, extract(text, origin, known), data)


def _load_json(data: bytes, origin: str) -> object:
    text = decode_bytes(data, origin)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SearcherError(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


# ---------------------------------------------------------------------------------------
# Sources: what the corpus holds, before parsing
# ---------------------------------------------------------------------------------------


def read_article(path: Path) -> Article:
    """Read one single-article file; raises ``SearcherError`` naming the file."""
    sources = list(scan_file(path))
    if len(sources) != 1:
        raise SearcherError(f"{path}: holds {len(sources)} articles, expected one")
    return sources[0].load()


@dataclass(frozen=True)
class Source:
    """One article as found in the corpus, before it is parsed.

    ``hash`` is cheap to get (the bytes of its file or record), so an unchanged article
    is recognised without being parsed again.
    """

    id: str
    hash: str
    path: Path
    data: bytes
    kind: str = "text"  # text | html | json | jsonl
    line: int | None = None  # the line of a .jsonl record

    @property
    def origin(self) -> str:
        """How error messages name this article: the file, and the line for JSON Lines."""
        return f"{self.path}:{self.line}" if self.line is not None else str(self.path)

    def load(self) -> Article:
        """Parse into an ``Article``; ``SearcherError`` naming the file if it cannot be."""
        if self.kind == "html":
            return parse_html(self.id, self.data, self.origin)
        if self.kind == "json":
            record = _load_json(self.data, self.origin)
            return parse_record(self.id, record, self.data, self.origin)
        if self.kind == "jsonl":
            record = json.loads(self.data.decode("utf-8-sig"))
            return parse_record(self.id, record, self.data, self.origin)
        return parse_article(self.id, self.data, self.origin)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SearcherError(f"{path}: cannot read ({exc.strerror})") from None


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".html": "html", ".htm": "html", ".json": "json", ".jsonl": "jsonl"}.get(suffix, "text")


def _scan(path: Path) -> Iterator[Source | SourceError]:
    """The sources of one file; a bad JSON Lines record is a ``SourceError`` of its own."""
    data = _read_bytes(path)
    kind = _kind(path)
    if kind == "json":
        article_id = _record_id(_load_json(data, str(path)), path.stem, str(path))
        yield Source(id=article_id, hash=content_hash(data), path=path, data=data, kind=kind)
    elif kind == "jsonl":
        yield from _scan_jsonl(path, data)
    else:
        yield Source(id=path.stem, hash=content_hash(data), path=path, data=data, kind=kind)


def _scan_jsonl(path: Path, data: bytes) -> Iterator[Source | SourceError]:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data.strip():
        raise SearcherError(f"{path}: empty file")
    if b"\x00" in data:
        raise SearcherError(f"{path}: binary file (NUL bytes), or not UTF-8 JSON Lines")
    for number, raw in enumerate(data.split(b"\n"), start=1):
        record_bytes = raw.rstrip(b"\r")
        if not record_bytes.strip():
            continue
        origin = f"{path}:{number}"
        try:
            record = json.loads(record_bytes.decode("utf-8"))
            article_id = _record_id(record, None, origin)
        except UnicodeDecodeError:
            yield SourceError(path, f"{origin}: not UTF-8 (JSON Lines must be UTF-8)")
            continue
        except json.JSONDecodeError as exc:
            yield SourceError(path, f"{origin}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except SearcherError as exc:
            yield SourceError(path, str(exc))
            continue
        yield Source(
            id=article_id, hash=content_hash(record_bytes), path=path, data=record_bytes, kind="jsonl", line=number
        )


def scan_file(path: Path) -> Iterator[Source]:
    """The article sources in one corpus file: one per file, one per line of ``.jsonl``."""
    for source in _scan(path):
        if isinstance(source, SourceError):
            raise SearcherError(str(source))
        yield source


class SourceError(SearcherError):
    """A corpus file that could not be scanned; ``path`` names it."""

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = path


def scan_corpus(corpus: Path) -> Iterator[Source | SourceError]:
    """Every article source of the corpus, or the error that kept a file (or record) out."""
    for path in corpus_files(corpus):
        try:
            yield from _scan(path)
        except SearcherError as exc:
            yield SourceError(path, str(exc))


# ---------------------------------------------------------------------------------------
# Changing the corpus (interim: the searcher.corpus package will own this)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddReport:
    added: tuple[str, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class RemoveReport:
    removed: tuple[str, ...]


def _collect(items) -> list:
    found: list = []
    for item in items:
        if isinstance(item, bytes):
            found.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise SearcherError(f"no such file or folder: {path}")
    return found


def _stdin_file(data: bytes, folder: Path) -> Path:
    """Give stdin's bytes a name: JSON stays JSON, anything else is a scraped text page."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        suffix = ".jsonl" if b"\n{" in stripped.strip() else ".json"
    else:
        suffix = ".txt"
    path = folder / f"stdin_{content_hash(data)[:12]}{suffix}"
    path.write_bytes(data)
    return path


def add_to_corpus(corpus: Path, items) -> AddReport:
    import os
    import tempfile

    existing: dict[str, list[Path]] = {}
    for path in corpus_files(corpus):
        existing.setdefault(path.stem, []).append(path)
    problems, added = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for item in _collect(items):
            path = _stdin_file(item, Path(scratch)) if isinstance(item, bytes) else item
            try:
                sources = list(scan_file(path))
                for source in sources:
                    source.load()  # refuse what cannot be indexed before it enters the corpus
            except SearcherError as exc:
                problems.append(str(exc))
                continue
            for source in sources:
                suffix = ".json" if path.suffix.lower() == ".jsonl" else path.suffix.lower()
                target = corpus / f"{source.id}{suffix}"
                for old in existing.get(source.id, []):
                    if old != target and old.suffix.lower() != ".jsonl":
                        old.unlink()
                tmp = target.with_name(f".{target.name}.tmp")
                tmp.write_bytes(source.data)
                os.replace(tmp, target)
                existing[source.id] = [target]
                added.append(source.id)
    return AddReport(tuple(added), tuple(problems))


def remove_from_corpus(corpus: Path, ids) -> RemoveReport:
    import os

    wanted = list(ids)
    found: dict[str, list[Source]] = {}
    for source in scan_corpus(corpus):
        if isinstance(source, Source) and source.id in wanted:
            found.setdefault(source.id, []).append(source)
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise SearcherError(f"no article with id {', '.join(map(repr, unknown))} in {corpus}")
    lines_to_drop: dict[Path, set[int]] = {}
    for sources in found.values():
        for source in sources:
            if source.kind == "jsonl" and source.line is not None:
                lines_to_drop.setdefault(source.path, set()).add(source.line)
            else:
                source.path.unlink()
    for path, numbers in lines_to_drop.items():
        kept = [line for n, line in enumerate(path.read_bytes().split(b"\n"), start=1) if n not in numbers]
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(b"\n".join(kept))
        os.replace(tmp, path)
    return RemoveReport(tuple(found))


class Corpus:
    """A corpus folder (interim: the ``searcher.corpus`` package will own this)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def files(self) -> list[Path]:
        return corpus_files(self.path)

    def signature(self) -> str:
        """A digest of the corpus file names, sizes and modification times: cheap to
        compute at every query, and it changes whenever an article is added, edited or removed."""
        import hashlib

        digest = hashlib.blake2b(digest_size=16)
        for path in self.files():
            try:
                st = path.stat()
            except OSError:
                continue
            digest.update(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def sources(self):
        return scan_corpus(self.path)

    def add(self, items):
        return add_to_corpus(self.path, items)

    def remove(self, ids):
        return remove_from_corpus(self.path, ids)
