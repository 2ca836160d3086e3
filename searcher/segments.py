"""How searcher writes Whoosh segments: Whoosh's W3 format, written more compactly.

Segments written this way are ordinary W3 segments that any Whoosh reads (their TOC
names Whoosh's own codec); only the writer differs:

- **Posting blocks are pickled with protocol 3, ids and weights as typed arrays.** Whoosh
  pickles each block with protocol 2, which has no bytes type: every posting's positions
  become a ``_codecs.encode(str, "latin1")`` call in the pickle, ~14 bytes of overhead and
  a Python call per posting when read back. Protocol 3 stores them as plain bytes, and
  the block's id deltas and term frequencies as arrays of the smallest fitting type;
  Whoosh's reader unpickles any protocol, so nothing changes on the reading side.
- **Rare terms' postings are inlined** in the term dictionary (fewer than
  ``INLINE_LIMIT``), as W3 provides for but cannot do (its writer calls a method that
  does not exist): a posting list of its own costs a block header and two pickles, ~75
  bytes for a single posting, and most of our terms (bigrams, rare words) have one or two.
- **Field lengths are looked up once per document**, not once per posting: Whoosh's
  writer re-reads each document's field length from the length column for every posting
  it writes (to keep per-block length statistics): ~5 % of a build.
- **Postings are pooled by term.** Whoosh's ``PostingPool`` keeps one tuple per posting,
  sorts them all, and past its memory limit writes sorted runs to temporary files that
  it merges back one tuple at a time: at 100k paragraphs most of the writing time. Here
  each term's postings are appended to typed arrays as documents arrive (already in
  document order), so flushing only sorts the terms. Memory is bounded the other way:
  a worker whose pool is ``full()`` finishes its segment and starts another.
- **Segments are not compound.** A compound segment is one file that Whoosh's reader
  maps and then *copies* whole into memory (``BytesIO`` over the map) every time a
  searcher opens it: at 100k paragraphs, 0.3 s and 0.7 GB for every query process.
  Separate files are read on demand instead.
"""

from __future__ import annotations

import zlib
from array import array
from itertools import accumulate, groupby
from io import BytesIO
from pickle import Pickler

from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3FieldWriter, W3PostingsWriter, W3TermInfo
from whoosh.util.numeric import length_to_byte
from whoosh.util.numlists import delta_encode
from whoosh.writing import SegmentWriter

PICKLE_PROTOCOL = 3  # 4 and 5 add a 9-byte frame header to every small pickle


def dumps(obj) -> bytes:
    """``pickle.dumps`` with protocol 3 and no memo: our blocks hold no shared or
    self-referencing objects, and the memo's PUT opcodes (2-5 bytes per positions value)
    were a quarter of a positional posting list."""
    out = BytesIO()
    pickler = Pickler(out, PICKLE_PROTOCOL)
    pickler.fast = True
    pickler.dump(obj)
    return out.getvalue()
BULK_POSTINGS = True  # False: Whoosh's own per-posting loop (the tests compare the two)
INLINE_LIMIT = 8  # posting lists shorter than this are kept in the term dictionary
SMALL_BLOCK = 24  # below this many postings a tuple pickles smaller than an array


def _smallest_array(values: list[int]):
    if len(values) < SMALL_BLOCK:
        return tuple(values)
    top = max(values, default=0)
    code = "B" if top < 1 << 8 else "H" if top < 1 << 16 else "I"
    return array(code, values)


class _TermInfo(W3TermInfo):
    """W3's term info; inlined postings pickled with protocol 3 (W3TermInfo.from_bytes
    unpickles any protocol)."""

    def to_bytes(self):
        if not self.is_inlined():
            return super().to_bytes()
        head = self._struct.pack(
            True,
            self._weight,
            self._df,
            0 if self._minlength is None else length_to_byte(self._minlength),
            length_to_byte(self._maxlength),
            self._maxweight,
            0xFFFFFFFF if self._minid is None else self._minid,
            0xFFFFFFFF if self._maxid is None else self._maxid,
        )
        return head + dumps(self._inlined)


