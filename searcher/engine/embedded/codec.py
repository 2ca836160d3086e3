"""Whoosh's W3 segment format, the one place that knows its bytes: written compactly,
read back in bulk.

Segments written here are W3 segments that Whoosh's own reader reads (their TOC names
Whoosh's codec; one class of ours, ``PackedValues``, must be importable); only the
writer differs from Whoosh's:

- **Blocks of 1,024 postings**, not W3's 128: reading a term is then mostly decoding,
  not per-block work (a header, a decompression and an unpickling each), and a block
  compresses better. Measured on the posting lists 200 keyword queries read at 100k
  paragraphs: decoding 4.4x faster, 45 % fewer bytes.
- **Posting blocks are pickled with protocol 3, ids and weights as typed arrays.** Whoosh
  pickles each block with protocol 2, which has no bytes type: every posting's positions
  become a ``_codecs.encode(str, "latin1")`` call, ~14 bytes and a Python call per posting
  when read back. Protocol 3 stores plain bytes, without memo opcodes (our blocks hold no
  shared objects), the id deltas as arrays of the smallest type, and frequencies (whole
  weights below 256) a byte each.
- **Positions apart** (``PackedValues``): a block's positions are one compressed string
  inside it, unpacked only when a phrase asks for them, so reading ids and weights for
  ranking does not pay for them.
- **Rare terms' postings are inlined** in the term dictionary (fewer than
  ``INLINE_LIMIT``), as W3 provides for but cannot do (its writer calls a method that
  does not exist, ``set_inline``): a posting list of its own costs a block header and two
  pickles, ~75 bytes for a single posting, and most of our terms have one or two.
- **Postings are pooled by term** (``TermPool``): each term's postings are appended to
  typed arrays as documents arrive (already in document order), so flushing only sorts
  the terms; Whoosh's pool keeps a tuple per posting, sorts them all and, past its memory
  limit, spills sorted runs to temporary files that it merges back a tuple at a time.
  Memory is bounded the other way: a writer whose pool is ``full()`` finishes its
  segment and the next documents go to a new one.
- **Field lengths are Lucene's one-byte norms** (``scoring.norm_byte``), not Whoosh's own
  byte, so that this engine and a Lucene-based one score alike; the writer keeps each
  document's exact lengths for the block statistics (Whoosh re-read them per posting),
  and merging segments carries the exact lengths over (``_ExactLengths``).
- **Segments are not compound**: Whoosh's reader copies a compound file whole into memory
  (``BytesIO`` over its map) every time a searcher opens it.

Reading (``SegmentPostings``): a term's whole posting list is read in one piece from the
postings file and its blocks decoded in bulk, to lists (``blocks``) or, for the dense
evaluator, to numpy arrays (``arrays``); values (positions) only where asked for.
"""

from __future__ import annotations

import mmap
import pickle
import struct
import zlib
from array import array
from bisect import bisect_left, bisect_right
from io import BytesIO
from itertools import accumulate
from pathlib import Path
from pickle import Pickler

from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3PerDocWriter,
    W3PostingsWriter,
    W3TermInfo,
    W3TermsReader,
    _lenfield,
)
from whoosh.filedb.structfile import StructFile
from whoosh.reading import TermNotFound
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from searcher.engine.embedded import integrity
from searcher.engine.scoring import norm_byte

PICKLE_PROTOCOL = 3  # 4 and 5 add a 9-byte frame header to every small pickle
INLINE_LIMIT = 8  # posting lists shorter than this are kept in the term dictionary
SMALL_BLOCK = 24  # below this many postings a tuple pickles smaller than an array
POSTING_BYTES = 16  # what a posting costs in a TermPool, about (arrays and value bytes)
TERM_BYTES = 400  # and a term (its dictionary entry and four arrays)
ZLIB_LEVEL = 3  # W3's own
BLOCK_LIMIT = 1024  # postings per block (W3's default, 128, spends most of a read on per-block costs)



