"""What an article is once parsed (``Article``), its content hash, and the rules for
article ids and for naming paths and ids printably in messages.

Light on purpose: ``searcher query`` imports this at every start.
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from searcher.errors import SearcherError
from searcher.records import Record

# Part of every content hash: bump it when cleaning or extraction changes what an article
# becomes, so ``searcher index`` re-parses files whose bytes did not change.
# 3: U+200E/U+200F (left-to-right and right-to-left marks) are dropped from stored text,
#    like the other invisible characters (one set, searcher.text.INVISIBLE).
# 4: a paragraph longer than 10,000 characters is split into several (clean.split_long).
PARSER_VERSION = "4"

MAX_ID_BYTES = 200  # an id is a file name (plus ".json"): well under the usual 255 bytes
# Unicode categories no id may hold: controls, format characters (zero-width, bidi
# overrides), surrogates (undecodable bytes of a file name), line/paragraph separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class Article(Record):
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


def display(text: Path | str) -> str:
    """A path or id as one printable line: the bytes of a file name that are not UTF-8 as
    ``\\xff``, control and other unprintable characters as Python escapes (``\\n``,
    ``\\x07``, ``\\u202e``); letters of any script as they are."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff":  # os.fsdecode's stand-in for an undecodable byte
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def id_problem(article_id: str) -> str | None:
    """Why ``article_id`` cannot be an article id, or ``None``.

    An id names a file of the corpus folder and is typed on command lines and in URLs:
    no leading dot, no ``/`` or ``\\`` (nor once percent-decoded, ``..%2fetc``), not
    ``.``/``..``, no control or invisible characters, at most 200 bytes of UTF-8.
    """
    if not article_id:
        return "the id is empty"
    for form in dict.fromkeys((article_id, unquote(article_id))):
        if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in form):
            if any("\ud800" <= ch <= "\udfff" for ch in form):
                return "the name is not UTF-8"
            return "the id holds a control or invisible character"
        if "/" in form or "\\" in form:
            return "the id holds '/' or '\\'"
        if form.startswith("."):
            return "the id starts with '.'"
    if len(article_id.encode("utf-8")) > MAX_ID_BYTES:
        return f"the id is longer than {MAX_ID_BYTES} bytes"
    return None


def check_id(article_id: str, origin: str | None = None) -> str:
    """``article_id`` if it is a valid id; else ``SearcherError`` naming ``origin``."""
    problem = id_problem(article_id)
    if problem:
        where = f"{origin}: " if origin else ""
        raise SearcherError(f"{where}bad article id '{shown_id(article_id)}' ({problem})")
    return article_id


def shown_id(article_id: str, limit: int = 60) -> str:
    """An id as messages quote it: printable (``display``), and cut after ``limit`` characters."""
    shown = display(article_id)
    return shown if len(shown) <= limit else shown[:limit] + "…"