class _FieldWriter(W3FieldWriter):
    def add_postings(self, schema, lengths, items):
        """Whoosh's ``FieldWriter.add_postings``, a term's postings a block at a time.

        Whoosh makes ~4 method calls per posting here (``add``, ``add_posting``, a field
        length lookup, type assertions); this groups the sorted postings by term and fills
        each block with list operations, then lets W3's writer encode it. The bytes
        written are the same (``tests/test_segments.py``).
        """
        if not BULK_POSTINGS or not isinstance(lengths, _Lengths):
            return super().add_postings(schema, lengths, items)
        lastfn = None
        for (fieldname, btext), group in groupby(items, key=_term_key):
            if fieldname != lastfn:
                if lastfn is not None:
                    self.finish_field()
                self.start_field(fieldname, schema[fieldname])
                lastfn = fieldname
                column = lengths.column(fieldname)
            postings = [p for p in group if p[2] != -1]  # -1: Whoosh's spelling entries
            if not postings:
                continue
            self.start_term(btext)
            writer = self._postwriter
            blocklimit = writer._blocklimit
            count = len(postings)
            for start in range(0, count, blocklimit):
                chunk = postings[start : start + blocklimit]
                ids = [p[2] for p in chunk]
                weights = [p[3] for p in chunk]
                writer._ids = array("I", ids)
                writer._weights = array("f", weights)
                writer._values = [p[4] for p in chunk if p[4]]
                known = [n for n in (column[d] for d in ids) if n]
                writer._minlength = min(known) if known else None
                writer._maxlength = max(known, default=0)
                writer._maxweight = max(0, max(weights))
                if start + blocklimit < count:
                    writer._write_block()
            self.finish_term()
        if lastfn is not None:
            self.finish_field()

    def add_pooled(self, schema, lengths: "_Lengths", pool: "_TermPool") -> None:
        """``add_postings`` from a ``_TermPool``: each term's arrays cut into blocks."""
        for fieldname, terms in pool.fields():
            self.start_field(fieldname, schema[fieldname])
            column = lengths.column(fieldname)
            writer = self._postwriter
            blocklimit = writer._blocklimit
            for btext in sorted(terms):
                docs, weights, values, sizes = terms[btext]
                if (fieldname, btext) in pool.unordered:
                    docs, weights, values, sizes = _in_order(docs, weights, values, sizes)
                self.start_term(btext)
                ends = list(accumulate(sizes, initial=0)) if sizes else None
                data = bytes(values)
                count = len(docs)
                for start in range(0, count, blocklimit):
                    end = min(start + blocklimit, count)
                    ids = docs[start:end]
                    writer._ids = ids
                    writer._weights = weights[start:end]
                    if ends is None:
                        writer._values = []
                    else:
                        writer._values = [data[a:b] for a, b in zip(ends[start:end], ends[start + 1 : end + 1])]
                    known = [n for n in map(column.__getitem__, ids) if n]
                    writer._minlength = min(known) if known else None
                    writer._maxlength = max(known, default=0)
                    writer._maxweight = max(0, max(writer._weights))
                    if end < count:
                        writer._write_block()
                self.finish_term()
            self.finish_field()

    def start_term(self, btext):
        if self._postwriter is None:
            raise Exception("Called start_term before start_field")
        self._btext = btext
        self._postwriter.start_postings(self._fieldobj.format, _TermInfo())