def dumps(obj) -> bytes:
    """``pickle.dumps`` with protocol 3 and no memo (no PUT opcodes: a quarter of a
    positional posting list, and nothing in a block is shared)."""
    out = BytesIO()
    pickler = Pickler(out, PICKLE_PROTOCOL)
    pickler.fast = True
    pickler.dump(obj)
    return out.getvalue()


# -- writing ---------------------------------------------------------------------------


def _smallest_array(values: list[int]):
    if len(values) < SMALL_BLOCK:
        return tuple(values)
    top = max(values, default=0)
    code = "B" if top < 1 << 8 else "H" if top < 1 << 16 else "I"
    return array(code, values)


class _TermInfo(W3TermInfo):
    """W3's term info; inlined postings pickled with protocol 3 (``from_bytes`` unpickles
    any protocol)."""

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
    def add_pooled(self, schema, lengths: dict, pool: "TermPool") -> None:
        """Whoosh's ``add_postings`` from a ``TermPool``: each term's arrays cut into
        blocks with list operations (Whoosh makes ~4 method calls per posting)."""
        for fieldname, terms in pool.fields():
            self.start_field(fieldname, schema[fieldname])
            column = lengths.get(fieldname, {})
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
                    known = [n for n in map(column.get, ids) if n]
                    writer._minlength = min(known) if known else None
                    writer._maxlength = max(known, default=0)
                    writer._maxweight = max(0, max(writer._weights))
                    if end < count:
                        writer._write_block()
                self.finish_term()
            self.finish_field()

    def start_term(self, btext):
        if self._postwriter is None:
            raise RuntimeError("start_term called before start_field")
        self._btext = btext
        self._postwriter.start_postings(self._fieldobj.format, _TermInfo())


class _PostingsWriter(W3PostingsWriter):
    """W3's block writer, with compact pickles (see the module's docstring)."""

    def finish_postings(self):
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
        return _smallest_array([b - a for a, b in zip([0, *self._ids], self._ids)])

    def _mini_values(self):
        values = self._values
        if not values or len(values) < SMALL_BLOCK:
            return tuple(values) if values else None
        return PackedValues.pack(values)

    def _mini_weights(self):
        weights = self._weights
        first = weights[0]
        if all(w == first for w in weights):
            return None if first == 1.0 else first
        if len(weights) < SMALL_BLOCK:
            return tuple(weights)
        if 0 <= min(weights) and max(weights) < 256 and all(map(float.is_integer, weights)):
            return array("B", map(int, weights))  # frequencies: a byte each
        return weights  # an array("f")

    def _write_block(self, last=False):
        # As W3PostingsWriter._write_block, but for the pickles.
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        databytes = dumps((self._mini_ids(), self._mini_weights(), self._mini_values()))
        comp = self._compression
        if comp:
            databytes = zlib.compress(databytes, comp)
        ids = self._ids
        infobytes = dumps(
            (len(ids), ids[-1], self._maxweight, comp, length_to_byte(self._minlength), length_to_byte(self._maxlength))
        )
        blocklength = len(infobytes) + len(databytes)
        if last:
            blocklength *= -1
        self._postfile.write_int(blocklength)
        self._postfile.write(infobytes)
        self._postfile.write(databytes)
        self._blockcount += 1
        self._new_block()


