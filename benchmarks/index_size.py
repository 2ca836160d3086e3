"""Index size on disk relative to the raw text, and where the bytes go.

    python benchmarks/index_size.py [--paragraphs 20000 100000]

For the bundled corpus and each scale corpus: the raw text (UTF-8 bytes of the paragraphs
searcher indexes, titles included, as its corpus reader returns them; the corpus files'
bytes are shown too), the index folder's size, their ratio (issue 5: ≤ 4 × the raw text),
then a breakdown: the parts of Whoosh's segment files (postings, term dictionary,
stored fields, field lengths) and, per field, the number of terms, how many occur in one
paragraph only, and the bytes of their postings.

The bundled corpus is indexed afresh (``benchmarks/data/index-bundled-size``); a scale
corpus's index is measured as ``indexing.py`` left it (a full build, ``index-N``), and
built with ``index --rebuild`` only if missing (long at 100k: run ``indexing.py`` first). The peers' files, when
the other benchmarks have left them (tantivy from ``indexing.py``, SQLite FTS5 from
``warm_query.py``), are measured too, for reference.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BUNDLED_CORPUS, DATA, dir_size, header, ratio, read_paragraphs, searcher, verdict  # noqa: E402
from make_corpus import ensure_corpus  # noqa: E402

MB = 1e6


def whoosh_breakdown(index: Path) -> tuple[dict[str, int], list[tuple[str, int, int, int, int]], dict]:
    """(part → bytes, [(field, terms, df=1 terms, postings bytes, term bytes)], segment facts).

    Terms and document frequencies are the whole index's; postings bytes are summed over
    the segments (parallel indexing writes one segment per worker).
    """
    from whoosh import index as whoosh_index
    from whoosh.filedb.compound import CompoundStorage
    from whoosh.filedb.structfile import StructFile

    parts: dict[str, int] = defaultdict(int)
    for seg in index.glob("*.seg"):
        with open(seg, "rb") as fh:
            storage = CompoundStorage(StructFile(fh), use_mmap=False)
            for name in storage.list():
                kind = name.split(".", 1)[1]
                kind = "field lengths (*_len.col)" if kind.endswith("_len.col") else kind
                parts[kind] += storage.file_length(name)
    for other in index.iterdir():  # non-compound segment files and searcher's own files, if any
        if other.suffix not in (".seg", ".toc") and other.is_file() and other.stat().st_size:
            segment_file = re.match(r"^.+_[a-z0-9]{16}\.(.+)$", other.name)
            kind = segment_file.group(1) if segment_file else other.name
            kind = "field lengths (*_len.col)" if kind.endswith("_len.col") else kind
            parts[kind] += other.stat().st_size
    tocs = [m.group(1) for p in index.glob("_*.toc") if (m := re.match(r"^_(.+)_\d+\.toc$", p.name))]
    fields = []
    facts = {}
    if tocs:
        ix = whoosh_index.open_dir(str(index), indexname=tocs[0])
        with ix.reader() as reader:
            leaves = [leaf for leaf, _ in reader.leaf_readers()]
            facts = dict(segments=len(leaves), docs=reader.doc_count(), docs_all=reader.doc_count_all())
            for name in ix.schema.names():
                if not ix.schema[name].indexed:
                    continue
                terms = singles = postings = keys = 0
                for text in reader.lexicon(name):
                    terms += 1
                    singles += reader.doc_frequency(name, text) == 1
                    keys += len(text)
                for leaf in leaves:
                    for text in leaf.lexicon(name):
                        info = leaf.term_info(name, text)
                        if getattr(info, "_inlined", None) is None:
                            length = getattr(info, "_length", 0)
                            postings += length[0] if isinstance(length, tuple) else (length or 0)
                fields.append((name, terms, singles, postings, keys))
    return dict(parts), fields, facts


def measure(label: str, corpus: Path, index: Path, peers: dict[str, Path]) -> tuple[float, dict]:
    paragraphs = read_paragraphs(corpus)
    raw = sum(len(p.encode("utf-8")) for p in paragraphs)
    files = sum(p.stat().st_size for p in corpus.glob("*.txt"))
    size = dir_size(index)
    print(f"## {label}: {corpus}")
    print(f"{len(paragraphs)} paragraphs; raw text {raw / MB:.2f} MB (corpus files {files / MB:.2f} MB)")
    print(f"searcher index {index}: {size / MB:.2f} MB = {ratio(size, raw)} the raw text")
    for name, path in peers.items():
        if path.exists():
            peer = dir_size(path) if path.is_dir() else path.stat().st_size
            print(f"  beside it: {name} {peer / MB:.2f} MB = {ratio(peer, raw)} the raw text "
                  f"(searcher is {ratio(size, peer)} of it)")
    parts, fields, facts = whoosh_breakdown(index)
    if facts:
        print(f"{facts['segments']} segment(s), {facts['docs']} documents"
              + (f", plus {facts['docs_all'] - facts['docs']} deleted ones still on disk" if facts["docs_all"] != facts["docs"] else ""))
    print("where the bytes go (parts of the segment files):")
    for kind, nbytes in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<28} {nbytes / MB:>9.2f} MB  {nbytes / size:>6.1%}  {ratio(nbytes, raw):>7} raw")
    if fields:
        all_terms = sum(f[1] for f in fields)
        print(f"  {all_terms:,} terms in all: {parts.get('trm', 0) / max(all_terms, 1):.0f} bytes of term dictionary "
              f"and {parts.get('pst', 0) / max(all_terms, 1):.0f} bytes of postings per term")
        print(f"  {'field':<8} {'terms':>10} {'in 1 para':>10} {'postings':>11} {'bytes/term':>10} {'term text':>10}")
        for name, terms, singles, postings, keys in sorted(fields, key=lambda f: -f[3]):
            per = postings / terms if terms else 0
            print(f"  {name:<8} {terms:>10,} {singles / max(terms, 1):>10.0%} {postings / MB:>9.2f}MB "
                  f"{per:>10.0f} {keys / MB:>8.2f}MB")
    print()
    return size / raw, dict(raw=raw, size=size)


def build(index: Path, corpus: Path) -> None:
    """A full build into an empty folder (never timed)."""
    shutil.rmtree(index, ignore_errors=True)
    proc = subprocess.run(searcher(index, corpus, "index", "--rebuild"), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"searcher index failed ({proc.returncode}):\n{proc.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Index size relative to raw text.")
    parser.add_argument("--paragraphs", type=int, nargs="*", default=[20000])
    args = parser.parse_args()
    header("index size")
    bundled = DATA / "index-bundled-size"
    build(bundled, BUNDLED_CORPUS)
    results = [("bundled corpus", *measure("bundled corpus", BUNDLED_CORPUS, bundled, {}))]
    for n in args.paragraphs:
        corpus = ensure_corpus(n)
        index = DATA / f"index-{n}"
        if not index.exists():
            print(f"(building {index}: untimed, long for 100k)", file=sys.stderr)
            build(index, corpus)
        peers = {"tantivy (indexing.py)": DATA / f"tantivy-{n}", "SQLite FTS5 (warm_query.py)": DATA / f"fts5-{n}.sqlite"}
        results.append((f"{n} paragraphs", *measure(f"scale corpus, {n} paragraphs", corpus, index, peers)))
    for label, r, d in results:
        print(f"target: index ≤ 4 × raw text, {label}: {r:.2f}x ({d['size'] / MB:.1f} MB for "
              f"{d['raw'] / MB:.1f} MB) → {verdict(r <= 4)}")


if __name__ == "__main__":
    main()
