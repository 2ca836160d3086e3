"""Make a scale corpus of N paragraphs from real Vietnamese sentences.

    python benchmarks/make_corpus.py N OUTDIR      (N = 20000 and 100000 are the sizes used)

The sentences come from the shared development data beside the repository (``../shared``,
or $SEARCHER_SHARED), read at run time; nothing is copied into the repository:

- ``seeds/*.txt``: the five bundled news articles (body paragraphs only; page chrome such
  as image file names and share lines is left out);
- ``data/ud_vtb_ws/*.raw``: the sentences of UD_Vietnamese-VTB (Universal Dependencies),
  de-tokenized (``LBKT``/``RBKT`` back to brackets, punctuation re-attached).
  Licence CC BY-SA 4.0;
- ``data/xquad_vi/passages.jsonl``: the Vietnamese XQuAD paragraphs (Artetxe, Ruder,
  Yogatama 2020; github.com/google-deepmind/xquad), split into sentences.
  Licence CC BY-SA 4.0.

The generated corpus is a derivative of those sentences and carries their licence
(CC BY-SA 4.0); it lives only in the git-ignored ``benchmarks/data/``.

Sentences are recombined with a seeded RNG (same N, same corpus, byte for byte) into
paragraphs of 1–6 sentences, grouped into articles of 10–30 paragraphs. Each article is one
``.txt`` file in the format the corpus reader accepts: the title on the first line, a blank
line, then the paragraphs separated by blank lines. N counts body paragraphs; the reader
also indexes each title line, so the index holds N + (number of articles) paragraphs.

Note: ~5,000 distinct sentences are reused many times, so the vocabulary is that of the
sources (tens of thousands of distinct words), smaller than a real 100k-paragraph crawl's.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, shared_dir  # noqa: E402

SEED = 20261125
STAMP = ".make_corpus.json"  # a dot file: the corpus reader only reads *.txt
FORMAT_VERSION = 1
PARAGRAPH_SENTENCES = (1, 2, 2, 3, 3, 3, 4, 4, 5, 6)
ARTICLE_PARAGRAPHS = (10, 30)


# -- sentences from the shared data -----------------------------------------------------

_CLOSE_ATTACH = re.compile(r"\s+([.,:;!?%…)\]])")
_OPEN_ATTACH = re.compile(r"([(\[])\s+")
_SPLIT = re.compile(r"(?<=[.!?…])[\"”’)]?\s+")
_ABBREV_END = re.compile(r"(?:\b[A-ZĐ]{1,4}|\bTp|\bThS|\bMr|\bMrs|\bMs|\bDr|\bSt)\.$")


def detokenize(line: str) -> str:
    """UD VTB's space-separated tokens back to running text."""
    tokens = line.split()
    tokens = ["(" if t == "LBKT" else ")" if t == "RBKT" else t for t in tokens]
    out: list[str] = []
    quote_open = {'"': False, "'": False}
    attach_next = False
    for tok in tokens:
        if tok in quote_open:
            if quote_open[tok]:
                if out:
                    out[-1] += tok
                else:
                    out.append(tok)
            else:
                out.append(tok)
                attach_next = True
            quote_open[tok] = not quote_open[tok]
            continue
        if attach_next and out:
            out[-1] += tok
            attach_next = False
        else:
            out.append(tok)
    text = " ".join(out)
    text = _CLOSE_ATTACH.sub(r"\1", text)
    text = _OPEN_ATTACH.sub(r"\1", text)
    text = text.replace(" ...", "...")
    return text.strip()


def split_sentences(text: str) -> list[str]:
    """Split running text after . ! ? … when the next piece starts with a capital."""
    pieces: list[str] = []
    start = 0
    for match in _SPLIT.finditer(text):
        head = text[start:match.end()].strip()
        rest = text[match.end():]
        if not rest or not (rest[0].isupper() or rest[0].isdigit() or rest[0] in "\"“("):
            continue
        if _ABBREV_END.search(text[start:match.start()]):
            continue
        pieces.append(head)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


def _good(sentence: str) -> bool:
    words = sentence.split()
    if len(words) < 4 or len(sentence) > 1200:
        return False
    lowered = sentence.lower()
    return not any(bad in lowered for bad in (".jpg", ".png", "http", "www.", "©", "powered by"))