class PackedValues:
    """A block's posting values (encoded positions), pickled in place of W3's tuple of
    strings as the count and one zlib-compressed string: the values' sizes (one byte
    each, or four if any is 256 or more) then the values. Reading the block's ids and
    weights then neither decompresses nor unpickles its positions, which are most of its
    bytes. A sequence of the values, as Whoosh's matchers index it, unpacked on first use."""

    __slots__ = ("count", "width", "packed", "_items")

    def __init__(self, count: int, width: int, packed: bytes):
        self.count, self.width, self.packed = count, width, packed
        self._items = None

    @classmethod
    def pack(cls, values) -> "PackedValues":
        sizes = list(map(len, values))
        width = 1 if max(sizes) < 256 else 4
        head = bytes(sizes) if width == 1 else struct.pack(f"<{len(sizes)}I", *sizes)
        return cls(len(sizes), width, zlib.compress(head + b"".join(values), ZLIB_LEVEL))

    def __reduce__(self):
        return (PackedValues, (self.count, self.width, self.packed))

    def _unpacked(self) -> tuple[bytes, list[int]]:
        found = self._items
        if found is None:
            data = zlib.decompress(self.packed)
            head = self.count * self.width
            sizes = data[:head] if self.width == 1 else struct.unpack(f"<{self.count}I", data[:head])
            found = self._items = (data, list(accumulate(sizes, initial=head)))
        return found

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, k: int) -> bytes:
        data, ends = self._unpacked()
        if k < 0:
            k += self.count
        if not 0 <= k < self.count:
            raise IndexError(k)
        return data[ends[k] : ends[k + 1]]

    def __iter__(self):
        data, ends = self._unpacked()
        return (data[a:b] for a, b in zip(ends, ends[1:]))


class _Codec(W3Codec):
    """Writes with the classes above; never stored (segments name ``W3Codec``)."""

    def __init__(self):
        super().__init__(blocklimit=BLOCK_LIMIT, inlinelimit=INLINE_LIMIT)

    def field_writer(self, storage, segment):
        return _FieldWriter(self, storage, segment)

    def per_document_writer(self, storage, segment):
        return _PerDocWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(
            dbfile, blocklimit=self._blocklimit, byteids=byteids, compression=self._compression, inlinelimit=self._inlinelimit
        )


class TermPool:
    """Postings by field and term, as ``[docnums, weights, value bytes, value sizes]``
    arrays: what Whoosh's ``PostingPool`` does with a tuple per posting."""

    def __init__(self, limitmb: int):
        self.limit = limitmb * 1024 * 1024
        self.size = 0
        self._fields: dict[str, dict[bytes, list]] = {}
        # Terms whose postings came out of document order (only merged segments, through
        # ``add``, can do that: new documents arrive in increasing order).
        self.unordered: set[tuple[str, bytes]] = set()

    def add_field(self, fieldname: str, docnum: int, items, boost: float) -> int:
        """Pool one document's ``(term, freq, weight, value)`` items; returns the field length."""
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
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
        (the documents of merged segments come this way)."""
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


class _PerDocWriter(W3PerDocWriter):
    """W3's per-document writer with Lucene's one-byte norms in the length columns
    (``scoring.norm_byte``); the exact lengths of the segment's documents are kept, by
    field, for the posting blocks' statistics."""

    def __init__(self, codec, storage, segment):
        super().__init__(codec, storage, segment)
        self.lengths: dict[str, dict[int, int]] = {}

    def add_field(self, fieldname, fieldobj, value, length):
        if value is not None:
            self._storedfields[fieldname] = value
        if length:
            self.add_column_value(_lenfield(fieldname), LENGTHS_COLUMN, norm_byte(length))
            self._fieldlengths[fieldname] += length
            self.lengths.setdefault(fieldname, {})[self._docnum] = length


class _ExactLengths:
    """A segment's reader whose ``doc_field_length`` is a document's exact length (the sum
    of its postings' frequencies), for merging: Whoosh's reader would decode our norm bytes
    as its own."""

    def __init__(self, reader):
        self._reader = reader
        self._lengths: dict[str, list[int]] = {}

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def doc_field_length(self, docnum: int, fieldname: str, default=0):
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            lengths = self._lengths[fieldname] = [0] * self._reader.doc_count_all()
            if fieldname in self._reader.indexed_field_names() and self._reader.schema[fieldname].scorable:
                postings = SegmentPostings(self._reader)
                for _, info in self._reader.iter_field(fieldname):
                    for ids, weights in postings.blocks(info):
                        for k, d in enumerate(ids):
                            lengths[d] += 1 if weights is None else int(weights[k])
        return lengths[docnum] or default


