"""Quoted phrases behave as in SQLite FTS5 and Lucene: punctuation between two words never
stops a phrase, so a sentence copied out of an article, punctuation and all, finds the
paragraph it came from (issue: ranking and phrases)."""

from __future__ import annotations

import json
import random
import re
import shutil

import pytest

from searcher.corpus import Corpus
from searcher.text import canonical_tones, fold_accents
from tests.conftest import CORPUS

SYLLABLE = re.compile(r"[^\W_]+")


def syllables(text: str) -> list[str]:
    return SYLLABLE.findall(canonical_tones(text).lower())


def holds(text: str, phrase: str) -> bool:
    """Whether ``text`` has the syllables of ``phrase`` side by side, accents ignored."""
    seq, want = [fold_accents(s) for s in syllables(text)], [fold_accents(s) for s in syllables(phrase)]
    return any(seq[i : i + len(want)] == want for i in range(len(seq) - len(want) + 1))


def hits(run, query: str, *args: str, **kwargs) -> list[dict]:
    result = run("query", query, "--json", "-n", "5", *args, **kwargs)
    assert result.exit_code in (0, 1), result.stderr
    return [r for r in map(json.loads, result.stdout.splitlines()) if r["type"] == "hit"]


@pytest.mark.parametrize(
    "query",
    ['"minh bạch, dân chủ"', '"minh bạch dân chủ"', '"minh bach dan chu"', '"Minh bạch - dân chủ"'],
)
def test_punctuation_between_words_never_stops_a_phrase(run, query):
    found = hits(run, query)
    assert found and "minh bạch, dân chủ" in found[0]["text"]
    assert all(holds(h["text"], query) for h in found)


@pytest.mark.parametrize(
    ("query", "article"),
    [
        ('"Kỳ 3: Lời thề Đảng viên"', "000_130b3206c8046e67"),
        ('"“toa thuốc đặc trị” của Bình Thuận"', "000_130b3206c8046e67"),
        ('"6,75 triệu cây"', "003_3b1f77d61af83a32"),
        ('"Chỉ thị số 24-CT/TU"', "002_b41fb742aef53c22"),
        ('"7,24%/năm"', "003_3b1f77d61af83a32"),
    ],
)
def test_a_phrase_copied_with_its_punctuation_finds_its_paragraph(run, query, article):
    found = hits(run, query)
    assert found, query
    assert found[0]["article"] == article
    assert holds(found[0]["text"], query)


@pytest.fixture(scope="module")
def quoted_corpus(tmp_path_factory):
    """The bundled articles and one more with a decimal number and an apostrophe."""
    root = tmp_path_factory.mktemp("quoted")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "tang-truong.json").write_text(
        json.dumps(
            {
                "id": "tang-truong",
                "title": "Kinh tế tỉnh tăng trưởng",
                "date": "2024-05-02",
                "text": "Năm nay kinh tế tỉnh tăng 3.5 phần trăm so với năm trước.\n\n"
                "Khẩu hiệu “Let's go” của đoàn thanh niên được nhiều bạn trẻ hưởng ứng.",
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize("query", ['"3.5 phần trăm"', '"3,5 phần trăm"', '"Let\'s go"', '"let s go"'])
def test_numbers_and_apostrophes_inside_a_phrase(run, quoted_corpus, query):
    found = hits(run, query, index=quoted_corpus / "index", corpus=quoted_corpus / "corpus")
    assert found and found[0]["article"] == "tang-truong"


def test_a_phrase_still_needs_its_words_in_order(run):
    """Across punctuation, but in order and side by side: the words apart do not match."""
    apart = hits(run, '"dân chủ minh bạch"')
    assert all(holds(h["text"], "dân chủ minh bạch") for h in apart)
    assert not any("minh bạch, dân chủ" in h["text"] and not holds(h["text"], "dân chủ minh bạch") for h in apart)


def _fragments(count: int, seed: int = 20261201):
    """``count`` fragments of 5-12 words from the bundled articles' paragraphs, each
    spanning at least one punctuation mark."""
    rng = random.Random(seed)
    paragraphs = [p for s in Corpus(CORPUS).sources() for p in s.load().paragraphs]
    found = []
    while len(found) < count:
        text = rng.choice(paragraphs)
        words = list(re.finditer(r"\S+", text))
        if len(words) < 6:
            continue
        length = rng.randint(5, min(12, len(words)))
        start = rng.randrange(len(words) - length + 1)
        piece = text[words[start].start() : words[start + length - 1].end()]
        if re.search(r"[^\w\s]", piece[:-1]) and len(syllables(piece)) >= 5:
            found.append(piece)
    return found


FRAGMENTS = _fragments(100)


def test_the_fragments_span_punctuation():
    assert len(FRAGMENTS) == 100
    assert all(re.search(r"[^\w\s]", f[:-1]) for f in FRAGMENTS)


@pytest.mark.slow
@pytest.mark.parametrize("form", ["as written", "without punctuation", "accents stripped"])
def test_any_fragment_copied_from_an_article_finds_its_paragraph_first(run, form):
    """100 random fragments of 5-12 words across punctuation, quoted: the first hit holds
    the fragment (several paragraphs may: a headline repeated in the text)."""
    misses = []
    for fragment in FRAGMENTS:
        if form == "without punctuation":
            fragment = " ".join(syllables(fragment))
        elif form == "accents stripped":
            fragment = fold_accents(fragment)
        text = '"' + fragment.replace('"', " ") + '"'
        found = hits(run, text)
        if not found or not holds(found[0]["text"], fragment):
            misses.append(fragment)
    assert not misses, misses[:5]