class _PostingsWriter(W3PostingsWriter):
    """W3's block writer, with compact pickles (see the module's docstring)."""

    def finish_postings(self):
        # Whoosh's own inlining path calls a method that does not exist (``set_inline``),
        # which its default limit of 1 never reaches.
        if not self.written() and len(self) < self._inlinelimit:
            terminfo = self._terminfo
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
            self._terminfo = None
            return terminfo
        return super().finish_postings()

    def _mini_ids(self):
        if self._byteids:
            return tuple(self._ids)
        return _smallest_array(list(delta_encode(self._ids)))

    def _mini_weights(self):
        weights = self._weights
        first = weights[0]
        if all(w == first for w in weights):
            return None if first == 1.0 else first
        return tuple(weights) if len(weights) < SMALL_BLOCK else weights  # an array("f")

    def _write_block(self, last=False):
        # As W3PostingsWriter._write_block, but for the pickle protocol.
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        data = (self._mini_ids(), self._mini_weights(), self._mini_values())
        databytes = dumps(data)
        comp = self._compression
        if comp:
            databytes = zlib.compress(databytes, comp)
        ids = self._ids
        infobytes = dumps(
            (
                len(ids),
                ids[-1],
                self._maxweight,
                comp,
                length_to_byte(self._minlength),
                length_to_byte(self._maxlength),
            )
        )
        blocklength = len(infobytes) + len(databytes)
        if last:
            blocklength *= -1
        self._postfile.write_int(blocklength)
        self._postfile.write(infobytes)
        self._postfile.write(databytes)
        self._blockcount += 1
        self._new_block()


class _Codec(W3Codec):
    """Writes with the classes above; never stored (segments name ``W3Codec``)."""

    def __init__(self):
        super().__init__(inlinelimit=INLINE_LIMIT)

    def field_writer(self, storage, segment):
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )


def _term_key(posting):
    return posting[0], posting[1]


POSTING_BYTES = 16  # what a posting costs in a _TermPool, about (arrays and value bytes)
TERM_BYTES = 400  # and a term (its dictionary entry and four arrays)


class _TermPool:
    """Postings by field and term, as ``[docnums, weights, value bytes, value sizes]``
    arrays; what Whoosh's ``PostingPool`` does with a tuple per posting (module docstring).
    Documents arrive in increasing order, so each term's postings are already sorted."""

    def __init__(self, limitmb: int):
        self.limit = limitmb * 1024 * 1024
        self.size = 0
        self._fields: dict[str, dict[bytes, list]] = {}
        self.fieldnames: set[str] = set()
        # Terms whose postings came out of document order (only ``add`` can do that:
        # documents are added in increasing order).
        self.unordered: set[tuple[str, bytes]] = set()

    def add_field(self, fieldname: str, docnum: int, items, boost: float) -> int:
        """Pool one document's ``(term, freq, weight, value)`` items; returns the field length."""
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        length = added = new = 0
        for btext, freq, weight, value in items:
            entry = terms.get(btext)
            if entry is None:
                entry = terms[btext] = [array("I"), array("f"), bytearray(), array("I")]
                new += 1
            entry[0].append(docnum)
            entry[1].append(weight * boost)
            if value:
                entry[2] += value
                entry[3].append(len(value))
            length += freq
            added += 1
        self.size += added * POSTING_BYTES + new * TERM_BYTES
        return length

    def add(self, item) -> None:
        """Whoosh's interface, one ``(fieldname, term, docnum, weight, value)`` posting
        (merged segments come this way)."""
        fieldname, btext, docnum, weight, value = item
        if docnum < 0:  # -1: Whoosh's spelling entries, which our fields do not have
            return
        entry = self._fields.get(fieldname, {}).get(btext)
        if entry is not None and entry[0][-1] >= docnum:
            self.unordered.add((fieldname, btext))
        self.add_field(fieldname, docnum, ((btext, 0, weight, value),), 1.0)

    def full(self) -> bool:
        return self.size > self.limit

    def fields(self):
        """``(fieldname, {term: arrays})`` in Whoosh's order (by field name)."""
        return sorted(self._fields.items())

    def iter_postings(self):
        """Whoosh's sorted posting tuples (for code that asks the pool for them)."""
        for fieldname, terms in self.fields():
            for btext in sorted(terms):
                docs, weights, values, sizes = terms[btext]
                if (fieldname, btext) in self.unordered:
                    docs, weights, values, sizes = _in_order(docs, weights, values, sizes)
                ends = list(accumulate(sizes, initial=0)) if sizes else None
                for k, (d, w) in enumerate(zip(docs, weights)):
                    yield fieldname, btext, d, w, bytes(values[ends[k] : ends[k + 1]]) if ends else b""

    def cleanup(self) -> None:
        self._fields.clear()
        self.unordered.clear()
        self.size = 0