class SegmentsWriter(SegmentWriter):
    """Whoosh's ``SegmentWriter`` with the compact codec, a term pool, plain segments, and
    segments written elsewhere (by worker processes) listed in the same commit."""

    def __init__(self, ix, limitmb: int = 128, **kwargs):
        kwargs.setdefault("compound", False)
        kwargs.setdefault("codec", _Codec())
        super().__init__(ix, limitmb=limitmb, **kwargs)
        self.pool = TermPool(limitmb)
        self.extra_segments: list = []

    def full(self) -> bool:
        """Whether the pooled postings have reached ``limitmb``: time to finish the segment."""
        return self.pool.full()

    def add_document(self, **fields):
        """Whoosh's ``add_document`` for our schema (no vectors, no spelling), each field's
        postings pooled in one call. Every field is analyzed before anything is pooled,
        so a value that cannot be analyzed leaves the writer as it was."""
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
            postings = list(field.index(value)) if field.indexed else None
            prepared.append((fieldname, field, value, postings))
        perdocwriter = self.perdocwriter
        docnum = self.docnum
        perdocwriter.start_doc(docnum)
        for fieldname, field, value, postings in prepared:
            length = 0
            if postings is not None:
                length = self.pool.add_field(fieldname, docnum, postings, self._field_boost(fields, fieldname, docboost))
                if not field.scorable:
                    length = 0
            stored = fields.get(f"_stored_{fieldname}", value)
            perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def write_per_doc(self, fieldnames, reader):
        # Merging another segment into this one (MERGE_SMALL): carry its exact lengths.
        return super().write_per_doc(fieldnames, _ExactLengths(reader))

    def _flush_segment(self):
        self.perdocwriter.close()
        self.fieldwriter.add_pooled(self.schema, self.perdocwriter.lengths, self.pool)
        self.fieldwriter.close()

    def _finalize_segment(self):
        segment = super()._finalize_segment()
        segment._codec = W3Codec()  # read by Whoosh's own codec: the TOC must not name ours
        return segment

    def _commit_toc(self, segments):
        segments = list(segments) + self.extra_segments
        folder = Path(self.storage.folder)
        files = sorted(name for segment in segments for name in segment.list_files(self.storage))
        integrity.record(folder, self.indexname, self.generation, files)  # before the TOC names them
        super()._commit_toc(segments)
        integrity.clean(folder, self.indexname, self.generation)

    # What a worker needs: its documents as finished, uncommitted segments.

    def finish_segment(self):
        """The segment written so far, finished (``None`` if empty); the writer is done."""
        if self._added:
            return self._finalize_segment()
        self._close_segment()
        return None


# -- reading ---------------------------------------------------------------------------

_INT = struct.Struct("!i")
_LENGTHS = struct.Struct("!ii")  # an ordered hash file's key and value lengths
_POINTER = struct.Struct("!Iq")  # a hash slot: the key's hash and its position
_FIELDNUM = struct.Struct("!H")  # W3's keys start with the field's number


def block_headers(buffer: bytes):
    """Each block of a whole W3 posting list: ``(info, data start, data end)``. W3's layout
    is the magic ``W3Bl``, then per block a signed int (negative on the last block) giving
    the length of a pickled info tuple ``(count, last id, max weight, compression, min
    length byte, max length byte)`` followed by the block's data."""
    stream = BytesIO(buffer)
    unpickler = pickle.Unpickler(stream)
    position, end = 4, len(buffer)
    while position < end:
        length = _INT.unpack_from(buffer, position)[0]
        start = position + 4
        position = start + abs(length)
        stream.seek(start)
        info = unpickler.load()
        yield info, stream.tell(), position
        if length < 0:
            return


def block_data(buffer: bytes, info: tuple, start: int, end: int):
    """A block's ``(id deltas, weights, values)`` as pickled: the first id is the block's
    own; weights ``None``/``1.0`` (all one), one float (all equal), or one per posting;
    values a tuple of bytes (positions) or ``None``."""
    data = buffer[start:end]
    if info[3]:
        data = zlib.decompress(data)
    return pickle.loads(data)


