"""The formats of corpus files, parsed into an ``Article`` (decode, clean, extract).

``.txt`` is one article as scraped (a web page saved as ``.txt`` is read as one);
``.html``/``.htm`` a saved web page (the article found by trafilatura); ``.json`` one
article object; ``.jsonl`` one article object per line. The id of a ``.txt`` or ``.html``
article is its file name without the suffix; a JSON object's ``"id"`` wins over its file
name.
"""

from __future__ import annotations

import codecs
import json
import re

from searcher.corpus.clean import _Meta, extract, normalize_line, parse_date
from searcher.corpus.decode import decode_bytes, garbled_reason, repair_legacy_encoding
from searcher.corpus.model import Article, check_id, content_hash, shown_id
from searcher.errors import SearcherError



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
        raise SearcherError(f"{origin}: bad article id '{shown_id(article_id)}' (no spaces, '#', '/' or '\\')")
    return check_id(article_id, origin)


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


def _json_value(text: str, origin: str, one_line: bool = False) -> object:
    """``json.loads``, with every way it can fail a ``SearcherError`` naming ``origin``:
    invalid JSON, nesting too deep for Python (``RecursionError``), an integer of more
    digits than Python converts (``ValueError``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}" if one_line else f"line {exc.lineno} column {exc.colno}"
        raise SearcherError(f"{origin}: not valid JSON ({exc.msg} at {where})") from None
    except RecursionError:
        raise SearcherError(f"{origin}: JSON nested too deeply to read") from None
    except ValueError as exc:  # int digits over sys.get_int_max_str_digits()
        reason = str(exc).split(";")[0].split(":")[0]
        raise SearcherError(f"{origin}: JSON value out of range ({reason})") from None


def _load_json(data: bytes, origin: str) -> object:
    return _json_value(decode_bytes(data, origin), origin)


def parse(kind: str, article_id: str, data: bytes, origin: str) -> Article:
    """The ``Article`` in a source's bytes (``kind`` as ``sources.kind_of`` tells it);
    ``SearcherError`` naming ``origin`` if it cannot be read."""
    if kind == "html":
        return parse_html(article_id, data, origin)
    if kind == "json":
        return parse_record(article_id, _load_json(data, origin), data, origin)
    if kind == "jsonl":
        record = _json_value(data.decode("utf-8-sig"), origin, one_line=True)
        return parse_record(article_id, record, data, origin)
    return parse_article(article_id, data, origin)