def _in_order(docs, weights, values, sizes):
    """A term's pooled postings sorted by document number."""
    order = sorted(range(len(docs)), key=docs.__getitem__)
    if sizes:
        ends = list(accumulate(sizes, initial=0))
        values = bytearray().join(values[ends[k] : ends[k + 1]] for k in order)
        sizes = array("I", (sizes[k] for k in order))
    return array("I", (docs[k] for k in order)), array("f", (weights[k] for k in order)), values, sizes


class _Lengths:
    """``doc_field_length`` from a per-document reader, each field's column read once."""

    def __init__(self, reader, doccount: int):
        self._reader = reader
        self._doccount = doccount
        self._cache: dict[str, list] = {}

    def column(self, fieldname: str) -> list:
        column = self._cache.get(fieldname)
        if column is None:
            read = self._reader.doc_field_length
            column = self._cache[fieldname] = [read(d, fieldname) for d in range(self._doccount)]
        return column

    def doc_field_length(self, docnum: int, fieldname: str, default=None):
        return self.column(fieldname)[docnum]


class FastSegmentWriter(SegmentWriter):
    """Whoosh's SegmentWriter: compact posting blocks, plain segments, cached lengths."""

    def __init__(self, ix, limitmb: int = 128, **kwargs):
        kwargs.setdefault("compound", False)
        kwargs.setdefault("codec", _Codec())
        super().__init__(ix, limitmb=limitmb, **kwargs)
        if BULK_POSTINGS:
            self.pool = _TermPool(limitmb)

    def full(self) -> bool:
        """Whether the postings pooled so far have reached ``limitmb``: time to finish
        this segment (Whoosh's own pool spills to temporary files instead)."""
        return isinstance(self.pool, _TermPool) and self.pool.full()

    def add_document(self, **fields):
        """Whoosh's ``SegmentWriter.add_document`` for our schema (no vectors, no
        spelling fields), each field's postings pooled in one call. Every field is
        analyzed before anything is pooled or written, so a value that cannot be
        analyzed leaves the writer as it was."""
        pool = self.pool
        if not isinstance(pool, _TermPool):
            return super().add_document(**fields)
        self._check_state()
        schema = self.schema
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        prepared = []
        for fieldname in fieldnames:
            value = fields.get(fieldname)
            if value is None:
                continue
            field = schema[fieldname]
            if field.separate_spelling() or field.vector:
                raise NotImplementedError(f"field {fieldname!r}: spelling and vectors are not written")
            postings = list(field.index(value)) if field.indexed else None
            prepared.append((fieldname, field, value, postings))
        perdocwriter = self.perdocwriter
        docnum = self.docnum
        perdocwriter.start_doc(docnum)
        for fieldname, field, value, postings in prepared:
            length = 0
            if postings is not None:
                boost = self._field_boost(fields, fieldname, docboost)
                length = pool.add_field(fieldname, docnum, postings, boost)
                if not field.scorable:
                    length = 0
            stored = fields.get(f"_stored_{fieldname}", value)
            perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
            column = field.column_type
            if column and stored is not None:
                perdocwriter.add_column_value(fieldname, column, field.to_column_value(stored))
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        self.perdocwriter.close()
        reader = self.per_document_reader() if self.codec.length_stats else None
        lengths = _Lengths(reader, reader.doc_count_all()) if reader is not None else None
        if isinstance(self.pool, _TermPool) and lengths is not None:
            self.fieldwriter.add_pooled(self.schema, lengths, self.pool)
        else:
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if reader is not None:
            reader.close()

    def _finalize_segment(self):
        segment = super()._finalize_segment()
        # The segment is read by Whoosh's own codec: the TOC must not name ours.
        segment._codec = W3Codec()
        return segment


def writer(ix, **kwargs) -> FastSegmentWriter:
    """A writer on ``ix`` (a Whoosh index), locked unless ``_lk=False`` is passed."""
    return FastSegmentWriter(ix, **kwargs)
