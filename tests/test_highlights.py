"""Highlights mean what matched (JSON ``highlights`` offsets): a phrase marks the phrase,
an OR its own alternatives, a differently-accented match is still marked, and a query of
several words prefers its whole runs over lone syllables (issue: ranking and phrases)."""

from __future__ import annotations

import json

from searcher.text import fold_accents


def hits(run, query: str, *args: str, **kwargs) -> list[dict]:
    result = run("query", query, "--json", *args, **kwargs)
    return [r for r in map(json.loads, result.stdout.splitlines()) if r["type"] == "hit"]


def marked(hit: dict) -> list[str]:
    return [hit["text"][s:e] for s, e in hit["highlights"]]


def test_a_phrase_marks_the_phrase_not_its_syllables_elsewhere(run):
    """Paragraph 1 of 002 has "kỷ cương, kỷ luật": only "kỷ luật" is marked."""
    found = hits(run, '"kỷ luật"', "--article", "002_b41fb742aef53c22", "-n", "20")
    both = [h for h in found if "kỷ cương" in h["text"].lower()]
    assert both
    for hit in found:
        assert {m.lower() for m in marked(hit)} == {"kỷ luật"}, marked(hit)


def test_an_or_marks_its_own_alternatives(run):
    found = hits(run, '"kỷ luật" OR "nêu gương"', "-n", "50")
    assert {m.lower() for h in found for m in marked(h)} == {"kỷ luật", "nêu gương"}


def test_an_accented_query_still_marks_differently_accented_text(run, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "exact.txt").write_text("Cán bộ sợ trách nhiệm\n\nNhiều cán bộ còn sợ trách nhiệm.\n", encoding="utf-8")
    (corpus / "folded.txt").write_text("Sổ tay\n\nSố liệu về trách nhiệm được ghi vào sổ.\n", encoding="utf-8")
    found = hits(run, "sợ trách nhiệm", index=tmp_path / "index", corpus=corpus)
    exact = [h for h in found if h["article"] == "exact"]
    folded = [h for h in found if h["article"] == "folded" and "liệu" in h["text"]]
    assert exact and all("sợ" in marked(h) for h in exact)
    assert not any("Số" in marked(h) for h in exact)
    # No "sợ" in that paragraph: it matched through "số"/"sổ", which are marked.
    assert {"Số", "sổ", "trách nhiệm"} <= set(marked(folded[0]))


def test_a_keyword_query_prefers_its_whole_words_to_lone_syllables(run):
    """"cán bộ" marks "cán bộ", not the "bộ" of "bộ máy" or "đảng bộ" beside it."""
    found = hits(run, "cán bộ", "-n", "100")
    mixed = [h for h in found if "bộ máy" in h["text"].lower() and "cán bộ" in h["text"].lower()]
    assert mixed
    for hit in found:
        if "cán bộ" in hit["text"].lower():
            assert {m.lower() for m in marked(hit)} == {"cán bộ"}, marked(hit)


def test_lone_syllables_are_marked_where_the_whole_word_is_not(run, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Tin A\n\nBộ máy hành chính của xã còn cồng kềnh, cán sự ít.\n", encoding="utf-8")
    found = hits(run, "cán bộ", index=tmp_path / "index", corpus=corpus)
    body = next(h for h in found if "máy" in h["text"])
    assert marked(body) == ["Bộ", "cán"]
    assert body["complete"] is True


def test_highlights_are_accent_folded_for_an_accentless_query(run):
    found = hits(run, "nguoi dung dau", "-n", "5")
    assert found
    for hit in found[:3]:
        assert marked(hit)
        assert all(fold_accents(m.lower()) in {"nguoi", "dung", "dau", "nguoi dung dau", "dung dau"} for m in marked(hit))


def test_show_marks_what_query_marks(run):
    query = '"nêu gương"'
    article = json.loads(run("show", "004_94dc4981a5173811", "--query", query, "--json").stdout)
    by_number = {p["paragraph"]: p for p in article["paragraphs"]}
    for hit in hits(run, query, "--article", "004_94dc4981a5173811", "-n", "50"):
        assert [list(x) for x in hit["highlights"]] == by_number[hit["paragraph"]]["highlights"]