def load_sentences(shared: Path) -> list[tuple[str, str]]:
    """(source, sentence) pairs, in a fixed order, duplicates removed."""
    found: list[tuple[str, str]] = []
    for path in sorted((shared / "seeds").glob("*.txt")):
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            line = " ".join(line.replace("\u00a0", " ").split())
            if len(line.split()) >= 12:  # body paragraphs; chrome lines are short
                found.extend(("seeds", s) for s in split_sentences(line))
    for path in sorted((shared / "data" / "ud_vtb_ws").glob("*.raw")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(("ud_vtb", detokenize(line)))
    passages = shared / "data" / "xquad_vi" / "passages.jsonl"
    if passages.exists():
        for line in passages.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                found.extend(("xquad_vi", s) for s in split_sentences(" ".join(record["text"].split())))
    seen: set[str] = set()
    unique = []
    for source, sentence in found:
        key = unicodedata.normalize("NFC", sentence)
        if _good(sentence) and key not in seen:
            seen.add(key)
            unique.append((source, sentence))
    if not unique:
        sys.exit(f"no sentences found under {shared}")
    return unique


# -- recombination ------------------------------------------------------------------------


def make_title(rng: random.Random, sentences: list[str]) -> str:
    words = rng.choice(sentences).split()[: rng.randint(5, 12)]
    title = " ".join(words).rstrip(".,:;!?…-–\"“”(")
    return title[:1].upper() + title[1:]


def generate(n: int, outdir: Path, shared: Path | None = None) -> dict:
    """Write the corpus of ``n`` body paragraphs into ``outdir``; returns its description."""
    shared = shared or shared_dir()
    pairs = load_sentences(shared)
    sentences = [s for _, s in pairs]
    rng = random.Random(f"{SEED}:{n}")
    if outdir.exists():
        if not (outdir / STAMP).exists() and any(outdir.iterdir()):
            sys.exit(f"{outdir} exists and was not made by make_corpus.py: refusing to overwrite")
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    written = articles = chars = 0
    while written < n:
        count = min(rng.randint(*ARTICLE_PARAGRAPHS), n - written)
        title = make_title(rng, sentences)
        paragraphs = [
            " ".join(rng.choice(sentences) for _ in range(rng.choice(PARAGRAPH_SENTENCES)))
            for _ in range(count)
        ]
        text = title + "\n\n" + "\n\n".join(paragraphs) + "\n"
        (outdir / f"bench_{articles:06d}.txt").write_text(text, encoding="utf-8")
        chars += len(title) + sum(len(p) for p in paragraphs)
        written += count
        articles += 1
    sources: dict[str, int] = {}
    for source, _ in pairs:
        sources[source] = sources.get(source, 0) + 1
    description = dict(
        format_version=FORMAT_VERSION,
        paragraphs=n,
        articles=articles,
        characters=chars,
        seed=SEED,
        distinct_sentences=len(pairs),
        sentences_by_source=sources,
        licence="CC BY-SA 4.0 (derived from UD_Vietnamese-VTB and XQuAD sentences)",
    )
    (outdir / STAMP).write_text(json.dumps(description, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return description


def corpus_dir(n: int) -> Path:
    return DATA / f"corpus-{n}"


def ensure_corpus(n: int) -> Path:
    """``benchmarks/data/corpus-N``, generated first if missing or made by another version."""
    outdir = corpus_dir(n)
    stamp = outdir / STAMP
    if stamp.exists():
        described = json.loads(stamp.read_text(encoding="utf-8"))
        if described.get("format_version") == FORMAT_VERSION and described.get("paragraphs") == n:
            return outdir
    print(f"(generating the {n}-paragraph corpus in {outdir})", file=sys.stderr)
    generate(n, outdir)
    return outdir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=20000, help="body paragraphs (default 20000)")
    parser.add_argument("outdir", type=Path, nargs="?", help="default benchmarks/data/corpus-N")
    parser.add_argument("--shared", type=Path, help="shared data folder (default ../shared)")
    args = parser.parse_args()
    outdir = args.outdir or corpus_dir(args.n)
    d = generate(args.n, outdir, args.shared)
    print(f"wrote {outdir}: {d['articles']} articles, {d['paragraphs']} paragraphs "
          f"(+ {d['articles']} title lines), {d['characters']:,} characters")
    print(f"from {d['distinct_sentences']} distinct sentences: {d['sentences_by_source']}")
    print(f"licence of the generated text: {d['licence']}")


if __name__ == "__main__":
    main()
