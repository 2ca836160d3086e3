"""Cleaning one article's text: page chrome out, metadata extracted, paragraphs split.

1. **normalize** — NFC; NBSP and other spaces become one plain space; the invisible
   characters of ``searcher.text.INVISIBLE`` (zero-width, soft hyphen, direction marks)
   go. Letters, accents and tone-mark placement stay as written (matching is normalized
   later, in ``searcher.text``).
2. **clean** — page chrome goes: share/follow buttons, comment counters, image file
   names, ``>>`` related links, copyright notices, series navigation (two or more
   ``Kỳ 1: …``/``Bài 2: …`` lines in a row), the title repeated, a line repeated twice in
   a row, and everything from a related-articles marker (``Bài liên quan``, ``Các tin
   khác``, ``Tags``, ``(0) Bình luận`` …) to the end once the body has begun.
3. **extract** — title, date (ISO), author and source URL from the metadata lines around
   the body; those lines are not paragraphs. The paragraphs are the headline (once, as
   paragraph 1) and then what is left of the body, one per line (hard-wrapped lines of
   one paragraph are joined).

The rules are lists of markers and patterns (see ``TAIL_MARKERS``, ``CHROME_PATTERNS``),
not per-site code, so they apply to any news site's pages. Memory stays a few times the
text: lines are read one at a time, long lines are never split into lists of words, and
no list of every line's comparison key is kept.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata

from searcher.errors import SearcherError
from searcher.records import Record
from searcher.text import INVISIBLE

# ---------------------------------------------------------------------------------------
# Normalizing
# ---------------------------------------------------------------------------------------

# Invisible characters are dropped from stored text: one set, searcher.text's.
_INVISIBLE_RE = re.compile("[" + "".join(sorted(INVISIBLE)) + "]")
# Whitespace to rewrite: a run of two or more, or one that is not a plain space (``\s`` is
# ``str.isspace``, as ``str.split`` uses). Single spaces, nearly all of them, stay put.
_SPACES_RE = re.compile(r"\s{2,}|[^\S ]")


_DROP_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE))
SPACES_CHUNK = 1 << 16  # a long line's spaces are collapsed this many characters at a time


def normalize_line(line: str) -> str:
    """One line as stored: NFC, invisible characters gone, every run of spaces one space."""
    if _INVISIBLE_RE.search(line):
        line = line.translate(_DROP_INVISIBLE)  # one buffer, where re.sub makes a list of pieces
    line = unicodedata.normalize("NFC", line)
    if len(line) <= SPACES_CHUNK:
        return " ".join(line.split())  # a short line: its list of words is short too
    return _collapse_spaces(line).strip()


def _collapse_spaces(line: str) -> str:
    """Every run of whitespace one plain space. A long line goes in chunks cut after a run
    (never inside one), so no list of a million words or pieces is made for it."""
    if len(line) <= SPACES_CHUNK or not _SPACES_RE.search(line):
        return _SPACES_RE.sub(" ", line)
    chunks = []
    start, size = 0, len(line)
    while start < size:
        end = min(start + SPACES_CHUNK, size)
        while end < size and line[end].isspace():
            end += 1
        chunks.append(_SPACES_RE.sub(" ", line[start:end]))
        start = end
    return "".join(chunks)


# The line boundaries of str.splitlines, found one line at a time.
_LINE_RE = re.compile("([^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]*)(\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]|$)")


def line_spans(text: str):
    """The (start, end) of each line of ``text``, as ``str.splitlines()`` would cut them,
    without the list or a copy of any line."""
    for match in _LINE_RE.finditer(text):
        if not match.group(2) and match.start() == len(text):
            return  # the empty match at the very end
        yield match.span(1)
        if not match.group(2):
            return


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


def _casefold(line: str) -> str:
    """``line.casefold()``, a long line in chunks: CPython's casefold allocates a buffer of
    12 bytes per character (up to 3 code points each), 50 MB for a 4 MB line. Case
    folding has no context, so the chunks fold as the whole would."""
    if len(line) <= SPACES_CHUNK:
        return line.casefold()
    return "".join(line[i : i + SPACES_CHUNK].casefold() for i in range(0, len(line), SPACES_CHUNK))


def _key(line: str) -> str:
    """The comparable form of a line: casefolded, bullets and outer punctuation stripped."""
    return _casefold(line).strip(" \t•·●○■□▪▫◆◇►▶-–—*|")


_NOT_ALNUM_RE = re.compile(r"[\W_]+")


def _fuzzy(line: str) -> str:
    """Letters and digits only, casefolded: the same headline however spaced or punctuated."""
    folded = _casefold(line)
    if len(folded) <= SPACES_CHUNK:
        return _NOT_ALNUM_RE.sub("", folded)
    # re.sub keeps a list of the pieces between matches: a long line goes in chunks
    # (removing characters, a run cut in two is removed all the same).
    return "".join(_NOT_ALNUM_RE.sub("", folded[i : i + SPACES_CHUNK]) for i in range(0, len(folded), SPACES_CHUNK))


def _words(line: str) -> int:
    """The words of a normalized line (``normalize_line``: one plain space between words,
    none around), counted without splitting it into a list: a 5 MB line holds a million."""
    return line.count(" ") + 1 if line else 0


_SENTENCE_ENDS = ".!?:;…"
_CLOSERS = "'\"”’)]»"


def _ends_sentence(line: str, ends: str = _SENTENCE_ENDS, closers: str = _CLOSERS) -> bool:
    """Whether ``line`` ends with one of ``ends``, closing quotes or brackets allowed after it."""
    return line.rstrip(closers)[-1:] in tuple(ends)


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


class _Line(Record, mutable=True):
    text: str
    block: int  # lines of one block are separated by single newlines, blocks by blank lines
    drop: bool = False
    key_hash: int | None = None  # hash of _fuzzy(text), made once (not the key: a copy of the text)
    piece: bool = False  # a later piece of a line too long to be one paragraph: body text, never a repeat or a marker


def _key_hash(line: _Line) -> int:
    if line.key_hash is None:
        line.key_hash = hash(_fuzzy(line.text))
    return line.key_hash


def _same_key(line: _Line, other: _Line | str) -> bool:
    """Whether two lines (or a line and a key) have the same ``_fuzzy`` key: hashes first,
    the keys themselves only when the hashes agree."""
    key = other if isinstance(other, str) else None
    if _key_hash(line) != (hash(key) if key is not None else _key_hash(other)):
        return False
    return _fuzzy(line.text) == (key if key is not None else _fuzzy(other.text))


class _Meta(Record, mutable=True):
    title: str | None = None
    date: str | None = None
    author: str | None = None
    url: str | None = None
    source: str | None = None
    paragraphs: tuple[str, ...] = ()


def _split_lines(text: str) -> list[_Line]:
    """The non-blank lines of ``text``, normalized, each with its block number. A line
    longer than ``MAX_PARAGRAPH_CHARS`` (a file with no line breaks) is cut where
    ``split_long`` would cut it, before it is normalized: each piece is a block of its own,
    and no copy of the whole line is ever made."""
    lines: list[_Line] = []
    block = 0
    for start, end in line_spans(text):
        if end - start > MAX_PARAGRAPH_CHARS:
            for piece_start, piece_end in _pieces(text, start, end):
                line = normalize_line(text[piece_start:piece_end])
                if line:
                    block += 1
                    # The first piece is read as the line would have been; the others
                    # are its body, whatever words they happen to begin with.
                    lines.append(_Line(line, block, piece=piece_start > start))
            block += 1
        else:
            line = normalize_line(text[start:end])
            if line:
                lines.append(_Line(line, block))
            else:
                block += 1
    return lines


def _short_title(line: str, limit: int = 20) -> str:
    """A headline made from a body line: its first sentence, at most ``limit`` words."""
    sentence = re.split(r"(?<=[.!?…])\s", line, maxsplit=1)[0]
    words = sentence.split(maxsplit=limit)  # at most limit + 1 pieces, however long the line
    return sentence if len(words) <= limit else " ".join(words[:limit]) + "…"


# A paragraph longer than this (a file with no line breaks, a page flattened to one line)
# is split into paragraphs of at most this many characters, at sentence ends where it
# can: each is a hit of its own, shown whole, and no analysis holds more than one at a time.
MAX_PARAGRAPH_CHARS = 10_000
_SENTENCE_END_RE = re.compile(r"[.!?…][\"”’)\]]*\s+")
_SPACE_RE = re.compile(r"\s+")


def split_long(paragraph: str, limit: int = MAX_PARAGRAPH_CHARS) -> list[str]:
    """``paragraph`` as pieces of at most ``limit`` characters, cut after the last sentence
    end in each window, else at its last space, else at ``limit``."""
    if len(paragraph) <= limit:
        return [paragraph]
    return [paragraph[start:end] for start, end in _pieces(paragraph, 0, len(paragraph), limit)]


def _pieces(text: str, at: int, stop: int, limit: int = MAX_PARAGRAPH_CHARS):
    """The (start, end) of each piece of ``text[at:stop]`` as ``split_long`` cuts it, by
    positions: a 50 MB line is neither copied whole nor once per piece."""
    while stop - at > limit:
        window = at + limit + 1
        last = None
        for last in _SENTENCE_END_RE.finditer(text, at + limit // 2, window):
            pass
        if last is None:
            for last in _SPACE_RE.finditer(text, at + limit // 2, window):
                pass
        end, start = at + limit, at + limit
        if last is not None:  # the piece keeps the sentence's punctuation, not the spaces after it
            end, start = last.start() + len(last.group(0).rstrip()), last.end()
        while end > at and text[end - 1].isspace():
            end -= 1
        if end > at:
            yield at, end
        at = start
    if text[at:stop].strip():
        yield at, stop


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
        if line.drop or line.piece:
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
    title_key = _fuzzy(meta.title) if meta.title else None
    unrepeated: list[_Line] = []
    previous = None
    for ln in kept:
        if ln.piece:  # the text of one long line, kept whole whatever it repeats
            unrepeated.append(ln)
        elif title_key is not None and _same_key(ln, title_key):
            continue
        elif previous is None or not _same_key(ln, previous):
            unrepeated.append(ln)
        previous = ln
    kept = unrepeated
    # --- series navigation: two or more "Kỳ 1: …" lines in a row list the other parts ----
    kept = _drop_series_lists(kept)
    # --- metadata lines ------------------------------------------------------------------
    kept = _take_metadata(kept, meta)
    body = [piece for paragraph in _join_wrapped(kept) for piece in split_long(paragraph)]
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
    return words >= 2 * LONG_LINE_WORDS or (words >= LONG_LINE_WORDS and _ends_sentence(line))


def _pick_title(lines: list[_Line], candidates: list[int], dated: dict) -> int | None:
    """The headline among the head's lines.

    In order: a line the page repeats further down (sites print the headline again in
    the footer or a "Đừng bỏ lỡ" box, or twice at the top); the line just before the
    dateline, else just after it; the first line.
    """
    if not candidates:
        return None
    for i in candidates:
        if _words(lines[i].text) >= 3 and any(n != i and _same_key(line, lines[i]) for n, line in enumerate(lines)):
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
        if _words(text) >= LONG_LINE_WORDS or _ends_sentence(text, ".!?…", "'\"”’)"):
            break
        line.drop = True


def _drop_series_lists(lines: list[_Line]) -> list[_Line]:
    series = [_words(ln.text) < LONG_LINE_WORDS and SERIES_LINE_RE.fullmatch(_key(ln.text)) is not None for ln in lines]
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


WRAP_WIDTHS = (55, 100)  # plain-text exports wrap lines at a width in this range


def _join_wrapped(lines: list[_Line]) -> list[str]:
    """Paragraphs: one per line, except that the lines of a hard-wrapped paragraph are joined.

    A line continues the previous one (same block) when that one is unfinished and this one
    starts in lowercase, or when the block is hard-wrapped (its lines are at most 100
    characters, the longest at least 55) and the previous line is nearly full width.
    """
    widths: dict[int, int] = {}  # the longest line of each block
    for line in lines:
        widths[line.block] = max(widths.get(line.block, 0), len(line.text))
    paragraphs: list[list[str]] = []  # the lines of each paragraph, joined at the end
    previous: _Line | None = None
    for line in lines:
        joined = False
        if previous is not None and line.block == previous.block:
            width = widths[line.block]
            unfinished = not _ends_sentence(previous.text)
            wrapped = WRAP_WIDTHS[0] <= width <= WRAP_WIDTHS[1] and len(previous.text) >= 0.75 * width
            joined = (unfinished and line.text[0].islower()) or (wrapped and (unfinished or line.text[0].islower()))
        if joined:
            paragraphs[-1].append(line.text)
        else:
            paragraphs.append([line.text])
        previous = line
    return [parts[0] if len(parts) == 1 else " ".join(parts) for parts in paragraphs]


