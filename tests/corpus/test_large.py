"""Large articles: parsing memory stays a small multiple of the file, and a hard-wrapped
paragraph of thousands of lines comes back whole. (Speed is for benchmarks, not tests.)"""

from __future__ import annotations

import textwrap
import tracemalloc
import unicodedata
from pathlib import Path

import pytest

from searcher.corpus.clean import MAX_PARAGRAPH_CHARS, normalize_line, split_long
from searcher.corpus.sources import scan_file
from tests.conftest import CORPUS


def body_lines() -> list[str]:
    """The long body lines of the bundled articles: real Vietnamese news text."""
    lines = []
    for path in sorted(CORPUS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = " ".join(line.split())
            if len(line.split()) >= 25 and line.endswith("."):
                lines.append(line)
    return lines


def load_peak(path: Path):
    (source,) = scan_file(path)
    tracemalloc.start()
    try:
        article = source.load()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return article, peak


@pytest.mark.slow
def test_a_2_mb_single_line_parses_in_a_few_times_its_size(tmp_path):
    lines = body_lines()
    parts, size, n = [], 0, 0
    while size < 2_000_000:
        parts.append(lines[n % len(lines)])
        size += len(parts[-1].encode()) + 1
        n += 1
    line = " ".join(parts)
    path = tmp_path / "mot-dong.txt"
    path.write_text(f"Một bài viết trên một dòng\n\n{line}\n", encoding="utf-8")
    article, peak = load_peak(path)
    # Split into paragraphs of at most 10,000 characters (issue 12), nothing else lost.
    assert article.paragraphs[0] == "Một bài viết trên một dòng"
    assert all(len(p) <= MAX_PARAGRAPH_CHARS for p in article.paragraphs)
    assert " ".join(article.paragraphs[1:]) == line
    # Cut before it is normalized: no copy of the whole line (the text, its pieces, the bytes).
    assert peak < 6 * path.stat().st_size, f"{peak / 1e6:.0f} MB for a {path.stat().st_size / 1e6:.0f} MB file"


def test_a_long_line_is_cut_then_normalized_as_a_whole_would_be(tmp_path):
    lines = body_lines()
    # Decomposed accents, zero-width spaces, runs of spaces and tabs: what a scraper leaves.
    messy = [unicodedata.normalize("NFD", ln) if i % 3 == 0 else ln.replace(" ", "  \u200b", 3) + "\t"
             for i, ln in enumerate(lines * 3)]
    line = " ".join(messy)
    assert len(line) > 3 * MAX_PARAGRAPH_CHARS
    path = tmp_path / "ban.txt"
    path.write_text(f"Một bài viết lộn xộn\n\n{line}\n", encoding="utf-8")
    (source,) = scan_file(path)
    paragraphs = source.load().paragraphs[1:]
    assert len(paragraphs) >= 3
    assert all(len(p) <= MAX_PARAGRAPH_CHARS for p in paragraphs)
    assert " ".join(paragraphs) == normalize_line(line)
    assert all(p.endswith((".", "…", "!", "?")) for p in paragraphs[:-1])  # cut at sentence ends


@pytest.mark.slow
def test_a_2_mb_article_parses_in_a_few_times_its_size(tmp_path):
    lines = body_lines()
    paragraphs = [" ".join(lines[(i + k) % len(lines)] for k in range(3)) for i in range(0, 2_500)]
    path = tmp_path / "dai.txt"
    path.write_text("Một bài viết rất dài\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    assert path.stat().st_size > 2_000_000
    article, peak = load_peak(path)
    assert article.paragraphs == ("Một bài viết rất dài", *paragraphs)
    assert peak < 8 * path.stat().st_size, f"{peak / 1e6:.0f} MB for a {path.stat().st_size / 1e6:.0f} MB file"


@pytest.mark.slow
def test_a_hard_wrapped_paragraph_of_thousands_of_lines_comes_back_whole(tmp_path):
    lines = body_lines()
    # Lowercase: a wrapped line that ends a sentence before a capital starts a new paragraph.
    paragraph = " ".join(lines[n % len(lines)] for n in range(3000)).lower()  # about 1 MB
    wrapped = textwrap.fill(paragraph, 72)
    assert wrapped.count("\n") > 10_000
    path = tmp_path / "xuong-dong.txt"
    path.write_text(f"Một đoạn văn xuống dòng cứng\n\n{wrapped}\n", encoding="utf-8")
    (source,) = scan_file(path)
    # One paragraph again (then split in pieces of at most 10,000 characters, issue 12).
    assert source.load().paragraphs == ("Một đoạn văn xuống dòng cứng", *split_long(paragraph))
