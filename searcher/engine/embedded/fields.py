"""The Whoosh schema of an embedded index: field types and posting formats.

The analyzed fields take a ready ``Analysis`` (``searcher.engine.schema.Document``) and
build their postings from it directly (no Token objects); what each field holds is
``searcher.engine.schema.ANALYZED``. Whoosh pickles the schema into every TOC, so these
classes are part of the index format: renaming or moving them makes older indexes
unreadable (they are then refused with a message to rebuild).
"""

from __future__ import annotations

from itertools import accumulate

from whoosh.analysis import Tokenizer
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.formats import Frequency, Positions

from searcher.analysis import Analysis, analyze
from searcher.engine import schema as s
from searcher.text import nfc


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


def decode_positions(value: bytes) -> list[int]:
    """A posting's positions from its ``CompactPositions`` value."""
    return list(accumulate(_unvarints(value)))


class CompactPositions(Positions):
    """Whoosh's ``Positions`` with each posting's positions as varint deltas (Whoosh
    stores a 4-byte count and a pickled list per posting; here a syllable seen once at
    position < 128 costs one byte)."""

    def encode(self, poslist) -> bytes:
        return _varints([b - a for a, b in zip([0, *poslist], poslist)])

    def decode_positions(self, valuestring) -> list[int]:
        return decode_positions(valuestring)

    def decode_frequency(self, valuestring) -> int:
        if max(valuestring, default=0) < 0x80:
            return len(valuestring)
        return sum(1 for byte in valuestring if byte < 0x80)

    def decode_weight(self, valuestring) -> float:
        return self.decode_frequency(valuestring) * self.field_boost


class Counts(Frequency):
    """Whoosh's ``Frequency`` without a value per posting: W3 already keeps each posting's
    frequency as its weight (``Frequency`` added it again as 4 bytes)."""

    posting_size = 0

    def decode_frequency(self, valuestring):
        raise NotImplementedError("a Counts posting's frequency is its weight")

    def decode_weight(self, valuestring):
        raise NotImplementedError("a Counts posting's weight is read from the posting")


class AnalyzedTokenizer(Tokenizer):
    """Stands in for the analyzer Whoosh wants a TEXT field to have; our fields build
    their postings themselves (``AnalyzedText.index``), so it is never run on documents."""

    def __init__(self, field: str):
        self.field = field

    def __eq__(self, other):
        return isinstance(other, AnalyzedTokenizer) and self.field == other.field

    def __call__(self, value, **kwargs):
        raise NotImplementedError("searcher's fields are analyzed by searcher.engine.schema")


_ONE_BYTE = [bytes((n,)) for n in range(0x80)]


class AnalyzedText(TEXT):
    """A TEXT field whose value is an ``Analysis``: ``(term, frequency, weight, value)``
    per distinct term, positions in the compact form of ``CompactPositions``, counts as
    ``Counts``."""

    def __init__(self, field: str):
        spec = s.ANALYZED[field]
        super().__init__(analyzer=AnalyzedTokenizer(field), phrase=spec.positions)
        self.spec = spec
        boost = self.format.field_boost
        self.format = CompactPositions(field_boost=boost) if spec.positions else Counts(field_boost=boost)

    def index(self, value, **kwargs):
        if not isinstance(value, Analysis):
            value = analyze(nfc(value), words=self.spec.unit == "words")
        boost = self.format.field_boost
        found = s.field_postings(self.spec, value)
        if not self.spec.positions:
            return [(term.encode("utf-8"), n, n * boost, b"") for term, n in found.items()]
        encode = self.format.encode
        postings = []
        for term, poses in found.items():
            n = len(poses)
            # Most terms occur once, early: their value is one byte.
            data = _ONE_BYTE[poses[0]] if n == 1 and poses[0] < 0x80 else encode(poses)
            postings.append((term.encode("utf-8"), n, n * boost, data))
        return postings


def make_schema() -> Schema:
    return Schema(
        **{
            s.ARTICLE: ID(stored=True),
            s.VERSION: ID,
            s.PARAGRAPH: STORED,
            s.DATE: ID(stored=True),
            s.TITLE: STORED,
            s.AUTHOR: STORED,
            s.URL: STORED,
            s.TEXT: STORED,
        },
        **{name: AnalyzedText(name) for name in s.ANALYZED},
    )


def whoosh_fields(doc: s.Document) -> dict:
    """The ``add_document`` keywords of one paragraph."""
    fields = {
        s.ARTICLE: doc.article,
        s.VERSION: doc.version,
        s.PARAGRAPH: doc.number,
        s.DATE: doc.date,
        s.TEXT: doc.text,
    }
    for name, spec in s.ANALYZED.items():
        fields[name] = doc.analysis_for(spec)
    if doc.number == 1:
        fields.update({s.TITLE: doc.title or "", s.AUTHOR: doc.author or "", s.URL: doc.url or ""})
    else:
        fields["_stored_" + s.DATE] = None  # the article's date is stored with its first paragraph
    return fields