def _weights_list(weights, count: int):
    """Weights as a list, or ``None`` when every posting's frequency is 1."""
    if weights is None or weights == 1.0:
        return None
    if isinstance(weights, float):
        return [weights] * count
    return weights


class SegmentPostings:
    """The posting lists of one W3 segment, read without Whoosh's matchers."""

    def __init__(self, reader):
        self.reader = reader
        terms = getattr(reader, "_terms", None)
        if not isinstance(terms, W3TermsReader):
            raise TypeError("not a W3 segment")
        self._terms = terms
        self._map = False  # not mapped yet

    def expand_prefix(self, field: str, prefix: bytes) -> list[bytes]:
        """The terms of ``field`` that start with ``prefix``, in order. W3's term file is
        an ordered hash file: its keys (a field number, then the term) lie in order, with
        an index array of their positions; the binary search runs over a memory map of it
        (Whoosh's seeks and reads the file three times per step)."""
        fieldnum = self._terms._fieldmap.get(field)
        if fieldnum is None:
            return []
        mapped = self._mapped()
        if mapped is None:
            return list(self.reader.expand_prefix(field, prefix))
        tindex = self._terms._tindex
        key = _FIELDNUM.pack(fieldnum) + prefix
        step = struct.Struct("!" + tindex.extras["indextype"])
        base, size = tindex.indexbase, step.size
        lo, hi = 0, tindex.indexlen
        while lo < hi:
            mid = (lo + hi) // 2
            at = step.unpack_from(mapped, base + mid * size)[0]
            keylen = _INT.unpack_from(mapped, at)[0]
            if mapped[at + _LENGTHS.size : at + _LENGTHS.size + keylen] < key:
                lo = mid + 1
            else:
                hi = mid
        found: list[bytes] = []
        if lo == tindex.indexlen:
            return found
        position, end = step.unpack_from(mapped, base + lo * size)[0], tindex.endofdata
        while position < end:
            keylen, datalen = _LENGTHS.unpack_from(mapped, position)
            term = mapped[position + _LENGTHS.size : position + _LENGTHS.size + keylen]
            if not term.startswith(key):
                break
            found.append(term[_FIELDNUM.size :])
            position += _LENGTHS.size + keylen + datalen
        return found

    def _mapped(self):
        """The term file memory-mapped (``None`` where it cannot be: not a plain file)."""
        if self._map is False:
            self._map = None
            dbfile = self._terms._tindex.dbfile
            if type(dbfile) is StructFile and dbfile.is_real:  # a whole file, not part of one
                try:
                    self._map = mmap.mmap(dbfile.fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError):
                    self._map = None
        return self._map

    def close(self) -> None:
        if self._map:
            self._map.close()
        self._map = None

    def info(self, field: str, btext: bytes) -> W3TermInfo | None:
        """A term's info, looked up as Whoosh's hash file does (the key's hash picks one
        of 256 tables, then slots are probed in turn), over the memory map."""
        mapped = self._mapped()
        if mapped is None:
            try:
                return self._terms.term_info(field, btext)
            except TermNotFound:
                return None
        fieldnum = self._terms._fieldmap.get(field)
        if fieldnum is None:
            return None
        tindex = self._terms._tindex
        key = _FIELDNUM.pack(fieldnum) + btext
        keyhash = tindex.hashfn(key)
        start, slots = tindex.tables[keyhash & 255]
        if not slots:
            return None
        end = start + slots * _POINTER.size
        slot = start + ((keyhash >> 8) % slots) * _POINTER.size
        for _ in range(slots):
            slothash, position = _POINTER.unpack_from(mapped, slot)
            if not position:
                return None
            if slothash == keyhash:
                keylen, datalen = _LENGTHS.unpack_from(mapped, position)
                at = position + _LENGTHS.size
                if keylen == len(key) and mapped[at : at + keylen] == key:
                    return W3TermInfo.from_bytes(mapped[at + keylen : at + keylen + datalen])
            slot += _POINTER.size
            if slot == end:
                slot = start
        return None

    def _buffer(self, info: W3TermInfo) -> bytes:
        offset, length = info.extent()
        if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it a 1-tuple
            length = length[0]
        return self._terms._postfile.get(offset, length)

    def blocks(self, info: W3TermInfo, wanted: list[int] | None = None, values: bool = False):
        """``(ids, weights or None[, values])`` per block, ids local and ascending. With
        ``wanted`` (sorted local document numbers) blocks holding none are skipped undecoded."""
        if info.is_inlined():
            ids, weights, vals = info.inlined_postings()
            ids = list(ids)
            weights = None if all(w == 1.0 for w in weights) else list(weights)
            yield (ids, weights, vals) if values else (ids, weights)
            return
        buffer = self._buffer(info)
        previous_max = -1
        for header, start, end in block_headers(buffer):
            if wanted is not None:
                k = bisect_right(wanted, previous_max)
                previous_max = header[1]
                if k >= len(wanted):
                    return
                if wanted[k] > header[1]:
                    continue
            ids, weights, vals = block_data(buffer, header, start, end)
            ids = list(accumulate(ids))
            weights = _weights_list(weights, len(ids))
            yield (ids, weights, vals) if values else (ids, weights)

    def arrays(self, info: W3TermInfo):
        """All of a term's postings as ``(docnums, weights or None)`` numpy arrays: the id
        deltas of every block concatenated (each block's first id made relative to the
        previous block's last) and summed in one go, the weights likewise."""
        import numpy as np

        if info.is_inlined():
            ids, weights, _ = info.inlined_postings()
            return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)
        buffer = self._buffer(info)
        id_parts, weight_parts, firsts, lasts = [], [], [], []
        plain = True
        count = 0
        for header, start, end in block_headers(buffer):
            ids, weights, _ = block_data(buffer, header, start, end)
            firsts.append(count)
            lasts.append(header[1])
            id_parts.append(ids)
            count += len(ids)
            if weights == 1.0 or weights is None:
                weight_parts.append(len(ids))
            else:
                plain = False
                weight_parts.append(weights)
        deltas = np.concatenate([np.asarray(p, dtype=np.int64) for p in id_parts])
        if len(firsts) > 1:
            deltas[firsts[1:]] -= np.asarray(lasts[:-1], dtype=np.int64)
        ids = np.cumsum(deltas)
        if plain:
            return ids, None
        weights = np.concatenate(
            [
                np.ones(p) if isinstance(p, int) else np.full(len(q), p) if isinstance(p, float) else np.asarray(p, dtype=np.float64)
                for p, q in zip(weight_parts, id_parts)
            ]
        )
        return ids, weights

    def values(self, info: W3TermInfo, docs: list[int]) -> dict[int, bytes]:
        """The posting values (encoded positions) of ``docs`` (sorted, local)."""
        found: dict[int, bytes] = {}
        for ids, _, vals in self.blocks(info, docs, values=True):
            if vals is None:
                continue
            # Only the wanted postings' values are cut out of a packed block.
            lo, hi = bisect_left(docs, ids[0]), bisect_right(docs, ids[-1])
            for d in docs[lo:hi]:
                k = bisect_left(ids, d)
                if k < len(ids) and ids[k] == d:
                    found[d] = vals[k]
        return found

    def length_bytes(self, field: str) -> bytes:
        """The segment's length column of ``field``: one norm byte per document
        (``scoring.LENGTH_TABLE``), zero-padded to the segment's document count."""
        count = self.reader.doc_count_all()
        column = self.reader._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
        if column is None:
            return bytes(count)
        if column._fixedlen != 1:
            raise TypeError("not a W3 length column")
        data = bytes(column._dbfile.get(column._basepos, column._count))
        return data[:count] + bytes(max(0, count - len(data)))
